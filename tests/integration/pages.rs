//! The site's pages (issue 18): each set's page at `<publish path>/index.html`, the root page
//! that shows the root set and links every other set, and the chain of pages it continues on.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::common::{EC_SPECS, NOW, Project};

/// The committed example's instant.
const EXAMPLE_NOW: &str = "2026-12-01T00:00:00Z";

/// The committed example keys (public-only) in a project, with two more nested sets: a copy of
/// the root set at `tenants/zeta` and one at `teams/eu-west.1_x`.
fn example_project() -> Project {
    let p = Project::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate::common::tool("cp", &["-R", repo.join("keys").to_str().unwrap(), "keys"], p.path());
    for dir in ["keys/tenants/zeta", "keys/teams/eu-west.1_x"] {
        fs::create_dir_all(p.at(dir)).unwrap();
        for entry in fs::read_dir(p.at("keys")).unwrap().flatten().filter(|e| e.path().is_file()) {
            fs::copy(entry.path(), p.at(dir).join(entry.file_name())).unwrap();
        }
    }
    p
}

fn text(p: &Project, rel: &str) -> String {
    String::from_utf8(p.read(rel)).unwrap()
}

/// The values of `href="…"` in `html`, as a browser reads them.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].replace("&#x2f;", "/").replace("&amp;", "&"))
        .collect()
}

#[test]
fn default_pages_of_the_root_and_of_a_nested_set() {
    let p = example_project();
    p.ok(&["build", "--now", EXAMPLE_NOW, "--templates", "nowhere"]);
    let root = text(&p, "out/public/index.html");
    insta::assert_snapshot!("root_page", root);
    insta::assert_snapshot!("nested_set_page", text(&p, "out/public/tenants/acme/index.html"));
    assert_eq!(
        hrefs(&root).into_iter().filter(|h| h.ends_with("/index.html")).collect::<Vec<_>>(),
        ["teams/eu-west.1_x/index.html", "tenants/acme/index.html", "tenants/zeta/index.html"],
        "the root page links every other set, relatively, in walk order"
    );
    for (page, up) in [("tenants/acme", "../../index.html"), ("teams/eu-west.1_x", "../../index.html")] {
        let html = text(&p, &format!("out/public/{page}/index.html"));
        assert!(hrefs(&html).contains(&up.to_string()), "{page} links back to the root page");
        assert!(hrefs(&html).contains(&"jwks.json".to_string()), "{page} links its own jwks.json");
    }
    assert!(!p.at("out/public/index-2.html").exists(), "three links fit one page");
}

#[test]
fn a_sets_page_is_one_of_its_files() {
    let p = example_project();
    p.ok(&["build", "--now", EXAMPLE_NOW]);
    let before = p.snapshot("out/public");
    // A --set build rewrites only the selected set's files, its page included, though another
    // set changed too.
    fs::remove_file(p.at("keys/tenants/zeta/ec256-enc-001.pub.pem")).unwrap();
    fs::remove_file(p.at("keys/tenants/zeta/ec256-enc-001.meta.json")).unwrap();
    fs::remove_file(p.at("keys/teams/eu-west.1_x/ec256-enc-001.pub.pem")).unwrap();
    fs::remove_file(p.at("keys/teams/eu-west.1_x/ec256-enc-001.meta.json")).unwrap();
    p.ok(&["build", "--now", EXAMPLE_NOW, "--set", "tenants/zeta"]);
    let after = p.snapshot("out/public");
    let changed: Vec<&str> =
        after.iter().filter(|(path, bytes)| before.get(*path) != Some(bytes)).map(|(path, _)| path.as_str()).collect();
    assert!(changed.contains(&"tenants/zeta/index.html"), "{changed:?}");
    assert!(changed.iter().all(|c| c.starts_with("tenants/zeta/")), "only the selected set's files: {changed:?}");
    assert!(!text(&p, "out/public/tenants/zeta/index.html").contains("ec256-enc-001"));
    assert!(
        text(&p, "out/public/teams/eu-west.1_x/index.html").contains("ec256-enc-001"),
        "another set's page is left alone"
    );
    // An incremental build then rewrites the page of the other set that changed, and no other.
    let out = p.ok(&["build", "--now", EXAMPLE_NOW, "-v"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let written: Vec<&str> = stderr.lines().filter_map(|l| l.strip_prefix("wrote   ")).collect();
    assert!(written.contains(&"public/teams/eu-west.1_x/index.html"), "{stderr}");
    assert!(written.iter().all(|w| w.contains("teams/eu-west.1_x/")), "{written:?}");
}

/// A project of `n` sets at publish paths of over 200 bytes, each with only a keyset.toml.
fn many_sets(n: usize) -> (Project, Vec<String>) {
    let p = Project::with_keyset(EC_SPECS);
    let paths: Vec<String> = (0..n).map(|i| format!("tenants/{}/{}-{i:04}", "x".repeat(100), "y".repeat(90))).collect();
    for path in &paths {
        p.write(&format!("keys/{path}/keyset.toml"), EC_SPECS.as_bytes());
    }
    (p, paths)
}

#[test]
fn links_that_do_not_fit_continue_on_a_chain_of_pages_of_bounded_size() {
    let (p, paths) = many_sets(300);
    p.ok(&["build", "--now", NOW, "-q"]);
    let mut seen = Vec::new();
    let mut page = "index.html".to_string();
    let mut previous: Option<String> = None;
    loop {
        let html = text(&p, &format!("out/public/{page}"));
        assert!(html.len() <= 1 << 20, "{page}: {} bytes", html.len());
        let prev = html.split("rel=\"prev\" href=\"").nth(1).map(|r| r[..r.find('"').unwrap()].to_string());
        assert_eq!(prev, previous, "{page} links the page before it");
        seen.extend(hrefs(&html).into_iter().filter(|h| h.starts_with("tenants/")));
        let Some(next) = html.split("rel=\"next\" href=\"").nth(1) else { break };
        previous = Some(page.clone());
        page = next[..next.find('"').unwrap()].to_string();
        assert!(page.starts_with("index-") && p.at(&format!("out/public/{page}")).is_file(), "{page}");
    }
    assert_ne!(page, "index.html", "300 long paths do not fit one page");
    let wanted: Vec<String> = paths.iter().map(|path| format!("{path}/index.html")).collect();
    assert_eq!(seen, wanted, "every set once, in walk order");
    for path in &paths[..3] {
        assert!(p.at(&format!("out/public/{path}/index.html")).is_file());
    }

    // Fewer sets: the pages no longer needed are removed; check agrees.
    let kept: BTreeSet<&str> = paths[..5].iter().map(String::as_str).collect();
    for path in paths.iter().filter(|path| !kept.contains(path.as_str())) {
        fs::remove_dir_all(p.at(&format!("keys/{path}"))).unwrap();
    }
    p.ok(&["build", "--now", NOW, "-q"]);
    assert!(!p.at("out/public/index-2.html").exists());
    p.ok(&["check", "--now", NOW, "-q"]);
}

#[test]
fn a_set_directory_named_like_a_page_of_the_chain_is_an_error_naming_it() {
    let (p, _) = many_sets(300);
    p.write("keys/index-2.html/keyset.toml", EC_SPECS.as_bytes());
    let stderr = p.fails(&["build", "--now", NOW, "-q"], 1);
    assert!(
        stderr.contains("out/public/index-2.html would be a file of the site and a directory of set index-2.html"),
        "{stderr}"
    );
    assert!(!p.at("out").exists(), "nothing written");
}
