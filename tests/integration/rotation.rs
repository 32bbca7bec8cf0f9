//! Key rotation over time: a simulated two years of daily `rotate --if-due` + `build`, an hourly
//! run with `--immediate` and `revoke` events, checked by one pure invariant checker; crash
//! safety of `rotate` under SIGKILL; revoke, prune and x5c.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::common::{NOW, Project};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// What one step of a simulation published.
#[derive(Debug, Clone)]
struct Step {
    /// Unix seconds of the step's `--now`.
    t: i64,
    /// Kids in the root jwks.json.
    jwks: BTreeSet<String>,
    /// For RSA signing keys: kid → `active` in jwt-keys.json.
    jwt_active: BTreeMap<String, bool>,
    /// spec → kid of the key in out/private/<spec>.pem.
    signers: BTreeMap<String, String>,
    /// True when this step used `--immediate` or `revoke` (the new signer was not published ahead).
    forced: bool,
    /// Kids revoked at or before this step (they leave jwks.json at once, by design).
    revoked: BTreeSet<String>,
}

/// Timings the checker needs, in seconds.
struct Timings {
    rotate_every: i64,
    verify_for: i64,
    cache_max_age: i64,
}

/// The cache-safety checker: a pure function over the sequence of published outputs.
/// Returns every violation found (empty = all invariants hold).
fn check_invariants(steps: &[Step], specs: &[&str], timing: &Timings, cadence_slack: i64) -> Vec<String> {
    let mut errors = Vec::new();
    let in_effect_at = |t: i64| steps.iter().rposition(|s| s.t <= t);
    for (i, step) in steps.iter().enumerate() {
        // Exactly one current key per spec.
        for spec in specs {
            if !step.signers.contains_key(*spec) {
                errors.push(format!("t={}: spec {spec} has no current key", step.t));
            }
        }
        // jwt-keys.json `active` equals membership in jwks.json.
        for (kid, active) in &step.jwt_active {
            if *active != step.jwks.contains(kid) {
                errors.push(format!(
                    "t={}: {kid} active={active} but in jwks.json={}",
                    step.t,
                    step.jwks.contains(kid)
                ));
            }
        }
        for kid in step.signers.values() {
            // The signer is in every jwks.json that a client may have cached (published during
            // the preceding cache_max_age), unless this is the very first build or a forced step.
            let first_sign = steps.iter().position(|s| s.signers.values().any(|k| k == kid)).unwrap();
            let exempt = first_sign == 0 || steps[first_sign].forced;
            if !exempt {
                let from = in_effect_at(step.t - timing.cache_max_age).unwrap_or(0);
                for earlier in &steps[from..=i] {
                    if !earlier.jwks.contains(kid) {
                        errors.push(format!(
                            "t={}: signer {kid} was missing from jwks.json published at t={}",
                            step.t, earlier.t
                        ));
                    }
                }
            }
            // A key that signed at t stays in jwks.json until at least t + verify_for.
            for later in steps[i..].iter().take_while(|s| s.t < step.t + timing.verify_for) {
                if !later.jwks.contains(kid) && !later.revoked.contains(kid) {
                    errors.push(format!("t={}: {kid} signed at t={} but left jwks.json early", later.t, step.t));
                }
            }
        }
    }
    // Rotation cadence: the signer of a spec changes every rotate_every (± slack).
    for spec in specs {
        let mut changes = Vec::new();
        let mut last: Option<&String> = None;
        for step in steps {
            let kid = step.signers.get(*spec);
            if kid != last {
                changes.push((step.t, step.forced));
                last = kid;
            }
        }
        for pair in changes.windows(2) {
            let ((a, _), (b, forced)) = (pair[0], pair[1]);
            if !forced && !pair[0].1 && (b - a - timing.rotate_every).abs() > cadence_slack {
                errors.push(format!(
                    "spec {spec}: signer changed after {} s, expected {} s",
                    b - a,
                    timing.rotate_every
                ));
            }
        }
    }
    errors
}

fn ts(t: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn base_time() -> i64 {
    1_767_225_600 // 2026-01-01T00:00:00Z
}

/// Reads what the last build published.
fn observe(p: &Project, t: i64, specs: &[&str], forced: bool, revoked: &BTreeSet<String>) -> Step {
    let jwks = p.json("out/public/jwks.json");
    let jwks: BTreeSet<String> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect();
    let mut id_to_kid = BTreeMap::new();
    let mut key_pems = BTreeMap::new();
    for entry in fs::read_dir(p.at("keys")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if let Some(kid) = name.strip_suffix(".meta.json") {
            let meta: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
            id_to_kid.insert(meta["id"].as_str().unwrap().to_string(), kid.to_string());
        } else if let Some(kid) = name.strip_suffix(".key.pem") {
            key_pems.insert(fs::read(&path).unwrap(), kid.to_string());
        }
    }
    let jwt_active = p
        .json("out/public/jwt-keys.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (id_to_kid[e["id"].as_str().unwrap()].clone(), e["active"].as_bool().unwrap()))
        .collect();
    let mut signers = BTreeMap::new();
    for spec in specs {
        if let Ok(pem) = fs::read(p.at(&format!("out/private/{spec}.pem"))) {
            signers.insert(spec.to_string(), key_pems.get(&pem).cloned().expect("signer is a key of keys/"));
        }
    }
    Step { t, jwks, jwt_active, signers, forced, revoked: revoked.clone() }
}

const SPECS: [&str; 3] = ["rsa-sig", "ec-sig", "ec-enc"];

fn sim_keyset(rotation: &str) -> String {
    format!(
        "{rotation}\n[[key]]\nspec = \"rsa-sig\"\nkty = \"RSA\"\n\n[[key]]\nspec = \"ec-sig\"\nkty = \"EC\"\n\n[[key]]\nspec = \"ec-enc\"\nkty = \"EC\"\nuse = \"enc\"\n"
    )
}

#[test]
fn two_years_of_daily_rotation_keep_every_invariant() {
    let p = Project::with_keyset(&sim_keyset(""));
    let mut steps = Vec::new();
    for day in 0..730 {
        let t = base_time() + day * DAY + 6 * HOUR;
        let now = ts(t);
        p.ok(&["rotate", "--if-due", "-q", "--now", &now]);
        p.ok(&["build", "-q", "--now", &now]);
        steps.push(observe(&p, t, &SPECS, false, &BTreeSet::new()));
    }
    let timing = Timings { rotate_every: 90 * DAY, verify_for: 14 * DAY, cache_max_age: HOUR };
    let errors = check_invariants(&steps, &SPECS, &timing, DAY);
    assert!(errors.is_empty(), "{} violations, first: {:#?}", errors.len(), &errors[..errors.len().min(10)]);
    let rotations = steps.windows(2).filter(|w| w[0].signers["ec-sig"] != w[1].signers["ec-sig"]).count();
    assert_eq!(rotations, 8, "730 days / 90 days = 8 rotations");
}

#[test]
fn hourly_steps_with_immediate_and_revoke_events() {
    let rotation =
        "[rotation]\nrotate_every = \"7d\"\npublish_ahead = \"2d\"\nverify_for = \"2d\"\ncache_max_age = \"1h\"\n";
    let p = Project::with_keyset(&sim_keyset(rotation));
    let mut steps = Vec::new();
    let mut revoked = BTreeSet::new();
    for hour in 0..(21 * 24) {
        let t = base_time() + hour * HOUR;
        let now = ts(t);
        let forced = match hour {
            100 => {
                p.ok(&["rotate", "--immediate", "-q", "--now", &now, "--spec", "ec-sig"]);
                true
            }
            250 => {
                let current = steps.last().map(|s: &Step| s.signers["rsa-sig"].clone()).unwrap();
                p.ok(&["revoke", &current, "-q", "--now", &now]);
                revoked.insert(current);
                true
            }
            _ => false,
        };
        p.ok(&["rotate", "--if-due", "-q", "--now", &now]);
        p.ok(&["build", "-q", "--now", &now]);
        steps.push(observe(&p, t, &SPECS, forced, &revoked));
    }
    let timing = Timings { rotate_every: 7 * DAY, verify_for: 2 * DAY, cache_max_age: HOUR };
    let errors = check_invariants(&steps, &SPECS, &timing, HOUR);
    assert!(errors.is_empty(), "{} violations, first: {:#?}", errors.len(), &errors[..errors.len().min(10)]);
    let revoked = &steps[249].signers["rsa-sig"];
    assert!(!steps[250].jwks.contains(revoked), "a revoked key leaves jwks.json at once");
    assert_eq!(steps[250].jwt_active.get(revoked), Some(&false), "a revoked key is listed inactive");
}

#[test]
fn the_checker_catches_a_key_signing_before_it_was_published() {
    let step = |t: i64, jwks: &[&str], signer: &str| Step {
        t,
        jwks: jwks.iter().map(|s| s.to_string()).collect(),
        jwt_active: BTreeMap::new(),
        signers: [("s".to_string(), signer.to_string())].into(),
        forced: false,
        revoked: BTreeSet::new(),
    };
    let timing = Timings { rotate_every: 10 * DAY, verify_for: DAY, cache_max_age: HOUR };
    let good = [step(0, &["a"], "a"), step(DAY, &["a", "b"], "a"), step(10 * DAY, &["a", "b"], "b")];
    assert!(check_invariants(&good, &["s"], &timing, DAY).is_empty());
    let unpublished = [step(0, &["a"], "a"), step(10 * DAY, &["a", "b"], "b")];
    assert!(!check_invariants(&unpublished, &["s"], &timing, DAY).is_empty());
    let dropped_early = [step(0, &["a"], "a"), step(DAY - HOUR, &["b"], "b"), step(10 * DAY, &["b"], "b")];
    assert!(!check_invariants(&dropped_early, &["s"], &timing, 10 * DAY).is_empty());
}

/// Kill `rotate` at random instants: every key afterwards is complete or unfinished (never
/// published), `build` succeeds, and the next `rotate` cleans up.
#[test]
fn rotate_survives_sigkill_at_any_instant() {
    let keyset = "[[key]]\nspec = \"rsa-a\"\nkty = \"RSA\"\n[[key]]\nspec = \"ec-a\"\nkty = \"EC\"\n[[key]]\nspec = \"rsa-b\"\nkty = \"RSA\"\nsize = 3072\n[[key]]\nspec = \"ec-b\"\nkty = \"EC\"\ncrv = \"P-384\"\n";
    let mut seed: u64 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut outcomes = BTreeMap::new();
    for trial in 0..30 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % 400_000);
        let p = Project::with_keyset(keyset);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jwksmith"))
            .args(["rotate", "-q", "--now", NOW])
            .current_dir(p.path())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        *outcomes.entry(if status.success() { "finished" } else { "killed" }).or_insert(0) += 1;
        assert_keys_complete_or_unfinished(&p.at("keys"), trial);
        p.ok(&["build", "-q", "--now", NOW]);
        let published = p.json("out/public/jwks.json")["keys"].as_array().unwrap().len();
        let metas = fs::read_dir(p.at("keys"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".meta.json"))
            .count();
        assert_eq!(published, metas, "trial {trial}: exactly the complete keys are published");
        // Recovery: `--if-due` cleans unfinished keys and creates only the missing specs' keys.
        p.ok(&["rotate", "--if-due", "-q", "--now", NOW]);
        p.ok(&["build", "-q", "--now", NOW]);
        assert_eq!(p.json("out/public/jwks.json")["keys"].as_array().unwrap().len(), 4, "trial {trial}");
        let leftovers: Vec<String> = fs::read_dir(p.at("keys"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with(".jwksmith-tmp-"))
            .collect();
        assert!(leftovers.len() <= 4, "trial {trial}: temp files {leftovers:?}");
    }
    assert!(outcomes.get("killed").copied().unwrap_or(0) >= 10, "too few kills landed mid-run: {outcomes:?}");
}

fn assert_keys_complete_or_unfinished(keys: &Path, trial: usize) {
    let names: BTreeSet<String> =
        fs::read_dir(keys).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    for name in &names {
        if let Some(kid) = name.strip_suffix(".meta.json") {
            for part in ["key.pem", "pub.pem"] {
                let file = format!("{kid}.{part}");
                assert!(names.contains(&file), "trial {trial}: {kid} has metadata but no {file}");
                let text = fs::read_to_string(keys.join(&file)).unwrap();
                assert!(text.trim_end().ends_with("-----"), "trial {trial}: {file} is partial");
            }
            let meta: serde_json::Value = serde_json::from_slice(&fs::read(keys.join(name)).unwrap()).unwrap();
            assert_eq!(meta["kid"], kid, "trial {trial}");
        }
    }
}

#[test]
fn revoke_replaces_the_current_key_and_prune_deletes_it_after_build() {
    let p = Project::with_keyset("[[key]]\nspec = \"es\"\nkty = \"EC\"\n");
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let later = "2026-01-02T00:00:00Z";
    let out = p.ok(&["revoke", "es-001", "--now", later]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("may not know it yet"), "warns like --immediate: {stderr}");
    // stdout carries what it did; the next step is a notice on stderr.
    assert!(stderr.contains("notice: next: `jwksmith build`"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("next:"), "no hint on stdout");
    let meta = p.json("keys/es-001.meta.json");
    assert_eq!(meta["revoked"], later);
    p.ok(&["build", "--now", later]);
    let kids: Vec<String> = p.json("out/public/jwks.json")["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kids, ["es-002"]);
    let out = p.ok(&["prune", "--now", later]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("pruned es-001"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("next:"), "no hint on stdout");
    assert!(String::from_utf8_lossy(&out.stderr).contains("notice: next: `jwksmith build`"));
    assert!(!p.at("keys/es-001.meta.json").exists() && !p.at("keys/es-001.pub.pem").exists());
    p.fails(&["revoke", "nosuch", "--now", later], 1);
}

#[test]
fn revoking_the_next_key_leaves_no_gap_without_a_signing_key() {
    let rotation =
        "[rotation]\nrotate_every = \"10d\"\npublish_ahead = \"2d\"\nverify_for = \"3d\"\ncache_max_age = \"1h\"\n";
    let p = Project::with_keyset(&format!("{rotation}[[key]]\nspec = \"es\"\nkty = \"EC\"\n"));
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["rotate", "--if-due", "--now", "2026-01-09T00:00:00Z"]);
    assert_eq!(p.json("keys/es-001.meta.json")["retires"], "2026-01-11T00:00:00Z", "es-002 takes over then");
    let out = p.ok(&["revoke", "es-002", "--now", "2026-01-10T00:00:00Z"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("es-001 keeps signing") && stderr.contains("jwksmith rotate --if-due"), "{stderr}");
    // Past the old handover, es-001 still signs; the next rotation schedules its successor.
    let after = "2026-01-11T06:00:00Z";
    p.ok(&["build", "--now", after]);
    assert!(p.at("out/private/es.pem").is_file(), "the spec still has a current key");
    p.ok(&["token", "--now", after]);
    p.ok(&["rotate", "--if-due", "--now", after]);
    let next = p.json("keys/es-003.meta.json");
    assert_eq!(p.json("keys/es-001.meta.json")["retires"], next["activates"], "es-001 signs until es-003 does");
}

#[test]
fn immediate_says_whether_the_next_key_was_published_long_enough() {
    let rotation =
        "[rotation]\nrotate_every = \"10d\"\npublish_ahead = \"2d\"\nverify_for = \"3d\"\ncache_max_age = \"1h\"\n";
    for (at, long_enough) in [("2026-01-01T01:00:00Z", false), ("2026-01-06T00:00:00Z", true)] {
        let p = Project::with_keyset(&format!("{rotation}[[key]]\nspec = \"es\"\nkty = \"EC\"\n"));
        p.ok(&["rotate", "--now", NOW]);
        p.ok(&["rotate", "--now", NOW]); // es-002 published now, current from 2026-01-11
        let out = p.ok(&["rotate", "--immediate", "--now", at]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("warning: set .: es-002 signs at once"), "{at}: {stderr}");
        if long_enough {
            assert!(stderr.contains("ahead of its scheduled activation at 2026-01-11T00:00:00Z"), "{stderr}");
            assert!(stderr.contains(&format!("published since {NOW}, longer than publish_ahead (2d)")), "{stderr}");
        } else {
            assert!(stderr.contains("before it was published for publish_ahead (2d)"), "{stderr}");
        }
    }
}

#[test]
fn prune_keeps_keys_still_in_the_built_output() {
    let p = Project::with_keyset("[[key]]\nspec = \"es\"\nkty = \"EC\"\n");
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    p.ok(&["revoke", "es-001", "--now", NOW]);
    let out = p.ok(&["prune", "--now", NOW]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("jwksmith build"));
    assert!(p.at("keys/es-001.meta.json").exists(), "not pruned while out/ still lists it");
}

#[test]
fn x5c_certificates_are_published_beside_the_key() {
    let p = Project::with_keyset(
        "x5c = true\n[[key]]\nspec = \"rs\"\nkty = \"RSA\"\n[[key]]\nspec = \"es\"\nkty = \"EC\"\n",
    );
    p.ok(&["rotate", "--now", NOW]);
    for kid in ["rs-001", "es-001"] {
        assert!(p.at(&format!("keys/{kid}.crt.pem")).exists());
    }
    // build needs no private key and stays deterministic.
    for f in ["rs-001.key.pem", "es-001.key.pem"] {
        fs::remove_file(p.at(&format!("keys/{f}"))).unwrap();
    }
    p.ok(&["build", "--now", NOW]);
    let first = p.read("out/public/jwks.json");
    p.ok(&["build", "--now", NOW]);
    assert_eq!(first, p.read("out/public/jwks.json"));
    let script = r#"
import json, base64, hashlib, sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
for k in json.load(open('out/public/jwks.json'))['keys']:
    der = base64.b64decode(k['x5c'][0], validate=True)
    cert = x509.load_der_x509_certificate(der)
    assert base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b'=').decode() == k['x5t#S256']
    spki = cert.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert spki == open('keys/%s.pub.pem' % k['kid'], 'rb').read(), k['kid']
    assert cert.not_valid_before_utc.isoformat().startswith('2026-01-01')
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days >= 90 + 14 + 14, k['kid']
    assert list(k)[-2:] == ['x5c', 'x5t#S256'], list(k)
print('ok')
"#;
    assert_eq!(crate::common::tool("python3", &["-c", script], p.path()), b"ok\n");
}

/// `rotate` prints one line per key it makes on stdout, `set <path>: created <kid> (…)`, and
/// nothing else there: what else changed (a key's retirement), the next step and "nothing is
/// due" are notices on stderr.
#[test]
fn rotate_prints_one_line_per_key_it_makes() {
    let p = Project::new();
    p.ok(&["init"]);
    let created = |out: &std::process::Output| -> Vec<String> {
        String::from_utf8(out.stdout.clone()).unwrap().lines().map(str::to_string).collect()
    };
    let first = p.ok(&["rotate", "--now", NOW]);
    let lines = created(&first);
    let kids = ["rsa-sig-001", "rsa-enc-001", "ec256-sig-001", "ec256-enc-001"];
    assert_eq!(lines, kids.map(|k| format!("set .: created {k} (current now)")), "{lines:?}");

    // 80 days on: each spec's next key, and its current key's retirement (on stderr).
    let later = p.ok(&["rotate", "--if-due", "--now", "2026-03-22T00:00:00Z"]);
    let lines = created(&later);
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("set .: created ") && l.contains("-002 (published now")), "{lines:?}");
    let stderr = String::from_utf8_lossy(&later.stderr);
    assert!(stderr.contains("notice: set .: rsa-sig-001 retires at "), "{stderr}");

    // Nothing due: nothing on stdout, and stderr says so.
    let idle = p.ok(&["rotate", "--if-due", "--now", "2026-03-23T00:00:00Z"]);
    assert!(idle.stdout.is_empty(), "{:?}", String::from_utf8_lossy(&idle.stdout));
    assert!(String::from_utf8_lossy(&idle.stderr).contains("nothing is due"));
}
