//! Crash safety of `build`: SIGKILL at 50 random instants on a set of 200 keys. Afterwards every
//! file under out/ parses, no temporary file is under out/public, no key file is damaged, and a
//! clean rebuild equals the reference byte for byte.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{NOW, Project, snapshot, tool};

const KEYGEN: &str = r#"
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives import serialization as s
for i in range(200):
    key = rsa.generate_private_key(65537, 2048) if i % 8 == 0 else ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())
    open("keys/hand-%03d.pem" % i, "wb").write(pem)
"#;

fn build(p: &Project) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jwksmith"));
    cmd.args(["build", "-q", "--now", NOW]).current_dir(p.path());
    cmd
}

fn assert_every_output_parses(p: &Project, trial: usize) {
    for (rel, bytes) in snapshot(&p.at("out")) {
        if rel.starts_with(".jwksmith-staging/") {
            continue; // temporary files of the killed run: removed by the next build
        }
        let name = rel.rsplit('/').next().unwrap();
        assert!(!name.starts_with(".jwksmith-tmp-"), "trial {trial}: temporary file {rel} outside the staging dir");
        if rel.ends_with(".json") || rel.ends_with("openid-configuration") {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("trial {trial}: {rel} does not parse: {e}"));
        } else if rel.ends_with(".pem") {
            jwksmith::key::parse_pem(&bytes).unwrap_or_else(|e| panic!("trial {trial}: {rel}: {e}"));
        }
    }
}

#[test]
fn build_survives_sigkill_at_fifty_random_instants() {
    let p = Project::new();
    p.write("keys/keyset.toml", b"[[key]]\nspec = \"es\"\nkty = \"EC\"\n");
    tool("python3", &["-c", KEYGEN], p.path());
    let keys_before = snapshot(&p.at("keys"));
    // The reference: a build in a copy that is never interrupted.
    let reference = Project::new();
    for (rel, bytes) in &keys_before {
        reference.write(&format!("keys/{rel}"), bytes);
    }
    reference.ok(&["build", "-q", "--now", NOW]);
    let expected = reference.snapshot("out");
    assert_eq!(expected.keys().filter(|k| k.starts_with("public/")).count(), 8);

    // Time a build over an existing out/ (most trials start from one; it is the faster case).
    assert!(build(&p).status().unwrap().success());
    let started = Instant::now();
    assert!(build(&p).status().unwrap().success());
    let full = started.elapsed();
    std::fs::remove_dir_all(p.at("out")).unwrap();

    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for trial in 0..50 {
        if trial % 10 == 0 {
            // Start some trials from a different previous output, so old files are replaced.
            std::fs::remove_dir_all(p.at("out")).ok();
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % (full.as_micros() as u64 * 6 / 5 + 1));
        let mut child = build(&p).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        *outcomes.entry(if status.success() { "finished" } else { "killed" }).or_default() += 1;
        assert_every_output_parses(&p, trial);
        assert_eq!(snapshot(&p.at("keys")), keys_before, "trial {trial}: key files changed");
        crate::common::assert_no_leak_in_dir(&p.at("out/public"));
    }
    p.ok(&["build", "-q", "--now", NOW]);
    assert_eq!(p.snapshot("out"), expected, "a clean rebuild equals the reference byte for byte");
    assert!(outcomes.get("killed").copied().unwrap_or(0) >= 20, "enough kills landed mid-build: {outcomes:?}");
}
