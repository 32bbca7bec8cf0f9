//! A real browser renders the pages: headless Chromium takes a screenshot of the root page and
//! of the nested set's page it links to, and their DOMs list each set's kids. Needs Debian's
//! `chromium` (`.ci/run` installs it); without it the test says it was skipped (and fails under
//! `JWKSMITH_TEST_REQUIRE_ALL=1`, as in CI).

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

/// The kids of a `jwks.json` of the project.
fn kids_of(p: &Project, jwks: &str) -> Vec<String> {
    p.json(jwks)["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

/// The `href` of the link whose text is `text` in a DOM that Chromium dumped.
fn href_of(dom: &str, text: &str) -> String {
    let end = dom.find(&format!(">{text}</a>")).unwrap_or_else(|| panic!("no link {text:?} in {dom}"));
    let start = dom[..end].rfind("href=\"").expect("the link has an href") + "href=\"".len();
    dom[start..end].trim_end_matches('"').to_string()
}

/// Renders `page` (a `file://` URL): a real screenshot, then the DOM Chromium made of it.
fn render(binary: &str, p: &Project, page: &str, name: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let shot = p.at(&format!("{name}.png"));
    run_chromium(binary, profile.path(), &[&format!("--screenshot={}", shot.display()), page]);
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot of {name}, {} bytes", png.len());
    let dom = String::from_utf8(run_chromium(binary, profile.path(), &["--dump-dom", page])).unwrap();
    assert!(!dom.contains("<script"), "{name}: no JavaScript needed");
    dom
}

#[test]
fn chromium_renders_the_root_page_and_the_nested_sets_page_it_links_to() {
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
    let (root_kids, acme_kids) =
        (kids_of(&p, "out/public/jwks.json"), kids_of(&p, "out/public/tenants/acme/jwks.json"));
    assert_eq!((root_kids.len(), acme_kids.len()), (4, 1));

    let root = format!("file://{}/", p.at("out/public").display());
    let dom = render(binary, &p, &format!("{root}index.html"), "root");
    for kid in &root_kids {
        assert!(dom.contains(kid.as_str()), "the root page lists the root set's {kid}");
    }
    assert!(dom.contains("<svg"), "the root set's timeline is drawn");
    assert!(!dom.contains(acme_kids[0].as_str()), "the root page links other sets, not their keys");

    // Follow the root page's link to the nested set, as a reader would, relative to the page.
    let href = href_of(&dom, "tenants/acme");
    assert_eq!(href, "tenants/acme/index.html");
    let dom = render(binary, &p, &format!("{root}{href}"), "acme");
    assert!(dom.contains(acme_kids[0].as_str()), "the set's page lists its key");
    assert!(dom.contains("<svg"), "the set's timeline is drawn");
    assert!(root_kids.iter().all(|k| !dom.contains(k.as_str())), "only the set's own keys");
    assert_eq!(href_of(&dom, "jwks.json"), "jwks.json", "its files, relative to its directory");
    let back = href_of(&dom, "← all key sets");
    assert_eq!(back, "../../index.html");
    let jwks = p.at("out/public/tenants/acme").join(href_of(&dom, "jwks.json"));
    assert!(
        jwks.is_file()
            && p.at("out/public/tenants/acme").join(back).canonicalize().unwrap()
                == p.at("out/public/index.html").canonicalize().unwrap()
    );
}
