//! Issue 12, items 1 and 2: `--out` is a directory jwksmith owns (it refuses one that holds
//! anything else), and the commands that change `keys/` or write `out/` hold a lock, so that
//! overlapping runs act one after the other.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{EC_SPECS, NOW, Project, snapshot};

/// When the bootstrapped keys of [`NOW`] are due for rotation (`rotate_every` − `publish_ahead`
/// = 76 days later) but not yet overdue.
const DUE: &str = "2026-03-20T00:00:00Z";

/// The binary in the project, as the harness runs it, not yet started.
fn jwksmith(p: &Project, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jwksmith"));
    cmd.args(args)
        .current_dir(p.path())
        .env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs two commands at once; returns both outputs.
fn race(p: &Project, a: &[&str], b: &[&str]) -> [Output; 2] {
    let first = jwksmith(p, a).spawn().expect("spawn");
    let second = jwksmith(p, b).spawn().expect("spawn");
    [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()]
}

fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    crate::common::assert_no_leak_in_text(&String::from_utf8_lossy(&out.stderr), "stderr");
}

/// A project with the EC specs whose `keys/` is a copy of `from`'s.
fn copy_of(from: &Project) -> Project {
    let p = Project::new();
    for (rel, bytes) in snapshot(&from.at("keys")) {
        p.write(&format!("keys/{rel}"), &bytes);
    }
    p
}

/// spec → (kid, state) of every key of the root set at `now`, from `status --json`.
fn states(p: &Project, now: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let out = p.ok(&["status", "--json", "--now", now]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut specs: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for key in status["sets"][0]["keys"].as_array().unwrap() {
        let spec = key["spec"].as_str().unwrap_or("").to_string();
        specs
            .entry(spec)
            .or_default()
            .push((key["kid"].as_str().unwrap().into(), key["state"].as_str().unwrap().into()));
    }
    specs
}

/// The invariants after any overlap: every kid's halves match (the build validates each pair),
/// and each spec has exactly one current key at `now`. Returns the number of keys.
fn assert_sound(p: &Project, now: &str, what: &str) -> usize {
    p.ok(&["build", "-q", "--now", now]);
    let specs = states(p, now);
    assert_eq!(specs.keys().collect::<Vec<_>>(), ["ec-enc", "ec-sig"], "{what}: {specs:?}");
    for (spec, keys) in &specs {
        let current = keys.iter().filter(|(_, state)| state == "current").count();
        assert_eq!(current, 1, "{what}: spec {spec} has {current} current keys: {keys:?}");
        assert!(keys.iter().all(|(_, state)| state != "unfinished"), "{what}: {keys:?}");
    }
    specs.values().map(Vec::len).sum()
}

const ROUNDS: usize = 20;

#[test]
fn two_rotates_if_due_at_once_on_a_fresh_set_make_one_key_per_spec() {
    for round in 0..ROUNDS {
        let p = Project::with_keyset(EC_SPECS);
        let args = ["rotate", "--if-due", "-q", "--now", NOW];
        for out in race(&p, &args, &args) {
            assert_success(&out, &format!("round {round}: rotate --if-due"));
        }
        let what = format!("round {round}");
        assert_eq!(assert_sound(&p, NOW, &what), 2, "{what}: one rotate makes one key per spec");
    }
}

#[test]
fn two_rotates_if_due_at_once_on_a_due_set_make_one_new_key_per_spec() {
    let base = Project::with_keyset(EC_SPECS);
    base.ok(&["rotate", "-q", "--now", NOW]);
    for round in 0..ROUNDS {
        let p = copy_of(&base);
        let args = ["rotate", "--if-due", "-q", "--now", DUE];
        for out in race(&p, &args, &args) {
            assert_success(&out, &format!("round {round}: rotate --if-due"));
        }
        let what = format!("round {round}");
        assert_eq!(assert_sound(&p, DUE, &what), 4, "{what}: one rotate makes one new key per spec");
        // And once the new keys take over, still one current key per spec.
        assert_sound(&p, "2026-04-20T00:00:00Z", &format!("{what}, a month later"));
    }
}

#[test]
fn two_plain_rotates_at_once_act_one_after_the_other() {
    // What two rotates in a row make: each spec's first key, then its next key.
    let reference = Project::with_keyset(EC_SPECS);
    reference.ok(&["rotate", "-q", "--now", NOW]);
    reference.ok(&["rotate", "-q", "--now", NOW]);
    let expected = states(&reference, NOW);
    for round in 0..ROUNDS {
        let p = Project::with_keyset(EC_SPECS);
        let args = ["rotate", "-q", "--now", NOW];
        for out in race(&p, &args, &args) {
            assert_success(&out, &format!("round {round}: rotate"));
        }
        let what = format!("round {round}");
        assert_sound(&p, NOW, &what);
        assert_eq!(states(&p, NOW), expected, "{what}: as two rotates in a row");
    }
}

#[test]
fn rotate_racing_revoke_never_undoes_the_revoke() {
    let base = Project::with_keyset(EC_SPECS);
    base.ok(&["rotate", "-q", "--now", NOW]);
    let at = "2026-01-10T00:00:00Z";
    for round in 0..ROUNDS {
        let p = copy_of(&base);
        let rotate: &[&str] = &["rotate", "-q", "--now", at];
        let revoke: &[&str] = &["revoke", "ec-sig-001", "-q", "--now", at];
        // Either may start first.
        let (a, b) = if round % 2 == 0 { (rotate, revoke) } else { (revoke, rotate) };
        for out in race(&p, a, b) {
            assert_success(&out, &format!("round {round}"));
        }
        let what = format!("round {round}");
        assert_eq!(p.json("keys/ec-sig-001.meta.json")["revoked"], at, "{what}: the revoke stands");
        assert_sound(&p, at, &what);
        let jwks = p.json("out/public/jwks.json");
        assert!(!crate::common::kids(&jwks).contains(&"ec-sig-001".to_string()), "{what}: {jwks}");
    }
}

#[test]
fn two_builds_at_once_into_one_out_both_succeed() {
    let base = Project::with_keyset(EC_SPECS);
    for tenant in ["a", "b", "c", "d"] {
        base.write(&format!("keys/tenants/{tenant}/keyset.toml"), EC_SPECS.as_bytes());
    }
    base.ok(&["rotate", "-q", "--now", NOW]);
    base.ok(&["rotate", "-q", "--now", NOW]);
    base.ok(&["build", "-q", "--now", NOW]);
    let expected = base.snapshot("out");
    let p = copy_of(&base);
    let args = ["build", "-q", "--now", NOW];
    for round in 0..ROUNDS {
        if round % 4 != 3 {
            // Most rounds start from nothing, so both builds have every file to write.
            std::fs::remove_dir_all(p.at("out")).ok();
        }
        for out in race(&p, &args, &args) {
            assert_success(&out, &format!("round {round}: build"));
        }
        assert_eq!(p.snapshot("out"), expected, "round {round}: out/ is one build's output");
    }
}

/// A process that holds an exclusive `flock` on `file` (made if missing) until dropped.
/// `flock(2)` is what std's `File::lock` takes on Linux: the two exclude each other.
struct Holder(Child);

impl Holder {
    fn hold(file: &Path) -> Holder {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let script = "import fcntl, sys\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\nsys.stdin.read()\n";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "locked");
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// Runs a command with the lock wait shortened; returns its output and how long it took.
fn timed(p: &Project, args: &[&str], timeout: &str) -> (Output, Duration) {
    let started = Instant::now();
    let out = jwksmith(p, args).env("JWKSMITH_LOCK_TIMEOUT", timeout).output().unwrap();
    (out, started.elapsed())
}

fn redact(p: &Project, text: &str) -> String {
    text.replace(&p.path().display().to_string(), "[PROJECT]")
}

#[test]
fn a_held_lock_makes_each_command_wait_then_fail_naming_it() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "-q", "--now", NOW]);
    p.ok(&["build", "-q", "--now", NOW]);
    p.write("extra.jwk.json", br#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#);
    let keys = snapshot(&p.at("keys"));
    let out = p.snapshot("out");
    let mut messages = String::new();
    {
        let _held = Holder::hold(&p.at("keys/.jwksmith/lock"));
        for args in [
            &["rotate", "--now", NOW][..],
            &["rotate", "--if-due", "--now", NOW],
            &["revoke", "ec-sig-001", "--now", NOW],
            &["prune", "--now", "2027-01-01T00:00:00Z"],
            &["import", "extra.jwk.json", "--now", NOW],
        ] {
            let (result, took) = timed(&p, args, "300ms");
            let stderr = String::from_utf8_lossy(&result.stderr);
            assert_eq!(result.status.code(), Some(1), "{args:?}: {stderr}");
            assert!(took >= Duration::from_millis(300), "{args:?} waited only {took:?}");
            assert!(took < Duration::from_secs(10), "{args:?} waited {took:?}");
            assert!(stderr.contains("keys/.jwksmith/lock"), "{args:?}: {stderr}");
            assert!(stderr.contains("another jwksmith"), "{args:?}: {stderr}");
            messages.push_str(&format!("$ jwksmith {}\n{}\n", args.join(" "), redact(&p, &stderr)));
        }
        // Builds do not take the key directory's lock.
        p.ok(&["build", "-q", "--now", NOW]);
    }
    assert_eq!(snapshot(&p.at("keys")), keys, "nothing changed in keys/ while it was locked");
    {
        let _held = Holder::hold(&p.at("out/.jwksmith-lock"));
        let args = ["build", "--now", "2026-06-01T00:00:00Z"];
        let (result, took) = timed(&p, &args, "300ms");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{stderr}");
        assert!(took >= Duration::from_millis(300), "build waited only {took:?}");
        assert!(stderr.contains("out/.jwksmith-lock") && stderr.contains("another jwksmith"), "{stderr}");
        messages.push_str(&format!("$ jwksmith {}\n{}\n", args.join(" "), redact(&p, &stderr)));
        // With -q only the error is printed, not the note that it waits.
        let (quiet, _) = timed(&p, &["build", "-q", "--now", "2026-06-01T00:00:00Z"], "100ms");
        let quiet = String::from_utf8_lossy(&quiet.stderr);
        assert_eq!(quiet.lines().filter(|l| !l.starts_with("  ")).count(), 1, "{quiet}");
        assert!(quiet.starts_with("error: "), "{quiet}");
    }
    assert_eq!(p.snapshot("out"), out, "nothing changed in out/ while it was locked");
    insta::assert_snapshot!(messages);
}

#[test]
fn a_command_waits_for_the_lock_and_then_acts_on_what_it_finds() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "-q", "--now", NOW]);
    let held = Holder::hold(&p.at("keys/.jwksmith/lock"));
    let started = Instant::now();
    let waiting =
        jwksmith(&p, &["revoke", "ec-sig-001", "--now", NOW]).env("JWKSMITH_LOCK_TIMEOUT", "20s").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    // While it waits, the key is changed: the revoke must see the change, not what it found first.
    let meta = p.at("keys/ec-sig-001.meta.json");
    let mut changed: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    changed["label"] = "changed while revoke waited".into();
    std::fs::write(&meta, serde_json::to_vec(&changed).unwrap()).unwrap();
    drop(held);
    let out = waiting.wait_with_output().unwrap();
    assert_success(&out, "revoke after the lock was released");
    assert!(started.elapsed() >= Duration::from_millis(700));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("keys/.jwksmith/lock") && stderr.contains("another jwksmith"),
        "says why it waits: {stderr}"
    );
    let meta = p.json("keys/ec-sig-001.meta.json");
    assert_eq!(meta["revoked"], NOW);
    assert_eq!(meta["label"], "changed while revoke waited", "{meta}");
}

#[test]
fn an_invalid_lock_timeout_is_a_usage_error() {
    let p = Project::with_keyset(EC_SPECS);
    let (out, _) = timed(&p, &["rotate", "--now", NOW], "soon");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("JWKSMITH_LOCK_TIMEOUT"), "{stderr}");
    assert!(!p.at("keys/ec-sig-001.meta.json").exists());
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
