//! age custody (SPEC §2.1) against the reference `age` CLI (Debian's `age`) and git: what
//! jwksmith encrypts opens with `age -d -i`, what `age -r … -a` encrypts is read, a CI round
//! trip keeps every key with no plaintext key on disk or in git, and `rekey`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{EC_SPECS, NOW, assert_no_leak_in_dir, assert_no_leak_in_text, assert_no_plaintext_key_in, clients};

/// Runs jwksmith in `dir` with `env`, scanning its output, `out/public` and the temporaries.
fn jw(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jwksmith"));
    cmd.args(args).current_dir(dir).env("JWKSMITH_CACHE_DIR", "off");
    cmd.env_remove("JWKSMITH_AGE_IDENTITY").env_remove("JWKSMITH_AGE_IDENTITY_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run jwksmith");
    let (so, se) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_no_leak_in_text(&so, "stdout");
    assert_no_leak_in_text(&se, "stderr");
    assert!(!so.contains("AGE-SECRET-KEY") && !se.contains("AGE-SECRET-KEY"), "an identity in the output: {se}");
    assert_no_leak_in_dir(&dir.join("out/public"));
    assert_no_plaintext_key_in(&dir.join("keys/.jwksmith/tmp"), &[]);
    out
}

fn ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = jw(dir, args, env);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "jwksmith {args:?} failed: {stderr}");
    stderr
}

fn sh(program: &str, args: &[&str], cwd: &Path) -> Vec<u8> {
    let out = Command::new(program).args(args).current_dir(cwd).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// An age identity file in `dir`: (its path, its recipient). `None` (reported) without `age`.
fn age_identity(dir: &Path, name: &str, test: &str) -> Option<(String, String)> {
    if Command::new("age-keygen").arg("--version").output().is_err() {
        clients::unavailable(test, "the `age` CLI (Debian package age) is not installed");
        return None;
    }
    let path = dir.join(name);
    sh("age-keygen", &["-o", path.to_str().unwrap()], dir);
    let recipient = String::from_utf8(sh("age-keygen", &["-y", path.to_str().unwrap()], dir)).unwrap();
    Some((path.to_str().unwrap().to_string(), recipient.trim().to_string()))
}

fn keyset(recipients: &[&str]) -> String {
    let list: Vec<String> = recipients.iter().map(|r| format!("{r:?}")).collect();
    format!("recipients = [{}]\n{EC_SPECS}", list.join(", "))
}

fn ec_pem(dir: &Path) -> Vec<u8> {
    sh("openssl", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], dir)
}

fn age_encrypt(dir: &Path, recipient: &str, plain: &[u8], out: &Path) {
    let src = dir.join("plain.tmp");
    std::fs::write(&src, plain).unwrap();
    sh("age", &["-r", recipient, "-a", "-o", out.to_str().unwrap(), src.to_str().unwrap()], dir);
    std::fs::remove_file(src).unwrap();
}

fn kids(dir: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/public/jwks.json")).unwrap()).unwrap();
    common::kids(&v)
}

#[test]
fn what_jwksmith_encrypts_opens_with_age_for_every_recipient() {
    let p = tempfile::tempdir().unwrap();
    let dir = p.path();
    let Some((id1, r1)) = age_identity(dir, "id1.txt", "custody::encrypts") else { return };
    let mut recipients = vec![r1.clone()];
    let ssh = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(dir.join("ssh_id"))
        .output()
        .is_ok_and(|o| o.status.success());
    if ssh {
        recipients.push(String::from_utf8(std::fs::read(dir.join("ssh_id.pub")).unwrap()).unwrap().trim().to_string());
    } else {
        clients::unavailable("custody::encrypts (ssh-ed25519)", "ssh-keygen (openssh-client) is not installed");
    }
    let refs: Vec<&str> = recipients.iter().map(String::as_str).collect();
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/keyset.toml"), keyset(&refs)).unwrap();
    ok(dir, &["rotate", "--now", NOW], &[]);
    assert!(!dir.join("keys/ec-sig-001.key.pem").exists());
    let sealed = dir.join("keys/ec-sig-001.key.age");
    assert!(std::fs::read(&sealed).unwrap().starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
    let mut ids = vec![id1.clone()];
    if ssh {
        ids.push(dir.join("ssh_id").to_str().unwrap().to_string());
    }
    for id in &ids {
        let plain = sh("age", &["-d", "-i", id, sealed.to_str().unwrap()], dir);
        assert!(plain.starts_with(b"-----BEGIN PRIVATE KEY-----"), "{id}");
    }
    // Each identity alone gives the same private outputs; none gives out/public the same bytes.
    ok(dir, &["build", "--now", NOW], &[]);
    let public = common::snapshot(&dir.join("out/public"));
    assert!(!dir.join("out/private/ec-sig.pem").exists());
    for id in &ids {
        std::fs::remove_dir_all(dir.join("out")).unwrap();
        ok(dir, &["build", "--now", NOW], &[("JWKSMITH_AGE_IDENTITY_FILE", id)]);
        assert_eq!(common::snapshot(&dir.join("out/public")), public);
        assert!(dir.join("out/private/ec-sig.pem").exists(), "{id}");
    }
    let text = std::fs::read_to_string(&id1).unwrap();
    let out = jw(dir, &["status", "--json", "--now", NOW], &[("JWKSMITH_AGE_IDENTITY", &text)]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = &status["sets"][0]["keys"][0];
    assert_eq!((key["private"].as_bool(), key["encrypted"].as_bool()), (Some(true), Some(true)));
    let out = jw(dir, &["status", "--json", "--now", NOW], &[]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["sets"][0]["keys"][0]["private"], false);
    assert_no_plaintext_key_in(dir, &["out/private/", "ssh_id"]);
}

#[test]
fn age_cli_files_are_hand_dropped_imported_and_checked() {
    let p = tempfile::tempdir().unwrap();
    let dir = p.path();
    let Some((id, r)) = age_identity(dir, "id.txt", "custody::age_cli_files") else { return };
    let (other, _) = age_identity(dir, "other.txt", "custody::age_cli_files").unwrap();
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/keyset.toml"), keyset(&[&r])).unwrap();
    age_encrypt(dir, &r, &ec_pem(dir), &dir.join("keys/legacy.pem.age"));
    let stderr = ok(dir, &["build", "--now", NOW], &[]);
    assert!(
        stderr.contains("legacy.pem.age")
            && stderr.contains("cannot be published")
            && stderr.contains("jwksmith import"),
        "{stderr}"
    );
    assert!(!dir.join("out/public/jwks.json").exists() || !kids(dir).contains(&"legacy".to_string()));
    ok(dir, &["build", "--now", NOW], &[("JWKSMITH_AGE_IDENTITY_FILE", &id)]);
    assert!(kids(dir).contains(&"legacy".to_string()));
    // A wrong identity warns, naming the file.
    let stderr = ok(dir, &["build", "--now", NOW], &[("JWKSMITH_AGE_IDENTITY_FILE", &other)]);
    assert!(stderr.contains("opens any encrypted key") && stderr.contains("legacy.pem.age"), "{stderr}");
    // import of an age file from outside the key directory: managed, encrypted files.
    age_encrypt(dir, &r, &ec_pem(dir), &dir.join("sa.pem.age"));
    ok(dir, &["import", "sa.pem.age", "--now", NOW], &[("JWKSMITH_AGE_IDENTITY_FILE", &id)]);
    for f in ["sa.key.age", "sa.pub.pem", "sa.meta.json"] {
        assert!(dir.join("keys").join(f).exists(), "{f}");
    }
    ok(dir, &["build", "--now", NOW], &[]);
    assert!(kids(dir).contains(&"sa".to_string()));
    // A corrupt .key.age is an error naming it, with or without an identity.
    std::fs::write(dir.join("keys/sa.key.age"), b"-----BEGIN AGE ENCRYPTED FILE-----\nnot age\n").unwrap();
    for env in [vec![], vec![("JWKSMITH_AGE_IDENTITY_FILE", id.as_str())]] {
        let out = jw(dir, &["build", "--now", NOW], &env);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        insta::assert_snapshot!(
            "corrupt_key_age",
            stderr.lines().filter(|l| !l.starts_with("warning")).collect::<Vec<_>>().join("\n")
        );
    }
    assert_no_plaintext_key_in(dir, &["out/private/"]);
}

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let mut full = vec!["-c", "user.name=ci", "-c", "user.email=ci@example.com", "-c", "init.defaultBranch=main"];
    full.extend_from_slice(args);
    sh("git", &full, dir)
}

/// No git object of the repository at `dir` holds a plaintext private key.
fn assert_no_plaintext_key_in_git(dir: &Path) {
    let all = git(dir, &["cat-file", "--batch-all-objects", "--batch"]);
    assert!(!String::from_utf8_lossy(&all).contains("PRIVATE KEY-----"), "a git object holds a plaintext key");
}

#[test]
fn a_ci_runner_rotates_without_an_identity_and_a_signer_signs() {
    let p = tempfile::tempdir().unwrap();
    let root = p.path();
    let Some((id, r)) = age_identity(root, "id.txt", "custody::ci_round_trip") else { return };
    let (bare, seed) = (root.join("origin.git"), root.join("seed"));
    git(root, &["init", "-q", "--bare", bare.to_str().unwrap()]);
    git(root, &["clone", "-q", bare.to_str().unwrap(), seed.to_str().unwrap()]);
    std::fs::create_dir_all(seed.join("keys")).unwrap();
    std::fs::write(seed.join("keys/keyset.toml"), keyset(&[&r])).unwrap();
    std::fs::write(seed.join(".gitignore"), "*.key.pem\nout/private/\n").unwrap();
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-qm", "keys"]);
    git(&seed, &["push", "-q", "origin", "HEAD:main"]);
    let runner = |name: &str, now: &str| {
        let dir = root.join(name);
        git(root, &["clone", "-q", bare.to_str().unwrap(), dir.to_str().unwrap()]);
        git(&dir, &["clean", "-ffdx"]);
        ok(&dir, &["rotate", "--if-due", "--now", now], &[]);
        ok(&dir, &["build", "--now", now], &[]);
        assert_no_plaintext_key_in(&dir, &[]);
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-qm", "rotate"]);
        git(&dir, &["push", "-q", "origin", "HEAD:main"]);
        assert_no_plaintext_key_in_git(&dir);
        dir
    };
    let first = runner("runner1", NOW);
    assert_eq!(kids(&first), ["ec-sig-001", "ec-enc-001"]);
    let later = "2026-03-20T00:00:00Z"; // past rotate_every − publish_ahead (76 days)
    let second = runner("runner2", later);
    for kid in ["ec-sig-001", "ec-sig-002", "ec-enc-001", "ec-enc-002"] {
        assert!(second.join(format!("keys/{kid}.key.age")).exists(), "{kid} lost");
    }
    let signer = root.join("signer");
    git(root, &["clone", "-q", bare.to_str().unwrap(), signer.to_str().unwrap()]);
    ok(&signer, &["build", "--now", later], &[("JWKSMITH_AGE_IDENTITY", &std::fs::read_to_string(&id).unwrap())]);
    let pem = signer.join("out/private/ec-sig.pem");
    assert!(pem.exists());
    let python = match clients::python() {
        Ok(python) => python,
        Err(e) => return clients::unavailable("custody::ci_round_trip (PyJWT)", e),
    };
    let script = r#"
import json, sys, jwt
key = open(sys.argv[1]).read()
jwks = jwt.PyJWKSet.from_dict(json.load(open(sys.argv[2])))
token = jwt.encode({"sub": "ci"}, key, algorithm="ES256", headers={"kid": "ec-sig-001"})
kid = jwt.get_unverified_header(token)["kid"]
print(jwt.decode(token, jwks[kid].key, algorithms=["ES256"])["sub"])
"#;
    let jwks = second.join("out/public/jwks.json");
    let out = sh(python.to_str().unwrap(), &["-c", script, pem.to_str().unwrap(), jwks.to_str().unwrap()], root);
    assert_eq!(String::from_utf8_lossy(&out).trim(), "ci");
}

#[test]
fn rekey_encrypts_adopts_and_reencrypts() {
    let p = tempfile::tempdir().unwrap();
    let dir = p.path();
    let Some((id, r1)) = age_identity(dir, "id1.txt", "custody::rekey") else { return };
    let (_, r2) = age_identity(dir, "id2.txt", "custody::rekey").unwrap();
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/keyset.toml"), EC_SPECS).unwrap();
    ok(dir, &["rotate", "--now", NOW], &[]);
    std::fs::write(dir.join("keys/hand.pem"), ec_pem(dir)).unwrap();
    age_encrypt(dir, &r1, &ec_pem(dir), &dir.join("keys/dropped.pem.age"));
    std::fs::write(dir.join("keys/keyset.toml"), keyset(&[&r1])).unwrap();
    let stderr = ok(dir, &["build", "--now", NOW], &[]);
    assert!(stderr.contains("ec-sig-001.key.pem") && stderr.contains("jwksmith rekey"), "{stderr}");
    // The .pem.age needs an identity: without one, nothing changes.
    let before = common::snapshot(&dir.join("keys"));
    let out = jw(dir, &["rekey", "--now", NOW], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    insta::assert_snapshot!(
        "rekey_without_identity",
        stderr.lines().filter(|l| !l.starts_with("warning")).collect::<Vec<_>>().join("\n")
    );
    assert_eq!(common::snapshot(&dir.join("keys")), before);
    ok(dir, &["rekey", "--now", NOW], &[("JWKSMITH_AGE_IDENTITY_FILE", &id)]);
    for f in [
        "ec-sig-001.key.age",
        "ec-enc-001.key.age",
        "hand.key.age",
        "hand.pub.pem",
        "hand.meta.json",
        "dropped.key.age",
        "dropped.meta.json",
    ] {
        assert!(dir.join("keys").join(f).exists(), "{f}");
    }
    for f in ["ec-sig-001.key.pem", "hand.pem", "dropped.pem.age"] {
        assert!(!dir.join("keys").join(f).exists(), "{f}");
    }
    assert_no_plaintext_key_in(dir, &["out/private/"]);
    // A recipient added: without an identity rekey refuses and changes nothing; with one, the
    // files open with the new recipient's identity.
    std::fs::write(dir.join("keys/keyset.toml"), keyset(&[&r1, &r2])).unwrap();
    let before = common::snapshot(&dir.join("keys"));
    let out = jw(dir, &["rekey", "--now", NOW], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ec-sig-001.key.age"));
    assert_eq!(common::snapshot(&dir.join("keys")), before);
    ok(dir, &["rekey", "--now", NOW], &[("JWKSMITH_AGE_IDENTITY_FILE", &id)]);
    let id2 = dir.join("id2.txt");
    let plain = sh("age", &["-d", "-i", id2.to_str().unwrap(), dir.join("keys/hand.key.age").to_str().unwrap()], dir);
    assert!(plain.starts_with(b"-----BEGIN PRIVATE KEY-----"));
    let stdout = String::from_utf8_lossy(&jw(dir, &["rekey", "--now", NOW], &[]).stdout).to_string();
    assert!(stdout.contains("nothing to do"), "{stdout}");
}

#[test]
fn a_bad_recipient_is_an_error_naming_keyset_toml() {
    let p = tempfile::tempdir().unwrap();
    let dir = p.path();
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/keyset.toml"), keyset(&["age1notakey"])).unwrap();
    let out = jw(dir, &["build", "--now", NOW], &[]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("bad_recipient", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_build_record_never_keeps_private_outputs_of_another_identity() {
    let p = tempfile::tempdir().unwrap();
    let dir = p.path();
    let Some((id, r)) = age_identity(dir, "id.txt", "custody::build_record") else { return };
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/keyset.toml"), keyset(&[&r])).unwrap();
    ok(dir, &["rotate", "--now", NOW], &[]);
    let cache = dir.join("cache");
    let cache = cache.to_str().unwrap();
    let pem = dir.join("out/private/ec-sig.pem");
    ok(dir, &["build", "--now", NOW], &[("JWKSMITH_CACHE_DIR", cache), ("JWKSMITH_AGE_IDENTITY_FILE", &id)]);
    assert!(pem.exists());
    ok(dir, &["build", "--now", NOW], &[("JWKSMITH_CACHE_DIR", cache)]);
    assert!(!pem.exists(), "a build without the identity kept the private output");
    ok(dir, &["build", "--now", NOW], &[("JWKSMITH_CACHE_DIR", cache), ("JWKSMITH_AGE_IDENTITY_FILE", &id)]);
    assert!(pem.exists(), "a build with the identity reused the public-only record");
}
