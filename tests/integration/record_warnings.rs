//! The build record, warnings that used to be missing, and quiet ends (issue 12, items 8, 10,
//! 11, 12 and 13): a damaged record never changes what `build` writes; `prune` looks only at a
//! key's own set; a hand-dropped private key that git would commit is named; overdue rotations
//! are not silent; a closed stdout ends a command quietly; a read-only, up-to-date `out/` builds.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::{self, EC_SPECS, NOW, Project, RSA_SIG_SPEC};
use insta::assert_snapshot;

/// An OS error's text, `(Permission denied (os error 13))`, as `([OS ERROR])`: it depends on who
/// runs the test (root needs `chattr +i`, which says "Operation not permitted").
fn redact_os_error(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(start) = out.find("(os error ") {
        let open = out[..start].rfind('(').unwrap_or(start);
        let end = out[start..].find(')').map_or(out.len(), |e| start + e + 1);
        let end = if out[end..].starts_with(')') && open < start { end + 1 } else { end };
        out.replace_range(open..end, "([OS ERROR])");
    }
    out
}

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

    // Each mutation applies to the record the build before left (which matches out/ as it is):
    // a flip at `at`, a cut to `len`, bytes appended, the whole file replaced, or nothing.
    enum Mutation {
        Flip(usize),
        Cut(usize),
        Append(Vec<u8>),
        Replace(Vec<u8>),
        Twice,
        Nothing,
    }
    let mut mutations: Vec<Mutation> = Vec::new();
    // Every byte of the start (where lengths and checksums are), then ~800 spread over the rest.
    let step = (good.len() / 800).max(1);
    mutations.extend((0..good.len()).filter(|at| *at < 128 || at % step == 0).map(Mutation::Flip));
    let cuts = [0, 1, 7, 8, 9, 16, 40, 88, good.len() / 3, good.len() / 2, good.len() - 1];
    mutations.extend(cuts.into_iter().map(Mutation::Cut));
    mutations.push(Mutation::Append(b"garbage".to_vec()));
    mutations.push(Mutation::Append(vec![0]));
    mutations.push(Mutation::Twice);
    mutations.push(Mutation::Replace(b"garbage".to_vec()));
    mutations.push(Mutation::Replace(Vec::new()));
    let count = mutations.len();
    // The good record, last, twice with nothing else changed: the second build must use it.
    mutations.extend([Mutation::Nothing, Mutation::Nothing]);

    for (i, mutation) in mutations.iter().enumerate() {
        let current = fs::read(&record).unwrap();
        let (what, bytes) = match mutation {
            Mutation::Flip(at) => {
                let at = (*at).min(current.len() - 1);
                let mut bytes = current.clone();
                bytes[at] ^= if at % 2 == 0 { 0x01 } else { 0x80 };
                (format!("byte {at} of {} flipped", current.len()), bytes)
            }
            Mutation::Cut(len) => (format!("cut to {len} bytes"), current[..(*len).min(current.len())].to_vec()),
            Mutation::Append(tail) => (format!("{tail:?} appended"), [current.as_slice(), tail].concat()),
            Mutation::Replace(bytes) => (format!("replaced by {bytes:?}"), bytes.clone()),
            Mutation::Twice => ("twice over".to_string(), [current.as_slice(), &current].concat()),
            Mutation::Nothing => ("nothing changed".to_string(), current.clone()),
        };
        fs::write(&record, &bytes).unwrap();
        // Every other build finds a template override (the embedded default's own text): the
        // sets are taken from the record and the site is rendered again from their rows.
        let touched = i < count && i % 2 == 1;
        if touched {
            p.write("site-template/index-set.html", include_bytes!("../../src/templates/index-set.html"));
        }
        let inode = fs::metadata(&record).unwrap().ino();
        let out = p.run(&["build", "--now", NOW]);
        if i == mutations.len() - 1 {
            // The record is used at all: found valid with nothing changed, it is kept as it is.
            assert_eq!(fs::metadata(&record).unwrap().ino(), inode, "the good record was used, not replaced");
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "record with {what} (touched: {touched}): build failed: {stderr}");
        assert!(!stderr.contains("record"), "record with {what}: the record is not the user's business: {stderr}");
        if touched {
            fs::remove_file(p.at("site-template/index-set.html")).unwrap();
        }
        let got = tree(&p.at("out"));
        let diff = differences(&got, &want);
        assert!(diff.is_empty(), "record with {what} (touched: {touched}): out/ differs:\n{}", diff.join("\n"));
    }
}

/// Runs the binary with stdout a pipe whose reading end is already closed: every write to it
/// fails with EPIPE. Returns the exit code and stderr.
fn with_closed_stdout(p: &Project, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_jwksmith"))
        .args(args)
        .current_dir(p.path())
        .env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"))
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "jwksmith {args:?} panicked: {stderr}");
    assert!(!stderr.to_lowercase().contains("pipe"), "jwksmith {args:?} talks about the pipe: {stderr}");
    (out.status.code(), stderr)
}

// Item 13 (§4): `status | head -1` panicked with exit 101; `init | true` stopped before writing
// the .gitignore lines.
#[test]
fn a_closed_stdout_ends_a_command_quietly_with_its_own_exit_code() {
    let p = Project::new();
    let (code, stderr) = with_closed_stdout(&p, &["init"]);
    assert_eq!(code, Some(0), "{stderr}");
    let ignore = String::from_utf8(p.read(".gitignore")).unwrap();
    for line in ["*.key.pem", "out/private/", "target/"] {
        assert!(ignore.lines().any(|l| l == line), "init wrote {line} to .gitignore: {ignore}");
    }
    assert!(p.at("keys/keyset.toml").is_file() && p.at("site-template/README").is_file());
    p.write("keys/keyset.toml", EC_SPECS.as_bytes());
    assert_eq!(with_closed_stdout(&p, &["rotate", "--now", NOW]).0, Some(0));
    assert!(p.at("keys/ec-sig-001.meta.json").is_file(), "rotate made its keys");
    assert_eq!(with_closed_stdout(&p, &["build", "--now", NOW]).0, Some(0));
    assert!(p.at("out/public/jwks.json").is_file(), "build wrote out/");
    for args in [&["status", "--now", NOW][..], &["status", "--json", "--now", NOW], &["check", "--now", NOW]] {
        assert_eq!(with_closed_stdout(&p, args).0, Some(0), "{args:?}");
    }
    // A check that fails still fails, and says why on stderr.
    fs::remove_file(p.at("out/public/jwks.json")).unwrap();
    let (code, stderr) = with_closed_stdout(&p, &["check", "--now", NOW]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("stale"), "{stderr}");
}

/// Makes a tree read-only for everyone, root included, until dropped: mode bits off, and, as
/// root (whom mode bits do not stop), the immutable attribute.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn new(dir: &Path) -> ReadOnly {
        let chmod = Command::new("chmod").args(["-R", "a-w"]).arg(dir).status().unwrap();
        assert!(chmod.success());
        let guard = ReadOnly(dir.to_path_buf());
        let probe = dir.join("probe");
        if fs::write(&probe, b"x").is_ok() {
            let _ = fs::remove_file(&probe);
            let locked = Command::new("chattr").args(["-R", "+i"]).arg(dir).status();
            assert!(locked.is_ok_and(|s| s.success()), "chattr +i (for root) works here");
            assert!(fs::write(&probe, b"x").is_err(), "{} is read-only", dir.display());
        }
        guard
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = Command::new("chattr").args(["-R", "-i"]).arg(&self.0).status();
        let _ = Command::new("chmod").args(["-R", "u+w"]).arg(&self.0).status();
    }
}

/// Arguments and extra environment of one run.
type Run<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

// Item 13 (§6 Clear errors): an up-to-date read-only out/ failed the build.
#[test]
fn build_with_nothing_to_write_succeeds_on_a_read_only_out() {
    let p = Project::with_keyset(&format!("{EC_SPECS}{RSA_SIG_SPEC}"));
    p.write("keys/tenants/acme/keyset.toml", EC_SPECS.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    std::thread::sleep(Duration::from_millis(150));
    p.ok(&["build", "--now", NOW]);
    let before = tree(&p.at("out"));
    let guard = ReadOnly::new(&p.at("out"));
    let off = [("JWKSMITH_CACHE_DIR", "off")];
    let runs: [Run; 5] = [
        (&["build", "--now", NOW], &[]),
        (&["build", "--now", NOW], &off),
        (&["build", "--now", NOW, "--set", "tenants/acme"], &[]),
        (&["build", "--now", NOW, "--set", "."], &off),
        (&["check", "--now", NOW], &[]),
    ];
    for (args, env) in runs {
        let out = run_env(&p, args, env);
        assert!(out.status.success(), "{args:?} {env:?} on a read-only out/: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(args[0] != "build" || stdout.contains(" 0 files written"), "{stdout}");
    }
    // The record was dropped meanwhile: the build reads everything and still writes nothing.
    fs::remove_dir_all(p.at(".jwksmith-cache")).unwrap();
    let out = run_env(&p, &["build", "--now", NOW], &[]);
    assert!(out.status.success(), "without a record: {}", String::from_utf8_lossy(&out.stderr));
    // With something to write, the build fails, naming out/ and what it would change.
    let acme = p.read("keys/tenants/acme/keyset.toml");
    p.write("keys/tenants/acme/keyset.toml", format!("pretty = true\n{EC_SPECS}").as_bytes());
    let stderr = p.fails(&["build", "--now", NOW], 1);
    assert_snapshot!("read_only_out_with_changes", redact_os_error(&stderr));
    p.write("keys/tenants/acme/keyset.toml", &acme);
    drop(guard);
    assert_eq!(tree(&p.at("out")), before, "out/ unchanged");
}

/// One EC signing spec.
const EC_SIG: &str = "[[key]]\nspec = \"ec-sig\"\nkty = \"EC\"\ncrv = \"P-256\"\nuse = \"sig\"\nalg = \"ES256\"\n";

// Item 10 (§4 prune): prune looked for the kid in every set's jwks.json, so a revoked
// `ec-sig-001` of one tenant stayed while another tenant published its own `ec-sig-001`.
#[test]
fn prune_looks_only_at_the_keys_own_set() {
    let p = Project::new();
    for tenant in ["acme", "beta"] {
        p.write(&format!("keys/tenants/{tenant}/keyset.toml"), EC_SIG.as_bytes());
    }
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let later = "2026-01-02T00:00:00Z";
    p.ok(&["revoke", "ec-sig-001", "--set", "tenants/acme", "--now", later]);
    assert!(p.at("keys/tenants/acme/ec-sig-002.meta.json").is_file(), "a replacement");

    // Not built yet: acme's own files still hold it, and the warning names them.
    let out = p.ok(&["prune", "--now", later]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(p.at("keys/tenants/acme/ec-sig-001.meta.json").is_file(), "kept while published");
    assert!(stderr.contains("/tenants/acme/"), "points at its own set's file: {stderr}");
    assert!(!stderr.contains("beta"), "not at another set's: {stderr}");

    p.ok(&["build", "--now", later]);
    let beta = p.json("out/public/tenants/beta/jwks.json");
    assert_eq!(beta["keys"][0]["kid"], "ec-sig-001", "beta publishes its own ec-sig-001");
    let out = p.ok(&["prune", "--now", later]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("set tenants/acme: pruned ec-sig-001"), "{stdout}");
    for suffix in ["key.pem", "pub.pem", "meta.json"] {
        assert!(!p.at(&format!("keys/tenants/acme/ec-sig-001.{suffix}")).exists(), "{suffix} pruned");
        assert!(p.at(&format!("keys/tenants/beta/ec-sig-001.{suffix}")).is_file(), "beta's {suffix} kept");
    }
    p.ok(&["build", "--now", later]);
    assert_eq!(p.json("out/public/tenants/beta/jwks.json"), beta, "beta unchanged");
}

/// `NOW` plus some days, as `--now` takes it.
fn days_after_now(days: i64) -> String {
    let base = 1_767_225_600; // NOW, 2026-01-01T00:00:00Z
    let t = base + days * 86_400;
    let out = Command::new("date").args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%SZ"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

// Item 12 (§4 check, status): an overdue rotation was silent: `build` said nothing 100 days
// later and `status --json` had no field that said so.
#[test]
fn an_overdue_rotation_is_not_silent() {
    let p = Project::with_keyset(EC_SIG);
    let due = |now: &str| {
        let out = p.ok(&["status", "--json", "--now", now]);
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        status["sets"][0]["due"].clone()
    };
    // A spec with no key is due now, as the table says and `rotate --if-due` acts.
    assert_eq!(due(NOW), serde_json::json!([{"spec": "ec-sig", "at": NOW, "overdue": false}]));
    let table = String::from_utf8(p.ok(&["status", "--now", NOW]).stdout).unwrap();
    assert!(table.contains("ec-sig: current none; no scheduled change; rotation due now"), "{table}");
    p.ok(&["rotate", "--now", NOW]);
    // Rotation is due at +76 days (rotate_every 90d − publish_ahead 14d), overdue after +90.
    let (early, soon, late) = (days_after_now(60), days_after_now(80), days_after_now(100));
    assert_eq!(due(&early), serde_json::json!([]));
    assert_eq!(due(&soon), serde_json::json!([{"spec": "ec-sig", "at": "2026-03-18T00:00:00Z", "overdue": false}]));
    assert_eq!(due(&late), serde_json::json!([{"spec": "ec-sig", "at": "2026-03-18T00:00:00Z", "overdue": true}]));

    // Builds before it is overdue say nothing about it; the record then covers later instants.
    for _ in 0..2 {
        let out = p.ok(&["build", "--now", &soon]);
        assert!(!stderr_of(&out).contains("overdue"), "{}", stderr_of(&out));
        std::thread::sleep(Duration::from_millis(150));
    }
    let check = p.ok(&["check", "--now", &soon]);
    assert!(
        stderr_of(&check).contains("spec `ec-sig` is due for rotation at 2026-03-18T00:00:00Z"),
        "{}",
        stderr_of(&check)
    );
    assert!(!stderr_of(&check).contains("overdue"));
    p.fails(&["check", "--strict", "--now", &soon], 1);

    // 100 days on: build (from its record, and without), status and check all say "overdue".
    let build = p.ok(&["build", "--now", &late]);
    assert!(String::from_utf8_lossy(&build.stdout).contains(" 0 files written"));
    let warning = "warning: set .: spec `ec-sig`: rotation overdue: its current key ec-sig-001 is older than rotate_every (90d) since 2026-04-01T00:00:00Z; run `jwksmith rotate --if-due` now";
    assert!(stderr_of(&build).contains(warning), "{}", stderr_of(&build));
    assert_snapshot!("overdue_warning", stderr_of(&build));
    let uncached = run_env(&p, &["build", "--now", &late], &[("JWKSMITH_CACHE_DIR", "off")]);
    assert!(stderr_of(&uncached).contains(warning), "{}", stderr_of(&uncached));
    let single = p.ok(&["build", "--now", &late, "--set", "."]);
    assert!(stderr_of(&single).contains(warning), "{}", stderr_of(&single));
    let status = p.ok(&["status", "--now", &late]);
    assert!(stderr_of(&status).contains(warning), "{}", stderr_of(&status));
    let check = p.ok(&["check", "--now", &late]);
    assert!(stderr_of(&check).contains(warning), "{}", stderr_of(&check));
    assert!(!stderr_of(&check).contains("is due for rotation"), "one warning, the louder one: {}", stderr_of(&check));

    // Rotated: nothing is due any more.
    p.ok(&["rotate", "--if-due", "--now", &late]);
    assert_eq!(due(&late), serde_json::json!([]));
    let build = p.ok(&["build", "--now", &late]);
    assert!(!stderr_of(&build).contains("overdue"), "{}", stderr_of(&build));
}

// Item 12 (§5): a set with an empty jwks.json passed `check --strict`.
#[test]
fn check_warns_about_a_set_without_a_signing_key() {
    let enc = "[[key]]\nspec = \"ec-enc\"\nkty = \"EC\"\ncrv = \"P-256\"\nuse = \"enc\"\nalg = \"ECDH-ES\"\n";
    let p = Project::with_keyset(EC_SIG);
    p.write("keys/tenants/enc/keyset.toml", enc.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    // A set whose keyset.toml has specs but which has no key yet.
    p.write("keys/tenants/empty/keyset.toml", EC_SIG.as_bytes());
    p.ok(&["build", "--now", NOW]);
    assert_eq!(p.json("out/public/tenants/empty/jwks.json"), serde_json::json!({"keys": []}));
    let check = p.ok(&["check", "--now", NOW]);
    let stderr = stderr_of(&check);
    for set in ["tenants/empty", "tenants/enc"] {
        assert!(stderr.contains(&format!("set {set}: jwks.json has no signing key")), "{set}: {stderr}");
    }
    assert!(!stderr.contains("set .: jwks.json has no signing key"), "{stderr}");
    let strict = p.fails(&["check", "--strict", "--now", NOW], 1);
    assert!(strict.contains("check --strict"), "{strict}");
    let strict = p.fails(&["check", "--strict", "--now", NOW, "--set", "tenants/empty"], 1);
    assert!(strict.contains("no signing key"), "{strict}");

    // The root set's only key retires and expires, with no key after it.
    let mut meta = p.json("keys/ec-sig-001.meta.json");
    meta["retires"] = "2026-01-02T00:00:00Z".into();
    meta["expires"] = "2026-01-03T00:00:00Z".into();
    p.write("keys/ec-sig-001.meta.json", serde_json::to_string(&meta).unwrap().as_bytes());
    let later = days_after_now(3);
    p.ok(&["build", "--now", &later]);
    let stderr = stderr_of(&p.ok(&["check", "--now", &later, "--set", "."]));
    assert!(stderr.contains("set .: jwks.json has no signing key"), "{stderr}");
    assert!(stderr.contains("set .: spec `ec-sig` has no current key"), "{stderr}");
}

// Item 12 (§4 check): a check that failed only because a key's scheduled state change arrived
// did not say "run jwksmith build"; two current keys in one spec were not warned about.
#[test]
fn check_says_when_only_a_scheduled_change_made_out_stale() {
    let p = Project::with_keyset(EC_SIG);
    p.ok(&["rotate", "--now", NOW]);
    let (soon, after) = (days_after_now(80), days_after_now(95));
    p.ok(&["rotate", "--if-due", "--now", &soon]);
    assert!(p.at("keys/ec-sig-002.meta.json").is_file());
    p.ok(&["build", "--now", &soon]);
    p.ok(&["check", "--now", &soon]);
    let stderr = p.fails(&["check", "--now", &after], 1);
    assert!(stderr.contains("run jwksmith build"), "{stderr}");
    assert_snapshot!("check_stale_by_a_scheduled_change", stderr);
    // Anything else stale: the usual message.
    let jwks = p.read("out/public/jwks.json");
    p.write("out/public/jwks.json", b"{\"keys\":[]}");
    let stderr = p.fails(&["check", "--now", &after], 1);
    assert!(!stderr.contains("scheduled"), "{stderr}");
    p.write("out/public/jwks.json", &jwks);

    // ec-sig-001 never retires: two current keys from +90 days.
    let meta_file = "keys/ec-sig-001.meta.json";
    let mut meta = p.json(meta_file);
    meta["retires"] = serde_json::Value::Null;
    meta["expires"] = serde_json::Value::Null;
    p.write(meta_file, serde_json::to_string(&meta).unwrap().as_bytes());
    p.ok(&["build", "--now", &after]);
    let check = p.ok(&["check", "--now", &after]);
    let stderr = stderr_of(&check);
    assert!(stderr.contains("spec `ec-sig` has 2 current keys (ec-sig-001, ec-sig-002)"), "{stderr}");
}

// A revocation written ahead of time in a key's metadata is a scheduled state change too.
#[test]
fn check_says_when_only_a_scheduled_revocation_made_out_stale() {
    let p = Project::with_keyset(EC_SIG);
    p.ok(&["rotate", "--now", NOW]);
    let (soon, revoked, after) = (days_after_now(10), days_after_now(15), days_after_now(20));
    let meta_file = "keys/ec-sig-001.meta.json";
    let mut meta = p.json(meta_file);
    meta["revoked"] = serde_json::Value::String(revoked.clone());
    p.write(meta_file, serde_json::to_string(&meta).unwrap().as_bytes());
    p.ok(&["build", "--now", &soon]);
    p.ok(&["check", "--now", &soon]);
    for selected in [&["check"][..], &["check", "--set", "."]] {
        let stderr = p.fails(&[selected, &["--now", after.as_str()]].concat(), 1);
        assert!(stderr.contains(&format!("ec-sig-001 became revoked at {revoked}")), "{selected:?}: {stderr}");
        assert!(stderr.contains("run jwksmith build"), "{stderr}");
    }
}

// Under --strict the warnings are the failures: -q (nothing but errors) still prints them.
#[test]
fn check_strict_quiet_prints_the_warnings_it_fails_on() {
    let p = Project::with_keyset(EC_SIG);
    p.ok(&["rotate", "--now", NOW]);
    let late = days_after_now(200);
    p.ok(&["build", "-q", "--now", &late]);
    let stderr = p.fails(&["check", "--strict", "-q", "--now", &late], 1);
    assert!(stderr.contains("warning: ") && stderr.contains("overdue"), "the warnings, not only a count: {stderr}");
    let quiet = p.ok(&["check", "-q", "--now", &late]);
    assert!(quiet.stderr.is_empty() && quiet.stdout.is_empty(), "without --strict, -q prints nothing");
    let selected = p.ok(&["check", "--set", ".", "--now", &late]);
    let stdout = String::from_utf8_lossy(&selected.stdout);
    assert!(stdout.contains("out/public is up to date for the selected sets"), "{stdout}");
}

/// Runs git in `dir`.
fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git").args(args).current_dir(dir).stdout(Stdio::null()).status().unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A P-256 private key as PKCS#8 PEM, made by openssl.
fn ec_private_pem(dir: &Path) -> Vec<u8> {
    common::tool("openssl", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], dir)
}

// Item 11 (§2): a hand-dropped private key was not git-ignored, and `git add keys` committed
// it without a warning.
#[test]
fn a_hand_dropped_private_key_that_git_would_commit_is_named() {
    let p = Project::with_keyset(EC_SIG);
    p.ok(&["rotate", "--now", NOW]);
    for name in ["dropped", "ignored", "excluded", "global", "nested/deep"] {
        p.write(&format!("keys/{name}.pem"), &ec_private_pem(p.path()));
    }
    let public = common::tool("openssl", &["pkey", "-pubout", "-in", "keys/dropped.pem"], p.path());
    p.write("keys/partner.pem", &public);
    let warned = |out: &Output, name: &str| {
        stderr_of(out).contains(&format!("warning: keys/{name}.pem: holds a private key that git does not ignore"))
    };

    // Outside a work tree: nothing to say.
    for args in [&["build", "--now", NOW][..], &["check", "--now", NOW]] {
        let out = p.ok(args);
        assert!(!stderr_of(&out).contains("git"), "{args:?}: {}", stderr_of(&out));
    }

    git(p.path(), &["init", "-q"]);
    p.write(".gitignore", b"out/\n.jwksmith-cache/\nkeys/ignored.pem\n");
    p.write(".git/info/exclude", b"excluded.pem\n");
    p.write("global-ignore", b"global.pem\n");
    git(p.path(), &["config", "core.excludesFile", &p.at("global-ignore").to_string_lossy()]);
    for args in [&["build", "--now", NOW][..], &["check", "--now", NOW], &["build", "--now", NOW, "--set", "."]] {
        let out = run_env(&p, args, &[]);
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
        let all_sets = !args.contains(&"--set");
        assert!(warned(&out, "dropped") && warned(&out, "nested/deep") == all_sets, "{args:?}: {}", stderr_of(&out));
        for name in ["ignored", "excluded", "global", "partner"] {
            assert!(!warned(&out, name), "{name}: {}", stderr_of(&out));
        }
    }
    let out = p.ok(&["build", "--now", NOW]);
    let line = stderr_of(&out).lines().find(|l| l.contains("keys/dropped.pem: holds")).unwrap().to_string();
    assert_snapshot!("unignored_private_key", line);
    // Which is just what git would do.
    git(p.path(), &["add", "keys"]);
    let staged = Command::new("git").args(["diff", "--cached", "--name-only"]).current_dir(p.path()).output().unwrap();
    let staged = String::from_utf8_lossy(&staged.stdout);
    assert!(staged.contains("keys/dropped.pem") && !staged.contains("keys/ignored.pem"), "{staged}");

    // Ignored now: the next build (with nothing else changed) says nothing.
    p.write(".gitignore", b"out/\n.jwksmith-cache/\n*.pem\n!*.pub.pem\n");
    git(p.path(), &["rm", "-q", "--cached", "-r", "keys"]);
    let out = p.ok(&["build", "--now", NOW]);
    assert!(!stderr_of(&out).contains("git does not ignore"), "{}", stderr_of(&out));
    // Without git on PATH: no warning, no error.
    p.write(".gitignore", b"out/\n");
    let out = run_env(&p, &["check", "--now", NOW], &[("PATH", "/nonexistent")]);
    assert!(out.status.success() && !stderr_of(&out).contains("git"), "{}", stderr_of(&out));
}

/// The record file with its site rows replaced by `rows` (postcard: a count, then each row's
/// length and bytes), its header's length and SHA-256 of the rows made to match: a record
/// whose checksums hold, as written by jwksmith's format (magic, two lengths, two digests).
fn with_rows(record: &[u8], rows: &[u8]) -> Vec<u8> {
    let head_len = u64::from_le_bytes(record[8..16].try_into().unwrap()) as usize;
    let mut out = record[..88 + head_len].to_vec();
    out[16..24].copy_from_slice(&(rows.len() as u64).to_le_bytes());
    out[56..88].copy_from_slice(ring::digest::digest(&ring::digest::SHA256, rows).as_ref());
    out.extend_from_slice(rows);
    out
}

// Item 8 (§6 Record): a site row that does not decode failed the build with "the build record is
// damaged; run the build again" (and every later build the same way while the record stood).
#[test]
fn a_record_whose_rows_do_not_decode_is_no_record() {
    let p = Project::with_keyset(EC_SIG);
    p.write("keys/tenants/acme/keyset.toml", EC_SIG.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    let reference = run_env(&p, &["build", "--now", NOW, "--out", "out-ref"], &[("JWKSMITH_CACHE_DIR", "off")]);
    assert!(reference.status.success());
    let want = tree(&p.at("out-ref"));
    p.ok(&["build", "--now", NOW]);
    std::thread::sleep(Duration::from_millis(150));
    p.ok(&["build", "--now", NOW]);
    std::thread::sleep(Duration::from_millis(150));
    let record = the_record(&p);
    // Two sets, each row empty: no row decodes.
    fs::write(&record, with_rows(&fs::read(&record).unwrap(), &[2, 0, 0])).unwrap();
    // A template override (the default's own text) makes the build render the site again.
    p.write("site-template/index-set.html", include_bytes!("../../src/templates/index-set.html"));
    let out = p.ok(&["build", "--now", NOW]);
    assert!(!stderr_of(&out).contains("record"), "{}", stderr_of(&out));
    assert_eq!(differences(&tree(&p.at("out")), &want), Vec::<String>::new());
    // The next build has a good record again.
    fs::remove_file(p.at("site-template/index-set.html")).unwrap();
    p.ok(&["build", "--now", NOW]);
    assert_eq!(differences(&tree(&p.at("out")), &want), Vec::<String>::new());
}
