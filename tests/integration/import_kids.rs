//! How `import` names and types a key (SPEC §4 `import`): a JWK's own `kid` wins whatever the
//! set's strategy; without one the strategy names the key (under `sequence`, the file name without
//! its key suffix, so `sa.key` and `sa.pub` are both `sa`); a JWK's own `use`/`alg` are kept;
//! members jwksmith does not publish are named in a warning; a public key the set already has is
//! refused under any kid; a private key that fits a spec with no key becomes its current key.
//! Keys are made by openssl, JWKs by python `cryptography`.

use serde_json::{Value, json};

use crate::common::{NOW, Project, kids, tool};

/// python: reads the PEM at argv[1], writes its JWK (private members included when it is
/// private) merged with the JSON object argv[3] to argv[2]; prints thumbprint and spki-sha256.
const PY_JWK: &str = r#"
import base64, hashlib, json, sys
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import rsa
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def num(i): return b64(i.to_bytes((i.bit_length() + 7) // 8, "big"))
data = open(sys.argv[1], "rb").read()
priv = s.load_pem_private_key(data, None) if b"PRIVATE" in data else None
pub = priv.public_key() if priv else s.load_pem_public_key(data)
if isinstance(pub, rsa.RSAPublicKey):
    n = pub.public_numbers()
    jwk = {"kty": "RSA", "n": num(n.n), "e": num(n.e)}
    canon = {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}
    if priv:
        v = priv.private_numbers()
        jwk.update(d=num(v.d), p=num(v.p), q=num(v.q), dp=num(v.dmp1), dq=num(v.dmq1), qi=num(v.iqmp))
else:
    n = pub.public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64(n.x.to_bytes(32, "big")), "y": b64(n.y.to_bytes(32, "big"))}
    canon = {"crv": "P-256", "kty": "EC", "x": jwk["x"], "y": jwk["y"]}
    if priv:
        jwk["d"] = b64(priv.private_numbers().private_value.to_bytes(32, "big"))
jwk.update(json.loads(sys.argv[3]))
open(sys.argv[2], "w").write(json.dumps(jwk))
spki = pub.public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)
tp = b64(hashlib.sha256(json.dumps(canon, separators=(",", ":")).encode()).digest())
print(json.dumps({"thumbprint": tp, "spki_sha256": b64(hashlib.sha256(spki).digest())}))
"#;

/// `openssl genrsa -out ext/<name> 2048` (PKCS#1 or PKCS#8, as openssl writes it).
fn genrsa(p: &Project, name: &str) -> String {
    std::fs::create_dir_all(p.at("ext")).unwrap();
    let rel = format!("ext/{name}");
    tool("openssl", &["genrsa", "-out", &rel, "2048"], p.path());
    rel
}

/// The EC P-256 key of `ext/<name>`, made by openssl.
fn genec(p: &Project, name: &str) -> String {
    std::fs::create_dir_all(p.at("ext")).unwrap();
    let rel = format!("ext/{name}");
    tool("openssl", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", &rel], p.path());
    rel
}

/// The public half of `private`, as `ext/<name>` (SPKI, by openssl).
fn pubout(p: &Project, private: &str, name: &str) -> String {
    let rel = format!("ext/{name}");
    tool("openssl", &["pkey", "-in", private, "-pubout", "-out", &rel], p.path());
    rel
}

/// The JWK of the PEM `pem` with `extra` members, written by python as `ext/<name>`; returns the
/// file and python's thumbprint and spki-sha256 of the key.
fn jwk(p: &Project, pem: &str, name: &str, extra: Value) -> (String, Value) {
    let rel = format!("ext/{name}");
    let out = tool("python3", &["-c", PY_JWK, pem, &rel, &extra.to_string()], p.path());
    (rel, serde_json::from_slice(&out).unwrap())
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn a_jwks_own_kid_wins_whatever_the_strategy() {
    for strategy in ["sequence", "thumbprint", "spki-sha256"] {
        let p = Project::with_keyset(&format!("kid = \"{strategy}\"\n"));
        let pem = genrsa(&p, "partner.pem");
        let (file, _) = jwk(&p, &pem, "partner.jwk.json", json!({"kid": "partner-2024"}));
        p.ok(&["import", &file, "--now", NOW]);
        assert_eq!(p.json("keys/partner-2024.meta.json")["kid"], "partner-2024", "{strategy}");
        p.ok(&["build", "--now", NOW]);
        assert_eq!(kids(&p.json("out/public/jwks.json")), ["partner-2024"], "{strategy}");
    }
}

#[test]
fn without_a_kid_the_strategy_names_the_key() {
    for (strategy, named) in [("thumbprint", "thumbprint"), ("spki-sha256", "spki_sha256")] {
        let p = Project::with_keyset(&format!("kid = \"{strategy}\"\n"));
        let pem = genec(&p, "ec.pem");
        let (file, want) = jwk(&p, &pem, "ec.jwk.json", json!({}));
        p.ok(&["import", &file, "--now", NOW]);
        p.ok(&["build", "--now", NOW]);
        assert_eq!(kids(&p.json("out/public/jwks.json")), [want[named].as_str().unwrap()], "{strategy}");
    }
}

#[test]
fn under_sequence_sa_key_and_sa_pub_are_both_sa() {
    let names = [("sa.key", true), ("sa.pub", false), ("sa.key.pem", true), ("sa.pub.pem", false)];
    for (name, private) in names {
        let p = Project::with_keyset("");
        let key = genrsa(&p, "made.pem");
        let file = if private {
            std::fs::rename(p.at(&key), p.at(&format!("ext/{name}"))).unwrap();
            format!("ext/{name}")
        } else {
            pubout(&p, &key, name)
        };
        p.ok(&["import", &file, "--now", NOW]);
        assert!(p.at("keys/sa.meta.json").is_file(), "{name} is imported as kid sa");
        assert_eq!(p.at("keys/sa.key.pem").is_file(), private, "{name}");
    }
    let p = Project::with_keyset("");
    let pem = genec(&p, "made.pem");
    let (file, _) = jwk(&p, &pem, "partner.jwk.json", json!({}));
    p.ok(&["import", &file, "--now", NOW]);
    let (file, _) = jwk(&p, &genec(&p, "other.pem"), "other.json", json!({}));
    p.ok(&["import", &file, "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let mut published = kids(&p.json("out/public/jwks.json"));
    published.sort();
    assert_eq!(published, ["other", "partner"]);
}

#[test]
fn a_jwks_own_use_and_alg_are_kept() {
    let p = Project::with_keyset("");
    let rsa = genrsa(&p, "rsa.pem");
    let (enc, _) = jwk(&p, &rsa, "enc.jwk.json", json!({"kid": "enc", "use": "enc", "alg": "RSA-OAEP"}));
    p.ok(&["import", &enc, "--now", NOW]);
    let rsa2 = genrsa(&p, "rsa2.pem");
    let (ps, _) = jwk(&p, &rsa2, "ps.jwk.json", json!({"kid": "ps", "alg": "PS256"}));
    p.ok(&["import", &ps, "--now", NOW]);
    let (ecdh, _) = jwk(&p, &genec(&p, "ec.pem"), "ecdh.jwk.json", json!({"kid": "ecdh", "use": "enc"}));
    p.ok(&["import", &ecdh, "--now", NOW]);
    for (kid, key_use, alg) in [("enc", "enc", "RSA-OAEP"), ("ps", "sig", "PS256"), ("ecdh", "enc", "ECDH-ES")] {
        let meta = p.json(&format!("keys/{kid}.meta.json"));
        assert_eq!((meta["use"].as_str(), meta["alg"].as_str()), (Some(key_use), Some(alg)), "{kid}");
    }

    // A flag wins, and says what it replaced.
    let (flagged, _) = jwk(&p, &genrsa(&p, "rsa3.pem"), "flagged.jwk.json", json!({"kid": "flagged", "alg": "PS384"}));
    let out = p.ok(&["import", &flagged, "--alg", "RS256", "--now", NOW]);
    assert_eq!(p.json("keys/flagged.meta.json")["alg"], "RS256");
    insta::assert_snapshot!("import_flag_over_jwk_alg", stderr_of(&out));

    // A JWK alg jwksmith cannot publish is an error naming the file, with the way out.
    let (odd, _) = jwk(&p, &genrsa(&p, "rsa4.pem"), "odd.jwk.json", json!({"kid": "odd", "alg": "RSA1_5"}));
    let stderr = p.fails(&["import", &odd, "--now", NOW], 1);
    assert!(!p.at("keys/odd.meta.json").exists(), "nothing written");
    insta::assert_snapshot!("import_unsupported_jwk_alg", stderr);
    p.ok(&["import", &odd, "--alg", "RS256", "--now", NOW]);
}

#[test]
fn jwk_members_jwksmith_does_not_publish_are_named() {
    let p = Project::with_keyset("");
    let pem = genrsa(&p, "rsa.pem");
    let extra =
        json!({"kid": "partner", "x5t": "dGhpcyBpcyBub3QgYSB0aHVtYnByaW50", "key_ops": ["verify"], "ext": true});
    let (file, _) = jwk(&p, &pem, "partner.jwk.json", extra);
    let out = p.ok(&["import", &file, "--now", NOW]);
    insta::assert_snapshot!("import_unpublished_members", stderr_of(&out));
    p.ok(&["build", "--now", NOW]);
    let key = &p.json("out/public/jwks.json")["keys"][0];
    let mut names: Vec<&str> = key.as_object().unwrap().keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["alg", "e", "kid", "kty", "n", "use"]);

    // A JWK of only published members imports without a warning.
    let (plain, _) = jwk(&p, &genec(&p, "ec.pem"), "plain.jwk.json", json!({"kid": "plain", "use": "sig"}));
    let out = p.ok(&["import", &plain, "--now", NOW]);
    assert_eq!(stderr_of(&out), "", "no warning");
}

#[test]
fn a_public_key_the_set_has_is_refused_under_any_kid() {
    let p = Project::with_keyset("");
    let key = genrsa(&p, "sa.key");
    p.ok(&["import", &key, "--now", NOW]);
    let public = pubout(&p, &key, "sa-copy.pub");
    let (same_jwk, _) = jwk(&p, &key, "again.jwk.json", json!({"kid": "again"}));
    let before = p.snapshot("keys");
    let stderr = p.fails(&["import", &public, "--now", NOW], 1);
    insta::assert_snapshot!("import_same_public_key", stderr);
    p.fails(&["import", &public, "--kid", "another", "--now", NOW], 1);
    let stderr = p.fails(&["import", &same_jwk, "--now", NOW], 1);
    assert!(stderr.contains("as kid `sa`"), "{stderr}");
    assert_eq!(p.snapshot("keys"), before, "nothing written");

    // A public-only key counts too, and so does a hand-dropped one.
    let q = Project::with_keyset("kid = \"thumbprint\"\n");
    let key = genec(&q, "k.pem");
    let public = pubout(&q, &key, "k.pub");
    q.ok(&["import", &public, "--kid", "published", "--now", NOW]);
    let stderr = q.fails(&["import", &key, "--now", NOW], 1);
    assert!(stderr.contains("as kid `published`"), "{stderr}");
    let r = Project::with_keyset("");
    std::fs::create_dir_all(r.at("ext")).unwrap();
    std::fs::copy(q.at(&key), r.at("keys/dropped.pem")).unwrap();
    std::fs::copy(q.at(&key), r.at("ext/k.pem")).unwrap();
    let stderr = r.fails(&["import", "ext/k.pem", "--now", NOW], 1);
    assert!(stderr.contains("keys/dropped.pem") && stderr.contains("as kid `dropped`"), "{stderr}");
    // Adopting the hand-dropped file itself is no copy.
    r.ok(&["import", "keys/dropped.pem", "--now", NOW]);
    assert!(r.at("keys/dropped.meta.json").is_file());
}

#[test]
fn a_private_key_fills_the_first_spec_it_fits_that_has_no_key() {
    let p = Project::with_keyset("");
    let first = genrsa(&p, "first.pem");
    let out = p.ok(&["import", &first, "--now", NOW]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("as the current key of spec `rsa-sig`"));
    assert_eq!(p.json("keys/first.meta.json")["spec"], "rsa-sig");
    let second = genrsa(&p, "second.pem");
    p.ok(&["import", &second, "--now", NOW]);
    assert_eq!(p.json("keys/second.meta.json")["spec"], Value::Null, "rsa-sig has its key");
    let enc = genrsa(&p, "enc.pem");
    p.ok(&["import", &enc, "--use", "enc", "--now", NOW]);
    assert_eq!(p.json("keys/enc.meta.json")["spec"], "rsa-enc");
    let public = pubout(&p, &genec(&p, "ec.pem"), "ec.pub");
    p.ok(&["import", &public, "--now", NOW]);
    assert_eq!(p.json("keys/ec.meta.json")["spec"], Value::Null, "a public-only key joins no spec");

    p.ok(&["build", "--now", NOW]);
    let public_of = |pem: &str| tool("openssl", &["pkey", "-in", pem, "-pubout"], p.path());
    assert_eq!(public_of("out/private/rsa-sig.pem"), public_of(&first), "rsa-sig.pem is the import");

    // A set that import makes has the default specs.
    let tenant = genrsa(&p, "tenant.pem");
    p.ok(&["import", &tenant, "--set", "tenants/new", "--now", NOW]);
    assert_eq!(p.json("keys/tenants/new/tenant.meta.json")["spec"], "rsa-sig");
    p.ok(&["build", "--now", NOW]);
    assert_eq!(public_of("out/private/tenants/new/rsa-sig.pem"), public_of(&tenant));
}
