//! `jwksmith token` and `jwksmith verify` (issue 17): the key `token` signs with (the first
//! signing spec's current key, even when an encryption spec comes first), its claims and their
//! order, its refusals; every verdict of `verify` (kid, alg, signature, exp, nbf, iss, aud) against
//! the built jwks.json, a `--jwks` file or URL, with tokens from `token` and from python
//! `cryptography` (which signs what `token` refuses to).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::common::{NOW, Project, assert_no_leak_in_text, tool};

/// 2026-01-01T00:00:00Z (`NOW`) in seconds.
const NOW_SECS: i64 = 1_767_225_600;

/// An encryption spec first (a client reading keys[0] of out/private/jwks.json would get it),
/// then the signing spec; the set has an issuer.
const ENC_FIRST: &str = r#"
issuer = "https://issuer.example/t"

[[key]]
spec = "ec-enc"
kty = "EC"
crv = "P-256"
use = "enc"
alg = "ECDH-ES"

[[key]]
spec = "ec-sig"
kty = "EC"
crv = "P-256"
use = "sig"
alg = "ES256"
"#;

/// Signs a JWT with python `cryptography` from a PKCS#8 PEM: `PEM ALG KID CLAIMS_JSON`.
const PY_SIGN: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
pem, alg, kid, claims = sys.argv[1:5]
key = serialization.load_pem_private_key(open(pem, "rb").read(), None)
h = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]
header = json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}, separators=(",", ":"))
signing_input = b64e(header.encode()) + "." + b64e(claims.encode())
if alg.startswith("RS"):
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), h)
else:
    r, s = utils.decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(h)))
    n = (key.curve.key_size + 7) // 8
    sig = r.to_bytes(n, "big") + s.to_bytes(n, "big")
print(signing_input + "." + b64e(sig))
"#;

/// The instant `secs` seconds after `NOW`, as `--now` takes it.
fn at(secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(NOW_SECS + secs).unwrap();
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// A project with the `ENC_FIRST` set, rotated and built at `NOW`.
fn project() -> Project {
    let p = Project::with_keyset(ENC_FIRST);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    p
}

/// Runs jwksmith with extra environment and stdin; scans its output for private key material.
fn run(p: &Project, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jwksmith"))
        .args(args)
        .current_dir(p.path())
        .env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"))
        .env_remove("JWKSMITH_AGE_IDENTITY")
        .env_remove("JWKSMITH_AGE_IDENTITY_FILE")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run jwksmith");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_no_leak_in_text(&String::from_utf8_lossy(&out.stdout), "stdout");
    assert_no_leak_in_text(&String::from_utf8_lossy(&out.stderr), "stderr");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{out:?}");
    out
}

/// `token ARGS`: the one line it prints, without its newline.
fn token(p: &Project, args: &[&str]) -> String {
    let mut argv = vec!["token"];
    argv.extend_from_slice(args);
    let out = p.ok(&argv);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.ends_with('\n') && text.matches('\n').count() == 1, "token prints exactly one line: {text:?}");
    text.trim_end().to_string()
}

/// The header and claims of a compact token, as the JSON texts it carries.
fn parts(token: &str) -> (String, String) {
    let p: Vec<&str> = token.split('.').collect();
    assert_eq!(p.len(), 3, "{token}");
    let text = |s: &str| String::from_utf8(URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (text(p[0]), text(p[1]))
}

/// `verify --json TOKEN ARGS`: the exit code and the document.
fn verify_json(p: &Project, token: &str, args: &[&str]) -> (i32, Value) {
    let mut argv = vec!["verify", "--json", token];
    argv.extend_from_slice(args);
    let out = p.run(&argv);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify --json printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), doc)
}

/// The check named `name` of a `verify --json` document: (ok, detail).
fn verdict(doc: &Value, name: &str) -> (bool, String) {
    let check = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {doc}"));
    (check["ok"].as_bool().unwrap(), check["detail"].as_str().unwrap().to_string())
}

/// The names of the failed checks.
fn failed(doc: &Value) -> Vec<String> {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// A token signed by python `cryptography`.
fn py_token(p: &Project, pem: &str, alg: &str, kid: &str, claims: &Value) -> String {
    let out = tool("python3", &["-c", PY_SIGN, pem, alg, kid, &claims.to_string()], p.path());
    String::from_utf8(out).unwrap().trim().to_string()
}

#[test]
fn token_signs_with_the_first_signing_specs_current_key_when_an_enc_spec_comes_first() {
    let p = project();
    // The encryption spec comes first in keyset.toml: token still signs with the signing spec's key.
    let t = token(&p, &["--now", NOW]);
    let (header, claims) = parts(&t);
    assert_eq!(header, r#"{"alg":"ES256","kid":"ec-sig-001","typ":"JWT"}"#);
    assert_eq!(claims, format!(r#"{{"iss":"https://issuer.example/t","iat":{NOW_SECS},"exp":{}}}"#, NOW_SECS + 3600));
    let out = p.ok(&["verify", &t, "--now", NOW]);
    let text = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!("verify_valid", text);
}

#[test]
fn claims_come_in_order_and_later_ones_replace_earlier_ones() {
    let p = project();
    p.write("claims.json", br#"{"role": "reader", "iss": "from-file", "extra": true, "n": 1}"#);
    let t = token(
        &p,
        &[
            "--now",
            NOW,
            "--iss",
            "mine",
            "--sub",
            "alice",
            "--aud",
            "a1",
            "--ttl",
            "30m",
            "--claims",
            "claims.json",
            "--claim",
            "role=admin",
            "--claim",
            "n=2",
            "--claim",
            "q=\"7\"",
            "--claim",
            "obj={\"k\":[1]}",
            "--claim",
            "word=hello world",
        ],
    );
    let (_, claims) = parts(&t);
    assert_eq!(
        claims,
        format!(
            r#"{{"iss":"from-file","sub":"alice","aud":"a1","iat":{NOW_SECS},"exp":{},"role":"admin","extra":true,"n":2,"q":"7","obj":{{"k":[1]}},"word":"hello world"}}"#,
            NOW_SECS + 1800
        )
    );
    // Without --iss the set's issuer; with it, --iss.
    let (_, claims) = parts(&token(&p, &["--now", NOW, "--iss", "https://other.example", "--claim", "exp=5"]));
    assert_eq!(claims, format!(r#"{{"iss":"https://other.example","iat":{NOW_SECS},"exp":5}}"#));
}

#[test]
fn claims_from_stdin_and_aud_as_a_string_or_an_array() {
    let p = project();
    let out = run(&p, &["token", "--now", NOW, "--claims", "-", "--aud", "x"], &[], br#"{"from": "stdin"}"#);
    assert!(out.status.success(), "{out:?}");
    let (_, claims) = parts(String::from_utf8(out.stdout).unwrap().trim());
    assert_eq!(
        claims,
        format!(
            r#"{{"iss":"https://issuer.example/t","aud":"x","iat":{NOW_SECS},"exp":{},"from":"stdin"}}"#,
            NOW_SECS + 3600
        )
    );
    let (_, claims) = parts(&token(&p, &["--now", NOW, "--aud", "y", "--aud", "x"]));
    assert!(claims.contains(r#""aud":["y","x"]"#), "{claims}");
}

#[test]
fn token_refuses_keys_that_cannot_sign_and_bad_flags() {
    let p = project();
    let stderr = p.fails(&["token", "--now", NOW, "--spec", "ec-enc"], 1);
    assert!(stderr.contains("spec `ec-enc` is an encryption spec"), "{stderr}");
    let stderr = p.fails(&["token", "--now", NOW, "--kid", "ec-enc-001"], 1);
    assert!(stderr.contains("key `ec-enc-001` is an encryption key"), "{stderr}");
    let stderr = p.fails(&["token", "--now", NOW, "--kid", "nope"], 1);
    assert!(stderr.contains("no key `nope`"), "{stderr}");
    assert!(p.fails(&["token", "--now", NOW, "--spec", "nope"], 2).contains("no [[key]] spec named `nope`"));
    assert!(p.fails(&["token", "--ttl", "soon"], 2).contains("is not a duration"));
    assert!(p.fails(&["token", "--claim", "novalue"], 2).contains("is not NAME=VALUE"));
    assert!(p.fails(&["token", "--set", ".", "--set", "x"], 2).contains("give at most one --set"));
    p.write("list.json", b"[1, 2]");
    let not_object = p.fails(&["token", "--now", NOW, "--claims", "list.json"], 1);
    p.write("broken.json", b"{\"a\":");
    let broken = p.fails(&["token", "--now", NOW, "--claims", "broken.json"], 1);
    assert!(broken.contains("broken.json: the --claims file is not valid JSON"), "{broken}");
    // A key with only its public half.
    std::fs::remove_file(p.at("keys/ec-sig-001.key.pem")).unwrap();
    let public_only = p.fails(&["token", "--now", NOW], 1);
    insta::assert_snapshot!("token_refusals", format!("{not_object}{public_only}"));
}

#[test]
fn token_opens_an_age_encrypted_key_only_with_an_identity() {
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let p = Project::with_keyset(&format!("recipients = [\"{}\"]\n{ENC_FIRST}", identity.to_public()));
    p.ok(&["rotate", "--now", NOW]);
    assert!(p.at("keys/ec-sig-001.key.age").is_file() && !p.at("keys/ec-sig-001.key.pem").exists());
    p.ok(&["build", "--now", NOW]);
    let out = run(&p, &["token", "--now", NOW], &[], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("keys/ec-sig-001.key.age: key `ec-sig-001` of set . cannot sign: its private key is age-encrypted and no age identity was given"),
        "{stderr}"
    );
    assert!(stderr.contains("JWKSMITH_AGE_IDENTITY") && stderr.contains("JWKSMITH_AGE_IDENTITY_FILE"), "{stderr}");
    // With the identity (here in a file, as age-keygen writes one), the key signs.
    p.write("identity.txt", format!("{}\n", identity.to_string().expose_secret()).as_bytes());
    let file = p.at("identity.txt");
    let out = run(&p, &["token", "--now", NOW], &[("JWKSMITH_AGE_IDENTITY_FILE", file.to_str().unwrap())], b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let t = String::from_utf8(out.stdout).unwrap();
    assert!(!t.contains("AGE-SECRET-KEY"), "the identity is never printed");
    let (code, doc) = verify_json(&p, t.trim(), &["--now", NOW]);
    assert_eq!((code, doc["valid"].clone(), doc["kid"].clone()), (0, json!(true), json!("ec-sig-001")), "{doc}");
}

#[test]
fn verify_json_has_the_documented_shape_and_check_order() {
    let p = project();
    let t = token(&p, &["--now", NOW, "--aud", "app"]);
    let (code, doc) = verify_json(&p, &t, &["--now", NOW, "--iss", "https://issuer.example/t", "--aud", "app"]);
    assert_eq!(code, 0, "{doc}");
    let members: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = members.clone();
    sorted.sort();
    assert_eq!(sorted, ["checks", "claims", "header", "kid", "set", "state", "valid"]);
    assert_eq!(
        (&doc["valid"], &doc["kid"], &doc["set"], &doc["state"]),
        (&json!(true), &json!("ec-sig-001"), &json!("."), &json!("current"))
    );
    let names: Vec<&str> = doc["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["kid", "alg", "signature", "exp", "nbf", "iss", "aud"]);
    for c in doc["checks"].as_array().unwrap() {
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!((keys.len(), c["ok"].clone()), (3, json!(true)), "{c}");
        assert!(c["detail"].is_string());
    }
    assert_eq!(doc["header"], json!({"alg": "ES256", "kid": "ec-sig-001", "typ": "JWT"}));
    assert_eq!(
        doc["claims"],
        json!({"iss": "https://issuer.example/t", "aud": "app", "iat": NOW_SECS, "exp": NOW_SECS + 3600})
    );
    // Without --iss and --aud there are no such checks.
    let (_, doc) = verify_json(&p, &t, &["--now", NOW]);
    assert_eq!(doc["checks"].as_array().unwrap().len(), 5);
}

#[test]
fn verify_reads_the_token_from_stdin() {
    let p = project();
    let t = token(&p, &["--now", NOW]);
    let out = run(&p, &["verify", "--json", "--now", NOW], &[], format!("{t}\n").as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], true);
}

#[test]
fn verify_fails_an_unknown_kid_with_no_set_and_no_state() {
    let p = project();
    let other = Project::with_keyset(&ENC_FIRST.replace("ec-sig", "other-sig"));
    other.ok(&["rotate", "--now", NOW]);
    let t = token(&other, &["--now", NOW]);
    let (code, doc) = verify_json(&p, &t, &["--now", NOW]);
    assert_eq!((code, &doc["valid"], &doc["set"], &doc["state"]), (1, &json!(false), &Value::Null, &Value::Null));
    assert_eq!(failed(&doc), ["kid", "alg", "signature"]);
    assert!(verdict(&doc, "kid").1.contains("no key `other-sig-001`"), "{doc}");
    let stderr = p.fails(&["verify", &t, "--now", NOW], 1);
    assert!(stderr.contains("the token is not valid: checks kid, alg, signature failed"), "{stderr}");
}

#[test]
fn verify_fails_a_bad_signature() {
    let p = project();
    let t = token(&p, &["--now", NOW]);
    let (head, sig) = t.rsplit_once('.').unwrap();
    let at = sig.len() / 2;
    let flipped = if &sig[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{head}.{}{flipped}{}", &sig[..at], &sig[at + 1..]);
    let (code, doc) = verify_json(&p, &forged, &["--now", NOW]);
    assert_eq!((code, failed(&doc)), (1, vec!["signature".to_string()]), "{doc}");
    // A changed claim with the original signature.
    let (h, _) = parts(&t);
    let claims = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://issuer.example/t","sub":"mallory"}"#);
    let tampered = format!("{}.{claims}.{sig}", URL_SAFE_NO_PAD.encode(h));
    let (_, doc) = verify_json(&p, &tampered, &["--now", NOW]);
    assert_eq!(failed(&doc), ["signature"]);
}

#[test]
fn exp_and_nbf_have_exactly_sixty_seconds_of_leeway() {
    let p = project();
    let t = token(&p, &["--now", NOW, "--claim", &format!("nbf={}", NOW_SECS + 120)]);
    // nbf: 61 s ahead fails, 60 s ahead passes.
    let (code, doc) = verify_json(&p, &t, &["--now", &at(59)]);
    assert_eq!((code, failed(&doc)), (1, vec!["nbf".to_string()]), "{doc}");
    assert!(verdict(&doc, "nbf").1.contains("not valid before 2026-01-01T00:02:00Z"), "{doc}");
    let (code, doc) = verify_json(&p, &t, &["--now", &at(60)]);
    assert_eq!(code, 0, "{doc}");
    // exp (1 h): 59 s past passes, 60 s past fails.
    let (code, doc) = verify_json(&p, &t, &["--now", &at(3600 + 59)]);
    assert_eq!(code, 0, "{doc}");
    let (code, doc) = verify_json(&p, &t, &["--now", &at(3600 + 60)]);
    assert_eq!((code, failed(&doc)), (1, vec!["exp".to_string()]), "{doc}");
    assert!(verdict(&doc, "exp").1.contains("expired at 2026-01-01T01:00:00Z"), "{doc}");
    // Absent exp and nbf pass.
    let bare = py_token(
        &p,
        &p.at("out/private/ec-sig.pem").display().to_string(),
        "ES256",
        "ec-sig-001",
        &json!({"sub": "x"}),
    );
    let (code, doc) = verify_json(&p, &bare, &["--now", NOW]);
    assert_eq!((code, verdict(&doc, "exp").0, verdict(&doc, "nbf").0), (0, true, true), "{doc}");
}

#[test]
fn verify_checks_iss_and_aud_when_given() {
    let p = project();
    let t = token(&p, &["--now", NOW, "--aud", "a", "--aud", "b"]);
    let (code, doc) = verify_json(&p, &t, &["--now", NOW, "--iss", "https://evil.example", "--aud", "c"]);
    assert_eq!((code, failed(&doc)), (1, vec!["iss".to_string(), "aud".to_string()]), "{doc}");
    assert!(verdict(&doc, "iss").1.contains("expected `https://evil.example`"));
    let (code, doc) = verify_json(&p, &t, &["--now", NOW, "--iss", "https://issuer.example/t", "--aud", "b"]);
    assert_eq!(code, 0, "{doc}");
}

#[test]
fn verify_fails_an_alg_that_is_not_the_keys() {
    let p = Project::with_keyset(&format!("{ENC_FIRST}\n{}", crate::common::RSA_SIG_SPEC));
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let pem = p.at("out/private/rsa-sig.pem").display().to_string();
    let t = py_token(&p, &pem, "RS384", "rsa-sig-001", &json!({"sub": "x"}));
    let (code, doc) = verify_json(&p, &t, &["--now", NOW]);
    assert_eq!((code, failed(&doc)), (1, vec!["alg".to_string()]), "{doc}");
    assert_eq!(verdict(&doc, "alg").1, "the header's alg is RS384, but the key's alg is RS256");
    // The same key with its own alg passes (python signs as jwksmith does).
    let t = py_token(&p, &pem, "RS256", "rsa-sig-001", &json!({"sub": "x"}));
    assert_eq!(verify_json(&p, &t, &["--now", NOW]).0, 0);
    assert_eq!(verify_json(&p, &token(&p, &["--now", NOW, "--spec", "rsa-sig"]), &["--now", NOW]).0, 0);
}

#[test]
fn verify_says_a_token_signed_by_an_encryption_key_is_one() {
    let p = project();
    let pem = p.at("out/private/ec-enc.pem").display().to_string();
    let t = py_token(&p, &pem, "ES256", "ec-enc-001", &json!({"sub": "x"}));
    let (code, doc) = verify_json(&p, &t, &["--now", NOW]);
    assert_eq!((code, &doc["set"], &doc["state"]), (1, &json!("."), &json!("current")), "{doc}");
    assert_eq!(failed(&doc), ["kid", "alg"]);
    assert!(
        verdict(&doc, "kid").1.contains("`ec-enc-001` is an encryption key of set . (use enc, alg ECDH-ES)"),
        "{doc}"
    );
}

#[test]
fn verify_says_since_when_a_key_is_revoked_and_token_kid_signs_with_it() {
    let p = project();
    p.ok(&["revoke", "ec-sig-001", "--now", &at(3600)]);
    p.ok(&["build", "--now", &at(7200)]);
    // The default key is the new current one; --kid still picks the revoked one.
    assert!(parts(&token(&p, &["--now", &at(7200)])).0.contains("\"kid\":\"ec-sig-002\""));
    let t = token(&p, &["--now", &at(7200), "--kid", "ec-sig-001"]);
    assert!(parts(&t).0.contains("\"kid\":\"ec-sig-001\""));
    let (code, doc) = verify_json(&p, &t, &["--now", &at(7200)]);
    assert_eq!((code, &doc["set"], &doc["state"]), (1, &json!("."), &json!("revoked")), "{doc}");
    assert_eq!(
        verdict(&doc, "kid"),
        (false, "key `ec-sig-001` of set . is revoked since 2026-01-01T01:00:00Z".to_string())
    );
}

#[test]
fn verify_says_since_when_a_key_is_expired() {
    let p = project();
    let t = token(&p, &["--now", NOW, "--ttl", "2d"]);
    let meta_path = "keys/ec-sig-001.meta.json";
    let mut meta = p.json(meta_path);
    meta["retires"] = json!(at(3600));
    meta["expires"] = json!(at(7200));
    p.write(meta_path, meta.to_string().as_bytes());
    p.ok(&["build", "--now", &at(10800)]);
    let (code, doc) = verify_json(&p, &t, &["--now", &at(10800)]);
    assert_eq!((code, &doc["state"]), (1, &json!("expired")), "{doc}");
    assert_eq!(
        verdict(&doc, "kid"),
        (false, "key `ec-sig-001` of set . is expired since 2026-01-01T02:00:00Z".to_string())
    );
    let text = String::from_utf8(p.run(&["verify", &t, "--now", &at(10800)]).stdout).unwrap();
    insta::assert_snapshot!("verify_expired_key", text);
}

#[test]
fn verify_against_a_jwks_file_and_without_a_build() {
    let p = project();
    let t = token(&p, &["--now", NOW]);
    std::fs::copy(p.at("out/public/jwks.json"), p.at("published.json")).unwrap();
    std::fs::copy(p.at("out/private/jwks.json"), p.at("private.json")).unwrap();
    std::fs::remove_dir_all(p.at("out")).unwrap();
    let stderr = p.fails(&["verify", &t, "--now", NOW], 1);
    assert!(stderr.contains("run `jwksmith build` first, or give the JWK Set with --jwks"), "{stderr}");
    // The private set verifies too, with a warning; nothing private is printed (the harness scans).
    let out = p.ok(&["verify", &t, "--now", NOW, "--jwks", "private.json"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("private.json: this JWK Set holds private key members"));
    let (code, doc) = verify_json(&p, &t, &["--now", NOW, "--jwks", "published.json"]);
    assert_eq!((code, &doc["set"], &doc["state"]), (0, &json!("."), &json!("current")), "{doc}");
    assert!(verdict(&doc, "kid").1.contains("published.json"), "{doc}");
    // A file that is not a JWK Set names itself.
    p.write("nokeys.json", b"{}");
    let stderr = p.fails(&["verify", &t, "--now", NOW, "--jwks", "nokeys.json"], 1);
    assert!(stderr.contains("nokeys.json: is not a JWK Set"), "{stderr}");
}

/// A python `http.server` serving `dir` on a free loopback port; killed on drop.
struct Static(Child, u16);

impl Static {
    fn start(dir: &Path) -> Static {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(20), "http.server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Static(child, port)
    }
}

impl Drop for Static {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn verify_against_a_jwks_url() {
    let p = project();
    let t = token(&p, &["--now", NOW]);
    let server = Static::start(&p.at("out/public"));
    let url = format!("http://127.0.0.1:{}/jwks.json", server.1);
    let (code, doc) = verify_json(&p, &t, &["--now", NOW, "--jwks", &url]);
    assert_eq!((code, &doc["set"]), (0, &json!(".")), "{doc}");
    assert!(verdict(&doc, "kid").1.contains(&url), "{doc}");
    let missing = format!("http://127.0.0.1:{}/nope.json", server.1);
    let stderr = p.fails(&["verify", &t, "--now", NOW, "--jwks", &missing], 1);
    assert!(stderr.contains(&format!("--jwks {missing}: the server answered status 404")), "{stderr}");
}

#[test]
fn verify_refuses_a_malformed_token() {
    let p = project();
    let messages: Vec<String> = ["not-a-token", "a.b", "e30.e30.%%%", "bm9wZQ.e30.c2ln", "e30.WzFd.c2ln"]
        .iter()
        .map(|t| p.fails(&["verify", t, "--now", NOW], 1))
        .collect();
    insta::assert_snapshot!("verify_malformed", messages.join(""));
}

#[test]
fn verify_finds_the_set_whose_key_signed_when_tenants_repeat_a_kid() {
    let p = project();
    p.write(
        "keys/tenants/acme/keyset.toml",
        ENC_FIRST.replace("https://issuer.example/t", "https://acme.example").as_bytes(),
    );
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    // Both sets have an `ec-sig-001`; the tenant's token is checked against the tenant's key.
    let t = token(&p, &["--now", NOW, "--set", "tenants/acme"]);
    assert!(parts(&t).1.contains(r#""iss":"https://acme.example""#), "the set's own issuer");
    let out = p.run(&["verify", "--json", &t, "--now", NOW]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), &doc["set"], &doc["state"]),
        (Some(0), &json!("tenants/acme"), &json!("current")),
        "{doc}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("notice: kid `ec-sig-001` is also published by set .; checking against set tenants/acme"),
        "{stderr}"
    );
    assert!(verdict(&doc, "kid").1.contains("out/public/tenants/acme/jwks.json"), "{doc}");
    // --set . checks against the root set only: its ec-sig-001 did not sign.
    let (code, doc) = verify_json(&p, &t, &["--now", NOW, "--set", "."]);
    assert_eq!((code, &doc["set"], failed(&doc)), (1, &json!("."), vec!["signature".to_string()]), "{doc}");
}

#[test]
fn a_set_of_a_hand_dropped_key_signs_with_it() {
    let p = Project::new();
    std::fs::create_dir_all(p.at("keys")).unwrap();
    tool(
        "openssl",
        &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "keys/legacy.pem"],
        p.path(),
    );
    p.ok(&["build", "--now", NOW]);
    let t = token(&p, &["--now", NOW, "--sub", "dev"]);
    assert_eq!(parts(&t).0, r#"{"alg":"ES256","kid":"legacy","typ":"JWT"}"#);
    let (code, doc) = verify_json(&p, &t, &["--now", NOW]);
    assert_eq!((code, &doc["state"]), (0, &json!("current")), "{doc}");
}
