//! Incremental builds: `build` of every set keeps a record of what it read and wrote (in
//! `$JWKSMITH_CACHE_DIR`) and reuses unchanged sets next time. Whatever changed in between, the
//! `out/` such a build leaves is exactly the `out/` of a from-scratch build with the cache off
//! (same files, bytes and modes), and a build with nothing changed writes nothing.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::common::{EC_SPECS, NOW, Project, RSA_SIG_SPEC, kids, tool};

/// The second set of every project.
const ACME: &str = "keys/tenants/acme";

/// EC specs plus one RSA signing spec: its key is listed, with its label, in `jwt-keys.json`.
fn with_rsa() -> String {
    format!("{EC_SPECS}{RSA_SIG_SPEC}")
}

/// A project with the root set (EC) and `tenants/acme` (`acme_toml`), keys made at NOW.
fn two_sets(acme_toml: &str) -> Project {
    let p = Project::with_keyset(EC_SPECS);
    p.write(&format!("{ACME}/keyset.toml"), acme_toml.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    assert!(p.at(&format!("{ACME}/ec-sig-001.meta.json")).is_file(), "rotate made the keys of tenants/acme");
    p
}

/// Waits until every file changed so far is older than the build's racy margin (100 ms), so
/// the next build's record trusts the stamps it takes.
fn settle() {
    std::thread::sleep(Duration::from_millis(150));
}

/// Builds twice (each compared with a fresh build), settling first each time, so the record
/// trusts every input and output: the next build can reuse every set.
fn built_and_trusted(p: &Project) {
    for _ in 0..2 {
        settle();
        assert_same_as_fresh(p, NOW, &[]);
    }
}

/// One entry of a directory tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir { mode: u32 },
    File { mode: u32, bytes: Vec<u8> },
    Link { target: PathBuf },
}

/// Every entry under `root` (itself as `.`), links not followed: relative path → entry.
fn tree(root: &Path) -> BTreeMap<String, Node> {
    let mut nodes = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name() {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(root).unwrap().to_string_lossy().to_string();
        let rel = if rel.is_empty() { ".".to_string() } else { rel };
        let meta = entry.path().symlink_metadata().unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        let node = if meta.file_type().is_symlink() {
            Node::Link { target: fs::read_link(entry.path()).unwrap() }
        } else if meta.is_dir() {
            Node::Dir { mode }
        } else {
            Node::File { mode, bytes: fs::read(entry.path()).unwrap() }
        };
        nodes.insert(rel, node);
    }
    nodes
}

fn describe(node: &Node) -> String {
    match node {
        Node::Dir { mode } => format!("directory, mode {mode:o}"),
        Node::Link { target } => format!("symlink to {}", target.display()),
        Node::File { mode, bytes } => {
            let text = String::from_utf8_lossy(bytes);
            let preview: String = text.chars().take(400).collect();
            format!("file, mode {mode:o}, {} bytes: {preview:?}", bytes.len())
        }
    }
}

/// A readable list of the differences between two trees.
fn tree_diff(got: &BTreeMap<String, Node>, want: &BTreeMap<String, Node>) -> String {
    let mut lines = Vec::new();
    for (path, node) in got {
        match want.get(path) {
            None => lines.push(format!("  only in the incremental out/: {path} ({})", describe(node))),
            Some(w) if w != node => lines.push(format!(
                "  differs: {path}\n    incremental: {}\n    from scratch: {}",
                describe(node),
                describe(w)
            )),
            Some(_) => {}
        }
    }
    for (path, node) in want.iter().filter(|(p, _)| !got.contains_key(*p)) {
        lines.push(format!("  missing from the incremental out/: {path} ({})", describe(node)));
    }
    lines.join("\n")
}

/// `build --now NOW EXTRA...`.
fn build_args<'a>(now: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["build", "--now", now];
    args.extend_from_slice(extra);
    args
}

/// A from-scratch build of the same keys and templates into `out-ref`, with the cache off.
fn fresh(p: &Project, now: &str, extra: &[&str]) -> Output {
    let _ = fs::remove_dir_all(p.at("out-ref"));
    Command::new(env!("CARGO_BIN_EXE_jwksmith"))
        .args(build_args(now, extra))
        .args(["--out", "out-ref"])
        .current_dir(p.path())
        .env("JWKSMITH_CACHE_DIR", "off")
        .output()
        .expect("run jwksmith")
}

/// The build records in the project's cache directory.
fn records(p: &Project) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(p.at(".jwksmith-cache")) else { return Vec::new() };
    entries
        .map(|e| e.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with("build-"))
        .collect()
}

/// Builds with the record, then from scratch into `out-ref` with the cache off, and asserts
/// that both trees hold the same files with the same bytes and modes. Returns the first build.
fn assert_same_as_fresh(p: &Project, now: &str, extra: &[&str]) -> Output {
    let cached = p.ok(&build_args(now, extra));
    assert_eq!(records(p).len(), 1, "the build keeps exactly one record in JWKSMITH_CACHE_DIR");
    let reference = fresh(p, now, extra);
    assert!(
        reference.status.success(),
        "the from-scratch build failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&reference.stdout),
        String::from_utf8_lossy(&reference.stderr)
    );
    let (got, want) = (tree(&p.at("out")), tree(&p.at("out-ref")));
    fs::remove_dir_all(p.at("out-ref")).unwrap();
    assert!(want.contains_key("public/jwks.json"), "the reference build wrote out-ref/public/jwks.json");
    assert!(
        got == want,
        "`jwksmith {}` with its record left another out/ than a from-scratch build:\n{}\nbuild said: {}",
        build_args(now, extra).join(" "),
        tree_diff(&got, &want),
        String::from_utf8_lossy(&cached.stdout)
    );
    cached
}

/// Asserts that the cached build and a from-scratch build both fail with exit 1.
fn assert_both_fail(p: &Project, now: &str, extra: &[&str]) -> String {
    let stderr = p.fails(&build_args(now, extra), 1);
    let reference = fresh(p, now, extra);
    let _ = fs::remove_dir_all(p.at("out-ref"));
    assert_eq!(
        reference.status.code(),
        Some(1),
        "the from-scratch build should fail too: {}",
        String::from_utf8_lossy(&reference.stderr)
    );
    stderr
}

/// Written, unchanged and removed counts of a build report
/// (`built N sets, K keys: W files written, U unchanged, R removed`).
fn report(out: &Output) -> (usize, usize, usize) {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text.lines().find(|l| l.starts_with("built ")).unwrap_or_else(|| panic!("no build report: {text}"));
    let counts = line.split_once(": ").unwrap_or_else(|| panic!("odd report: {line}")).1;
    let numbers: Vec<usize> =
        counts.split(", ").map(|part| part.split(' ').next().unwrap().parse().expect("a count")).collect();
    assert_eq!(numbers.len(), 3, "odd report: {line}");
    (numbers[0], numbers[1], numbers[2])
}

/// Identity and change times of every file under `out/`: a rewrite, rename or chmod shows.
fn file_stamps(p: &Project) -> BTreeMap<String, (u64, i64, i64, i64, i64)> {
    let dir = p.at("out");
    walkdir::WalkDir::new(&dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let m = e.metadata().unwrap();
            let rel = e.path().strip_prefix(&dir).unwrap().to_string_lossy().to_string();
            (rel, (m.ino(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec()))
        })
        .collect()
}

/// Rewrites a file in place (same inode, no truncation first, no rename).
fn overwrite(path: &Path, bytes: &[u8]) {
    let mut file = fs::OpenOptions::new().write(true).open(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    file.write_all(bytes).unwrap();
    file.set_len(bytes.len() as u64).unwrap();
}

/// Changes one byte in the middle of a file, in place, keeping its length and inode.
fn flip_a_byte(path: &Path) {
    let bytes = fs::read(path).unwrap();
    let ino = fs::metadata(path).unwrap().ino();
    let at = bytes.len() / 2;
    let new = if bytes[at] == b'A' { b'B' } else { b'A' };
    let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(at as u64)).unwrap();
    file.write_all(&[new]).unwrap();
    drop(file);
    let after = fs::metadata(path).unwrap();
    assert_eq!((after.len(), after.ino()), (bytes.len() as u64, ino), "edited in place");
    assert_ne!(fs::read(path).unwrap(), bytes);
}

/// The JWK of `kid` in a JWK Set file.
fn jwk(p: &Project, file: &str, kid: &str) -> Value {
    let set = p.json(file);
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("{file} has no {kid}: {set}"))
        .clone()
}

fn text(p: &Project, rel: &str) -> String {
    String::from_utf8(p.read(rel)).unwrap()
}

/// True when `index.html` links the page of the set at `path` (HTML-escaped, `/` as `&#x2f;`).
fn in_index(p: &Project, path: &str) -> bool {
    text(p, "out/public/index.html").contains(&format!(">{}</a>", path.replace('/', "&#x2f;")))
}

/// A same-length edit of a text file, in place.
fn edit_same_length(p: &Project, rel: &str, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let old = text(p, rel);
    assert!(old.contains(from), "{rel} holds {from}: {old}");
    overwrite(&p.at(rel), old.replace(from, to).as_bytes());
}

/// Copies the root set's `<kid>.key.pem` and `<kid>.pub.pem` over tenants/acme's, in place.
fn swap_in_root_key(p: &Project, kid: &str) {
    for suffix in ["key.pem", "pub.pem"] {
        let bytes = p.read(&format!("keys/{kid}.{suffix}"));
        let target = format!("{ACME}/{kid}.{suffix}");
        assert_eq!(bytes.len(), p.read(&target).len(), "same spec, same size: only the stamps can tell");
        overwrite(&p.at(&target), &bytes);
    }
}

#[test]
fn a_build_with_nothing_changed_writes_nothing() {
    let p = two_sets(EC_SPECS);
    let first = assert_same_as_fresh(&p, NOW, &[]);
    assert!(report(&first).0 > 0, "the first build writes out/");
    // First round: the record of the first build distrusts the keys rotate had just written.
    // Second round: the record trusts every file.
    for round in 0..3 {
        settle();
        let before = file_stamps(&p);
        let again = assert_same_as_fresh(&p, NOW, &[]);
        // Every file but build's lock (`out/.jwksmith-lock`) is an output.
        let files = before.keys().filter(|f| *f != ".jwksmith-lock").count();
        assert_eq!(report(&again), (0, files, 0), "round {round}: {}", String::from_utf8_lossy(&again.stdout));
        assert_eq!(file_stamps(&p), before, "round {round}: a build with nothing changed touched a file of out/");
    }
}

#[test]
fn key_files_replaced_right_after_a_build() {
    let p = two_sets(EC_SPECS);
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    let acme_jwks = "out/public/tenants/acme/jwks.json";
    let original_jwks = p.read(acme_jwks);
    let originals: Vec<(String, Vec<u8>)> = ["key.pem", "pub.pem"]
        .iter()
        .map(|s| {
            let rel = format!("{ACME}/ec-sig-001.{s}");
            let bytes = p.read(&rel);
            (rel, bytes)
        })
        .collect();
    let root_key = jwk(&p, "out/public/jwks.json", "ec-sig-001");
    assert_ne!(jwk(&p, acme_jwks, "ec-sig-001")["x"], root_key["x"]);

    for round in 0..2 {
        // No pause anywhere: every change lands within the racy margin of a build.
        swap_in_root_key(&p, "ec-sig-001");
        assert_same_as_fresh(&p, NOW, &[]);
        assert_eq!(jwk(&p, acme_jwks, "ec-sig-001")["x"], root_key["x"], "round {round}: the new key is published");
        assert_eq!(jwk(&p, "out/private/tenants/acme/jwks.json", "ec-sig-001")["d"].as_str().map(str::len), Some(43));

        for (rel, bytes) in &originals {
            overwrite(&p.at(rel), bytes);
        }
        assert_same_as_fresh(&p, NOW, &[]);
        assert_eq!(p.read(acme_jwks), original_jwks, "round {round}: the original key is published again");
    }

    // The same swap once the record trusts the files.
    built_and_trusted(&p);
    swap_in_root_key(&p, "ec-sig-001");
    assert_same_as_fresh(&p, NOW, &[]);
    assert_eq!(jwk(&p, acme_jwks, "ec-sig-001")["x"], root_key["x"]);
    settle();
    for (rel, bytes) in &originals {
        overwrite(&p.at(rel), bytes);
    }
    assert_same_as_fresh(&p, NOW, &[]);
    assert_eq!(p.read(acme_jwks), original_jwks);
}

#[test]
fn edited_meta_json() {
    let p = two_sets(&with_rsa());
    built_and_trusted(&p);

    // A label of the same length: same size, only the stamps change.
    edit_same_length(
        &p,
        &format!("{ACME}/rsa-sig-001.meta.json"),
        "\"label\":\"rsa-sig-001\"",
        "\"label\":\"billing-key\"",
    );
    assert_same_as_fresh(&p, NOW, &[]);
    let listed = p.json("out/public/tenants/acme/jwt-keys.json");
    assert_eq!(listed[0]["label"], "billing-key", "{listed}");

    // Revoked (at NOW: revoked ≤ now) → leaves jwks.json at once.
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    let meta = format!("{ACME}/ec-sig-001.meta.json");
    p.write(&meta, text(&p, &meta).replace("\"revoked\":null", "\"revoked\":\"2026-01-01T00:00:00Z\"").as_bytes());
    assert_same_as_fresh(&p, NOW, &[]);
    let published = kids(&p.json("out/public/tenants/acme/jwks.json"));
    assert!(!published.contains(&"ec-sig-001".to_string()), "a revoked key is not published: {published:?}");
    assert!(kids(&p.json("out/public/jwks.json")).contains(&"ec-sig-001".to_string()), "the root set's is");

    // The root set's RSA-less meta, edited while tenants/acme is reused.
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    p.write(
        "keys/ec-enc-001.meta.json",
        text(&p, "keys/ec-enc-001.meta.json")
            .replace("\"revoked\":null", "\"revoked\":\"2026-01-01T00:00:00Z\"")
            .as_bytes(),
    );
    assert_same_as_fresh(&p, NOW, &[]);
    assert_eq!(kids(&p.json("out/public/jwks.json")), ["ec-sig-001"]);
}

#[test]
fn edited_keyset_toml() {
    let p = two_sets(EC_SPECS);
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    let acme_toml = format!("{ACME}/keyset.toml");

    p.write(&acme_toml, format!("pretty = true\n{EC_SPECS}").as_bytes());
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(text(&p, "out/public/tenants/acme/jwks.json").contains('\n'), "pretty JSON");
    assert!(!text(&p, "out/public/jwks.json").trim_end().contains('\n'), "the root set stays compact");

    p.write("keys/keyset.toml", format!("issuer = \"https://example.test\"\n{EC_SPECS}").as_bytes());
    assert_same_as_fresh(&p, NOW, &[]);
    assert_eq!(p.json("out/public/.well-known/openid-configuration")["issuer"], "https://example.test");

    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    p.write(&acme_toml, format!("pretty = true\napi_mirrors = true\nservice_id = \"acme\"\n{EC_SPECS}").as_bytes());
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(p.at("out/public/api/acme/service/jwks/get").is_file(), "the API mirror is written");

    // The root set claims the same mirror while tenants/acme is reused: an error either way.
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    let before = tree(&p.at("out"));
    p.write("keys/keyset.toml", format!("api_mirrors = true\nservice_id = \"acme\"\n{EC_SPECS}").as_bytes());
    assert_both_fail(&p, NOW, &[]);
    assert!(tree(&p.at("out")) == before, "a failed build left out/ as it was");
    p.write("keys/keyset.toml", format!("issuer = \"https://example.test\"\n{EC_SPECS}").as_bytes());
    assert_same_as_fresh(&p, NOW, &[]);

    // A rotation timing that only `_headers` shows.
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    p.write(&acme_toml, format!("[rotation]\ncache_max_age = \"2h\"\n{EC_SPECS}").as_bytes());
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(text(&p, "out/public/_headers").contains("max-age=7200"), "{}", text(&p, "out/public/_headers"));
    assert!(!p.at("out/public/api/acme/service/jwks/get").exists(), "the mirror is gone with api_mirrors");
}

#[test]
fn set_directories_added_renamed_and_removed() {
    let p = two_sets(EC_SPECS);
    built_and_trusted(&p);

    tool("cp", &["-Rp", "keys/tenants/acme", "keys/tenants/beta"], p.path());
    assert_same_as_fresh(&p, NOW, &[]);
    assert_eq!(p.read("out/public/tenants/beta/jwks.json"), p.read("out/public/tenants/acme/jwks.json"));
    assert!(in_index(&p, "tenants/beta"), "index.html lists the new set");

    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    fs::remove_dir_all(p.at(ACME)).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    for dir in ["out/public/tenants/acme", "out/private/tenants/acme"] {
        assert!(p.snapshot(dir).is_empty(), "files of the removed set remain in {dir}");
    }
    assert!(in_index(&p, "tenants/beta") && !in_index(&p, "tenants/acme"), "index.html still lists the removed set");

    // Renamed right after a build.
    fs::rename(p.at("keys/tenants/beta"), p.at("keys/tenants/gamma")).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(p.snapshot("out/public/tenants/beta").is_empty() && p.at("out/public/tenants/gamma/jwks.json").is_file());
    assert!(in_index(&p, "tenants/gamma") && !in_index(&p, "tenants/beta"));

    // A nested set inside another set's directory.
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    tool("cp", &["-Rp", "keys/tenants/gamma", "nested"], p.path());
    fs::rename(p.at("nested"), p.at("keys/tenants/gamma/sub")).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(p.at("out/public/tenants/gamma/sub/jwks.json").is_file() && in_index(&p, "tenants/gamma/sub"));
    settle();
    fs::remove_dir_all(p.at("keys/tenants/gamma/sub")).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(p.snapshot("out/public/tenants/gamma/sub").is_empty());
}

#[test]
fn outputs_changed_deleted_or_added_by_hand() {
    let p = two_sets(EC_SPECS);
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    let public_jwks = p.read("out/public/jwks.json");
    let private_jwks = p.read("out/private/tenants/acme/jwks.json");

    // Edited in place with the same length, well after the build wrote them.
    std::thread::sleep(Duration::from_millis(300));
    flip_a_byte(&p.at("out/public/jwks.json"));
    assert_same_as_fresh(&p, NOW, &[]);
    assert_eq!(p.read("out/public/jwks.json"), public_jwks);
    std::thread::sleep(Duration::from_millis(300));
    flip_a_byte(&p.at("out/private/tenants/acme/jwks.json"));
    flip_a_byte(&p.at("out/public/index.html"));
    assert_same_as_fresh(&p, NOW, &[]);
    assert_eq!(p.read("out/private/tenants/acme/jwks.json"), private_jwks);

    // Deleted, right after a build.
    fs::remove_file(p.at("out/public/tenants/acme/jwt-keys.json")).unwrap();
    fs::remove_file(p.at("out/private/ec-sig.pem")).unwrap();
    fs::remove_file(p.at("out/public/.nojekyll")).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);

    // Extra files, right after a build and after a pause.
    let extra = [
        "out/public/extra.txt",
        "out/public/tenants/acme/.well-known/extra.json",
        "out/public/tenants/new/extra.json",
        "out/private/tenants/acme/extra.pem",
        "out/private/extra.pem",
    ];
    for pause in [false, true] {
        if pause {
            settle();
            assert_same_as_fresh(&p, NOW, &[]);
            settle();
        }
        for f in extra {
            p.write(f, b"extra\n");
        }
        let built = assert_same_as_fresh(&p, NOW, &[]);
        for f in extra {
            assert!(!p.at(f).exists(), "{f} was not removed (pause: {pause})");
        }
        assert_eq!(report(&built).2, extra.len(), "{}", String::from_utf8_lossy(&built.stdout));
    }

    // Whole directories removed.
    settle();
    fs::remove_dir_all(p.at("out/private")).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    fs::remove_dir_all(p.at("out/public/tenants")).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    fs::remove_dir_all(p.at("out")).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
}

#[test]
fn output_file_modes_changed_by_hand() {
    let p = two_sets(EC_SPECS);
    built_and_trusted(&p);
    let chmod = |rel: &str, mode: u32| fs::set_permissions(p.at(rel), fs::Permissions::from_mode(mode)).unwrap();
    chmod("out/public/jwks.json", 0o600);
    chmod("out/private/tenants/acme/jwks.json", 0o644);
    chmod("out/private/ec-sig.pem", 0o644);
    assert_same_as_fresh(&p, NOW, &[]);
}

#[test]
fn output_directory_modes_changed_by_hand() {
    let p = two_sets(EC_SPECS);
    built_and_trusted(&p);
    let chmod = |rel: &str, mode: u32| fs::set_permissions(p.at(rel), fs::Permissions::from_mode(mode)).unwrap();
    // out/private must be 0700 (SPEC §5); a from-scratch build fixes these.
    chmod("out/private", 0o755);
    chmod("out/private/tenants/acme", 0o755);
    chmod("out/public/.well-known", 0o700);
    assert_same_as_fresh(&p, NOW, &[]);
}

#[test]
fn output_directory_modes_are_set_again_when_every_set_is_read_again() {
    let p = two_sets(EC_SPECS);
    built_and_trusted(&p);
    let chmod = |rel: &str, mode: u32| fs::set_permissions(p.at(rel), fs::Permissions::from_mode(mode)).unwrap();
    chmod("out/private/tenants", 0o755);
    chmod("out/private/tenants/acme", 0o755);
    chmod("out/public/tenants/acme", 0o700);
    // A fresh runner (no record): every set is read again and its files found unchanged.
    fs::remove_dir_all(p.at(".jwksmith-cache")).unwrap();
    p.ok(&["build", "--now", NOW]);
    let mode = |rel: &str| fs::metadata(p.at(rel)).unwrap().permissions().mode() & 0o777;
    for (rel, want) in
        [("out/private/tenants", 0o700), ("out/private/tenants/acme", 0o700), ("out/public/tenants/acme", 0o755)]
    {
        assert_eq!(mode(rel), want, "{rel}");
    }
}

#[test]
fn a_change_hidden_behind_a_restored_mtime_is_seen() {
    let p = two_sets(&with_rsa());
    built_and_trusted(&p);

    // Like `cp -p`: new bytes, same size, same inode, the old mtime. Only ctime tells.
    let hide = |rel: &str, change: &dyn Fn()| {
        let path = p.at(rel);
        let reference = p.at("mtime-reference");
        tool("cp", &["-p", path.to_str().unwrap(), reference.to_str().unwrap()], p.path());
        let before = fs::metadata(&path).unwrap();
        change();
        tool("touch", &["-r", reference.to_str().unwrap(), path.to_str().unwrap()], p.path());
        let after = fs::metadata(&path).unwrap();
        assert_eq!(
            (after.mtime(), after.mtime_nsec(), after.len(), after.ino()),
            (before.mtime(), before.mtime_nsec(), before.len(), before.ino()),
            "{rel}: same mtime, size and inode"
        );
        fs::remove_file(reference).unwrap();
    };

    let meta = format!("{ACME}/rsa-sig-001.meta.json");
    hide(&meta, &|| edit_same_length(&p, &meta, "\"label\":\"rsa-sig-001\"", "\"label\":\"billing-key\""));
    assert_same_as_fresh(&p, NOW, &[]);
    assert_eq!(p.json("out/public/tenants/acme/jwt-keys.json")[0]["label"], "billing-key");

    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    for suffix in ["key.pem", "pub.pem"] {
        let rel = format!("{ACME}/ec-sig-001.{suffix}");
        hide(&rel, &|| overwrite(&p.at(&rel), &p.read(&format!("keys/ec-sig-001.{suffix}"))));
    }
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    let root = jwk(&p, "out/public/jwks.json", "ec-sig-001");
    assert_eq!(jwk(&p, "out/public/tenants/acme/jwks.json", "ec-sig-001")["x"], root["x"]);
}

#[test]
fn template_overrides_added_changed_and_removed() {
    let p = two_sets(EC_SPECS);
    built_and_trusted(&p);

    let custom = "{% extends \"default/index.html\" %}{% block intro %}<h1>Custom</h1>{% endblock %}";
    p.write("site-template/index.html", custom.as_bytes());
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(text(&p, "out/public/index.html").contains("<h1>Custom</h1>"));
    edit_same_length(&p, "site-template/index.html", "Custom", "Kustom");
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(text(&p, "out/public/index.html").contains("<h1>Kustom</h1>"));

    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    p.write("site-template/_headers", b"# Ours\n{%- for rule in rules %}\n{{ rule.path }}\n{%- endfor %}\n");
    p.write("site-template/.nojekyll", b"ours\n");
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(text(&p, "out/public/_headers").starts_with("# Ours"));
    assert_eq!(text(&p, "out/public/.nojekyll"), "ours\n");

    // The section of one set.
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    let section =
        "<section><h2>{{ set.display_path }}</h2>{% for key in set.keys %}<p>{{ key.kid }}</p>{% endfor %}</section>\n";
    p.write("site-template/index-set.html", section.as_bytes());
    assert_same_as_fresh(&p, NOW, &[]);
    // It is on the set's own page: every page renders again.
    let page = "out/public/tenants/acme/index.html";
    assert!(text(&p, page).contains("<section><h2>tenants&#x2f;acme</h2><p>"));
    assert!(text(&p, "out/public/index.html").contains("<section><h2>.</h2><p>"), "the root set's on the root page");
    edit_same_length(&p, "site-template/index-set.html", "<p>", "<b>");
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(text(&p, page).contains("<section><h2>tenants&#x2f;acme</h2><b>"));
    fs::remove_file(p.at("site-template/index-set.html")).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(!text(&p, page).contains("<section><h2>") && !text(&p, "out/public/index.html").contains("<section><h2>"));

    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    fs::remove_file(p.at("site-template/index.html")).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(!text(&p, "out/public/index.html").contains("ustom</h1>"));
    fs::remove_dir_all(p.at("site-template")).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(text(&p, "out/public/_headers").contains("Cache-Control"));
}

#[test]
fn time_moves_across_state_changes() {
    let p = two_sets(&with_rsa());
    // 80 days on, tenants/acme schedules its next keys (the root set keeps its first ones).
    p.ok(&["rotate", "--now", "2026-03-22T00:00:00Z", "--set", "tenants/acme"]);
    let next = p.json(&format!("{ACME}/ec-sig-002.meta.json"));
    assert_eq!(next["activates"], "2026-04-05T00:00:00Z", "{next}");
    let old = p.json(&format!("{ACME}/ec-sig-001.meta.json"));
    assert_eq!(old["expires"], "2026-04-19T00:00:00Z", "{old}");
    assert!(!p.at("keys/ec-sig-002.meta.json").exists());
    settle();

    let acme_kids = |p: &Project| kids(&p.json("out/public/tenants/acme/jwks.json"));
    let new_kids = ["ec-sig-002", "rsa-sig-002", "ec-enc-002"];
    let steps: [(&str, &[&str]); 10] = [
        (
            "2026-03-23T00:00:00Z",
            &["ec-sig-001", "rsa-sig-001", "ec-enc-001", "ec-sig-002", "ec-enc-002", "rsa-sig-002"],
        ),
        (
            "2026-03-30T12:00:00Z",
            &["ec-sig-001", "rsa-sig-001", "ec-enc-001", "ec-sig-002", "ec-enc-002", "rsa-sig-002"],
        ),
        (
            "2026-04-04T23:59:59Z",
            &["ec-sig-001", "rsa-sig-001", "ec-enc-001", "ec-sig-002", "ec-enc-002", "rsa-sig-002"],
        ),
        (
            "2026-04-05T00:00:00Z",
            &["ec-sig-002", "rsa-sig-002", "ec-enc-002", "ec-sig-001", "ec-enc-001", "rsa-sig-001"],
        ),
        (
            "2026-04-10T00:00:00Z",
            &["ec-sig-002", "rsa-sig-002", "ec-enc-002", "ec-sig-001", "ec-enc-001", "rsa-sig-001"],
        ),
        ("2026-04-19T00:00:00Z", &new_kids),
        ("2026-06-01T00:00:00Z", &new_kids),
        // Back in time, to the instant the next keys were made (before it is an error: §3).
        (
            "2026-03-22T00:00:00Z",
            &["ec-sig-001", "rsa-sig-001", "ec-enc-001", "ec-sig-002", "ec-enc-002", "rsa-sig-002"],
        ),
        (
            "2026-03-23T00:00:00Z",
            &["ec-sig-001", "rsa-sig-001", "ec-enc-001", "ec-sig-002", "ec-enc-002", "rsa-sig-002"],
        ),
        (
            "2026-04-10T00:00:00Z",
            &["ec-sig-002", "rsa-sig-002", "ec-enc-002", "ec-sig-001", "ec-enc-001", "rsa-sig-001"],
        ),
    ];
    for (now, want) in steps {
        assert_same_as_fresh(&p, now, &[]);
        assert_eq!(acme_kids(&p), want, "tenants/acme's jwks.json at {now}");
        assert_eq!(kids(&p.json("out/public/jwks.json")), ["ec-sig-001", "ec-enc-001"], "the root set at {now}");
        // The same instant again: all reused, nothing written.
        let again = assert_same_as_fresh(&p, now, &[]);
        assert_eq!(report(&again).0, 0, "at {now}: {}", String::from_utf8_lossy(&again.stdout));
    }
    // updateTime follows the state changes of the RSA keys.
    let listed = p.json("out/public/tenants/acme/jwt-keys.json");
    assert_eq!(listed[0]["updateTime"], "2026-04-05T00:00:00Z", "{listed}");
    // Before the next keys were made, no record is reused: the build refuses.
    let stderr = p.fails(&["build", "--now", "2026-02-01T00:00:00Z"], 1);
    assert!(stderr.contains("after now (2026-02-01T00:00:00Z)"), "{stderr}");
}

#[test]
fn pretty_flag_toggled() {
    let p = two_sets(EC_SPECS);
    settle();
    for (i, extra) in [&[][..], &["--pretty"], &[], &["--pretty"], &["--pretty"], &[]].into_iter().enumerate() {
        let built = assert_same_as_fresh(&p, NOW, extra);
        let pretty = text(&p, "out/public/tenants/acme/jwks.json").trim_end().contains('\n');
        assert_eq!(pretty, !extra.is_empty(), "step {i} {extra:?}");
        if i == 4 {
            assert_eq!(report(&built).0, 0, "the same --pretty build again writes nothing");
        }
    }
}

#[test]
fn hand_dropped_keys_and_unrelated_files() {
    let p = two_sets(EC_SPECS);
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    let genpkey = |rel: &str| {
        tool("openssl", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", rel], p.path())
    };

    genpkey(&format!("{ACME}/hand.pem"));
    assert_same_as_fresh(&p, NOW, &[]);
    let first = jwk(&p, "out/public/tenants/acme/jwks.json", "hand");

    // Replaced by another key right after the build (openssl rewrites the file in place).
    genpkey(&format!("{ACME}/hand.pem"));
    assert_same_as_fresh(&p, NOW, &[]);
    assert_ne!(jwk(&p, "out/public/tenants/acme/jwks.json", "hand")["x"], first["x"]);

    built_and_trusted(&p);
    let before = file_stamps(&p);
    p.write("keys/README.txt", b"our keys\n");
    p.write(&format!("{ACME}/notes.md"), b"notes\n");
    fs::create_dir(p.at("keys/tenants/empty")).unwrap();
    let built = assert_same_as_fresh(&p, NOW, &[]);
    assert_eq!(report(&built).0, 0, "files that are no keys change nothing");
    assert_eq!(file_stamps(&p), before);

    settle();
    fs::remove_file(p.at(&format!("{ACME}/hand.pem"))).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    assert!(!kids(&p.json("out/public/tenants/acme/jwks.json")).contains(&"hand".to_string()));
}

#[test]
fn a_bad_edit_fails_and_leaves_out_untouched() {
    let p = two_sets(EC_SPECS);
    built_and_trusted(&p);
    let before = tree(&p.at("out"));
    let stamps = file_stamps(&p);
    let unchanged = |what: &str| {
        assert!(tree(&p.at("out")) == before, "{what}: out/ changed:\n{}", tree_diff(&tree(&p.at("out")), &before));
        assert_eq!(file_stamps(&p), stamps, "{what}: a file of out/ was touched");
    };

    let public = format!("{ACME}/ec-sig-001.pub.pem");
    let original = p.read(&public);
    overwrite(&p.at(&public), &vec![b'x'; original.len()]);
    let stderr = assert_both_fail(&p, NOW, &[]);
    assert!(stderr.contains("ec-sig-001.pub.pem"), "the error names the file: {stderr}");
    unchanged("garbage public key");
    settle();
    assert_both_fail(&p, NOW, &[]);
    unchanged("garbage public key, again");
    overwrite(&p.at(&public), &original);
    assert_same_as_fresh(&p, NOW, &[]);
    unchanged("restored");

    // A valid public key that does not match the private one.
    settle();
    overwrite(&p.at(&public), &p.read("keys/ec-sig-001.pub.pem"));
    assert_both_fail(&p, NOW, &[]);
    unchanged("mismatched public key");
    overwrite(&p.at(&public), &original);
    assert_same_as_fresh(&p, NOW, &[]);

    // A broken keyset.toml in the other set.
    let toml = p.read("keys/keyset.toml");
    p.write("keys/keyset.toml", b"pretty = maybe\n");
    assert_both_fail(&p, NOW, &[]);
    unchanged("broken keyset.toml");
    p.write("keys/keyset.toml", &toml);
    assert_same_as_fresh(&p, NOW, &[]);
    unchanged("keyset.toml restored");
}

#[test]
fn damaged_or_missing_record() {
    let p = two_sets(EC_SPECS);
    settle();
    assert_same_as_fresh(&p, NOW, &[]);
    let record = records(&p).pop().unwrap();
    let bytes = fs::read(&record).unwrap();

    p.write("keys/keyset.toml", format!("pretty = true\n{EC_SPECS}").as_bytes());
    fs::write(&record, b"garbage").unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    fs::write(&record, &bytes[..bytes.len() / 2]).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    // The first build's record, while the keys and out/ have moved on.
    fs::write(&record, &bytes).unwrap();
    assert_same_as_fresh(&p, NOW, &[]);
    fs::remove_file(&record).unwrap();
    p.write("keys/keyset.toml", EC_SPECS.as_bytes());
    assert_same_as_fresh(&p, NOW, &[]);
}

#[test]
fn builds_of_one_set_in_between() {
    let p = two_sets(&with_rsa());
    built_and_trusted(&p);

    edit_same_length(
        &p,
        &format!("{ACME}/rsa-sig-001.meta.json"),
        "\"label\":\"rsa-sig-001\"",
        "\"label\":\"billing-key\"",
    );
    p.ok(&["build", "--now", NOW, "--set", "tenants/acme"]);
    assert_same_as_fresh(&p, NOW, &[]);

    settle();
    p.write("keys/keyset.toml", format!("pretty = true\n{EC_SPECS}").as_bytes());
    p.ok(&["build", "--now", NOW, "--set", "."]);
    assert_same_as_fresh(&p, NOW, &[]);

    // A --set build at another instant, then a full build at the first.
    settle();
    p.ok(&["build", "--now", "2026-12-01T00:00:00Z", "--set", "tenants/acme"]);
    assert_same_as_fresh(&p, NOW, &[]);
}
