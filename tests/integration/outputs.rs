//! Output shapes (SPEC §5): jwks.json, jwt-keys.json, site files, API mirrors, private outputs,
//! pretty printing and kid strategies, checked against the contract's text.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Value, json};

use crate::common::{EC_SPECS, NOW, Project, RSA_SIG_SPEC, is_time, kids, tool};

const EC_MEMBERS: [&str; 7] = ["kty", "kid", "use", "alg", "crv", "x", "y"];
const RSA_MEMBERS: [&str; 6] = ["kty", "kid", "use", "alg", "n", "e"];
const JWT_KEY_MEMBERS: [&str; 8] =
    ["id", "projectId", "label", "algorithm", "publicKeyPem", "active", "createTime", "updateTime"];

/// The member names of a JSON object, in the order of the bytes.
struct Members(Vec<String>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut names = Vec::new();
                while let Some((name, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    names.push(name);
                }
                Ok(Members(names))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(serde::Deserialize)]
struct KeysOf {
    keys: Vec<Members>,
}

/// The member names of every key of a JWK Set file, in byte order; asserts the top level is
/// exactly `{"keys": [...]}`.
fn jwks_member_order(bytes: &[u8]) -> Vec<Vec<String>> {
    let top: Members = serde_json::from_slice(bytes).expect("jwks.json is a JSON object");
    assert_eq!(top.0, ["keys"], "jwks.json top level must be exactly {{\"keys\":[...]}}");
    let set: KeysOf = serde_json::from_slice(bytes).expect("keys is an array of objects");
    set.keys.into_iter().map(|m| m.0).collect()
}

/// Decodes base64url without padding, asserting the alphabet.
fn b64u(text: &str) -> Vec<u8> {
    assert!(
        text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "`{text}` is not base64url without padding"
    );
    URL_SAFE_NO_PAD.decode(text).unwrap_or_else(|e| panic!("`{text}` does not decode: {e}"))
}

/// UUIDv5 (URL namespace) of `name`, computed by python.
fn uuid5(p: &Project, name: &str) -> String {
    let out = tool(
        "python3",
        &["-c", "import sys, uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, sys.argv[1]))", name],
        p.path(),
    );
    String::from_utf8(out).unwrap().trim().to_string()
}

const KEY_FACTS_PY: &str = r#"
import sys, json, hashlib, base64
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ec
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()
def ib(i): return i.to_bytes((i.bit_length() + 7) // 8, 'big')
out = {}
for path in sys.argv[1:]:
    data = open(path, 'rb').read()
    try:
        k = s.load_pem_public_key(data)
    except ValueError:
        k = s.load_pem_private_key(data, None).public_key()
    if isinstance(k, ec.EllipticCurvePublicKey):
        n = k.public_numbers(); size = (k.curve.key_size + 7) // 8
        crv = {'secp256r1': 'P-256', 'secp384r1': 'P-384', 'secp521r1': 'P-521'}[k.curve.name]
        jwk = {'crv': crv, 'kty': 'EC', 'x': b64u(n.x.to_bytes(size, 'big')), 'y': b64u(n.y.to_bytes(size, 'big'))}
    else:
        n = k.public_numbers()
        jwk = {'e': b64u(ib(n.e)), 'kty': 'RSA', 'n': b64u(ib(n.n))}
    canonical = json.dumps(jwk, separators=(',', ':'), sort_keys=True).encode()
    der = k.public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)
    out[path] = {'jwk': jwk, 'thumbprint': b64u(hashlib.sha256(canonical).digest()),
                 'spki_sha256': b64u(hashlib.sha256(der).digest()),
                 'spki_b64': base64.b64encode(der).decode()}
print(json.dumps(out))
"#;

/// Facts about key files computed independently by python: the public JWK members, the RFC 7638
/// thumbprint, base64url(sha256(DER SPKI)) and the DER SPKI in standard base64.
fn key_facts(p: &Project, files: &[&str]) -> Value {
    let mut args = vec!["-c", KEY_FACTS_PY];
    args.extend_from_slice(files);
    serde_json::from_slice(&tool("python3", &args, p.path())).expect("python output")
}

/// Makes a key with openssl: `<dir>/<kid>.pub.pem` (SPKI) and, with `private`,
/// `<dir>/<kid>.key.pem` (PKCS#8). Returns the SPKI PEM.
fn new_key(p: &Project, dir: &str, kid: &str, kty: &str, private: bool) -> String {
    let (private_pem, public_pem) = openssl_pair(p, kty);
    if private {
        p.write(&format!("{dir}/{kid}.key.pem"), private_pem.as_bytes());
    }
    p.write(&format!("{dir}/{kid}.pub.pem"), public_pem.as_bytes());
    public_pem
}

/// A fresh key pair from openssl: (PKCS#8 PEM, SPKI PEM).
fn openssl_pair(p: &Project, kty: &str) -> (String, String) {
    let algorithm: &[&str] = if kty == "RSA" {
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
    } else {
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    };
    let mut args = vec!["genpkey"];
    args.extend_from_slice(algorithm);
    let private = tool("openssl", &args, p.path());
    let scratch = tempfile::NamedTempFile::new().unwrap();
    fs::write(scratch.path(), &private).unwrap();
    let public = tool("openssl", &["pkey", "-in", scratch.path().to_str().unwrap(), "-pubout"], p.path());
    (String::from_utf8(private).unwrap(), String::from_utf8(public).unwrap())
}

/// A hand-written `<kid>.meta.json`.
#[derive(Default)]
struct Meta<'a> {
    kid: &'a str,
    id: &'a str,
    label: Option<&'a str>,
    spec: Option<&'a str>,
    key_use: &'a str,
    alg: &'a str,
    created: Option<&'a str>,
    activates: Option<&'a str>,
    retires: Option<&'a str>,
    expires: Option<&'a str>,
    revoked: Option<&'a str>,
}

impl Meta<'_> {
    fn write(&self, p: &Project, dir: &str) {
        let value = json!({
            "kid": self.kid,
            "id": self.id,
            "label": self.label.unwrap_or(self.kid),
            "spec": self.spec,
            "use": self.key_use,
            "alg": self.alg,
            "created": self.created,
            "activates": self.activates,
            "retires": self.retires,
            "expires": self.expires,
            "revoked": self.revoked,
        });
        p.write(&format!("{dir}/{}.meta.json", self.kid), &serde_json::to_vec(&value).unwrap());
    }
}

/// `t` plus `secs` seconds, as RFC 3339 UTC.
fn shift(t: &str, secs: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    let parsed = time::OffsetDateTime::parse(t, &Rfc3339).expect("RFC 3339 time");
    (parsed + time::Duration::seconds(secs)).format(&Rfc3339).unwrap()
}

/// The base64 body of a PEM text (header, footer and line ends removed).
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().concat()
}

#[test]
fn jwks_members_are_exact_ordered_and_base64url() {
    let toml = format!(
        "{}\n{}\n{}",
        // ec-sig, then rsa-sig, then ec-enc: neither alphabetical nor grouped by key type.
        &EC_SPECS[..EC_SPECS.find("\n[[key]]\nspec = \"ec-enc\"").unwrap()],
        RSA_SIG_SPEC,
        &EC_SPECS[EC_SPECS.find("[[key]]\nspec = \"ec-enc\"").unwrap()..]
    );
    let p = Project::with_keyset(&toml);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);

    let bytes = p.read("out/public/jwks.json");
    let jwks = p.json("out/public/jwks.json");
    assert_eq!(kids(&jwks), ["ec-sig-001", "rsa-sig-001", "ec-enc-001"]);
    let orders = jwks_member_order(&bytes);
    let facts = key_facts(&p, &["keys/ec-sig-001.pub.pem", "keys/rsa-sig-001.pub.pem", "keys/ec-enc-001.pub.pem"]);
    for (i, key) in jwks["keys"].as_array().unwrap().iter().enumerate() {
        let kid = key["kid"].as_str().unwrap();
        let fact = &facts[format!("keys/{kid}.pub.pem")]["jwk"];
        match key["kty"].as_str().unwrap() {
            "EC" => {
                assert_eq!(orders[i], EC_MEMBERS, "{kid}: members and their order");
                assert_eq!(key["crv"], "P-256");
                assert_eq!(b64u(key["x"].as_str().unwrap()).len(), 32, "{kid}: x fixed-length");
                assert_eq!(b64u(key["y"].as_str().unwrap()).len(), 32, "{kid}: y fixed-length");
                assert_eq!(key["x"], fact["x"], "{kid}: x matches the key file");
                assert_eq!(key["y"], fact["y"], "{kid}: y matches the key file");
            }
            "RSA" => {
                assert_eq!(orders[i], RSA_MEMBERS, "{kid}: members and their order");
                let n = b64u(key["n"].as_str().unwrap());
                assert_eq!(n.len(), 256, "{kid}: 2048-bit modulus, minimal length");
                assert_ne!(n[0], 0, "{kid}: n has a leading zero byte");
                assert_eq!(key["e"], "AQAB");
                assert_eq!(key["n"], fact["n"], "{kid}: n matches the key file");
            }
            other => panic!("unexpected kty {other}"),
        }
    }
    let expect = [("ec-sig-001", "sig", "ES256"), ("rsa-sig-001", "sig", "RS256"), ("ec-enc-001", "enc", "ECDH-ES")];
    for (key, (kid, key_use, alg)) in jwks["keys"].as_array().unwrap().iter().zip(expect) {
        assert_eq!(key["kid"], kid);
        assert_eq!(key["use"], key_use, "{kid}");
        assert_eq!(key["alg"], alg, "{kid}");
    }

    // The private JWK Set: the same keys with their private members.
    let private = p.json("out/private/jwks.json");
    assert_eq!(kids(&private), kids(&jwks));
    for (pk, key) in private["keys"].as_array().unwrap().iter().zip(jwks["keys"].as_array().unwrap()) {
        let kid = key["kid"].as_str().unwrap();
        let public: BTreeSet<&str> = key.as_object().unwrap().keys().map(String::as_str).collect();
        let all: BTreeSet<&str> = pk.as_object().unwrap().keys().map(String::as_str).collect();
        let extra: BTreeSet<&str> = all.difference(&public).copied().collect();
        let want: BTreeSet<&str> =
            if key["kty"] == "RSA" { ["d", "p", "q", "dp", "dq", "qi"].into() } else { ["d"].into() };
        assert_eq!(extra, want, "{kid}: private members");
        for m in &public {
            assert_eq!(pk[*m], key[*m], "{kid}: public member {m} differs in out/private");
        }
        if key["kty"] == "EC" {
            assert_eq!(b64u(pk["d"].as_str().unwrap()).len(), 32, "{kid}: fixed-length d");
        }
    }
}

#[test]
fn jwks_order_is_current_next_previous_without_expired_or_revoked() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["rotate", "--now", NOW]);
    let m1 = p.json("keys/ec-sig-001.meta.json");
    let m2 = p.json("keys/ec-sig-002.meta.json");
    let activates2 = m2["activates"].as_str().expect("next key has an activation time").to_string();
    assert_eq!(m1["retires"].as_str(), Some(activates2.as_str()), "current retires when next activates");
    let expires1 = m1["expires"].as_str().expect("retired key expires").to_string();

    // Before the switch: current keys in spec order, then the next keys.
    p.ok(&["build", "--now", NOW]);
    let jwks = p.json("out/public/jwks.json");
    let set = |s: &[String]| s.iter().cloned().collect::<BTreeSet<_>>();
    let want = |a: &str, b: &str| [a.to_string(), b.to_string()].into_iter().collect::<BTreeSet<_>>();
    let k = kids(&jwks);
    assert_eq!(k.len(), 4, "{k:?}");
    assert_eq!(k[..2], ["ec-sig-001", "ec-enc-001"], "current first, spec order: {k:?}");
    assert_eq!(set(&k[2..]), want("ec-sig-002", "ec-enc-002"), "then next: {k:?}");

    // After the switch, with a third key scheduled: current, next, previous.
    let t1 = shift(&activates2, 1);
    assert!(t1 < expires1, "verify_for leaves a window where the old key is previous");
    p.ok(&["rotate", "--now", &t1]);
    p.ok(&["build", "--now", &t1]);
    let k = kids(&p.json("out/public/jwks.json"));
    assert_eq!(k.len(), 6, "{k:?}");
    assert_eq!(k[..2], ["ec-sig-002", "ec-enc-002"], "current first, spec order: {k:?}");
    assert_eq!(set(&k[2..4]), want("ec-sig-003", "ec-enc-003"), "next second: {k:?}");
    assert_eq!(set(&k[4..]), want("ec-sig-001", "ec-enc-001"), "previous last: {k:?}");

    // Expired keys leave jwks.json.
    p.ok(&["build", "--now", &expires1]);
    let k = kids(&p.json("out/public/jwks.json"));
    assert!(!k.iter().any(|kid| kid.ends_with("-001")), "expired keys still published: {k:?}");
    assert_eq!(k.len(), 4, "{k:?}");

    // A revoked key leaves at once.
    let mut meta = p.json("keys/ec-enc-003.meta.json");
    meta["revoked"] = json!(expires1);
    p.write("keys/ec-enc-003.meta.json", &serde_json::to_vec(&meta).unwrap());
    p.ok(&["build", "--now", &expires1]);
    let k = kids(&p.json("out/public/jwks.json"));
    assert_eq!(k, ["ec-sig-002", "ec-enc-002", "ec-sig-003"]);
    // The human page still lists every key, expired and revoked ones included.
    let index = String::from_utf8(p.read("out/public/index.html")).unwrap();
    for kid in ["ec-sig-001", "ec-enc-001", "ec-enc-003"] {
        assert!(index.contains(kid), "index.html does not mention {kid}");
    }
}

#[test]
fn jwt_keys_lists_rsa_signing_keys_newest_first() {
    let p = Project::with_keyset(RSA_SIG_SPEC);
    let now = "2026-06-01T00:00:00Z";
    let dir = "keys";
    let pems: BTreeMap<&str, String> = ["rsa-sig-001", "rsa-sig-002", "rsa-sig-003", "rsa-old", "rsa-enc-x"]
        .into_iter()
        .map(|kid| (kid, new_key(&p, dir, kid, "RSA", false)))
        .collect();
    new_key(&p, dir, "ec-sig-x", "EC", false);
    let ids = [
        ("rsa-sig-001", "00000000-0000-4000-8000-000000000001"),
        ("rsa-sig-002", "00000000-0000-4000-8000-000000000002"),
        ("rsa-sig-003", "00000000-0000-4000-8000-000000000003"),
        ("rsa-old", "00000000-0000-4000-8000-000000000004"),
    ];
    let id_of = |kid: &str| ids.iter().find(|(k, _)| *k == kid).unwrap().1;
    // Expired.
    Meta {
        kid: "rsa-sig-001",
        id: id_of("rsa-sig-001"),
        spec: Some("rsa-sig"),
        key_use: "sig",
        alg: "RS256",
        created: Some("2026-01-01T00:00:00Z"),
        activates: Some("2026-01-01T00:00:00Z"),
        retires: Some("2026-03-01T00:00:00Z"),
        expires: Some("2026-03-15T00:00:00Z"),
        ..Default::default()
    }
    .write(&p, dir);
    // Current; created written with an offset (reading accepts any RFC 3339 time).
    Meta {
        kid: "rsa-sig-002",
        id: id_of("rsa-sig-002"),
        label: Some("Signing key B"),
        spec: Some("rsa-sig"),
        key_use: "sig",
        alg: "RS256",
        created: Some("2026-02-15T01:00:00+01:00"),
        activates: Some("2026-03-01T00:00:00Z"),
        ..Default::default()
    }
    .write(&p, dir);
    // Next.
    Meta {
        kid: "rsa-sig-003",
        id: id_of("rsa-sig-003"),
        spec: Some("rsa-sig"),
        key_use: "sig",
        alg: "RS256",
        created: Some("2026-05-20T00:00:00Z"),
        activates: Some("2026-07-01T00:00:00Z"),
        ..Default::default()
    }
    .write(&p, dir);
    // Revoked.
    Meta {
        kid: "rsa-old",
        id: id_of("rsa-old"),
        key_use: "sig",
        alg: "PS256",
        created: Some("2026-01-10T00:00:00Z"),
        activates: Some("2026-01-10T00:00:00Z"),
        revoked: Some("2026-04-01T00:00:00Z"),
        ..Default::default()
    }
    .write(&p, dir);
    // Not signing keys of RSA: never listed.
    Meta {
        kid: "rsa-enc-x",
        id: "00000000-0000-4000-8000-000000000005",
        key_use: "enc",
        alg: "RSA-OAEP-256",
        created: Some("2026-04-01T00:00:00Z"),
        activates: Some("2026-04-01T00:00:00Z"),
        ..Default::default()
    }
    .write(&p, dir);
    Meta {
        kid: "ec-sig-x",
        id: "00000000-0000-4000-8000-000000000006",
        key_use: "sig",
        alg: "ES256",
        created: Some("2026-04-01T00:00:00Z"),
        activates: Some("2026-04-01T00:00:00Z"),
        ..Default::default()
    }
    .write(&p, dir);

    p.ok(&["build", "--now", now]);
    let bytes = p.read("out/public/jwt-keys.json");
    let orders: Vec<Members> = serde_json::from_slice(&bytes).expect("jwt-keys.json is an array of objects");
    for m in &orders {
        assert_eq!(m.0, JWT_KEY_MEMBERS, "members of a jwt-keys.json entry and their order");
    }
    let entries = p.json("out/public/jwt-keys.json");
    let entries = entries.as_array().unwrap();
    let listed: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        listed,
        ["rsa-sig-003", "rsa-sig-002", "rsa-old", "rsa-sig-001"].map(id_of),
        "RSA signing keys only, newest createTime first"
    );
    let project_id = uuid5(&p, "jwksmith:project:");
    let published = kids(&p.json("out/public/jwks.json"));
    let expect = [
        ("rsa-sig-003", "rsa-sig-003", "2026-05-20T00:00:00Z", "2026-05-20T00:00:00Z"),
        ("rsa-sig-002", "Signing key B", "2026-02-15T00:00:00Z", "2026-03-01T00:00:00Z"),
        ("rsa-old", "rsa-old", "2026-01-10T00:00:00Z", "2026-04-01T00:00:00Z"),
        ("rsa-sig-001", "rsa-sig-001", "2026-01-01T00:00:00Z", "2026-03-15T00:00:00Z"),
    ];
    for (entry, (kid, label, created, updated)) in entries.iter().zip(expect) {
        assert_eq!(entry["projectId"], project_id.as_str(), "{kid}");
        assert_eq!(entry["label"], label, "{kid}");
        assert_eq!(entry["algorithm"], "RSA", "{kid}");
        assert_eq!(entry["createTime"], created, "{kid}: createTime");
        assert_eq!(entry["updateTime"], updated, "{kid}: updateTime (latest state change <= now)");
        for t in ["createTime", "updateTime"] {
            assert!(is_time(entry[t].as_str().unwrap()), "{kid}: {t} format");
        }
        let active = entry["active"].as_bool().expect("active is a boolean");
        assert_eq!(
            active,
            published.iter().any(|k| k == kid),
            "{kid}: active must equal membership in jwks.json {published:?}"
        );
        let pem = entry["publicKeyPem"].as_str().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{kid}: SPKI PEM: {pem}");
        assert!(pem.trim_end_matches('\n').ends_with("\n-----END PUBLIC KEY-----"), "{kid}: {pem}");
        assert!(!pem.contains('\r'), "{kid}: PEM must use \\n line ends");
        assert!(pem.lines().all(|l| l.len() <= 64), "{kid}: PEM lines longer than 64");
        assert_eq!(pem_body(pem), pem_body(&pems[kid]), "{kid}: publicKeyPem is the key");
    }
    let active_flags: Vec<bool> = entries.iter().map(|e| e["active"].as_bool().unwrap()).collect();
    assert_eq!(active_flags, [true, true, false, false]);
    assert!(published.contains(&"rsa-enc-x".to_string()) && published.contains(&"ec-sig-x".to_string()));

    let active: Vec<Value> = entries.iter().filter(|e| e["active"] == true).cloned().collect();
    assert_eq!(p.json("out/public/jwt-keys.active.json"), Value::Array(active));
}

#[test]
fn jwt_keys_is_an_empty_array_without_rsa_signing_keys() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    assert_eq!(kids(&p.json("out/public/jwks.json")).len(), 2);
    assert_eq!(p.json("out/public/jwt-keys.json"), json!([]));
    assert_eq!(p.json("out/public/jwt-keys.active.json"), json!([]));
}

#[test]
fn hand_dropped_keys_and_project_ids() {
    let p = Project::with_keyset(EC_SPECS);
    // A nested set with only a hand-dropped public RSA key (no keyset.toml: a set by its key file).
    let (_, legacy) = openssl_pair(&p, "RSA");
    p.write("keys/tenants/acme/legacy.pem", legacy.as_bytes());
    // A set with its own project_id and a hand-dropped SEC1 EC private key.
    p.write("keys/tenants/beta/keyset.toml", format!("project_id = \"beta-project\"\n{EC_SPECS}").as_bytes());
    let (pkcs8, _) = openssl_pair(&p, "EC");
    let scratch = tempfile::NamedTempFile::new().unwrap();
    fs::write(scratch.path(), &pkcs8).unwrap();
    let sec1 = tool("openssl", &["ec", "-in", scratch.path().to_str().unwrap()], p.path());
    assert!(String::from_utf8_lossy(&sec1).contains("BEGIN EC PRIVATE KEY"));
    p.write("keys/tenants/beta/ec-legacy.pem", &sec1);
    // A hand-dropped PKCS#1 `RSA PUBLIC KEY`: jwt-keys.json still gives its SPKI PEM.
    let (_, beta_rsa) = openssl_pair(&p, "RSA");
    fs::write(scratch.path(), &beta_rsa).unwrap();
    let pkcs1 =
        tool("openssl", &["rsa", "-pubin", "-in", scratch.path().to_str().unwrap(), "-RSAPublicKey_out"], p.path());
    assert!(String::from_utf8_lossy(&pkcs1).contains("BEGIN RSA PUBLIC KEY"));
    p.write("keys/tenants/beta/rsa-legacy.pem", &pkcs1);

    p.ok(&["build", "--now", NOW]);
    let facts = key_facts(
        &p,
        &["keys/tenants/acme/legacy.pem", "keys/tenants/beta/ec-legacy.pem", "keys/tenants/beta/rsa-legacy.pem"],
    );

    let acme = p.json("out/public/tenants/acme/jwks.json");
    assert_eq!(kids(&acme), ["legacy"]);
    assert_eq!(acme["keys"][0]["use"], "sig");
    assert_eq!(acme["keys"][0]["alg"], "RS256");
    let entries = p.json("out/public/tenants/acme/jwt-keys.json");
    assert_eq!(entries.as_array().unwrap().len(), 1);
    let e = &entries[0];
    let thumb = facts["keys/tenants/acme/legacy.pem"]["thumbprint"].as_str().unwrap();
    assert_eq!(e["id"], uuid5(&p, &format!("jwksmith:key:{thumb}")).as_str());
    assert_eq!(e["projectId"], uuid5(&p, "jwksmith:project:tenants/acme").as_str());
    assert_eq!(e["label"], "legacy");
    assert_eq!(e["active"], true);
    assert_eq!(e["createTime"], "1970-01-01T00:00:00Z");
    assert_eq!(e["updateTime"], "1970-01-01T00:00:00Z");

    let beta = p.json("out/public/tenants/beta/jwks.json");
    let mut beta_kids = kids(&beta);
    beta_kids.sort();
    assert_eq!(beta_kids, ["ec-legacy", "rsa-legacy"]);
    let ec = beta["keys"].as_array().unwrap().iter().find(|k| k["kid"] == "ec-legacy").unwrap();
    assert_eq!(ec["alg"], "ES256");
    assert_eq!(ec["x"], facts["keys/tenants/beta/ec-legacy.pem"]["jwk"]["x"]);
    let beta_entries = p.json("out/public/tenants/beta/jwt-keys.json");
    assert_eq!(beta_entries.as_array().unwrap().len(), 1);
    assert_eq!(beta_entries[0]["projectId"], "beta-project");
    let pem = beta_entries[0]["publicKeyPem"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "publicKeyPem must be SPKI: {pem}");
    assert_eq!(
        pem_body(pem),
        facts["keys/tenants/beta/rsa-legacy.pem"]["spki_b64"].as_str().unwrap(),
        "publicKeyPem is the SPKI of the PKCS#1 key"
    );
    // The private part of the hand-dropped SEC1 key reaches out/private only.
    let private = p.json("out/private/tenants/beta/jwks.json");
    assert_eq!(kids(&private), ["ec-legacy"]);
    assert!(private["keys"][0]["d"].is_string());
}

/// `_headers` rules: path → header name (lowercase) → value, and the names a rule removes
/// (`! Name`) before it sets its own.
type HeaderRules = Vec<(String, BTreeMap<String, String>, Vec<String>)>;

fn header_rules(text: &str) -> HeaderRules {
    let mut rules: HeaderRules = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let rule = rules.last_mut().expect("header before any path");
            if let Some(name) = line.trim().strip_prefix("! ") {
                rule.2.push(name.trim().to_ascii_lowercase());
                continue;
            }
            let (name, value) = line.trim().split_once(':').expect("`Name: value` header line");
            rule.1.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        } else {
            rules.push((line.trim().to_string(), BTreeMap::new(), Vec::new()));
        }
    }
    rules
}

/// The headers `_headers` gives a path: every matching rule in file order, a rule's `! Name`
/// removing what earlier ones set; a header set twice must have been removed in between (else
/// Cloudflare Pages would join the two values).
fn headers_for(rules: &HeaderRules, path: &str) -> BTreeMap<String, String> {
    let mut headers = BTreeMap::new();
    for (_, set, unset) in rules.iter().filter(|(pattern, _, _)| crate::common::header_pattern_matches(pattern, path)) {
        for name in unset {
            headers.remove(name);
        }
        for (name, value) in set {
            assert!(headers.insert(name.clone(), value.clone()).is_none(), "{path}: {name} is set twice");
        }
    }
    headers
}

#[test]
fn site_files_well_known_headers_nojekyll_index() {
    let p = Project::with_keyset(EC_SPECS);
    p.write(
        "keys/tenants/acme/keyset.toml",
        format!("service_id = \"acme\"\n[rotation]\ncache_max_age = \"10m\"\n{EC_SPECS}").as_bytes(),
    );
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);

    for prefix in ["", "tenants/acme/"] {
        assert_eq!(
            p.read(&format!("out/public/{prefix}.well-known/jwks.json")),
            p.read(&format!("out/public/{prefix}jwks.json")),
            "{prefix}.well-known/jwks.json must be the same bytes as jwks.json"
        );
        assert!(
            !p.at(&format!("out/public/{prefix}.well-known/openid-configuration")).exists(),
            "no issuer, no openid-configuration"
        );
    }
    assert!(p.at("out/public/.nojekyll").is_file());

    let headers = String::from_utf8(p.read("out/public/_headers")).unwrap();
    let rules = header_rules(&headers);
    for (prefix, max_age) in [("/", 3600), ("/tenants/acme/", 600)] {
        for file in ["jwks.json", ".well-known/jwks.json", "jwt-keys.json", "jwt-keys.active.json"] {
            let path = format!("{prefix}{file}");
            let h = headers_for(&rules, &path);
            assert_eq!(h.get("content-type").map(String::as_str), Some("application/json"), "{path}: {headers}");
            assert_eq!(
                h.get("cache-control").map(String::as_str),
                Some(format!("public, max-age={max_age}").as_str()),
                "{path}: {headers}"
            );
            assert_eq!(h.get("access-control-allow-origin").map(String::as_str), Some("*"), "{path}: {headers}");
        }
    }

    let index = String::from_utf8(p.read("out/public/index.html")).unwrap();
    let mut all = kids(&p.json("out/public/jwks.json"));
    all.extend(kids(&p.json("out/public/tenants/acme/jwks.json")));
    assert_eq!(all.len(), 4);
    for kid in &all {
        assert!(index.contains(kid.as_str()), "index.html does not mention {kid}");
    }
    assert!(!index.contains("<script"), "index.html needs no JavaScript");
}

#[test]
fn openid_configuration_when_issuer_is_set() {
    let p = Project::with_keyset(&format!("issuer = \"https://auth.example.com\"\n{EC_SPECS}"));
    p.write("keys/tenants/acme/keyset.toml", format!("issuer = \"https://acme.example.com\"\n{EC_SPECS}").as_bytes());
    p.write("keys/tenants/beta/keyset.toml", EC_SPECS.as_bytes());
    p.ok(&["build", "--now", NOW]);
    let document = |issuer: &str| {
        json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks.json"), "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": []})
    };
    assert_eq!(p.json("out/public/.well-known/openid-configuration"), document("https://auth.example.com"));
    assert_eq!(
        p.json("out/public/tenants/acme/.well-known/openid-configuration"),
        document("https://acme.example.com"),
        "jwks_uri sits beside the issuer: the set's directory is served at the issuer"
    );
    assert!(!p.at("out/public/tenants/beta/.well-known/openid-configuration").exists());
    let rules = header_rules(&String::from_utf8(p.read("out/public/_headers")).unwrap());
    let h = headers_for(&rules, "/.well-known/openid-configuration");
    assert_eq!(h.get("content-type").map(String::as_str), Some("application/json"));
}

#[test]
fn api_mirrors_copy_the_set_files_to_the_api_paths() {
    let p = Project::with_keyset(&format!("service_id = \"root-svc\"\napi_mirrors = true\n{EC_SPECS}"));
    p.write(
        "keys/tenants/acme/keyset.toml",
        format!("service_id = \"acme\"\nproject_id = \"acme-project\"\napi_mirrors = true\n{RSA_SIG_SPEC}\n{EC_SPECS}")
            .as_bytes(),
    );
    p.write("keys/tenants/beta/keyset.toml", format!("service_id = \"beta-svc\"\n{EC_SPECS}").as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let root_project = uuid5(&p, "jwksmith:project:");
    let pairs = [
        ("out/public/api/root-svc/service/jwks/get", "out/public/jwks.json"),
        (&format!("out/public/projects/{root_project}/jwt-keys"), "out/public/jwt-keys.json"),
        ("out/public/api/acme/service/jwks/get", "out/public/tenants/acme/jwks.json"),
        ("out/public/projects/acme-project/jwt-keys", "out/public/tenants/acme/jwt-keys.json"),
    ];
    for (mirror, file) in pairs {
        assert_eq!(p.read(mirror), p.read(file), "{mirror} must be the bytes of {file}");
    }
    assert_eq!(p.json("out/public/projects/acme-project/jwt-keys").as_array().unwrap().len(), 1);
    assert!(!p.at("out/public/api/beta-svc").exists(), "mirrors are off for beta");
    let rules = header_rules(&String::from_utf8(p.read("out/public/_headers")).unwrap());
    let h = headers_for(&rules, "/api/root-svc/service/jwks/get");
    assert_eq!(h.get("content-type").map(String::as_str), Some("application/json"));
}

#[test]
fn api_mirror_headers_use_their_set_cache_max_age() {
    // The mirrors of tenants/acme are copies of its files: they are cached for its cache_max_age.
    let p = Project::with_keyset(EC_SPECS);
    p.write(
        "keys/tenants/acme/keyset.toml",
        format!(
            "service_id = \"acme\"\nproject_id = \"acme-project\"\napi_mirrors = true\n[rotation]\ncache_max_age = \"10m\"\n{EC_SPECS}"
        )
        .as_bytes(),
    );
    p.ok(&["build", "--now", NOW]);
    let headers = String::from_utf8(p.read("out/public/_headers")).unwrap();
    let rules = header_rules(&headers);
    for path in ["/tenants/acme/jwks.json", "/api/acme/service/jwks/get", "/projects/acme-project/jwt-keys"] {
        let h = headers_for(&rules, path);
        assert_eq!(h.get("content-type").map(String::as_str), Some("application/json"), "{path}: {headers}");
        assert_eq!(
            h.get("cache-control").map(String::as_str),
            Some("public, max-age=600"),
            "{path} is a file of tenants/acme (cache_max_age = 10m):\n{headers}"
        );
    }
}

#[test]
fn colliding_mirrors_are_an_error_naming_both_files() {
    let p = Project::with_keyset(&format!("service_id = \"same\"\napi_mirrors = true\n{EC_SPECS}"));
    p.write("keys/tenants/acme/keyset.toml", format!("service_id = \"same\"\n{EC_SPECS}").as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let before = p.snapshot("out");

    p.write(
        "keys/tenants/acme/keyset.toml",
        format!("service_id = \"same\"\napi_mirrors = true\n{EC_SPECS}").as_bytes(),
    );
    let stderr = p.fails(&["build", "--now", NOW], 1);
    assert!(stderr.contains("keys/keyset.toml"), "{stderr}");
    assert!(stderr.contains("keys/tenants/acme/keyset.toml"), "{stderr}");
    assert_eq!(p.snapshot("out"), before, "a failed build must leave out/ untouched");

    p.write(
        "keys/keyset.toml",
        format!("service_id = \"one\"\nproject_id = \"p\"\napi_mirrors = true\n{EC_SPECS}").as_bytes(),
    );
    p.write(
        "keys/tenants/acme/keyset.toml",
        format!("service_id = \"two\"\nproject_id = \"p\"\napi_mirrors = true\n{EC_SPECS}").as_bytes(),
    );
    let stderr = p.fails(&["build", "--now", NOW], 1);
    assert!(stderr.contains("keys/keyset.toml"), "{stderr}");
    assert!(stderr.contains("keys/tenants/acme/keyset.toml"), "{stderr}");
}

#[test]
fn private_outputs_modes_and_public_only_keys() {
    let p = Project::with_keyset(EC_SPECS);
    p.write("keys/tenants/acme/keyset.toml", EC_SPECS.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["rotate", "--now", NOW]);
    new_key(&p, "keys", "ext-sig", "EC", false);
    Meta {
        kid: "ext-sig",
        id: "00000000-0000-4000-8000-0000000000e1",
        key_use: "sig",
        alg: "ES256",
        created: Some("2025-12-01T00:00:00Z"),
        activates: Some("2025-12-01T00:00:00Z"),
        ..Default::default()
    }
    .write(&p, "keys");
    p.ok(&["build", "--now", NOW]);

    for prefix in ["", "tenants/acme/"] {
        let public = p.json(&format!("out/public/{prefix}jwks.json"));
        let private = p.json(&format!("out/private/{prefix}jwks.json"));
        let with_private: Vec<String> = kids(&public).into_iter().filter(|k| k != "ext-sig").collect();
        assert_eq!(kids(&private), with_private, "{prefix}: same keys and order, minus public-only ones");
        if prefix.is_empty() {
            assert!(kids(&public).contains(&"ext-sig".to_string()), "a public-only key is published");
        }
        assert_eq!(kids(&private)[..2], ["ec-sig-001", "ec-enc-001"], "current keys first");
        for key in private["keys"].as_array().unwrap() {
            assert_eq!(b64u(key["d"].as_str().expect("d")).len(), 32);
        }
        for spec in ["ec-sig", "ec-enc"] {
            let pem_path = format!("out/private/{prefix}{spec}.pem");
            let pem = String::from_utf8(p.read(&pem_path)).unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem_path} must be PKCS#8");
            let public_of = tool("openssl", &["pkey", "-in", &pem_path, "-pubout"], p.path());
            assert_eq!(
                public_of,
                p.read(&format!("keys/{prefix}{spec}-001.pub.pem")),
                "{pem_path} must be the current key of {spec}"
            );
        }
    }
    assert!(!p.at("out/private/ext-sig.pem").exists());

    for entry in walkdir::WalkDir::new(p.at("out/private")) {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        let want = if entry.file_type().is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} has mode {mode:o}", entry.path().display());
    }
}

#[test]
fn build_needs_no_private_key() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let with_private = p.snapshot("out/public");
    for entry in fs::read_dir(p.at("keys")).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".key.pem") {
            fs::remove_file(path).unwrap();
        }
    }
    p.ok(&["build", "--now", NOW]);
    assert_eq!(p.snapshot("out/public"), with_private, "public outputs need no private key");
    assert_eq!(p.json("out/private/jwks.json"), json!({"keys": []}));
    assert!(!p.at("out/private/ec-sig.pem").exists(), "stale private key left in out/private");
    assert!(!p.at("out/private/ec-enc.pem").exists(), "stale private key left in out/private");
}

/// Every file under out/ that parses as a JSON object or array: path → bytes.
fn json_files(p: &Project) -> BTreeMap<String, Vec<u8>> {
    p.snapshot("out")
        .into_iter()
        .filter(|(_, bytes)| serde_json::from_slice::<Value>(bytes).is_ok_and(|v| v.is_object() || v.is_array()))
        .collect()
}

fn is_indented(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes).trim_end().contains("\n ")
}

fn is_compact(bytes: &[u8]) -> bool {
    !String::from_utf8_lossy(bytes).trim_end().contains('\n')
}

/// True when a JSON value is a container that indentation would spread over lines.
fn non_empty(bytes: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(bytes).unwrap() {
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => false,
    }
}

#[test]
fn pretty_indents_every_json_file_and_default_is_compact() {
    let options = "issuer = \"https://auth.example.com\"\napi_mirrors = true\n";
    let p = Project::with_keyset(&format!("{options}{EC_SPECS}"));
    let (_, rsa) = openssl_pair(&p, "RSA");
    p.write("keys/legacy.pem", rsa.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let compact = json_files(&p);
    let expected_files = [
        "public/jwks.json",
        "public/.well-known/jwks.json",
        "public/.well-known/openid-configuration",
        "public/jwt-keys.json",
        "public/jwt-keys.active.json",
        "private/jwks.json",
    ];
    for f in expected_files {
        assert!(compact.contains_key(f), "{f} missing among {:?}", compact.keys());
    }
    assert!(compact.len() >= expected_files.len() + 2, "mirrors missing: {:?}", compact.keys());
    for (path, bytes) in &compact {
        assert!(is_compact(bytes), "{path} is not compact by default");
    }

    p.ok(&["build", "--pretty", "--now", NOW]);
    let pretty = json_files(&p);
    assert_eq!(pretty.keys().collect::<Vec<_>>(), compact.keys().collect::<Vec<_>>());
    for (path, bytes) in &pretty {
        assert!(non_empty(bytes), "{path} is an empty container");
        assert!(is_indented(bytes), "{path} is not indented with build --pretty");
        let a: Value = serde_json::from_slice(bytes).unwrap();
        let b: Value = serde_json::from_slice(&compact[path]).unwrap();
        assert_eq!(a, b, "{path}: --pretty changes only whitespace");
    }

    // `pretty = true` in keyset.toml: every JSON file written, including new key metadata.
    let q = Project::with_keyset(&format!("pretty = true\n{options}{EC_SPECS}"));
    q.ok(&["rotate", "--now", NOW]);
    q.ok(&["build", "--now", NOW]);
    for (path, bytes) in json_files(&q) {
        if non_empty(&bytes) {
            assert!(is_indented(&bytes), "{path} is not indented with pretty = true");
        }
    }
    assert!(is_indented(&q.read("out/public/jwks.json")));
    assert!(is_indented(&q.read("keys/ec-sig-001.meta.json")), "meta.json not indented");
}

#[test]
fn kid_strategies() {
    let one_spec = &EC_SPECS[..EC_SPECS.find("\n[[key]]\nspec = \"ec-enc\"").unwrap()];
    let p = Project::with_keyset(&format!("kid = \"thumbprint\"\n{one_spec}"));
    p.write("keys/tenants/spki/keyset.toml", format!("kid = \"spki-sha256\"\n{one_spec}").as_bytes());
    p.write("keys/tenants/seq/keyset.toml", one_spec.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);

    let root = kids(&p.json("out/public/jwks.json"));
    let spki = kids(&p.json("out/public/tenants/spki/jwks.json"));
    assert_eq!(root.len(), 2);
    assert_eq!(spki.len(), 2);
    let mut files: Vec<String> = root.iter().map(|k| format!("keys/{k}.pub.pem")).collect();
    files.extend(spki.iter().map(|k| format!("keys/tenants/spki/{k}.pub.pem")));
    for f in &files {
        assert!(p.at(f).is_file(), "{f}: the key files are named by kid");
    }
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let facts = key_facts(&p, &refs);
    for kid in &root {
        assert_eq!(
            facts[format!("keys/{kid}.pub.pem")]["thumbprint"].as_str(),
            Some(kid.as_str()),
            "kid is not the RFC 7638 thumbprint"
        );
    }
    for kid in &spki {
        assert_eq!(
            facts[format!("keys/tenants/spki/{kid}.pub.pem")]["spki_sha256"].as_str(),
            Some(kid.as_str()),
            "kid is not base64url(sha256(DER SPKI))"
        );
    }
    assert_eq!(kids(&p.json("out/public/tenants/seq/jwks.json")), ["ec-sig-001", "ec-sig-002"]);
}
