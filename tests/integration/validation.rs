//! Validation of what jwksmith reads and writes (issue 12, items 5, 6, 7, 9 and 13): a `now`
//! before a key's creation, RSA private keys consistent in every member, times that stay
//! writable, only regular files of bounded size, canonical meta ids, and messages that name
//! each file once, by its final name, with control characters escaped; no copy of a revoked key
//! published under another kid.

use std::fs;
use std::path::Path;

use crate::common::{self, NOW, Project, tool};

/// Replaces the project's path by `[PROJECT]`, so snapshots do not depend on the temp dir.
fn redact(p: &Project, text: &str) -> String {
    text.replace(&p.path().display().to_string(), "[PROJECT]")
}

/// Every file under the project except the build record: relative path → bytes.
fn project_files(p: &Project) -> std::collections::BTreeMap<String, Vec<u8>> {
    p.snapshot("").into_iter().filter(|(rel, _)| !rel.starts_with(".jwksmith-cache")).collect()
}

/// The names in `keys/`, sorted, without jwksmith's own hidden state directory.
fn key_files(p: &Project) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(p.at("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != ".jwksmith")
        .collect();
    names.sort();
    names
}

// ---- item 6: RSA private keys are consistent in every member ----

/// Writes, with python `cryptography`, one RSA-2048 key as PKCS#1 PEM files in `dir`: `good`,
/// `d-plus-lambda` (d + λ(n): still a valid private exponent) and one file per wrong member,
/// `wrong-<member>`, where only that member is changed (the others, CRT members included, are
/// those of the good key). Also writes `wrong-d.jwk.json`, the private JWK with the wrong `d`.
const MAKE_RSA_KEYS: &str = r#"
import base64, json, math
from cryptography.hazmat.primitives.asymmetric import rsa

def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b

def der_int(v):
    b = v.to_bytes(v.bit_length() // 8 + 1, "big")
    return b"\x02" + der_len(len(b)) + b

def pem(tag, der):
    text = base64.b64encode(der).decode()
    lines = "\n".join(text[i:i + 64] for i in range(0, len(text), 64))
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (tag, lines, tag)

def b64u(v):
    return base64.urlsafe_b64encode(v.to_bytes((v.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

m = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
n, e = m.public_numbers.n, m.public_numbers.e
p, q, d, dp, dq, qi = m.p, m.q, m.d, m.dmp1, m.dmq1, m.iqmp
lam = math.lcm(p - 1, q - 1)
variants = {
    "good": (n, d, p, q, dp, dq, qi),
    "d-plus-lambda": (n, d + lam, p, q, dp, dq, qi),
    "wrong-d": (n, d + 2, p, q, dp, dq, qi),
    "wrong-n": (n + 2, d, p, q, dp, dq, qi),
    "wrong-p": (n, d, p + 2, q, dp, dq, qi),
    "wrong-dp": (n, d, p, q, dp + 2, dq, qi),
    "wrong-dq": (n, d, p, q, dp, dq + 2, qi),
    "wrong-qi": (n, d, p, q, dp, dq, qi + 1),
}
for name, (n2, d2, p2, q2, dp2, dq2, qi2) in variants.items():
    body = b"".join(der_int(v) for v in (0, n2, e, d2, p2, q2, dp2, dq2, qi2))
    with open(name + ".pem", "w") as f:
        f.write(pem("RSA PRIVATE KEY", b"\x30" + der_len(len(body)) + body))
jwk = {"kty": "RSA", "n": b64u(n), "e": b64u(e), "d": b64u(d + 2), "p": b64u(p), "q": b64u(q),
       "dp": b64u(dp), "dq": b64u(dq), "qi": b64u(qi)}
with open("wrong-d.jwk.json", "w") as f:
    json.dump(jwk, f)
"#;

/// The crafted keys, made once per test that needs them (outside every project).
fn rsa_keys() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    tool("python3", &["-c", MAKE_RSA_KEYS], dir.path());
    dir
}

fn copy_key(keys: &Path, name: &str, p: &Project, to: &str) {
    p.write(to, &fs::read(keys.join(name)).unwrap());
}

/// A key whose `d` is wrong signs (the CRT members are right) and today's main published its
/// `d` in out/private/jwks.json. Every wrong member is now an error of build and check naming
/// the file and the member; nothing is written.
#[test]
fn rsa_keys_with_a_wrong_member_are_refused() {
    let keys = rsa_keys();
    for (file, member) in [
        ("wrong-d", "`d`"),
        ("wrong-n", "`n`, `p` or `q`"),
        ("wrong-p", "`n`, `p` or `q`"),
        ("wrong-dp", "`dp`"),
        ("wrong-dq", "`dq`"),
        ("wrong-qi", "`qi`"),
    ] {
        let p = Project::with_keyset(common::EC_SPECS);
        copy_key(keys.path(), &format!("{file}.pem"), &p, &format!("keys/{file}.pem"));
        for cmd in ["build", "check", "status"] {
            let stderr = p.fails(&[cmd, "--now", NOW], 1);
            let named = format!("keys/{file}.pem");
            assert_eq!(stderr.matches(&named).count(), 1, "{cmd} {file}: names the file once: {stderr}");
            assert!(stderr.contains("inconsistent") && stderr.contains(&format!("its {member} is wrong")), "{stderr}");
        }
        assert!(!p.at("out").exists(), "{file}: nothing written");
    }
}

#[test]
fn rsa_wrong_d_message() {
    let keys = rsa_keys();
    let p = Project::with_keyset(common::EC_SPECS);
    copy_key(keys.path(), "wrong-d.pem", &p, "keys/wrong-d.pem");
    let stderr = p.fails(&["build", "--now", NOW], 1);
    insta::assert_snapshot!(redact(&p, &stderr));
}

/// `d + λ(n)` is as good a private exponent as `d` (d·e ≡ 1 mod λ still holds): accepted, and
/// signing with the published private JWK works.
#[test]
fn rsa_unreduced_d_is_accepted() {
    let keys = rsa_keys();
    let p = Project::with_keyset(common::EC_SPECS);
    copy_key(keys.path(), "d-plus-lambda.pem", &p, "keys/legacy.pem");
    copy_key(keys.path(), "good.pem", &p, "keys/good.pem");
    p.ok(&["build", "--now", NOW]);
    assert_eq!(common::kids(&p.json("out/private/jwks.json")), ["good", "legacy"]);
}

/// An out/private/jwks.json written by an earlier jwksmith (which published the wrong `d`)
/// does not let the key skip the check: the build fails and leaves out/ as it was.
#[test]
fn rsa_wrong_d_is_refused_even_when_out_private_lists_it() {
    let keys = rsa_keys();
    let p = Project::with_keyset(common::EC_SPECS);
    copy_key(keys.path(), "good.pem", &p, "keys/legacy.pem");
    p.ok(&["build", "--now", NOW]);
    // What the old build wrote for the wrong-d key: the same JWK, with the wrong `d`.
    let jwk: serde_json::Value =
        serde_json::from_slice(&fs::read(keys.path().join("wrong-d.jwk.json")).unwrap()).unwrap();
    let mut private = p.json("out/private/jwks.json");
    private["keys"][0]["d"] = jwk["d"].clone();
    fs::write(p.at("out/private/jwks.json"), serde_json::to_vec(&private).unwrap()).unwrap();
    copy_key(keys.path(), "wrong-d.pem", &p, "keys/legacy.pem");
    let before = project_files(&p);
    let stderr = p.fails(&["build", "--now", NOW], 1);
    assert!(stderr.contains("keys/legacy.pem") && stderr.contains("`d` is wrong"), "{stderr}");
    assert_eq!(project_files(&p), before, "nothing changed");
}

/// `import` validates as build does before it writes anything: PEM and JWK alike.
#[test]
fn rsa_import_of_a_wrong_d_writes_nothing() {
    let keys = rsa_keys();
    let p = Project::with_keyset(common::EC_SPECS);
    copy_key(keys.path(), "wrong-d.pem", &p, "wrong-d.pem");
    copy_key(keys.path(), "wrong-d.jwk.json", &p, "wrong-d.jwk.json");
    for file in ["wrong-d.pem", "wrong-d.jwk.json"] {
        let stderr = p.fails(&["import", file, "--now", NOW], 1);
        assert!(stderr.contains(file) && stderr.contains("`d` is wrong"), "{stderr}");
        assert_eq!(key_files(&p), ["keyset.toml"], "{file}: nothing written to keys/");
    }
}

// ---- item 5: a `now` before a key's creation ----

/// Today's main published `{"keys":[]}` with exit 0 at a clock behind the keys' creation, and
/// `rotate --if-due` made a second current key. Every command that acts on keys now refuses,
/// naming the newest such key's file, its creation time and now, and changes nothing; `status`
/// shows the keys as pending.
#[test]
fn now_before_created_is_refused_by_every_command_but_status() {
    let p = Project::with_keyset(common::EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["rotate", "--now", "2026-02-01T00:00:00Z"]);
    p.ok(&["build", "--now", "2026-02-01T00:00:00Z"]);
    p.write(
        "import-me.pem",
        &tool("openssl", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], p.path()),
    );
    let before = project_files(&p);
    let early = "2026-01-15T00:00:00Z";
    for args in [
        &["build"][..],
        &["check"],
        &["rotate"],
        &["rotate", "--if-due"],
        &["rotate", "--immediate"],
        &["revoke", "ec-sig-001"],
        &["prune"],
        &["import", "import-me.pem"],
    ] {
        let args = [args, &["--now", early]].concat();
        let stderr = p.fails(&args, 1);
        assert_eq!(stderr.matches("keys/ec-sig-002.meta.json").count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("2026-02-01T00:00:00Z") && stderr.contains(early), "{args:?}: {stderr}");
        assert_eq!(project_files(&p), before, "{args:?} changed nothing");
    }
    let status = p.ok(&["status", "--json", "--now", early]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let states: Vec<(&str, &str)> = status["sets"][0]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [("ec-enc-001", "current"), ("ec-enc-002", "pending"), ("ec-sig-001", "current"), ("ec-sig-002", "pending")]
    );
    // Before every key: the oldest ones are pending too, and build still refuses.
    let stderr = p.fails(&["build", "--now", "2025-06-01T00:00:00Z"], 1);
    insta::assert_snapshot!(redact(&p, &stderr));
    assert_eq!(project_files(&p), before);
}

/// Only the selected sets count: a set whose keys are newer does not stop `--set` of another.
#[test]
fn now_before_created_counts_only_selected_sets() {
    let p = Project::new();
    p.write("keys/old/keyset.toml", common::EC_SPECS.as_bytes());
    p.write("keys/new/keyset.toml", common::EC_SPECS.as_bytes());
    p.ok(&["rotate", "--set", "old", "--now", NOW]);
    p.ok(&["rotate", "--set", "new", "--now", "2026-03-01T00:00:00Z"]);
    p.ok(&["build", "--set", "old", "--now", "2026-02-01T00:00:00Z"]);
    let stderr = p.fails(&["build", "--now", "2026-02-01T00:00:00Z"], 1);
    assert!(stderr.contains("keys/new/ec-sig-001.meta.json"), "{stderr}");
    // Incremental builds do not reuse a record made at a later instant.
    p.ok(&["build", "--now", "2026-03-01T00:00:00Z"]);
    let stderr = p.fails(&["build", "--now", "2026-02-01T00:00:00Z"], 1);
    assert!(stderr.contains("keys/new/ec-sig-001.meta.json"), "{stderr}");
}

// ---- item 7: jwksmith never writes a meta.json that it would then reject ----

/// Today's main wrote `revoked` before `created`, which every later command rejected.
#[test]
fn revoke_before_the_key_was_created_is_refused() {
    let p = Project::with_keyset(common::EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    let before = project_files(&p);
    let stderr = p.fails(&["revoke", "ec-sig-001", "--now", "2025-12-31T23:59:59Z"], 1);
    assert!(stderr.contains("keys/ec-sig-001.meta.json") || stderr.contains("keys/ec-enc-001.meta.json"), "{stderr}");
    assert!(stderr.contains("2025-12-31T23:59:59Z") && stderr.contains(NOW), "{stderr}");
    assert_eq!(project_files(&p), before, "nothing written");
    p.ok(&["revoke", "ec-sig-001", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
}

/// Today's main wrote `activates` (and `expires`) in the year 10000 as `@253403…`, which
/// every later command rejected. A rotation whose times would pass 9999-12-31T23:59:59Z is now
/// an error naming the spec, and changes nothing.
#[test]
fn rotate_past_the_year_9999_is_refused() {
    let p = Project::with_keyset(common::EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    // An unfinished key (a public file without metadata): the refused rotate leaves it too.
    let unfinished = p.read("keys/ec-sig-001.pub.pem");
    p.write("keys/ec-sig-009.pub.pem", &unfinished);
    let before = project_files(&p);
    let late = "9999-12-25T00:00:00Z";
    for args in [&["rotate"][..], &["rotate", "--if-due"], &["rotate", "--immediate"], &["rotate", "--spec", "ec-enc"]]
    {
        let args = [args, &["--now", late]].concat();
        let stderr = p.fails(&args, 1);
        assert_eq!(stderr.matches("keys/keyset.toml").count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("spec `ec-"), "{args:?}: {stderr}");
        assert_eq!(project_files(&p), before, "{args:?} changed nothing");
    }
    let stderr = p.fails(&["rotate", "--now", late], 1);
    insta::assert_snapshot!(redact(&p, &stderr[stderr.find("error:").unwrap()..]));
    fs::remove_file(p.at("keys/ec-sig-009.pub.pem")).unwrap();
    // What can be written still is: a revoke at that instant (its replacement is current at once).
    p.ok(&["revoke", "ec-sig-001", "--now", late]);
    p.ok(&["build", "--now", "9999-12-31T23:59:59Z"]);
    p.ok(&["status", "--json", "--now", "9999-12-31T23:59:59Z"]);
    for (rel, bytes) in p.snapshot("keys") {
        if rel.ends_with(".meta.json") {
            let meta: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            for field in ["created", "activates", "retires", "expires", "revoked"] {
                assert!(meta[field].is_null() || common::is_time(meta[field].as_str().unwrap()), "{rel}: {field}");
            }
        }
    }
}

/// Bootstrapping near the end of 9999 makes keys current at once: nothing passes the limit.
#[test]
fn rotate_bootstrap_at_the_end_of_9999_loads_again() {
    let p = Project::with_keyset(common::EC_SPECS);
    p.ok(&["rotate", "--now", "9999-12-31T23:59:59Z"]);
    p.ok(&["build", "--now", "9999-12-31T23:59:59Z"]);
    p.ok(&["check", "--now", "9999-12-31T23:59:59Z"]);
}

// ---- item 13: meta ids are canonical UUIDs ----

/// Today's main published `{…}`, upper-case and unhyphenated ids verbatim in jwt-keys.json.
#[test]
fn non_canonical_meta_ids_are_refused_with_the_canonical_form() {
    let canonical = "6f1c1f5e-1d7c-4d8e-9a55-00000000e001";
    for spelling in [
        "{6f1c1f5e-1d7c-4d8e-9a55-00000000e001}",
        "6F1C1F5E-1D7C-4D8E-9A55-00000000E001",
        "6f1c1f5e1d7c4d8e9a5500000000e001",
    ] {
        let p = Project::with_keyset(common::EC_SPECS);
        p.ok(&["rotate", "--now", NOW]);
        let meta_path = "keys/ec-sig-001.meta.json";
        let mut meta = p.json(meta_path);
        meta["id"] = spelling.into();
        p.write(meta_path, &serde_json::to_vec(&meta).unwrap());
        let before = project_files(&p);
        for cmd in
            [&["build"][..], &["check"], &["status"], &["rotate", "--if-due"], &["revoke", "ec-enc-001"], &["prune"]]
        {
            let args = [cmd, &["--now", NOW]].concat();
            let stderr = p.fails(&args, 1);
            assert_eq!(stderr.matches(meta_path).count(), 1, "{args:?}: {stderr}");
            assert!(stderr.contains(&format!("`{canonical}`")), "{args:?}: {stderr}");
            assert_eq!(project_files(&p), before, "{args:?} changed nothing");
        }
        if spelling.starts_with('{') {
            let stderr = p.fails(&["build", "--now", NOW], 1);
            insta::assert_snapshot!(redact(&p, &stderr));
        }
    }
}

// ---- item 9: only regular files of at most 1 MiB are read ----

/// Runs jwksmith with a deadline: a command that hangs (today's main on a FIFO) is killed after
/// 10 s and fails the test. Returns the exit code, stderr and how long it took.
fn run_timed(p: &Project, args: &[&str]) -> (Option<i32>, String, std::time::Duration) {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jwksmith"))
        .args(args)
        .current_dir(p.path())
        .env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("jwksmith {args:?} hung (killed after 10 s)");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    common::assert_no_leak_in_text(&stderr, "stderr");
    (out.status.code(), stderr, elapsed)
}

/// A project with a built set (so incremental builds have a record to start from).
fn built_project() -> Project {
    let p = Project::with_keyset(common::EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    p
}

fn mkfifo(path: &Path) {
    tool("mkfifo", &[path.to_str().unwrap()], Path::new("."));
}

fn sparse(path: &Path, len: u64) {
    fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// Today's main hung on a FIFO named `*.pem` (or `keyset.toml`, or a meta file), read
/// /dev/zero until memory ran out, and ignored a FIFO template. Each is now an error of build,
/// check and status naming the file, within a second (2 s allowed on a loaded machine),
/// changing nothing.
#[test]
fn special_and_huge_files_are_errors_not_hangs() {
    type Setup = fn(&Project);
    let cases: [(&str, &str, &[&str], Setup); 11] = [
        ("FIFO *.pem", "keys/pipe.pem", &["FIFO"], |p| mkfifo(&p.at("keys/pipe.pem"))),
        ("FIFO keyset.toml", "keys/keyset.toml", &["FIFO"], |p| {
            fs::remove_file(p.at("keys/keyset.toml")).unwrap();
            mkfifo(&p.at("keys/keyset.toml"));
        }),
        ("FIFO meta.json", "keys/ec-sig-001.meta.json", &["FIFO"], |p| {
            fs::remove_file(p.at("keys/ec-sig-001.meta.json")).unwrap();
            mkfifo(&p.at("keys/ec-sig-001.meta.json"));
        }),
        ("FIFO in a nested set", "keys/tenants/acme/pipe.pem", &["FIFO"], |p| {
            fs::create_dir_all(p.at("keys/tenants/acme")).unwrap();
            mkfifo(&p.at("keys/tenants/acme/pipe.pem"));
        }),
        ("symlink to a FIFO inside keys/", "keys/linked.pem", &["FIFO"], |p| {
            mkfifo(&p.at("keys/pipe"));
            std::os::unix::fs::symlink("pipe", p.at("keys/linked.pem")).unwrap();
        }),
        ("/dev/zero symlinked in", "keys/big.pem", &["outside"], |p| {
            std::os::unix::fs::symlink("/dev/zero", p.at("keys/big.pem")).unwrap()
        }),
        ("Unix socket", "keys/sock.pem", &["socket"], |p| {
            // The listener's file stays when the listener is dropped.
            std::os::unix::net::UnixListener::bind(p.at("keys/sock.pem")).unwrap();
        }),
        ("sparse 2 MiB *.pem", "keys/sparse.pem", &["1 MiB"], |p| sparse(&p.at("keys/sparse.pem"), 2 << 20)),
        ("1 MiB + 1 byte meta.json", "keys/ec-enc-001.meta.json", &["1 MiB"], |p| {
            sparse(&p.at("keys/ec-enc-001.meta.json"), (1 << 20) + 1)
        }),
        ("FIFO template", "site-template/index.html", &["FIFO"], |p| {
            fs::create_dir_all(p.at("site-template")).unwrap();
            mkfifo(&p.at("site-template/index.html"));
        }),
        ("sparse 2 MiB template", "site-template/_headers", &["1 MiB"], |p| {
            fs::create_dir_all(p.at("site-template")).unwrap();
            sparse(&p.at("site-template/_headers"), 2 << 20);
        }),
    ];
    for (name, file, words, setup) in cases {
        let p = built_project();
        setup(&p);
        let before = project_files(&p);
        // status reads no templates.
        let commands: &[&str] =
            if file.starts_with("site-template") { &["build", "check"] } else { &["build", "check", "status"] };
        for cmd in commands {
            let (code, stderr, took) = run_timed(&p, &[cmd, "--now", NOW]);
            assert_eq!(code, Some(1), "{name}: {cmd}: {stderr}");
            assert!(took < std::time::Duration::from_secs(2), "{name}: {cmd} took {took:?}");
            assert_eq!(stderr.matches(file).count(), 1, "{name}: {cmd} names {file} once: {stderr}");
            assert!(words.iter().any(|w| stderr.contains(w)), "{name}: {cmd}: {stderr}");
            assert_eq!(project_files(&p), before, "{name}: {cmd} changed nothing");
        }
    }
}

/// A device node under keys/ (made with mknod, which needs root; CI runs as root).
#[test]
fn device_files_are_errors() {
    let p = built_project();
    let made = std::process::Command::new("mknod").arg(p.at("keys/zero.pem")).args(["c", "1", "5"]).status();
    assert!(made.is_ok_and(|s| s.success()), "mknod needs root: run this test as root (CI does)");
    for cmd in ["build", "check", "status"] {
        let (code, stderr, took) = run_timed(&p, &[cmd, "--now", NOW]);
        assert_eq!(code, Some(1), "{cmd}: {stderr}");
        assert!(took < std::time::Duration::from_secs(2), "{cmd} took {took:?}");
        assert!(stderr.contains("keys/zero.pem: is a character device, not a regular file"), "{cmd}: {stderr}");
    }
}

#[test]
fn special_file_messages() {
    let p = built_project();
    mkfifo(&p.at("keys/pipe.pem"));
    let (_, fifo, _) = run_timed(&p, &["build", "--now", NOW]);
    fs::remove_file(p.at("keys/pipe.pem")).unwrap();
    sparse(&p.at("keys/sparse.pem"), 2 << 20);
    let (_, big, _) = run_timed(&p, &["build", "--now", NOW]);
    insta::assert_snapshot!(format!("{fifo}{big}"));
}

/// `import` reads its FILE with the same limits: a FIFO or a huge file is an error at once.
#[test]
fn import_of_a_fifo_or_a_huge_file_fails_at_once() {
    let p = Project::with_keyset(common::EC_SPECS);
    mkfifo(&p.at("pipe.pem"));
    sparse(&p.at("huge.pem"), 2 << 20);
    for (file, word) in [("pipe.pem", "FIFO"), ("huge.pem", "1 MiB")] {
        let (code, stderr, took) = run_timed(&p, &["import", file, "--now", NOW]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(took < std::time::Duration::from_secs(2), "{file}: took {took:?}");
        assert!(stderr.contains(file) && stderr.contains(word), "{stderr}");
        assert_eq!(key_files(&p), ["keyset.toml"]);
    }
}

/// A symlink loop is called a loop (today's main said "points to nothing").
#[test]
fn symlink_loops_are_called_loops() {
    let p = built_project();
    std::os::unix::fs::symlink("b.pem", p.at("keys/a.pem")).unwrap();
    std::os::unix::fs::symlink("a.pem", p.at("keys/b.pem")).unwrap();
    for cmd in ["build", "check", "status"] {
        let stderr = p.fails(&[cmd, "--now", NOW], 1);
        assert!(stderr.contains("keys/a.pem: is a symlink loop"), "{cmd}: {stderr}");
        assert!(!stderr.contains("points to nothing"), "{cmd}: {stderr}");
    }
    fs::remove_file(p.at("keys/a.pem")).unwrap();
    fs::remove_file(p.at("keys/b.pem")).unwrap();
    fs::create_dir_all(p.at("site-template")).unwrap();
    std::os::unix::fs::symlink("index.html", p.at("site-template/index.html")).unwrap();
    let stderr = p.fails(&["build", "--now", NOW], 1);
    assert!(stderr.contains("site-template/index.html: is a symlink loop"), "{stderr}");
}

// ---- item 13: clear errors ----

/// Clears the immutable attribute on drop, so the temp dir can be removed.
struct Immutable(std::path::PathBuf);

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// Makes `dir` immutable (root ignores mode bits); `None` where chattr is not supported,
/// which CI's temp dir must support.
fn immutable(dir: &Path) -> Option<Immutable> {
    let locked = std::process::Command::new("chattr").arg("+i").arg(dir).status();
    if locked.is_ok_and(|s| s.success()) {
        return Some(Immutable(dir.to_path_buf()));
    }
    assert!(std::env::var_os("CI").is_none(), "CI's temp dir must support chattr +i");
    eprintln!("skipped: chattr +i is not supported here");
    None
}

/// Today's main printed `keys: Operation not permitted (os error 1) at path
/// "/…/keys/.jwksmith-tmp-9uivfG.tmp"`: a directory and a temporary file for one failure.
/// Messages now name the file being written, once, by its final name.
#[test]
fn write_errors_name_the_final_file_once() {
    let p = Project::with_keyset(common::EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    let Some(_guard) = immutable(&p.at("keys")) else { return };
    let stderr = p.fails(&["rotate", "--now", "2026-03-01T00:00:00Z"], 1);
    assert!(!stderr.contains(".jwksmith-tmp") && !stderr.contains(".tmp") && !stderr.contains("at path"), "{stderr}");
    assert!(!stderr.contains(&p.path().display().to_string()), "relative names only: {stderr}");
    let line = stderr.lines().next().unwrap();
    assert_eq!(line.matches("keys/").count(), 1, "one file named: {stderr}");
    assert!(line.contains("not permitted"), "{stderr}");
}

/// Today's main copied terminal escape sequences from file names raw to stderr. Errors and
/// warnings now print every control character of a name escaped; the fix is a shell word.
#[test]
fn control_characters_in_file_names_are_escaped() {
    let p = built_project();
    let raw_bytes = |text: &str| text.bytes().filter(|b| *b < 0x20 && *b != b'\n').count();
    // A bad key: the error names it, escaped.
    p.write("keys/evil\x1b[31m.pem", b"not a key\n");
    for cmd in ["build", "check", "status"] {
        let stderr = p.fails(&[cmd, "--now", NOW], 1);
        assert_eq!(raw_bytes(&stderr), 0, "{cmd}: raw control bytes in {stderr:?}");
        assert_eq!(stderr.matches(r"keys/evil\x1b[31m.pem").count(), 1, "{cmd}: {stderr:?}");
    }
    fs::remove_file(p.at("keys/evil\x1b[31m.pem")).unwrap();
    p.write("keys/new\nline.pem", b"not a key\n");
    let stderr = p.fails(&["build", "--now", NOW], 1);
    assert!(stderr.starts_with(r"error: keys/new\nline.pem: "), "{stderr:?}");
    fs::remove_file(p.at("keys/new\nline.pem")).unwrap();
    // A good key: the warning about its missing metadata names it escaped, and its fix quotes it
    // as bash reads it back.
    p.write(
        "keys/evil\x1b[31m.pem",
        &tool("openssl", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], p.path()),
    );
    let out = p.ok(&["build", "--now", NOW]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(raw_bytes(&stderr), 0, "raw control bytes in {stderr:?}");
    assert!(stderr.contains(r"run `jwksmith import $'keys/evil\x1b[31m.pem'`"), "{stderr}");
    insta::assert_snapshot!(stderr.lines().find(|l| l.contains("evil")).unwrap());
    // `status`'s table and timeline name the kid escaped too, one row a key.
    let status = p.ok(&["status", "--now", NOW]);
    let table = String::from_utf8_lossy(&status.stdout);
    assert_eq!(raw_bytes(&table), 0, "raw control bytes in {table:?}");
    assert!(table.lines().any(|l| l.starts_with(r".    evil\x1b[31m ")), "{table}");
    p.write("keys/new\nline.pem", &p.read("keys/evil\x1b[31m.pem"));
    fs::remove_file(p.at("keys/evil\x1b[31m.pem")).unwrap();
    let table = String::from_utf8(p.ok(&["status", "--now", NOW]).stdout).unwrap();
    let rows: Vec<&str> = table.lines().filter(|l| l.contains("new")).collect();
    assert_eq!(rows.len(), 2, "one table row and one timeline line, a newline escaped in each: {table}");
    assert!(rows.iter().all(|l| l.contains(r"new\nline")), "{table}");
}

// ---- a revoked key is not published under another kid ----

#[test]
fn a_copy_of_a_revoked_key_under_another_kid_is_refused() {
    let p =
        Project::with_keyset("[[key]]\nspec = \"s\"\nkty = \"EC\"\ncrv = \"P-256\"\nuse = \"sig\"\nalg = \"ES256\"\n");
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    // The key revoked, then a backup of it put back beside it under another name.
    p.ok(&["revoke", "s-001", "--now", "2026-01-02T00:00:00Z"]);
    fs::copy(p.at("keys/s-001.key.pem"), p.at("keys/s-001-backup.pem")).unwrap();
    let before = project_files(&p);
    for command in ["build", "check"] {
        let stderr = p.fails(&[command, "--now", "2026-01-02T00:00:00Z"], 1);
        assert!(stderr.contains("keys/s-001-backup.pem"), "{command} names the copy: {stderr}");
        assert!(stderr.contains("the same key as `s-001`, revoked at 2026-01-02T00:00:00Z (keys/s-001."), "{stderr}");
        assert!(stderr.contains("remove the copy"), "the next step: {stderr}");
    }
    assert_eq!(project_files(&p), before, "keys/ and out/ stay as they were");
    fs::remove_file(p.at("keys/s-001-backup.pem")).unwrap();
    p.ok(&["build", "--now", "2026-01-02T00:00:00Z"]);
    assert_eq!(common::kids(&p.json("out/public/jwks.json")), ["s-002"], "the revoked key is out");
}
