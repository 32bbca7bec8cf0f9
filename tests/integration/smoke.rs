//! The two set-up commands' path: init, rotate, build, check on a fresh project.

use crate::common::{NOW, Project};

#[test]
fn init_rotate_build_check() {
    let p = Project::new();
    p.ok(&["init"]);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    p.ok(&["check", "--now", NOW]);
    let jwks = p.json("out/public/jwks.json");
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["rsa-sig-001", "ec256-sig-001", "rsa-enc-001", "ec256-enc-001"]);
}
