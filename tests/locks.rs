//! Issue 12, items 1 and 2: `--out` is a directory jwksmith owns (it refuses one that holds
//! anything else), and the commands that change `keys/` or write `out/` hold a lock, so that
//! overlapping runs act one after the other.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{EC_SPECS, NOW, Project, snapshot};

fn redact(p: &Project, text: &str) -> String {
    text.replace(&p.path().display().to_string(), "[PROJECT]")
}

/// Every file of the project, for "deletes nothing".
fn tree(p: &Project) -> BTreeMap<String, Vec<u8>> {
    snapshot(p.path())
}

/// A project as a user has it: keys with private halves, a git repository, docs, templates.
fn user_project() -> Project {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "-q", "--now", NOW]);
    p.write(".git/HEAD", b"ref: refs/heads/main\n");
    p.write("README.md", b"# my keys\n");
    p.write("docs/guide.md", b"guide\n");
    p.write("site-template/README", b"templates\n");
    p
}

#[test]
fn build_refuses_an_out_it_does_not_own_and_deletes_nothing() {
    let p = user_project();
    p.write("keys/out/notes.txt", b"inside keys\n");
    p.write("stray/public/jwks.json", b"{}\n");
    p.write("stray/notes.txt", b"mine\n");
    p.write("repo/.git/HEAD", b"ref: refs/heads/main\n");
    p.write("outer/keys/keyset.toml", EC_SPECS.as_bytes());
    let cases: [&[&str]; 9] = [
        &["--out", "."],
        &["--out", "keys"],
        &["--out", "keys/out"],
        &["--out", "keys/new/out"],
        &["--out", "site-template"],
        &["--out", "stray"],
        &["--out", "repo"],
        &["--out", "outer", "--keys", "outer/keys"],
        &["--out", "./keys/../."],
    ];
    let mut messages = String::new();
    for flags in cases {
        let before = tree(&p);
        let mut args = vec!["build", "--now", NOW];
        args.extend(flags);
        let stderr = p.fails(&args, 1);
        assert_eq!(tree(&p), before, "{args:?} changed the project");
        let out = flags[1];
        assert!(stderr.contains(&format!("error: {out}:")), "{args:?} names --out: {stderr}");
        messages.push_str(&format!("$ jwksmith {}\n{}\n", args.join(" "), redact(&p, &stderr)));
    }
    // The same directories through a symlink and an absolute path.
    std::os::unix::fs::symlink(p.at("keys"), p.at("link")).unwrap();
    let before = tree(&p);
    p.fails(&["build", "--now", NOW, "--out", "link"], 1);
    p.fails(&["build", "--now", NOW, "--out", p.path().to_str().unwrap()], 1);
    assert_eq!(tree(&p), before);
    // Watch refuses it too, before its first build.
    let stderr = p.fails(&["watch", "--now", NOW, "--out", "."], 1);
    assert!(stderr.contains("error: .:"), "{stderr}");
    assert_eq!(tree(&p), before);
    insta::assert_snapshot!(messages);
}

#[test]
fn build_accepts_an_out_of_its_own() {
    let p = user_project();
    // Missing (with a missing parent), empty, and as an earlier build left it.
    p.ok(&["build", "-q", "--now", NOW, "--out", "build/site"]);
    std::fs::create_dir(p.at("empty")).unwrap();
    p.ok(&["build", "-q", "--now", NOW, "--out", "empty"]);
    p.ok(&["build", "-q", "--now", NOW]);
    let built = p.snapshot("out");
    assert_eq!(p.snapshot("empty"), built);
    assert_eq!(p.snapshot("build/site"), built);
    // jwksmith's own leftovers are allowed, and removed; its lock stays.
    p.write("out/.jwksmith-tmp-abc.tmp", b"partial");
    p.write("out/.jwksmith-staging/.jwksmith-tmp-def.tmp", b"partial");
    p.write("out/public/.jwksmith-tmp-ghi.tmp", b"partial");
    p.write("out/public/stale.json", b"{}");
    p.ok(&["build", "-q", "--now", NOW]);
    assert_eq!(p.snapshot("out"), built);
    assert!(!p.at("out/.jwksmith-staging").exists());
    // A templates directory that does not exist contains nothing.
    p.ok(&["build", "-q", "--now", NOW, "--out", "gen", "--templates", "gen/templates"]);
    // A failed build into a missing out/ leaves no out/ behind.
    std::fs::write(p.at("keys/keyset.toml"), "not toml [").unwrap();
    p.fails(&["build", "-q", "--now", NOW, "--out", "never/made"], 1);
    assert!(!p.at("never").exists());
}

#[test]
fn build_removes_stale_files_only_under_public_and_private() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "-q", "--now", NOW]);
    p.ok(&["build", "-q", "--now", NOW]);
    let built = p.snapshot("out");
    let names: BTreeSet<&str> = built.keys().filter_map(|k| k.split('/').next()).collect();
    assert!(names.iter().all(|n| ["public", "private", ".jwksmith-lock"].contains(n)), "{names:?}");
    // A file beside public/ that only an older jwksmith could have left: refused, not deleted.
    p.write("out/site.tar", b"an archive");
    let before = tree(&p);
    let stderr = p.fails(&["build", "-q", "--now", NOW], 1);
    assert!(stderr.contains("site.tar"), "{stderr}");
    assert_eq!(tree(&p), before);
}
