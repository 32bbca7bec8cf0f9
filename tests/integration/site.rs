//! Site files: the committed example site is the golden output of every site file; template
//! overrides take precedence file by file; template errors name the file and line.

use std::path::Path;

use crate::common::{NOW, Project, snapshot};

#[test]
fn example_site_is_the_golden_output_of_every_site_file() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = Project::new();
    let (keys, templates, out) = (repo.join("keys"), repo.join("site-template"), p.at("out"));
    let args = ["build", "--now", "2026-12-01T00:00:00Z", "--keys", keys.to_str().unwrap()];
    p.ok(&[&args[..], &["--templates", templates.to_str().unwrap(), "--out", out.to_str().unwrap()]].concat());
    let golden = snapshot(&repo.join("out/public"));
    let built = p.snapshot("out/public");
    assert_eq!(built.keys().collect::<Vec<_>>(), golden.keys().collect::<Vec<_>>());
    for (path, bytes) in &golden {
        assert!(built[path] == *bytes, "{path} differs from the committed example");
    }
    for site_file in
        ["index.html", "_headers", ".nojekyll", "404.html", "tenants/acme/.well-known/openid-configuration"]
    {
        assert!(golden.contains_key(site_file), "{site_file} is in the golden set");
    }
}

fn site_project() -> Project {
    let p = Project::with_keyset("[[key]]\nspec = \"es\"\nkty = \"EC\"\n");
    p.ok(&["rotate", "--now", NOW]);
    p
}

#[test]
fn overrides_take_precedence_file_by_file() {
    let p = site_project();
    p.write("site-template/_headers", b"/*\n  X-Custom: {{ rules | length }} rules\n");
    p.write(
        "site-template/index.html",
        b"{% extends \"default/index.html\" %}{% block intro %}<h1>Our keys</h1>{% endblock %}",
    );
    p.ok(&["build", "--now", NOW]);
    assert_eq!(p.read("out/public/_headers"), b"/*\n  X-Custom: 1 rules\n");
    let index = String::from_utf8(p.read("out/public/index.html")).unwrap();
    assert!(index.contains("<h1>Our keys</h1>") && index.contains("es-001"), "extends the embedded page");
    assert!(!index.contains("<h1>JSON Web Key Sets</h1>"), "the block is replaced");
    assert_eq!(p.read("out/public/.nojekyll"), b"", "not overridden: the embedded default");
    // --templates points elsewhere: the defaults come back.
    p.ok(&["build", "--now", NOW, "--templates", "nowhere"]);
    assert!(String::from_utf8(p.read("out/public/_headers")).unwrap().contains("Cache-Control: public, max-age=3600"));
}

#[test]
fn a_template_error_names_the_file_and_line_and_leaves_out_untouched() {
    let p = site_project();
    p.ok(&["build", "--now", NOW]);
    let before = p.snapshot("out");
    p.write("site-template/index.html", b"<html>\n<body>\n{% for key in %}\n</body>\n");
    let stderr = p.fails(&["build", "--now", NOW], 1);
    assert!(stderr.contains("site-template/index.html"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert_eq!(p.snapshot("out"), before);
    p.write("site-template/index.html", b"{{ sets | no_such_filter }}\n");
    let stderr = p.fails(&["build", "--now", NOW], 1);
    assert!(stderr.contains("site-template/index.html") && stderr.contains("line 1"), "{stderr}");
    assert_eq!(p.snapshot("out"), before);
}

#[test]
fn check_lints_client_pitfalls_and_strict_fails_on_them() {
    let p = Project::with_keyset(
        "[rotation]\nverify_for = \"30m\"\n[[key]]\nspec = \"enc\"\nkty = \"EC\"\nuse = \"enc\"\n",
    );
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let out = p.ok(&["check", "--now", NOW]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("set .: jwks.json has no signing key"), "{stderr}");
    assert!(stderr.contains("verify_for (30m) is shorter than cache_max_age (1h)"), "{stderr}");
    let stderr = p.fails(&["check", "--strict", "--now", NOW], 1);
    assert!(stderr.contains("check --strict: 2 warnings"), "{stderr}");
}

#[test]
fn check_warns_when_a_rotation_is_due_within_publish_ahead_and_of_rsa_2048_after_2030() {
    let p = Project::with_keyset("[[key]]\nspec = \"rs\"\nkty = \"RSA\"\n");
    p.ok(&["rotate", "--now", "2030-10-01T00:00:00Z"]);
    p.ok(&["build", "--now", "2030-10-01T00:00:00Z"]);
    p.ok(&["check", "--strict", "--now", "2030-10-01T00:00:00Z"]);
    p.ok(&["build", "--now", "2030-12-03T00:00:00Z"]);
    let stderr = p.fails(&["check", "--strict", "--now", "2030-12-03T00:00:00Z"], 1);
    assert!(stderr.contains("spec `rs` is due for rotation at 2030-12-16T00:00:00Z"), "{stderr}");
    assert!(stderr.contains("NIST SP 800-131A"), "{stderr}");
}
