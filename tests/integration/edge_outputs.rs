//! Outputs at the edges: paths two sets would both take, symlinks in `out/`, and the
//! `updateTime` of a revoked key as the clock moves past its other times.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::{EC_SPECS, NOW, Project, RSA_SIG_SPEC, snapshot};

/// EC specs with mirrors on under `service_id = "foo"`.
fn mirrored(service_id: &str) -> String {
    format!("service_id = \"{service_id}\"\napi_mirrors = true\n{EC_SPECS}")
}

#[test]
fn a_set_under_another_sets_mirror_file_fails_before_writing() {
    let p = Project::with_keyset(&mirrored("foo"));
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let before = p.snapshot("out");
    // A set whose publish path is the root set's mirror file: a file and a directory at once.
    p.write("keys/api/foo/service/jwks/get/keyset.toml", EC_SPECS.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    for (args, by) in [
        (&["build", "--now", NOW][..], "set ."),
        (&["build", "--set", "api/foo/service/jwks/get", "--now", NOW], "a set this build does not select"),
    ] {
        let stderr = p.fails(args, 1);
        assert!(stderr.contains(&format!("out/public/api/foo/service/jwks/get would be a file of {by}")), "{stderr}");
        assert!(stderr.contains("directory of set api/foo/service/jwks/get"), "{stderr}");
        assert_eq!(p.snapshot("out"), before, "out/ untouched: {args:?}");
        assert!(!p.at("out/.jwksmith-staging").exists());
    }
}

#[test]
fn a_set_build_sees_mirror_claims_of_sets_it_does_not_load() {
    let p = Project::with_keyset(&mirrored("shared"));
    p.write("keys/tenants/acme/keyset.toml", mirrored("shared").as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    for args in [&["build", "--now", NOW][..], &["build", "--set", "tenants/acme", "--now", NOW]] {
        let stderr = p.fails(args, 1);
        assert!(stderr.contains("keys/keyset.toml") && stderr.contains("keys/tenants/acme/keyset.toml"), "{stderr}");
        assert!(!p.at("out/public/api/shared").exists(), "no mirror written: {args:?}");
    }
}

#[test]
fn symlinks_in_place_of_outputs_are_replaced_and_their_targets_left_alone() {
    let p = Project::with_keyset(&format!("{EC_SPECS}{RSA_SIG_SPEC}"));
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let elsewhere = tempfile::tempdir().unwrap();
    for (output, mode) in [("out/public/jwks.json", 0o644), ("out/private/rsa-sig.pem", 0o644)] {
        let target = elsewhere.path().join(output.replace('/', "_"));
        fs::copy(p.at(output), &target).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(mode)).unwrap();
        fs::remove_file(p.at(output)).unwrap();
        std::os::unix::fs::symlink(&target, p.at(output)).unwrap();
    }
    let before = snapshot(elsewhere.path());
    p.ok(&["build", "--now", NOW]);
    for output in ["out/public/jwks.json", "out/private/rsa-sig.pem"] {
        let meta = fs::symlink_metadata(p.at(output)).unwrap();
        assert!(meta.file_type().is_file(), "{output} is a file again");
        let target = elsewhere.path().join(output.replace('/', "_"));
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o644,
            "{output}'s target keeps its mode"
        );
    }
    assert_eq!(snapshot(elsewhere.path()), before, "the targets' bytes are untouched");
    p.ok(&["check", "--now", NOW]);
}

#[test]
fn a_revoked_keys_update_time_does_not_move_with_its_other_times() {
    let p = Project::with_keyset(RSA_SIG_SPEC);
    p.ok(&["rotate", "--now", NOW]);
    // The next key, published ahead, then revoked before it ever signs.
    p.ok(&["rotate", "--now", "2026-03-20T00:00:00Z"]);
    p.ok(&["revoke", "rsa-sig-002", "--now", "2026-03-25T00:00:00Z"]);
    p.ok(&["build", "--now", "2026-03-26T00:00:00Z"]);
    let revoked = |p: &Project| {
        let keys = p.json("out/public/jwt-keys.json");
        let key = keys.as_array().unwrap().iter().find(|k| k["label"] == "rsa-sig-002").cloned().unwrap();
        (key["active"].clone(), key["updateTime"].clone())
    };
    let at_revocation = (serde_json::json!(false), serde_json::json!("2026-03-25T00:00:00Z"));
    assert_eq!(revoked(&p), at_revocation);
    let meta = p.json("keys/rsa-sig-002.meta.json");
    let activates = meta["activates"].as_str().expect("it had an activation time").to_string();
    // Past the time it would have become current (and far later), nothing about it changes.
    for later in [activates.as_str(), "2027-01-01T00:00:00Z"] {
        p.ok(&["build", "--now", later]);
        assert_eq!(revoked(&p), at_revocation, "at {later}");
    }
}
