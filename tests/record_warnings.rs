//! The build record, warnings that used to be missing, and quiet ends (issue 12, items 8, 10,
//! 11, 12 and 13): a damaged record never changes what `build` writes; `prune` looks only at a
//! key's own set; a hand-dropped private key that git would commit is named; overdue rotations
//! are not silent; a closed stdout ends a command quietly; a read-only, up-to-date `out/` builds.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use common::{EC_SPECS, NOW, Project, RSA_SIG_SPEC};

/// Every entry under `root` (itself as `.`): relative path → (mode, bytes; `None` for a dir).
fn tree(root: &Path) -> BTreeMap<String, (u32, Option<Vec<u8>>)> {
    let mut nodes = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name() {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(root).unwrap().to_string_lossy().to_string();
        let meta = entry.path().symlink_metadata().unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        let bytes = meta.is_file().then(|| fs::read(entry.path()).unwrap());
        nodes.insert(if rel.is_empty() { ".".into() } else { rel }, (mode, bytes));
    }
    nodes
}

/// The paths at which two trees differ.
fn differences(
    got: &BTreeMap<String, (u32, Option<Vec<u8>>)>,
    want: &BTreeMap<String, (u32, Option<Vec<u8>>)>,
) -> Vec<String> {
    let mut paths: Vec<String> = got.keys().chain(want.keys()).cloned().collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| got.get(p) != want.get(p))
        .map(|p| match (got.get(&p), want.get(&p)) {
            (None, _) => format!("{p}: missing"),
            (_, None) => format!("{p}: extra"),
            (Some(g), Some(w)) if g.0 != w.0 => format!("{p}: mode {:o}, want {:o}", g.0, w.0),
            _ => format!("{p}: other bytes"),
        })
        .collect()
}

/// Runs the binary in the project with extra environment variables.
fn run_env(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jwksmith"));
    cmd.args(args).current_dir(p.path()).env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run jwksmith")
}

/// The one build record in the project's cache directory.
fn the_record(p: &Project) -> PathBuf {
    let records: Vec<PathBuf> = fs::read_dir(p.at(".jwksmith-cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with("build-"))
        .collect();
    assert_eq!(records.len(), 1, "one record: {records:?}");
    records.into_iter().next().unwrap()
}

/// Sets a file's modification time (its contents stay): the set it is in is read again.
fn touch(path: &Path, secs_ago: u64) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(secs_ago)).unwrap();
}

// Item 8 (§6 Record): one damaged byte in the record made later builds drop a key (and delete
// out/private/rsa-sig.pem), or fail with "run the build again".
#[test]
fn no_damaged_record_changes_what_build_writes() {
    let p = Project::with_keyset(&format!("{EC_SPECS}{RSA_SIG_SPEC}"));
    p.write("keys/tenants/acme/keyset.toml", EC_SPECS.as_bytes());
    p.write("keys/tenants/beta/keyset.toml", RSA_SIG_SPEC.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    // The reference: a build with the record off, into its own directory.
    let reference = run_env(&p, &["build", "--now", NOW, "--out", "out-ref"], &[("JWKSMITH_CACHE_DIR", "off")]);
    assert!(reference.status.success(), "{}", String::from_utf8_lossy(&reference.stderr));
    let want = tree(&p.at("out-ref"));
    assert!(want.contains_key("private/rsa-sig.pem") && want.contains_key("private/tenants/beta/rsa-sig.pem"));
    // Two builds, the second after the first's files are old enough to be trusted.
    p.ok(&["build", "--now", NOW]);
    std::thread::sleep(Duration::from_millis(150));
    p.ok(&["build", "--now", NOW]);
    std::thread::sleep(Duration::from_millis(150));
    let record = the_record(&p);
    let good = fs::read(&record).unwrap();
    let acme_toml = p.at("keys/tenants/acme/keyset.toml");

    let mut mutations: Vec<(String, Vec<u8>)> = Vec::new();
    // Every byte of the start (where lengths and checksums are), then ~800 spread over the rest.
    let step = (good.len() / 800).max(1);
    for at in (0..good.len()).filter(|at| *at < 128 || at % step == 0) {
        let mut bytes = good.clone();
        bytes[at] ^= if at % 2 == 0 { 0x01 } else { 0x80 };
        mutations.push((format!("byte {at} of {} flipped", good.len()), bytes));
    }
    for len in [0, 1, 7, 8, 9, 16, 40, 88, good.len() / 3, good.len() / 2, good.len() - 1] {
        mutations.push((format!("truncated to {len} bytes"), good[..len.min(good.len())].to_vec()));
    }
    mutations.push(("garbage appended".into(), [good.as_slice(), b"garbage"].concat()));
    mutations.push(("a zero byte appended".into(), [good.as_slice(), &[0]].concat()));
    mutations.push(("the record twice".into(), [good.as_slice(), good.as_slice()].concat()));
    mutations.push(("garbage".into(), b"garbage".to_vec()));
    mutations.push(("the good record".into(), good.clone()));

    for (i, (what, bytes)) in mutations.iter().enumerate() {
        fs::write(&record, bytes).unwrap();
        // Every other build finds a set's file touched: that set is read again, the others are
        // taken from the record and the site is rendered from its rows.
        let touched = i % 2 == 1;
        if touched {
            touch(&acme_toml, 3600 + i as u64);
        }
        let out = p.run(&["build", "--now", NOW]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "record with {what} (touched: {touched}): build failed: {stderr}");
        assert!(!stderr.contains("record"), "record with {what}: the record is not the user's business: {stderr}");
        let got = tree(&p.at("out"));
        let diff = differences(&got, &want);
        assert!(diff.is_empty(), "record with {what} (touched: {touched}): out/ differs:\n{}", diff.join("\n"));
    }
}
