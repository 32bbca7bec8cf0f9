//! SPEC §6 guarantees (deterministic, minimal rewrites, stale removal) and command behaviour:
//! check, --set, global flags, init, status --json, rotate, build warnings.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::common::{EC_SPECS, NOW, Project, is_time, kids, tool};

const LATER: &str = "2026-01-31T00:00:00Z";

/// Modification times of every file under a project directory: relative path → mtime.
fn mtimes(p: &Project, rel: &str) -> BTreeMap<String, SystemTime> {
    let dir = p.at(rel);
    walkdir::WalkDir::new(&dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(&dir).unwrap().to_string_lossy().to_string(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect()
}

/// Waits long enough for a rewrite to show in mtimes on coarse file systems.
fn tick() {
    std::thread::sleep(Duration::from_millis(1100));
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// An EC public key (SPKI PEM) from openssl; its private part is discarded.
fn ec_public_pem(p: &Project) -> Vec<u8> {
    let private = tool("openssl", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], p.path());
    let scratch = tempfile::NamedTempFile::new().unwrap();
    fs::write(scratch.path(), private).unwrap();
    tool("openssl", &["pkey", "-in", scratch.path().to_str().unwrap(), "-pubout"], p.path())
}

/// A project with a root set and `tenants/acme`, `tenants/beta`, all EC, keys made at NOW.
fn three_sets() -> Project {
    let p = Project::with_keyset(EC_SPECS);
    p.write("keys/tenants/acme/keyset.toml", EC_SPECS.as_bytes());
    p.write("keys/tenants/beta/keyset.toml", EC_SPECS.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p
}

/// The number before "written" in a build report (`N files written` or `N written`).
fn written_count(report: &str) -> Option<u64> {
    let words: Vec<&str> =
        report.split(|c: char| c.is_whitespace() || c == ',' || c == ':').filter(|w| !w.is_empty()).collect();
    let at = words.iter().position(|w| w.starts_with("written"))?;
    let mut i = at.checked_sub(1)?;
    if words[i].starts_with("file") {
        i = i.checked_sub(1)?;
    }
    words[i].parse().ok()
}

#[test]
fn same_inputs_give_byte_identical_out() {
    let a = Project::with_keyset(EC_SPECS);
    a.write("keys/tenants/acme/keyset.toml", EC_SPECS.as_bytes());
    a.ok(&["rotate", "--now", NOW]);
    a.ok(&["rotate", "--now", NOW]);
    a.write("keys/legacy.pem", &ec_public_pem(&a));

    let b = Project::new();
    for (rel, bytes) in a.snapshot("keys") {
        b.write(&format!("keys/{rel}"), &bytes);
    }
    a.ok(&["build", "--now", LATER]);
    // The same inputs through absolute --keys and --out paths.
    let keys = b.at("keys");
    let out = b.at("out");
    b.ok(&["build", "--now", LATER, "--keys", keys.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let out_a = a.snapshot("out");
    assert!(out_a.contains_key("public/jwks.json") && out_a.contains_key("private/jwks.json"));
    assert_eq!(out_a, b.snapshot("out"), "same keys and --now must give the same out/");

    for (rel, bytes) in &out_a {
        let text = String::from_utf8_lossy(bytes);
        for dir in [a.path(), b.path()] {
            assert!(!text.contains(dir.to_str().unwrap()), "{rel} contains an absolute path");
        }
    }
}

#[test]
fn rebuild_rewrites_nothing() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    let first = p.ok(&["build", "--now", NOW]);
    assert_ne!(written_count(&stdout(&first)), Some(0), "{}", stdout(&first));
    let bytes = p.snapshot("out");
    let before = mtimes(&p, "out");
    tick();
    let again = p.ok(&["build", "--now", NOW]);
    assert_eq!(p.snapshot("out"), bytes);
    assert_eq!(mtimes(&p, "out"), before, "unchanged files must not be rewritten");
    assert_eq!(written_count(&stdout(&again)), Some(0), "the report must say 0 written: {}", stdout(&again));
}

#[test]
fn build_removes_stale_files() {
    let p = Project::with_keyset(EC_SPECS);
    p.write("keys/tenants/acme/keyset.toml", EC_SPECS.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    assert!(p.at("out/public/tenants/acme/jwks.json").is_file());
    assert!(p.at("out/private/tenants/acme/jwks.json").is_file());
    let stale = [
        "out/public/extra.txt",
        "out/public/.jwksmith-tmp-abc.tmp",
        "out/public/old/leftover.json",
        "out/private/.jwksmith-tmp-def.tmp",
        "out/private/old.pem",
    ];
    for f in stale {
        p.write(f, b"stale\n");
    }
    fs::remove_dir_all(p.at("keys/tenants/acme")).unwrap();
    p.ok(&["build", "--now", NOW]);
    for f in stale {
        assert!(!p.at(f).exists(), "{f} was not removed");
    }
    assert!(p.snapshot("out/public/tenants/acme").is_empty(), "files of a deleted set remain in out/public");
    assert!(p.snapshot("out/private/tenants/acme").is_empty(), "files of a deleted set remain in out/private");
    assert!(p.at("out/public/jwks.json").is_file());
    let index = String::from_utf8(p.read("out/public/index.html")).unwrap();
    assert!(!index.contains("tenants/acme"), "index.html still lists the deleted set");
}

#[test]
fn check_reports_changed_missing_and_extra_files() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    p.ok(&["check", "--now", NOW]);
    // No scheduled change: the outputs stay fresh as the clock moves.
    p.ok(&["check", "--now", LATER]);
    let fresh = p.snapshot("out");

    // With a next key scheduled, outputs change only at the switch.
    let q = Project::with_keyset(EC_SPECS);
    q.ok(&["rotate", "--now", NOW]);
    q.ok(&["rotate", "--now", NOW]);
    q.ok(&["build", "--now", NOW]);
    q.ok(&["check", "--now", LATER]);
    let switch = q.json("keys/ec-sig-002.meta.json")["activates"].as_str().unwrap().to_string();
    let out = q.run(&["check", "--now", &switch]);
    assert_eq!(out.status.code(), Some(1), "outputs are stale once the next key is current");
    assert!(stdout(&out).contains("public/jwks.json"), "{}", stdout(&out));

    let cases: [(&str, &dyn Fn()); 3] = [
        ("public/jwks.json", &|| p.write("out/public/jwks.json", b"{\"keys\":[]}\n")),
        ("public/jwt-keys.json", &|| fs::remove_file(p.at("out/public/jwt-keys.json")).unwrap()),
        ("public/extra.txt", &|| p.write("out/public/extra.txt", b"extra\n")),
    ];
    for (file, break_it) in cases {
        break_it();
        let broken = p.snapshot("out");
        let out = p.run(&["check", "--now", NOW]);
        assert_eq!(out.status.code(), Some(1), "check must fail for {file}: {}", stderr(&out));
        let listed = stdout(&out);
        assert!(listed.contains(file), "stdout must name {file}:\n{listed}");
        for other in ["public/jwt-keys.active.json", "public/index.html", "public/_headers"] {
            assert!(!listed.contains(other), "{other} is fresh but listed:\n{listed}");
        }
        assert_eq!(p.snapshot("out"), broken, "check must not write");
        p.ok(&["build", "--now", NOW]);
        assert_eq!(p.snapshot("out"), fresh);
        p.ok(&["check", "--now", NOW]);
    }
}

#[test]
fn set_flag_builds_only_the_named_sets() {
    let p = three_sets();
    p.ok(&["build", "--now", NOW]);
    // Every set's inputs change; a --set build may apply only its own.
    for (rel, specs) in [
        ("keys/keyset.toml", EC_SPECS),
        ("keys/tenants/acme/keyset.toml", EC_SPECS),
        ("keys/tenants/beta/keyset.toml", EC_SPECS),
    ] {
        p.write(rel, format!("pretty = true\n{specs}").as_bytes());
    }
    let bytes = p.snapshot("out");
    let times = mtimes(&p, "out");
    tick();

    p.ok(&["build", "--set", "tenants/acme", "--now", NOW]);
    let acme = |rel: &str| rel.starts_with("public/tenants/acme/") || rel.starts_with("private/tenants/acme/");
    let after = p.snapshot("out");
    let after_times = mtimes(&p, "out");
    assert_eq!(after.keys().collect::<Vec<_>>(), bytes.keys().collect::<Vec<_>>());
    for (rel, content) in &bytes {
        if acme(rel) {
            continue;
        }
        assert_eq!(&after[rel], content, "--set tenants/acme changed {rel}");
        assert_eq!(after_times[rel], times[rel], "--set tenants/acme rewrote {rel}");
    }
    let acme_jwks = String::from_utf8(p.read("out/public/tenants/acme/jwks.json")).unwrap();
    assert!(acme_jwks.trim_end().contains('\n'), "acme was not rebuilt: {acme_jwks}");
    let root_jwks = String::from_utf8(p.read("out/public/jwks.json")).unwrap();
    assert!(!root_jwks.trim_end().contains('\n'), "root was rebuilt");

    let bytes = after;
    let times = after_times;
    tick();
    p.ok(&["build", "--set", ".", "--now", NOW]);
    let root_jwks = String::from_utf8(p.read("out/public/jwks.json")).unwrap();
    assert!(root_jwks.trim_end().contains('\n'), "--set . did not rebuild the root set");
    let after = p.snapshot("out");
    let after_times = mtimes(&p, "out");
    for (rel, content) in &bytes {
        if rel.starts_with("public/tenants/") || rel.starts_with("private/tenants/") {
            assert_eq!(&after[rel], content, "--set . changed {rel}");
            assert_eq!(after_times[rel], times[rel], "--set . rewrote {rel}");
        }
    }
    let beta_jwks = String::from_utf8(p.read("out/public/tenants/beta/jwks.json")).unwrap();
    assert!(!beta_jwks.trim_end().contains('\n'), "beta was rebuilt");

    // --set is repeatable.
    fs::write(p.at("keys/keyset.toml"), EC_SPECS).unwrap();
    p.ok(&["build", "--set", "tenants/beta", "--set", "tenants/acme", "--now", NOW]);
    let beta_jwks = String::from_utf8(p.read("out/public/tenants/beta/jwks.json")).unwrap();
    assert!(beta_jwks.trim_end().contains('\n'), "beta was not rebuilt");
    let root_jwks = String::from_utf8(p.read("out/public/jwks.json")).unwrap();
    assert!(root_jwks.trim_end().contains('\n'), "root was rebuilt without --set .");

    let before = p.snapshot("out");
    p.fails(&["build", "--set", "nosuch", "--now", NOW], 2);
    assert_eq!(p.snapshot("out"), before);
}

#[test]
fn global_flags_before_or_after_the_subcommand() {
    let p = Project::with_keyset(EC_SPECS);
    p.write("keys/tenants/acme/keyset.toml", EC_SPECS.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    let quiet = p.ok(&["--now", NOW, "--out", "o1", "--keys", "keys", "-q", "build"]);
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty(), "-q prints nothing but errors");
    p.ok(&["build", "--now", NOW, "--out", "o2", "--keys", "keys", "-q"]);
    let o1 = p.snapshot("o1");
    assert!(o1.contains_key("public/jwks.json"));
    assert_eq!(o1, p.snapshot("o2"));
    assert!(!p.at("out").exists(), "--out was ignored");

    let a = p.ok(&["--set", "tenants/acme", "--now", NOW, "status", "--json"]);
    let b = p.ok(&["status", "--json", "--set", "tenants/acme", "--now", NOW]);
    assert_eq!(stdout(&a), stdout(&b));
    let status: Value = serde_json::from_str(&stdout(&a)).unwrap();
    assert_eq!(status["sets"].as_array().unwrap().len(), 1);
    assert_eq!(status["sets"][0]["path"], "tenants/acme");

    p.fails(&["--now", "yesterday", "build"], 2);
    p.fails(&["build", "--now", "2026-13-01T00:00:00Z"], 2);
}

#[test]
fn init_writes_defaults_and_never_overwrites() {
    let p = Project::new();
    p.ok(&["init"]);
    let keyset = String::from_utf8(p.read("keys/keyset.toml")).unwrap();
    assert!(keyset.contains("rotate_every = \"90d\""), "{keyset}");
    assert_eq!(keyset.matches("[[key]]").count(), 4, "{keyset}");
    assert!(p.at("site-template/README").is_file());
    let ignore = String::from_utf8(p.read(".gitignore")).unwrap();
    for line in ["*.key.pem", "out/private/", "target/"] {
        assert_eq!(ignore.lines().filter(|l| l.trim() == line).count(), 1, "{ignore}");
    }

    let files = p.snapshot(".");
    let times = mtimes(&p, ".");
    tick();
    p.ok(&["init"]);
    assert_eq!(p.snapshot("."), files, "a second init changed a file");
    assert_eq!(mtimes(&p, "."), times, "a second init rewrote a file");

    // Existing files: keyset.toml and README kept, .gitignore gets only the missing lines.
    let q = Project::new();
    q.write("keys/keyset.toml", b"service_id = \"mine\"\n");
    q.write("site-template/README", b"my notes\n");
    q.write(".gitignore", b"node_modules\n*.key.pem");
    q.ok(&["init"]);
    assert_eq!(q.read("keys/keyset.toml"), b"service_id = \"mine\"\n");
    assert_eq!(q.read("site-template/README"), b"my notes\n");
    let ignore = String::from_utf8(q.read(".gitignore")).unwrap();
    assert!(ignore.starts_with("node_modules\n*.key.pem\n"), "{ignore:?}");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for line in ["node_modules", "*.key.pem", "out/private/", "target/"] {
        assert_eq!(lines.iter().filter(|l| **l == line).count(), 1, "{ignore:?}");
    }
    assert_eq!(lines.len(), 4, "{ignore:?}");

    // init DIR works in another directory.
    let r = Project::new();
    r.ok(&["init", "sub"]);
    assert!(r.at("sub/keys/keyset.toml").is_file());
    assert!(r.at("sub/site-template/README").is_file());
    assert!(r.at("sub/.gitignore").is_file());
}

const KEY_ROW: [&str; 12] = [
    "kid",
    "spec",
    "use",
    "alg",
    "state",
    "created",
    "activates",
    "retires",
    "expires",
    "revoked",
    "private",
    "encrypted",
];

fn names(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

fn status_json(p: &Project) -> Value {
    let out = p.ok(&["status", "--json", "--now", NOW]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(&out)))
}

fn set_of<'a>(status: &'a Value, path: &str) -> &'a Value {
    status["sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == path)
        .unwrap_or_else(|| panic!("no set {path} in {status}"))
}

fn key_of<'a>(set: &'a Value, kid: &str) -> &'a Value {
    set["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap_or_else(|| panic!("no key {kid} in {set}"))
}

#[test]
fn status_json_shape_and_unfinished_keys() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["rotate", "--now", NOW]);
    p.write("keys/tenants/acme/keyset.toml", EC_SPECS.as_bytes());
    p.ok(&["rotate", "--set", "tenants/acme", "--now", NOW]);
    // A public-only key with metadata, and two unfinished keys (no meta.json).
    p.write("keys/ext.pub.pem", &ec_public_pem(&p));
    p.write(
        "keys/ext.meta.json",
        serde_json::to_string(&json!({
            "kid": "ext", "id": "00000000-0000-4000-8000-0000000000e1", "label": "ext",
            "spec": null, "use": "sig", "alg": "ES256",
            "created": "2025-12-01T00:00:00Z", "activates": "2025-12-01T00:00:00Z",
            "retires": null, "expires": null, "revoked": null
        }))
        .unwrap()
        .as_bytes(),
    );
    p.write("keys/orphan.pub.pem", &ec_public_pem(&p));
    fs::copy(p.at("keys/ec-sig-001.key.pem"), p.at("keys/half.key.pem")).unwrap();

    let status = status_json(&p);
    assert_eq!(names(&status), ["sets".to_string()].into());
    assert_eq!(status["sets"].as_array().unwrap().len(), 2);
    for set in status["sets"].as_array().unwrap() {
        assert_eq!(names(set), ["due", "keys", "next_event", "path"].map(String::from).into(), "{set}");
        assert!(set["due"].is_array(), "{set}");
        for key in set["keys"].as_array().unwrap() {
            assert_eq!(names(key), KEY_ROW.map(String::from).into(), "{key}");
            assert!(key["private"].is_boolean(), "{key}");
            for t in ["created", "activates", "retires", "expires", "revoked"] {
                assert!(key[t].is_null() || key[t].as_str().is_some_and(is_time), "{t} of {key}");
            }
        }
    }

    let root = set_of(&status, ".");
    let current = key_of(root, "ec-sig-001");
    assert_eq!(current["state"], "current");
    assert_eq!(current["spec"], "ec-sig");
    assert_eq!(current["use"], "sig");
    assert_eq!(current["alg"], "ES256");
    assert_eq!(current["created"], NOW);
    assert_eq!(current["private"], true);
    let next = key_of(root, "ec-enc-002");
    assert_eq!(next["state"], "next");
    assert_eq!(next["alg"], "ECDH-ES");
    assert_eq!(key_of(root, "ext")["private"], false);
    assert_eq!(key_of(root, "ext")["state"], "current");
    let orphan = key_of(root, "orphan");
    assert_eq!(orphan["state"], "unfinished");
    assert_eq!(orphan["private"], false);
    let half = key_of(root, "half");
    assert_eq!(half["state"], "unfinished");
    assert_eq!(half["private"], true);

    let event = &root["next_event"];
    assert_eq!(names(event), ["at", "becomes", "kid"].map(String::from).into());
    let switch = p.json("keys/ec-sig-002.meta.json")["activates"].clone();
    assert_eq!(event["at"], switch, "the next event is the scheduled switch");
    let (kid, becomes) = (event["kid"].as_str().unwrap(), event["becomes"].as_str().unwrap());
    assert!(
        (kid.ends_with("-001") && becomes == "previous") || (kid.ends_with("-002") && becomes == "current"),
        "{event}"
    );
    let acme = set_of(&status, "tenants/acme");
    assert_eq!(acme["keys"].as_array().unwrap().len(), 2);
    assert!(acme["next_event"].is_null(), "{acme}");

    // build: unfinished keys are never published, and build warns about them.
    let out = p.ok(&["build", "--now", NOW]);
    let warned = stderr(&out);
    assert!(warned.contains("orphan") && warned.contains("half"), "{warned}");
    let published = kids(&p.json("out/public/jwks.json"));
    assert!(!published.iter().any(|k| k == "orphan" || k == "half"), "{published:?}");
    assert!(!kids(&p.json("out/private/jwks.json")).iter().any(|k| k == "half"));

    // rotate leaves them alone: jwksmith did not make them (tests/crash_keys.rs has more).
    p.ok(&["rotate", "--now", NOW]);
    assert!(p.at("keys/orphan.pub.pem").exists());
    assert!(p.at("keys/half.key.pem").exists());
    let status = status_json(&p);
    let root = set_of(&status, ".");
    assert_eq!(root["keys"].as_array().unwrap().iter().filter(|k| k["state"] == "unfinished").count(), 2, "{root}");
}

/// Issue 18: `status --json` reads the sets in batches of 1,024 and streams the JSON. Over more
/// sets than one batch it still lists every set once, in walk order, as one JSON document; a bad
/// file in the last batch is an error naming it, with nothing on stdout.
#[test]
fn status_json_over_several_batches_of_sets() {
    let p = Project::new();
    let public = ec_public_pem(&p);
    let meta = |kid: &str| {
        json!({
            "kid": kid, "id": "00000000-0000-4000-8000-0000000000e1", "label": kid,
            "spec": null, "use": "sig", "alg": "ES256",
            "created": NOW, "activates": NOW, "retires": null, "expires": null, "revoked": null
        })
        .to_string()
    };
    let paths: Vec<String> = (0..1100).map(|i| format!("t-{i:04}")).collect();
    for path in &paths {
        p.write(&format!("keys/{path}/ext.pub.pem"), &public);
        p.write(&format!("keys/{path}/ext.meta.json"), meta("ext").as_bytes());
    }
    let status = status_json(&p);
    let sets = status["sets"].as_array().unwrap();
    let listed: Vec<&str> = sets.iter().map(|s| s["path"].as_str().unwrap()).collect();
    assert_eq!(listed, paths.iter().map(String::as_str).collect::<Vec<_>>());
    for set in sets {
        assert_eq!(set["keys"].as_array().unwrap().len(), 1, "{set}");
        assert_eq!(set["keys"][0]["kid"], "ext", "{set}");
        assert_eq!(set["keys"][0]["state"], "current", "{set}");
    }

    p.write("keys/t-1099/bad.pem", b"-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n");
    let out = p.run(&["status", "--json", "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("keys/t-1099/bad.pem"), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn rotate_bootstraps_and_if_due_waits() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    let status = status_json(&p);
    let root = set_of(&status, ".");
    assert_eq!(root["keys"].as_array().unwrap().len(), 2);
    for key in root["keys"].as_array().unwrap() {
        assert_eq!(key["state"], "current", "first keys are current at once: {key}");
        assert_eq!(key["created"], NOW);
        assert!(key["activates"].is_null() || key["activates"] == NOW, "{key}");
    }
    p.ok(&["build", "--now", NOW]);
    assert_eq!(kids(&p.json("out/public/jwks.json")), ["ec-sig-001", "ec-enc-001"]);

    // Times are written as UTC with `Z` and whole seconds, whatever form --now had.
    let r = Project::with_keyset(EC_SPECS);
    r.ok(&["rotate", "--now", "2026-01-01T01:00:00.750+01:00"]);
    let meta = r.json("keys/ec-sig-001.meta.json");
    assert_eq!(meta["created"], NOW, "{meta}");
    assert!(meta["activates"].is_null() || meta["activates"] == NOW, "{meta}");

    let keys = p.snapshot("keys");
    p.ok(&["rotate", "--if-due", "--now", NOW]);
    p.ok(&["rotate", "--if-due", "--now", LATER]);
    assert_eq!(p.snapshot("keys"), keys, "rotate --if-due changed keys/ when nothing was due");

    // --if-due on a set without keys: a spec with no key needs it.
    let q = Project::with_keyset(EC_SPECS);
    q.ok(&["rotate", "--if-due", "--now", NOW]);
    let status = status_json(&q);
    let states: Vec<&str> =
        set_of(&status, ".")["keys"].as_array().unwrap().iter().map(|k| k["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["current", "current"]);
}

#[test]
fn build_never_creates_keys() {
    let p = Project::with_keyset(EC_SPECS);
    let keys = p.snapshot("keys");
    let out = p.ok(&["build", "--now", NOW]);
    assert_eq!(p.snapshot("keys"), keys, "build changed keys/");
    assert_eq!(p.json("out/public/jwks.json"), json!({"keys": []}));
    assert_eq!(p.json("out/public/jwt-keys.json"), json!([]));
    let warned = stderr(&out);
    for spec in ["ec-sig", "ec-enc"] {
        assert!(warned.contains(spec), "warning must name spec {spec}: {warned}");
    }
    assert!(warned.contains("jwksmith rotate"), "{warned}");
    assert!(!stdout(&out).contains("warning"), "warnings belong on stderr");
}

#[test]
fn hand_dropped_key_without_metadata_warns_unknown_creation() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    p.write("keys/legacy.pem", &ec_public_pem(&p));
    let out = p.ok(&["build", "--now", NOW]);
    let warned = stderr(&out).to_lowercase();
    let line =
        warned.lines().find(|l| l.contains("legacy")).unwrap_or_else(|| panic!("no warning names legacy: {warned}"));
    assert!(line.contains("creat"), "the warning must say the creation time is unknown: {line}");
    let jwks = p.json("out/public/jwks.json");
    let legacy =
        jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == "legacy").expect("hand-dropped key published");
    assert_eq!(legacy["use"], "sig");
    assert_eq!(legacy["alg"], "ES256");
    assert!(Path::new(&p.at("keys/legacy.pem")).is_file(), "build must not move the key");
}

/// A `build --set` with nothing to change reports nothing removed: its own staging directory
/// (made and removed by the run) is no output of any set.
#[test]
fn build_of_one_set_reports_only_outputs_removed() {
    let p = three_sets();
    p.ok(&["build", "--now", NOW]);
    let again = p.ok(&["build", "-v", "--set", "tenants/acme", "--now", NOW]);
    let (out, err) = (stdout(&again), stderr(&again));
    assert!(out.contains(" 0 removed"), "{out}");
    assert!(!format!("{out}{err}").contains(".jwksmith-staging"), "{out}{err}");
    assert!(!p.at("out/.jwksmith-staging").exists(), "the staging directory is gone");
}

/// A directory, with files in it, found where an output file belongs is replaced by the file:
/// the build succeeds, and the files that were in it are not reported as errors.
#[test]
fn a_directory_where_an_output_file_belongs_is_replaced() {
    let p = three_sets();
    p.ok(&["build", "--now", NOW]);
    let want = p.snapshot("out/public");
    for rel in ["out/public/jwks.json", "out/public/tenants/acme/.well-known/jwks.json"] {
        fs::remove_file(p.at(rel)).unwrap();
        p.write(&format!("{rel}/sub/f"), b"x");
        let out = p.ok(&["build", "--now", NOW]);
        assert!(stdout(&out).contains("1 file written"), "{rel}: {}", stdout(&out));
        assert!(p.at(rel).is_file(), "{rel}");
    }
    assert_eq!(p.snapshot("out/public"), want);
    p.ok(&["check", "--now", NOW]);
}

/// The reverse: a file found where a directory of outputs belongs (under `out/public/` or
/// `out/private/`) is a stale output, removed for the directory. `out/public` itself as a file
/// stays an error (an entry of `out/` that jwksmith does not own).
#[test]
fn a_file_where_a_directory_of_outputs_belongs_is_replaced() {
    let p = three_sets();
    p.ok(&["build", "--now", NOW]);
    let (public, private) = (p.snapshot("out/public"), p.snapshot("out/private"));
    for rel in ["out/public/.well-known", "out/public/tenants/acme", "out/private/tenants"] {
        fs::remove_dir_all(p.at(rel)).unwrap();
        p.write(rel, b"stale\n");
        p.ok(&["build", "--now", NOW]);
        assert!(p.at(rel).is_dir(), "{rel}");
    }
    assert_eq!((p.snapshot("out/public"), p.snapshot("out/private")), (public, private));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&fs::metadata(p.at("out/private/tenants")).unwrap().permissions())
            & 0o777;
    assert_eq!(mode, 0o700);
    p.ok(&["check", "--now", NOW]);
}
