//! A real browser renders index.html: headless Chromium takes a screenshot and its DOM lists
//! every kid. Needs Debian's `chromium` (`.ci/run` installs it); without it the test says it was skipped
//! (and fails under `JWKSMITH_TEST_REQUIRE_ALL=1`, as in CI).

mod common;

use std::path::Path;
use std::process::Command;

use common::{NOW, Project};

const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1100,1400",
];

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).exists())
}

fn run_chromium(binary: &str, profile: &Path, extra: &[&str]) -> Vec<u8> {
    let out = Command::new(binary)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .output()
        .expect("start chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn chromium_renders_index_html_with_every_kid() {
    let Some(binary) = chromium() else {
        return common::clients::unavailable(
            "the browser test",
            "Debian's chromium is not installed (it needs root: apt-get install chromium)",
        );
    };
    let p = Project::new();
    p.write("keys/keyset.toml", b"");
    p.write("keys/tenants/acme/keyset.toml", b"kid = \"thumbprint\"\n[[key]]\nkty = \"EC\"\ncrv = \"P-384\"\n");
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let mut kids = Vec::new();
    for jwks in ["out/public/jwks.json", "out/public/tenants/acme/jwks.json"] {
        for key in p.json(jwks)["keys"].as_array().unwrap() {
            kids.push(key["kid"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(kids.len(), 5);
    let page = format!("file://{}", p.at("out/public/index.html").display());
    let profile = tempfile::tempdir().unwrap();
    let shot = p.at("screenshot.png");
    run_chromium(binary, profile.path(), &[&format!("--screenshot={}", shot.display()), &page]);
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot, {} bytes", png.len());
    let dom = String::from_utf8(run_chromium(binary, profile.path(), &["--dump-dom", &page])).unwrap();
    for kid in &kids {
        assert!(dom.contains(kid.as_str()), "the rendered page lists {kid}");
    }
    assert!(dom.contains("<svg"), "the timeline is drawn");
    assert!(!dom.contains("<script"), "no JavaScript needed");
}
