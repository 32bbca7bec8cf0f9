//! Crash safety of the commands that change `keys/` (issue 12, items 3, 4 and 13; SPEC §6
//! "Atomic"): `rotate`, `import` and `revoke` aborted before each of their write steps in turn
//! (`JWKSMITH_FAILPOINT=N`), hand-placed key files without metadata left alone, and private
//! files exactly 0600 in 0700 directories whatever the umask.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{EC_SPECS, NOW, Project, tool};

/// Eighty days after [`NOW`]: the keys `rotate` made at `NOW` are due (90d − 14d).
const DUE: &str = "2026-03-22T00:00:00Z";
/// A day after [`NOW`].
const LATER: &str = "2026-01-02T00:00:00Z";

/// `jwksmith ARGS` in the project, with the harness's cache directory and extra variables.
fn jwksmith(p: &Project, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jwksmith"));
    cmd.args(args).current_dir(p.path()).env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"));
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let out = cmd.output().expect("run jwksmith");
    crate::common::assert_no_leak_in_text(&String::from_utf8_lossy(&out.stdout), "stdout");
    crate::common::assert_no_leak_in_text(&String::from_utf8_lossy(&out.stderr), "stderr");
    out
}

/// `jwksmith ARGS` under `umask`, through `sh -c 'umask …; exec …'`.
fn with_umask(p: &Project, umask: u32, args: &[&str]) -> Output {
    let script = format!("umask {umask:04o}; exec \"$0\" \"$@\"");
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_jwksmith"))
        .args(args)
        .current_dir(p.path())
        .env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"))
        .output()
        .expect("run jwksmith");
    assert!(out.status.success(), "umask {umask:04o}: jwksmith {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A copy of a project (modes included), to start each trial from the same state.
fn copy_of(base: &Project) -> Project {
    let p = Project::new();
    tool("cp", &["-a", &format!("{}/.", base.path().display()), &p.path().display().to_string()], base.path());
    p
}

/// A new EC P-256 private key, PKCS#8 PEM, made by openssl.
fn openssl_ec_key(dir: &Path) -> Vec<u8> {
    tool("openssl", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], dir)
}

/// Every file under `keys/` that holds a plaintext private key outside a managed
/// `<kid>.key.pem` of a set (hidden files and `keys/.jwksmith/` scanned too), except `allowed`;
/// those in `keys/.jwksmith/tmp/` are returned apart.
fn stray_private_keys(keys: &Path, allowed: &[&str]) -> (Vec<String>, Vec<String>) {
    let (mut stray, mut in_tmp) = (Vec::new(), Vec::new());
    for entry in walkdir::WalkDir::new(keys) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(keys).unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path()).unwrap();
        if !String::from_utf8_lossy(&bytes).contains("PRIVATE KEY") || allowed.contains(&rel.as_str()) {
            continue;
        }
        let managed = rel.ends_with(".key.pem") && !rel.split('/').any(|part| part.starts_with('.'));
        if rel.starts_with(".jwksmith/tmp/") {
            in_tmp.push(rel);
        } else if !managed {
            stray.push(rel);
        }
    }
    (stray, in_tmp)
}

/// `status --json` at `now`: (set, kid, spec, state) of every key.
fn states(p: &Project, now: &str) -> Vec<(String, String, Option<String>, String)> {
    let out = jwksmith(p, &["status", "--json", "--now", now], &[]);
    assert!(out.status.success(), "status: {}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rows = Vec::new();
    for set in status["sets"].as_array().unwrap() {
        for key in set["keys"].as_array().unwrap() {
            rows.push((
                set["path"].as_str().unwrap().to_string(),
                key["kid"].as_str().unwrap().to_string(),
                key["spec"].as_str().map(String::from),
                key["state"].as_str().unwrap().to_string(),
            ));
        }
    }
    rows
}

/// The current keys of each (set, spec) at `now`.
fn current_by_spec(p: &Project, now: &str) -> BTreeMap<(String, String), Vec<String>> {
    let mut current: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (set, kid, spec, state) in states(p, now) {
        if let Some(spec) = spec {
            let entry = current.entry((set, spec)).or_default();
            if state == "current" {
                entry.push(kid);
            }
        }
    }
    current
}

fn assert_at_most_one_current(p: &Project, now: &str, what: &str) {
    for (spec, kids) in current_by_spec(p, now) {
        assert!(kids.len() <= 1, "{what}: spec {spec:?} has {} current keys: {kids:?}", kids.len());
    }
}

/// A finished key directory: no unfinished key, nothing left in `keys/.jwksmith/tmp/` or
/// `started/`, every spec of the root set with exactly one current key.
fn assert_finished(p: &Project, now: &str, specs: &[&str], what: &str) {
    let rows = states(p, now);
    assert!(!rows.iter().any(|r| r.3 == "unfinished"), "{what}: unfinished keys left: {rows:?}");
    for dir in ["keys/.jwksmith/tmp", "keys/.jwksmith/started"] {
        let left: Vec<_> =
            std::fs::read_dir(p.at(dir)).map(|d| d.map(|e| e.unwrap().file_name()).collect()).unwrap_or_default();
        assert!(left.is_empty(), "{what}: {dir} still holds {left:?}");
    }
    let current = current_by_spec(p, now);
    for spec in specs {
        let kids = current.get(&(".".to_string(), spec.to_string())).cloned().unwrap_or_default();
        assert_eq!(kids.len(), 1, "{what}: spec {spec} should have one current key: {rows:?}");
    }
}

fn build_ok(p: &Project, now: &str, what: &str) {
    let out = jwksmith(p, &["build", "-q", "--now", now], &[]);
    assert!(out.status.success(), "{what}: build failed: {}", stderr(&out));
    crate::common::assert_no_leak_in_dir(&p.at("out/public"));
    // Only finished keys are published: every published kid has its metadata.
    for kid in crate::common::kids(&p.json("out/public/jwks.json")) {
        assert!(
            p.at(&format!("keys/{kid}.meta.json")).exists() || p.at(&format!("keys/{kid}.pem")).exists(),
            "{what}: {kid} published without metadata"
        );
    }
}

/// Runs `args` in a fresh copy of `base` with `JWKSMITH_FAILPOINT` = 1, 2, 3, … until it
/// completes without reaching the failpoint; after each abort, `after_crash` checks the copy.
/// Returns how many aborts there were.
fn crash_at_every_step(base: &Project, args: &[&str], mut after_crash: impl FnMut(&Project, u64)) -> u64 {
    for n in 1.. {
        let p = copy_of(base);
        let out = jwksmith(&p, args, &[("JWKSMITH_FAILPOINT", n.to_string())]);
        if out.status.success() {
            assert!(n > 5, "{args:?} completed after only {} write steps", n - 1);
            return n - 1;
        }
        assert_eq!(
            out.status.signal(),
            Some(6),
            "step {n}: {args:?} should abort, got {:?}: {}",
            out.status,
            stderr(&out)
        );
        assert!(stderr(&out).contains("JWKSMITH_FAILPOINT"), "step {n}: {}", stderr(&out));
        after_crash(&p, n);
        assert!(n < 400, "{args:?} never completes");
    }
    unreachable!()
}

/// The checks after every crash of a command: no stray private key, at most one current key
/// per spec; then `recover` (the next commands) runs and the directory is finished.
fn check_crash(p: &Project, n: u64, now: &str, allowed: &[&str], recover: &[&[&str]], specs: &[&str]) {
    let what = format!("failpoint {n}");
    let (stray, in_tmp) = stray_private_keys(&p.at("keys"), allowed);
    assert!(stray.is_empty(), "{what}: plaintext private keys outside a managed file: {stray:?}");
    assert_at_most_one_current(p, now, &what);
    build_ok(p, now, &what);
    for args in recover {
        let out = jwksmith(p, args, &[]);
        assert!(out.status.success(), "{what}: {args:?} failed: {}", stderr(&out));
    }
    let (stray, in_tmp_after) = stray_private_keys(&p.at("keys"), allowed);
    assert!(
        stray.is_empty() && in_tmp_after.is_empty(),
        "{what}: after recovery {stray:?} {in_tmp_after:?} (before: {in_tmp:?})"
    );
    assert_finished(p, now, specs, &what);
    build_ok(p, now, &what);
}

const SPECS: [&str; 2] = ["ec-sig", "ec-enc"];

#[test]
fn rotate_bootstrap_recovers_from_a_crash_at_every_write() {
    let base = Project::with_keyset(EC_SPECS);
    let rotate: &[&str] = &["rotate", "-q", "--now", NOW];
    // The next run is the daily cron's: a plain `rotate` would also schedule next keys.
    let cron: &[&str] = &["rotate", "--if-due", "-q", "--now", NOW];
    let crashes = crash_at_every_step(&base, rotate, |p, n| {
        check_crash(p, n, NOW, &[], &[cron], &SPECS);
        let keys = states(p, NOW).len();
        assert_eq!(keys, 2, "failpoint {n}: one key per spec, no more");
    });
    assert!(crashes >= 20, "{crashes} write steps");
}

#[test]
fn due_rotation_recovers_from_a_crash_at_every_write() {
    let base = Project::with_keyset(EC_SPECS);
    base.ok(&["rotate", "-q", "--now", NOW]);
    base.ok(&["build", "-q", "--now", NOW]);
    let rotate: &[&str] = &["rotate", "--if-due", "-q", "--now", DUE];
    crash_at_every_step(&base, rotate, |p, n| {
        check_crash(p, n, DUE, &[], &[rotate], &SPECS);
        let rows = states(p, DUE);
        assert_eq!(rows.len(), 4, "failpoint {n}: one next key per spec, no more: {rows:?}");
        // The repaired schedule: each current key retires when its next key activates.
        for spec in SPECS {
            let old = p.json(&format!("keys/{spec}-001.meta.json"));
            let new = p.json(&format!("keys/{spec}-002.meta.json"));
            assert_eq!(old["retires"], new["activates"], "failpoint {n}: {spec}");
        }
    });
}

#[test]
fn import_of_a_pem_recovers_from_a_crash_at_every_write() {
    let base = Project::with_keyset(EC_SPECS);
    base.ok(&["rotate", "-q", "--now", NOW]);
    let pem = openssl_ec_key(base.path());
    base.write("partner.pem", &pem);
    let import: &[&str] = &["import", "partner.pem", "-q", "--now", NOW];
    crash_at_every_step(&base, import, |p, n| {
        check_crash(p, n, NOW, &[], &[&["rotate", "--if-due", "-q", "--now", NOW]], &SPECS);
        // Either imported whole, or not at all (then the retry imports it).
        if !p.at("keys/partner.meta.json").exists() {
            assert!(!p.at("keys/partner.key.pem").exists() && !p.at("keys/partner.pub.pem").exists(), "failpoint {n}");
            let out = jwksmith(p, import, &[]);
            assert!(out.status.success(), "failpoint {n}: retry: {}", stderr(&out));
        }
        assert_eq!(p.read("keys/partner.key.pem"), pem, "failpoint {n}: the imported key");
        build_ok(p, NOW, "after the import");
        assert!(crate::common::kids(&p.json("out/public/jwks.json")).contains(&"partner".to_string()));
    });
}

#[test]
fn import_adopting_a_dropped_key_recovers_from_a_crash_at_every_write() {
    let base = Project::with_keyset(EC_SPECS);
    base.ok(&["rotate", "-q", "--now", NOW]);
    let pem = openssl_ec_key(base.path());
    base.write("keys/dropped.pem", &pem);
    let import: &[&str] = &["import", "keys/dropped.pem", "-q", "--now", NOW];
    crash_at_every_step(&base, import, |p, n| {
        let (stray, _) = stray_private_keys(&p.at("keys"), &["dropped.pem"]);
        assert!(stray.is_empty(), "failpoint {n}: {stray:?}");
        let out = jwksmith(p, &["rotate", "--if-due", "-q", "--now", NOW], &[]);
        assert!(out.status.success(), "failpoint {n}: {}", stderr(&out));
        assert_finished(p, NOW, &SPECS, &format!("failpoint {n}"));
        // The key is never lost: adopted whole, or still the dropped file (then imported again).
        let adopted = p.at("keys/dropped.meta.json").exists();
        assert_ne!(adopted, p.at("keys/dropped.pem").exists(), "failpoint {n}: exactly one form of the key");
        if !adopted {
            let out = jwksmith(p, import, &[]);
            assert!(out.status.success(), "failpoint {n}: retry: {}", stderr(&out));
        }
        assert_eq!(p.read("keys/dropped.key.pem"), pem, "failpoint {n}");
        build_ok(p, NOW, &format!("failpoint {n}"));
    });
}

#[test]
fn revoke_of_the_current_key_is_crash_safe_and_a_retry_makes_no_third_key() {
    let base = Project::with_keyset(EC_SPECS);
    base.ok(&["rotate", "-q", "--now", NOW]);
    base.ok(&["build", "-q", "--now", NOW]);
    let revoke: &[&str] = &["revoke", "ec-sig-001", "-q", "--now", LATER];
    let check = |p: &Project, what: &str| {
        let revoked = &p.json("keys/ec-sig-001.meta.json")["revoked"];
        assert!(revoked.is_null() || revoked == LATER, "{what}: revoked = {revoked}");
    };
    crash_at_every_step(&base, revoke, |p, n| {
        let what = format!("failpoint {n}");
        check(p, &what);
        let (stray, _) = stray_private_keys(&p.at("keys"), &[]);
        assert!(stray.is_empty(), "{what}: {stray:?}");
        assert_at_most_one_current(p, LATER, &what);
        build_ok(p, LATER, &what);
        // The retry finishes the job, and removes what the crash left in keys/.jwksmith/tmp.
        let out = jwksmith(p, revoke, &[]);
        assert!(out.status.success(), "{what}: retry: {}", stderr(&out));
        let (stray, in_tmp) = stray_private_keys(&p.at("keys"), &[]);
        assert!(stray.is_empty() && in_tmp.is_empty(), "{what}: after the retry: {stray:?} {in_tmp:?}");
        assert_eq!(p.json("keys/ec-sig-001.meta.json")["revoked"], LATER, "{what}");
        let sig: Vec<_> = states(p, LATER).into_iter().filter(|r| r.2.as_deref() == Some("ec-sig")).collect();
        assert_eq!(sig.len(), 2, "{what}: the revoked key and one successor, no third key: {sig:?}");
        // A second retry says so and changes nothing.
        let before = p.snapshot("keys");
        let out = jwksmith(p, &["revoke", "ec-sig-001", "--now", LATER], &[]);
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("already revoked"), "{what}");
        assert_eq!(p.snapshot("keys"), before, "{what}");
        let out = jwksmith(p, &["rotate", "--if-due", "-q", "--now", LATER], &[]);
        assert!(out.status.success(), "{what}: {}", stderr(&out));
        assert_finished(p, LATER, &SPECS, &what);
        build_ok(p, LATER, &what);
        assert!(!crate::common::kids(&p.json("out/public/jwks.json")).contains(&"ec-sig-001".to_string()), "{what}");
    });
    // Without a crash: one write per step, and the successor current at once.
    let p = copy_of(&base);
    p.ok(revoke);
    assert_finished(&p, LATER, &SPECS, "revoke");
}

#[test]
fn revoke_promotes_a_waiting_next_key_crash_safely() {
    let base = Project::with_keyset(EC_SPECS);
    base.ok(&["rotate", "-q", "--now", NOW]);
    base.ok(&["rotate", "-q", "--now", NOW]); // next keys, waiting
    let revoke: &[&str] = &["revoke", "ec-sig-001", "-q", "--now", LATER];
    crash_at_every_step(&base, revoke, |p, n| {
        let what = format!("failpoint {n}");
        assert_at_most_one_current(p, LATER, &what);
        let out = jwksmith(p, revoke, &[]);
        assert!(out.status.success(), "{what}: retry: {}", stderr(&out));
        let sig: Vec<_> = states(p, LATER).into_iter().filter(|r| r.2.as_deref() == Some("ec-sig")).collect();
        assert_eq!(sig.len(), 2, "{what}: no new key: {sig:?}");
        assert_finished(p, LATER, &SPECS, &what);
        assert_eq!(current_by_spec(p, LATER)[&(".".into(), "ec-sig".into())], ["ec-sig-002"], "{what}");
    });
}

#[test]
fn revoke_of_a_next_key_keeps_the_current_key_signing_crash_safely() {
    let base = Project::with_keyset(EC_SPECS);
    base.ok(&["rotate", "-q", "--now", NOW]);
    base.ok(&["rotate", "-q", "--now", NOW]); // next keys, waiting; the current ones retire then
    let handover = base.json("keys/ec-sig-002.meta.json")["activates"].as_str().unwrap().to_string();
    let revoke: &[&str] = &["revoke", "ec-sig-002", "-q", "--now", NOW];
    crash_at_every_step(&base, revoke, |p, n| {
        let what = format!("failpoint {n}");
        let out = jwksmith(p, revoke, &[]);
        assert!(out.status.success(), "{what}: retry: {}", stderr(&out));
        let meta = p.json("keys/ec-sig-001.meta.json");
        assert!(meta["retires"].is_null() && meta["expires"].is_null(), "{what}: its retirement is called off");
        assert_eq!(current_by_spec(p, &handover)[&(".".into(), "ec-sig".into())], ["ec-sig-001"], "{what}");
    });
}

#[test]
fn rotate_and_status_leave_hand_placed_key_files_alone_and_say_import() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "-q", "--now", NOW]);
    let legacy = openssl_ec_key(p.path());
    p.write("keys/legacy.key.pem", &legacy);
    let partner = tool("openssl", &["pkey", "-in", "keys/legacy.key.pem", "-pubout"], p.path());
    p.write("keys/partner.pub.pem", &partner);
    // A hand-placed file with the name the next key of ec-sig would get.
    p.write("keys/ec-sig-002.pub.pem", &partner);
    std::fs::set_permissions(p.at("keys/legacy.key.pem"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let placed =
        |p: &Project| ["legacy.key.pem", "partner.pub.pem", "ec-sig-002.pub.pem"].map(|f| p.read(&format!("keys/{f}")));
    let before = placed(&p);

    for args in [&["rotate", "--if-due", "--now", DUE][..], &["rotate", "--now", DUE], &["prune", "--now", DUE]] {
        let out = p.ok(args);
        let warned = stderr(&out);
        for kid in ["legacy", "partner", "ec-sig-002"] {
            assert!(warned.contains(&format!("--kid {kid}")), "{args:?} names {kid} with the fix: {warned}");
        }
        assert_eq!(placed(&p), before, "{args:?} left the hand-placed files alone");
    }
    assert!(p.at("keys/ec-sig-003.meta.json").exists(), "the next key skipped the taken kid ec-sig-002");

    let out = p.ok(&["status", "--now", DUE]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("legacy") && table.contains("unfinished"), "{table}");
    assert!(stderr(&out).contains("jwksmith import"), "{}", stderr(&out));
    let rows = states(&p, DUE);
    for kid in ["legacy", "partner", "ec-sig-002"] {
        assert!(rows.iter().any(|r| r.1 == kid && r.3 == "unfinished"), "{kid}: {rows:?}");
    }

    let out = p.ok(&["build", "--now", DUE]);
    let warned = stderr(&out);
    let line = warned.lines().find(|l| l.contains("legacy.key.pem")).expect("build warns about legacy.key.pem");
    insta::assert_snapshot!("hand_placed_key_warning", line);
    for file in ["out/public/jwks.json", "out/private/jwks.json"] {
        let kids = crate::common::kids(&p.json(file));
        assert!(!kids.iter().any(|k| ["legacy", "partner", "ec-sig-002"].contains(&k.as_str())), "{file}: {kids:?}");
    }

    // The fix the warning gives works, and keeps the key.
    p.ok(&["import", "keys/legacy.key.pem", "--kid", "legacy", "--now", DUE]);
    assert_eq!(p.read("keys/legacy.key.pem"), legacy);
    p.ok(&["build", "-q", "--now", DUE]);
    assert!(crate::common::kids(&p.json("out/public/jwks.json")).contains(&"legacy".to_string()));
}

#[test]
fn import_never_replaces_a_hand_placed_file_of_another_key() {
    let p = Project::with_keyset(EC_SPECS);
    let legacy = openssl_ec_key(p.path());
    p.write("keys/legacy.key.pem", &legacy);
    p.write("other.pem", &openssl_ec_key(p.path()));
    let other_pub = tool("openssl", &["pkey", "-in", "other.pem", "-pubout"], p.path());
    p.write("keys/legacy.pub.pem", &other_pub);
    let before = p.snapshot("keys");
    let err = p.fails(&["import", "keys/legacy.key.pem", "--kid", "legacy", "--now", NOW], 1);
    insta::assert_snapshot!(
        "import_would_replace_another_key",
        err.replace(&p.path().display().to_string(), "[PROJECT]")
    );
    let mut after = p.snapshot("keys");
    // The lock of keys/ lives in jwksmith's own git-ignored corner of it.
    after.retain(|path, _| !path.starts_with(".jwksmith/"));
    assert_eq!(after, before, "nothing changed");
}

#[test]
fn no_temporary_file_of_a_key_write_is_left_in_a_set_directory() {
    // Every temporary file of a key write lives in keys/.jwksmith/tmp (git-ignored, 0700):
    // abort right after each temporary file is written, before it is renamed.
    let base = Project::with_keyset(EC_SPECS);
    let mut aborted = 0;
    for n in 1..200u64 {
        let p = copy_of(&base);
        let out = jwksmith(&p, &["rotate", "-q", "--now", NOW], &[("JWKSMITH_FAILPOINT", n.to_string())]);
        if out.status.success() {
            break;
        }
        aborted += 1;
        for entry in walkdir::WalkDir::new(p.at("keys")) {
            let entry = entry.unwrap();
            let rel = entry.path().strip_prefix(p.at("keys")).unwrap().to_string_lossy().into_owned();
            let temp = entry.file_name().to_string_lossy().starts_with(".jwksmith-tmp-");
            assert!(!temp || rel.starts_with(".jwksmith/"), "failpoint {n}: temporary file {rel} in the set directory");
        }
        let tmp = p.at("keys/.jwksmith/tmp");
        if tmp.exists() {
            assert_eq!(std::fs::metadata(&tmp).unwrap().permissions().mode() & 0o777, 0o700);
            let ignore = std::fs::read_to_string(p.at("keys/.jwksmith/.gitignore")).unwrap();
            assert!(ignore.lines().any(|l| l == "*"), "failpoint {n}: {ignore}");
        }
    }
    assert!(aborted >= 20, "the failpoint stopped rotate only {aborted} times");
}

#[test]
fn private_files_are_0600_in_0700_directories_whatever_the_umask() {
    for umask in [0o277, 0o077, 0o022, 0o000, 0o777] {
        let p = Project::with_keyset(EC_SPECS);
        p.write("keys/tenants/acme/keyset.toml", EC_SPECS.as_bytes());
        p.write("partner.pem", &openssl_ec_key(p.path()));
        with_umask(&p, umask, &["rotate", "-q", "--now", NOW]);
        with_umask(&p, umask, &["import", "partner.pem", "--set", "tenants/acme", "-q", "--now", NOW]);
        with_umask(&p, umask, &["revoke", "ec-sig-001", "--set", "tenants/acme", "-q", "--now", LATER]);
        with_umask(&p, umask, &["build", "-q", "--now", LATER]);
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let mut private_files = 0;
        for root in ["keys", "out/private"] {
            for entry in walkdir::WalkDir::new(p.at(root)) {
                let entry = entry.unwrap();
                let rel = entry.path().strip_prefix(p.path()).unwrap().display().to_string();
                let name = entry.file_name().to_string_lossy();
                let private = root == "out/private" || name.ends_with(".key.pem");
                if entry.file_type().is_file() && private {
                    assert_eq!(mode(entry.path()), 0o600, "umask {umask:04o}: {rel}");
                    private_files += 1;
                    let dir = entry.path().parent().unwrap();
                    assert_eq!(mode(dir), 0o700, "umask {umask:04o}: directory of {rel}");
                }
                if entry.file_type().is_dir() && (root == "out/private" || rel.contains(".jwksmith")) {
                    assert_eq!(mode(entry.path()), 0o700, "umask {umask:04o}: {rel}");
                }
            }
        }
        assert!(private_files >= 10, "umask {umask:04o}: {private_files} private files");
    }
}

#[test]
fn an_interrupted_key_is_reported_as_jwksmiths_until_the_next_rotate_removes_it() {
    let base = Project::with_keyset(EC_SPECS);
    let p = (1..100)
        .map(|n| {
            let p = copy_of(&base);
            jwksmith(&p, &["rotate", "-q", "--now", NOW], &[("JWKSMITH_FAILPOINT", n.to_string())]);
            p
        })
        .find(|p| p.at("keys/ec-sig-001.key.pem").exists())
        .expect("a crash after the first private key is in place");
    assert!(!p.at("keys/ec-sig-001.meta.json").exists());
    let out = p.ok(&["build", "--now", NOW]);
    let line = stderr(&out).lines().find(|l| l.contains("ec-sig-001")).expect("build warns").to_string();
    insta::assert_snapshot!("interrupted_key_warning", line);
    assert!(crate::common::kids(&p.json("out/public/jwks.json")).is_empty());
    let out = p.ok(&["rotate", "--if-due", "--now", NOW]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed unfinished key ec-sig-001"));
    assert_finished(&p, NOW, &SPECS, "after the next rotate");
}

#[test]
fn every_command_that_changes_keys_removes_leftover_temporary_files() {
    let base = Project::with_keyset(EC_SPECS);
    base.ok(&["rotate", "-q", "--now", NOW]);
    let pem = openssl_ec_key(base.path());
    base.write("partner.pem", &pem);
    let commands: [&[&str]; 4] = [
        &["rotate", "--if-due", "--now", NOW],
        &["revoke", "ec-enc-001", "--now", NOW],
        &["prune", "--now", NOW],
        &["import", "partner.pem", "--now", NOW],
    ];
    for args in commands {
        let p = copy_of(&base);
        // What a killed writer leaves: a private temporary in keys/.jwksmith/tmp, and a public
        // one beside the keys (hidden: never read, never published).
        p.write("keys/.jwksmith/tmp/.jwksmith-tmp-AbC123.tmp", &pem);
        let public = tool("openssl", &["pkey", "-in", "partner.pem", "-pubout"], p.path());
        p.write("keys/.jwksmith-tmp-XyZ789.tmp", &public);
        build_ok(&p, NOW, "with leftovers");
        assert_eq!(crate::common::kids(&p.json("out/public/jwks.json")).len(), 2, "{args:?}: only the two keys");
        p.ok(args);
        assert!(!p.at("keys/.jwksmith/tmp/.jwksmith-tmp-AbC123.tmp").exists(), "{args:?} removed the leftover");
        let (stray, in_tmp) = stray_private_keys(&p.at("keys"), &[]);
        assert!(stray.is_empty() && in_tmp.is_empty(), "{args:?}: {stray:?} {in_tmp:?}");
        build_ok(&p, NOW, "after");
    }
}

#[test]
fn prune_recovers_from_a_crash_at_every_write() {
    let base = Project::with_keyset(EC_SPECS);
    base.ok(&["rotate", "-q", "--now", NOW]);
    base.ok(&["revoke", "ec-enc-001", "-q", "--now", LATER]);
    base.ok(&["build", "-q", "--now", LATER]);
    let prune: &[&str] = &["prune", "-q", "--now", LATER];
    crash_at_every_step(&base, prune, |p, n| {
        check_crash(p, n, LATER, &[], &[&["rotate", "--if-due", "-q", "--now", LATER]], &SPECS);
        let left: Vec<String> = ["key.pem", "pub.pem", "meta.json"]
            .iter()
            .map(|s| format!("keys/ec-enc-001.{s}"))
            .filter(|f| p.at(f).exists())
            .collect();
        assert!(left.is_empty() || left.len() == 3, "failpoint {n}: pruned whole or not at all: {left:?}");
    });
}

#[test]
fn import_makes_the_key_directory_and_its_state_directory() {
    let p = Project::new();
    p.write("a.pem", &openssl_ec_key(p.path()));
    p.ok(&["import", "a.pem", "--set", "tenants/x", "--now", NOW]);
    assert!(p.at("keys/tenants/x/a.meta.json").exists());
    assert!(p.at("keys/.jwksmith/.gitignore").exists());
    assert_finished(&p, NOW, &[], "import");
}
