//! Interop: keys made by other tools (openssl 3, python3 `cryptography`, the RFC 7517/7638 examples), hand-dropped
//! or imported, are published with exactly the JWK members those tools compute independently of jwksmith.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::{NOW, Project, tool};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// The epoch `createTime` of a hand-dropped key without metadata.
const EPOCH: &str = "1970-01-01T00:00:00Z";

/// RFC 7638 §3.1: the thumbprint of the example RSA key (also RFC 7517 Appendix A.1's RSA key).
const RFC7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

/// RFC 7517 Appendix A.1, first key (EC P-256), verbatim.
const RFC7517_EC: &str = r#"{"kty":"EC",
 "crv":"P-256",
 "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
 "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
 "use":"enc",
 "kid":"1"}"#;

/// RFC 7517 Appendix A.1, second key (RSA), verbatim; the same key is RFC 7638 §3.1's example.
const RFC7517_RSA: &str = r#"{"kty":"RSA",
 "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
 "e":"AQAB",
 "alg":"RS256",
 "kid":"2011-04-29"}"#;

/// Shared python3 code: loads keys with `cryptography` and computes what jwksmith must publish.
///
/// `members(priv, pub)` returns `{"public": {kty, n, e | kty, crv, x, y}, "private": {d, p, q, dp, dq, qi | d} or
/// None, "thumbprint" (RFC 7638), "id" (UUIDv5 URL of `jwksmith:key:<thumbprint>`), "spki_sha256", "spki_pem"}`:
/// base64url without padding, RSA integers minimal-length, EC values fixed-length (32/48/66 bytes).
const PY_PRELUDE: &str = r#"
import base64, hashlib, json, os, sys, uuid
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ec, rsa

CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def minimal(i):
    return b64(i.to_bytes((i.bit_length() + 7) // 8, "big"))

def num(v):
    return int.from_bytes(base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)), "big")

def members(priv, pub):
    private = None
    if isinstance(pub, rsa.RSAPublicKey):
        n = pub.public_numbers()
        public = {"kty": "RSA", "n": minimal(n.n), "e": minimal(n.e)}
        canon = {k: public[k] for k in ("e", "kty", "n")}
        if priv is not None:
            v = priv.private_numbers()
            private = {"d": minimal(v.d), "p": minimal(v.p), "q": minimal(v.q),
                       "dp": minimal(v.dmp1), "dq": minimal(v.dmq1), "qi": minimal(v.iqmp)}
    else:
        size = (pub.curve.key_size + 7) // 8
        n = pub.public_numbers()
        public = {"kty": "EC", "crv": CURVES[pub.curve.name],
                  "x": b64(n.x.to_bytes(size, "big")), "y": b64(n.y.to_bytes(size, "big"))}
        canon = {k: public[k] for k in ("crv", "kty", "x", "y")}
        if priv is not None:
            private = {"d": b64(priv.private_numbers().private_value.to_bytes(size, "big"))}
    canonical = json.dumps(canon, separators=(",", ":"), sort_keys=True).encode()
    tp = b64(hashlib.sha256(canonical).digest())
    spki = pub.public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)
    return {"public": public, "private": private, "thumbprint": tp,
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "jwksmith:key:" + tp)),
            "spki_sha256": b64(hashlib.sha256(spki).digest()),
            "spki_pem": pub.public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode()}

def load(path):
    data = open(path, "rb").read()
    if b"PRIVATE KEY" in data:
        priv = s.load_pem_private_key(data, password=None)
        return priv, priv.public_key()
    return None, s.load_pem_public_key(data)

def write(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)

PEM, NOENC = s.Encoding.PEM, s.NoEncryption()
"#;

/// `describe FILE...`: the members of each PEM file, as a JSON array.
const PY_DESCRIBE: &str = r#"
print(json.dumps([members(*load(p)) for p in sys.argv[1:]]))
"#;

/// `gen DIR rsa|ec`: python-generated keys in every PEM form `cryptography` writes.
const PY_GEN: &str = r#"
out, kind = sys.argv[1], sys.argv[2]
if kind == "rsa":
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write(f"{out}/py-rsa-pkcs8.pem", k.private_bytes(PEM, s.PrivateFormat.PKCS8, NOENC))
    write(f"{out}/py-rsa-pkcs1.pem", k.private_bytes(PEM, s.PrivateFormat.TraditionalOpenSSL, NOENC))
    write(f"{out}/py-rsa-spki.pem", k.public_key().public_bytes(PEM, s.PublicFormat.SubjectPublicKeyInfo))
    write(f"{out}/py-rsa-pkcs1pub.pem", k.public_key().public_bytes(PEM, s.PublicFormat.PKCS1))
else:
    for name, curve in (("p256", ec.SECP256R1()), ("p384", ec.SECP384R1()), ("p521", ec.SECP521R1())):
        k = ec.generate_private_key(curve)
        write(f"{out}/py-{name}-pkcs8.pem", k.private_bytes(PEM, s.PrivateFormat.PKCS8, NOENC))
        write(f"{out}/py-{name}-sec1.pem", k.private_bytes(PEM, s.PrivateFormat.TraditionalOpenSSL, NOENC))
        write(f"{out}/py-{name}-spki.pem", k.public_key().public_bytes(PEM, s.PublicFormat.SubjectPublicKeyInfo))
"#;

/// `jwkgen DIR`: private JWKs (RSA 2048, EC P-256, EC P-521) written as `DIR/<name>.jwk.json`; prints
/// `{name: members}`.
const PY_JWKGEN: &str = r#"
out = sys.argv[1]
keys = {"py-rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "py-p256": ec.generate_private_key(ec.SECP256R1()),
        "py-p521": ec.generate_private_key(ec.SECP521R1())}
result = {}
for name, k in keys.items():
    m = members(k, k.public_key())
    jwk = dict(m["public"])
    jwk.update(m["private"])
    write(f"{out}/{name}.jwk.json", json.dumps(jwk, indent=2).encode())
    result[name] = m
print(json.dumps(result))
"#;

/// `leading-zero DIR`: EC P-256 keys whose x or y (`lz-xy.pem`, PKCS#8) and whose d (`lz-d.pem`, SEC1) have a
/// leading zero byte; prints their members.
const PY_LEADING_ZERO: &str = r#"
out = sys.argv[1]
while True:
    k = ec.generate_private_key(ec.SECP256R1())
    n = k.public_key().public_numbers()
    if n.x < 1 << 248 or n.y < 1 << 248:
        break
write(f"{out}/lz-xy.pem", k.private_bytes(PEM, s.PrivateFormat.PKCS8, NOENC))
xy = members(k, k.public_key())
while True:
    k = ec.generate_private_key(ec.SECP256R1())
    if k.private_numbers().private_value < 1 << 248:
        break
write(f"{out}/lz-d.pem", k.private_bytes(PEM, s.PrivateFormat.TraditionalOpenSSL, NOENC))
print(json.dumps({"lz-xy": xy, "lz-d": members(k, k.public_key())}))
"#;

/// `rfc2pem EC_JWK RSA_JWK OUTDIR`: rebuilds the RFC 7517 public keys from their JWK numbers (failing if the EC
/// point is off the curve), writes them as SPKI PEM `OUTDIR/rfc-ec.pem`, `OUTDIR/rfc-rsa.pem`; prints members.
const PY_RFC2PEM: &str = r#"
ecj, rsaj, out = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
ec_pub = ec.EllipticCurvePublicNumbers(num(ecj["x"]), num(ecj["y"]), ec.SECP256R1()).public_key()
rsa_pub = rsa.RSAPublicNumbers(num(rsaj["e"]), num(rsaj["n"])).public_key()
write(f"{out}/rfc-ec.pem", ec_pub.public_bytes(PEM, s.PublicFormat.SubjectPublicKeyInfo))
write(f"{out}/rfc-rsa.pem", rsa_pub.public_bytes(PEM, s.PublicFormat.SubjectPublicKeyInfo))
print(json.dumps({"rfc-ec": members(None, ec_pub), "rfc-rsa": members(None, rsa_pub)}))
"#;

/// Runs a python3 snippet (after the prelude) in `dir`; returns its stdout parsed as JSON.
fn python(dir: &Path, body: &str, args: &[&str]) -> Value {
    let script = format!("{PY_PRELUDE}\n{body}");
    let mut argv = vec!["-c", script.as_str()];
    argv.extend_from_slice(args);
    let out = tool("python3", &argv, dir);
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("python output is not JSON ({e})"))
}

/// Python's view of each PEM file (paths relative to `dir`).
fn describe(dir: &Path, files: &[&str]) -> Vec<Value> {
    let described = python(dir, PY_DESCRIBE, files);
    let list = described.as_array().expect("a JSON array").clone();
    assert_eq!(list.len(), files.len());
    list
}

/// Runs openssl in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    tool("openssl", args, dir);
}

/// The first line of a PEM file.
fn pem_tag(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).lines().next().unwrap_or_default().to_string()
}

fn is_rsa(desc: &Value) -> bool {
    desc["public"]["kty"] == "RSA"
}

/// The `alg` of a hand-dropped key: RSA → RS256, EC P-256/384/521 → ES256/384/512.
fn default_alg(desc: &Value) -> &'static str {
    match (desc["public"]["kty"].as_str(), desc["public"]["crv"].as_str()) {
        (Some("RSA"), _) => "RS256",
        (Some("EC"), Some("P-256")) => "ES256",
        (Some("EC"), Some("P-384")) => "ES384",
        (Some("EC"), Some("P-521")) => "ES512",
        other => panic!("unexpected key type {other:?}"),
    }
}

/// The public JWK jwksmith must publish: python's members plus `kid`, `use`, `alg`, nothing else.
fn public_jwk(desc: &Value, kid: &str, key_use: &str, alg: &str) -> Value {
    let mut jwk: Map<String, Value> = desc["public"].as_object().expect("public members").clone();
    jwk.insert("kid".into(), kid.into());
    jwk.insert("use".into(), key_use.into());
    jwk.insert("alg".into(), alg.into());
    Value::Object(jwk)
}

/// The private JWK of `out/private/jwks.json`: the public JWK plus python's private members.
fn private_jwk(desc: &Value, kid: &str, key_use: &str, alg: &str) -> Value {
    let mut jwk = public_jwk(desc, kid, key_use, alg);
    let object = jwk.as_object_mut().unwrap();
    for (name, value) in desc["private"].as_object().expect("private members") {
        object.insert(name.clone(), value.clone());
    }
    jwk
}

/// The `keys` of a JWK Set file; empty when the file does not exist.
fn jwks_keys(p: &Project, rel: &str) -> Vec<Value> {
    if !p.at(rel).exists() {
        return Vec::new();
    }
    p.json(rel)["keys"].as_array().unwrap_or_else(|| panic!("{rel} has no `keys` array")).clone()
}

fn key_by_kid<'a>(keys: &'a [Value], kid: &str, what: &str) -> &'a Value {
    let found: Vec<&Value> = keys.iter().filter(|k| k["kid"] == kid).collect();
    assert_eq!(found.len(), 1, "{what}: expected exactly one key with kid `{kid}` in {keys:#?}");
    found[0]
}

fn mode(p: &Project, rel: &str) -> u32 {
    fs::metadata(p.at(rel)).unwrap().permissions().mode() & 0o777
}

/// What a key should look like after import or hand-drop.
struct Want<'a> {
    kid: &'a str,
    label: &'a str,
    key_use: &'a str,
    alg: &'a str,
    /// The `id` jwt-keys.json must list (for hand-dropped keys: python's UUIDv5; for imported keys: meta's id).
    id: String,
    /// The jwt-keys.json `createTime`.
    created: &'a str,
}

/// Checks the outputs of `build` for one key: `jwks.json` (and its `.well-known` copy), the private JWK Set and
/// `jwt-keys.json`, against python's members.
fn check_outputs(p: &Project, desc: &Value, want: &Want, what: &str) {
    let public = jwks_keys(p, "out/public/jwks.json");
    assert_eq!(
        key_by_kid(&public, want.kid, what),
        &public_jwk(desc, want.kid, want.key_use, want.alg),
        "{what}: published JWK differs from python's members"
    );
    assert_eq!(
        p.read("out/public/.well-known/jwks.json"),
        p.read("out/public/jwks.json"),
        "{what}: .well-known/jwks.json differs from jwks.json"
    );

    let private = jwks_keys(p, "out/private/jwks.json");
    if desc["private"].is_null() {
        assert!(private.iter().all(|k| k["kid"] != want.kid), "{what}: a public-only key is in out/private/jwks.json");
    } else {
        assert_eq!(mode(p, "out/private/jwks.json"), 0o600, "{what}: out/private/jwks.json mode");
        assert_eq!(
            key_by_kid(&private, want.kid, what),
            &private_jwk(desc, want.kid, want.key_use, want.alg),
            "{what}: private JWK differs from python's members"
        );
    }

    let jwt_keys = p.json("out/public/jwt-keys.json");
    let entries: Vec<&Value> =
        jwt_keys.as_array().expect("jwt-keys.json is an array").iter().filter(|e| e["label"] == want.label).collect();
    if is_rsa(desc) && want.key_use == "sig" {
        assert_eq!(
            entries.len(),
            1,
            "{what}: expected one jwt-keys.json entry labelled `{}`: {jwt_keys:#}",
            want.label
        );
        let entry = entries[0].as_object().unwrap();
        let names: Vec<&str> = entry.keys().map(String::as_str).collect();
        let mut expected_names =
            ["id", "projectId", "label", "algorithm", "publicKeyPem", "active", "createTime", "updateTime"];
        expected_names.sort_unstable();
        assert_eq!(names, expected_names, "{what}: jwt-keys.json members");
        assert_eq!(entry["id"], want.id.as_str(), "{what}: id");
        let project_id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"jwksmith:project:").to_string();
        assert_eq!(entry["projectId"], project_id.as_str(), "{what}: projectId");
        assert_eq!(entry["label"], want.label, "{what}: label");
        assert_eq!(entry["algorithm"], "RSA", "{what}: algorithm");
        assert_eq!(entry["active"], true, "{what}: active");
        assert_eq!(entry["createTime"], want.created, "{what}: createTime");
        let update = entry["updateTime"].as_str().expect("updateTime");
        assert!(update >= want.created && update.ends_with('Z'), "{what}: updateTime {update}");
        assert_eq!(entry["publicKeyPem"], desc["spki_pem"], "{what}: publicKeyPem differs from python's SPKI PEM");
    } else {
        assert!(entries.is_empty(), "{what}: only RSA signing keys belong in jwt-keys.json: {jwt_keys:#}");
    }
}

/// One `jwksmith import` to run and check.
struct Import<'a> {
    /// FILE, relative to the project.
    file: String,
    /// Flags after FILE.
    args: Vec<&'a str>,
    /// Python's view of the key.
    desc: &'a Value,
    /// The expected kid, label, use and alg (`id` is filled from the written metadata).
    want: Want<'a>,
}

/// Runs every import in `p`, then `build`; python reads all written key files in one run; checks the key files,
/// the metadata and the built outputs of each key.
fn import_build_check(p: &Project, imports: &mut [Import]) {
    for import in imports.iter() {
        let mut argv = vec!["import", import.file.as_str(), "--now", NOW];
        argv.extend_from_slice(&import.args);
        p.ok(&argv);
    }
    p.ok(&["build", "--now", NOW]);
    let written: Vec<Vec<String>> = imports.iter().map(|i| written_files(p, i.want.kid)).collect();
    let refs: Vec<&str> = written.iter().flatten().map(String::as_str).collect();
    let reread = describe(p.path(), &refs);
    let mut at = 0;
    for (import, files) in imports.iter_mut().zip(&written) {
        let what = format!("{} {:?} imported", import.file, import.args);
        let range = at..at + files.len();
        at = range.end;
        import.want.id = check_import_files(p, import.desc, &import.want, &reread[range], &what);
        check_outputs(p, import.desc, &import.want, &what);
    }
    assert_eq!(jwks_keys(p, "out/public/jwks.json").len(), imports.len(), "every import is published");
}

/// The key files `import` wrote for a kid, relative to the project: `.pub.pem`, then `.key.pem` if present.
fn written_files(p: &Project, kid: &str) -> Vec<String> {
    let mut files = vec![format!("keys/{kid}.pub.pem")];
    let private = format!("keys/{kid}.key.pem");
    if p.at(&private).exists() {
        files.push(private);
    }
    files
}

/// Checks the files `import` wrote for one key (`reread`: python's view of `written_files`) and its metadata;
/// returns the meta id.
fn check_import_files(p: &Project, desc: &Value, want: &Want, reread: &[Value], what: &str) -> String {
    let kid = want.kid;
    let (pub_rel, key_rel, meta_rel) =
        (format!("keys/{kid}.pub.pem"), format!("keys/{kid}.key.pem"), format!("keys/{kid}.meta.json"));
    assert_eq!(pem_tag(&p.read(&pub_rel)), "-----BEGIN PUBLIC KEY-----", "{what}: {pub_rel} is SPKI");
    let has_private = !desc["private"].is_null();
    assert_eq!(p.at(&key_rel).exists(), has_private, "{what}: {key_rel} exists iff the key is private");
    assert_eq!(reread.len(), if has_private { 2 } else { 1 });
    assert_eq!(reread[0]["public"], desc["public"], "{what}: python reads {pub_rel} as another key");
    assert!(reread[0]["private"].is_null());
    if has_private {
        assert_eq!(pem_tag(&p.read(&key_rel)), "-----BEGIN PRIVATE KEY-----", "{what}: {key_rel} is PKCS#8");
        assert_eq!(mode(p, &key_rel), 0o600, "{what}: {key_rel} mode");
        assert_eq!(reread[1]["public"], desc["public"], "{what}: python reads {key_rel} as another key");
        assert_eq!(reread[1]["private"], desc["private"], "{what}: {key_rel} private numbers differ");
    }

    let meta = p.json(&meta_rel);
    let names: Vec<&str> = meta.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected_names =
        ["kid", "id", "label", "spec", "use", "alg", "created", "activates", "retires", "expires", "revoked"];
    expected_names.sort_unstable();
    assert_eq!(names, expected_names, "{what}: {meta_rel} members");
    assert_eq!(meta["kid"], kid, "{what}: meta kid");
    assert_eq!(meta["label"], want.label, "{what}: meta label");
    assert_eq!(meta["use"], want.key_use, "{what}: meta use");
    assert_eq!(meta["alg"], want.alg, "{what}: meta alg");
    assert_eq!(meta["created"], NOW, "{what}: meta created");
    for never in ["retires", "expires", "revoked"] {
        assert_eq!(meta[never], Value::Null, "{what}: meta {never}");
    }
    // A private key joins the default spec it fits when that spec has no key yet; no other key has a spec.
    let fits = ["rsa-sig", "rsa-enc", "ec256-sig", "ec256-enc"].contains(&meta["spec"].as_str().unwrap_or_default());
    assert!(meta["spec"].is_null() || (has_private && fits), "{what}: meta spec {}", meta["spec"]);
    let id = meta["id"].as_str().expect("meta id").to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{what}: meta id `{id}` is not a UUID");
    id
}

/// The projects of `check_all_forms`, and python's view of each source file.
struct Forms {
    descs: Vec<Value>,
    hand: Project,
    imported: Vec<Project>,
}

/// Each PEM file of `src` is (a) hand-dropped as `keys/<name>.pem` in one project and (b) imported from `ext/`
/// (outside keys/) in a project of its own (import refuses a second form of a key a set has); all are built, and
/// every published, private and written file is compared with what python computes from the source file. Kids are
/// the file names without `.pem`.
fn check_all_forms(src: &Path, files: &[&str]) -> Forms {
    let names: Vec<&str> = files.iter().map(|f| f.strip_suffix(".pem").unwrap()).collect();
    let hand = Project::new();
    let imported: Vec<Project> = files.iter().map(|_| Project::new()).collect();
    for (file, imported) in files.iter().zip(&imported) {
        let bytes = fs::read(src.join(file)).unwrap();
        hand.write(&format!("keys/{file}"), &bytes);
        fs::create_dir_all(imported.at("keys")).unwrap();
        imported.write(&format!("ext/{file}"), &bytes);
        imported.ok(&["import", &format!("ext/{file}"), "--now", NOW]);
        imported.ok(&["build", "--now", NOW]);
    }
    hand.ok(&["build", "--now", NOW]);

    // One python run: the source files, then the files import wrote for each kid.
    let mut paths: Vec<String> = files.iter().map(|f| src.join(f).to_string_lossy().to_string()).collect();
    let mut ranges = Vec::new();
    for (name, imported) in names.iter().zip(&imported) {
        let written = written_files(imported, name);
        ranges.push(paths.len()..paths.len() + written.len());
        paths.extend(written.iter().map(|w| imported.at(w).to_string_lossy().to_string()));
    }
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let all = describe(src, &refs);
    let descs = all[..files.len()].to_vec();

    assert_eq!(jwks_keys(&hand, "out/public/jwks.json").len(), files.len(), "every file is published");
    for (((file, name), (desc, range)), imported) in
        files.iter().zip(&names).zip(descs.iter().zip(ranges)).zip(&imported)
    {
        let tag = pem_tag(&fs::read(src.join(file)).unwrap());
        let mut want = Want {
            kid: name,
            label: name,
            key_use: "sig",
            alg: default_alg(desc),
            id: desc["id"].as_str().unwrap().to_string(),
            created: EPOCH,
        };
        check_outputs(&hand, desc, &want, &format!("{file} ({tag}) hand-dropped"));

        let what = format!("{file} ({tag}) imported");
        want.id = check_import_files(imported, desc, &want, &all[range], &what);
        want.created = NOW;
        check_outputs(imported, desc, &want, &what);
    }
    Forms { descs, hand, imported }
}

/// Asserts that python reads every form as the same key.
fn assert_same_key(files: &[&str], descs: &[Value]) {
    for (file, desc) in files.iter().zip(descs) {
        assert_eq!(desc["public"], descs[0]["public"], "{file} is not the same key as {}", files[0]);
    }
}

fn assert_tags(src: &Path, tags: &[(&str, &str)]) {
    for (file, tag) in tags {
        assert_eq!(pem_tag(&fs::read(src.join(file)).unwrap()), format!("-----BEGIN {tag}-----"), "{file}");
    }
}

#[test]
fn openssl_rsa_2048_in_four_pem_forms() {
    let src = tempfile::tempdir().unwrap();
    let dir = src.path();
    openssl(dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "ossl-rsa-pkcs8.pem"]);
    openssl(dir, &["rsa", "-in", "ossl-rsa-pkcs8.pem", "-traditional", "-out", "ossl-rsa-pkcs1.pem"]);
    openssl(dir, &["rsa", "-in", "ossl-rsa-pkcs8.pem", "-pubout", "-out", "ossl-rsa-spki.pem"]);
    openssl(dir, &["rsa", "-in", "ossl-rsa-pkcs8.pem", "-RSAPublicKey_out", "-out", "ossl-rsa-pkcs1pub.pem"]);
    let tags = [
        ("ossl-rsa-pkcs8.pem", "PRIVATE KEY"),
        ("ossl-rsa-pkcs1.pem", "RSA PRIVATE KEY"),
        ("ossl-rsa-spki.pem", "PUBLIC KEY"),
        ("ossl-rsa-pkcs1pub.pem", "RSA PUBLIC KEY"),
    ];
    assert_tags(dir, &tags);
    let files = tags.map(|(f, _)| f);
    let forms = check_all_forms(dir, &files);
    assert_same_key(&files, &forms.descs);
}

/// An RSA key over ring's 4096 bits (jwksmith accepts up to 8192) is self-tested, published,
/// imported and signs.
#[test]
fn openssl_rsa_over_4096_bits_is_published_and_signs() {
    let p = Project::with_keyset("key = []\n");
    openssl(&p.at("keys"), &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4608", "-out", "big.pem"]);
    p.ok(&["build", "--now", NOW]);
    let keys = jwks_keys(&p, "out/public/jwks.json");
    let n = key_by_kid(&keys, "big", "out/public/jwks.json")["n"].as_str().unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(n).unwrap().len(), 4608 / 8);
    p.ok(&["import", "keys/big.pem", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let token = String::from_utf8(p.ok(&["token", "--kid", "big", "--now", NOW]).stdout).unwrap();
    let verified = p.ok(&["verify", token.trim(), "--now", NOW]);
    assert!(String::from_utf8_lossy(&verified.stdout).contains("signature"), "a verdict per check");
}

fn openssl_ec(curve: &str) {
    let src = tempfile::tempdir().unwrap();
    let dir = src.path();
    let short = curve.replace("P-", "p");
    let (pkcs8, sec1, spki) =
        (format!("ossl-{short}-pkcs8.pem"), format!("ossl-{short}-sec1.pem"), format!("ossl-{short}-spki.pem"));
    let paramgen = format!("ec_paramgen_curve:{curve}");
    openssl(dir, &["genpkey", "-algorithm", "EC", "-pkeyopt", &paramgen, "-out", &pkcs8]);
    openssl(dir, &["ec", "-in", &pkcs8, "-out", &sec1]);
    openssl(dir, &["ec", "-in", &pkcs8, "-pubout", "-out", &spki]);
    let tags = [(pkcs8.as_str(), "PRIVATE KEY"), (sec1.as_str(), "EC PRIVATE KEY"), (spki.as_str(), "PUBLIC KEY")];
    assert_tags(dir, &tags);
    let files = tags.map(|(f, _)| f);
    let forms = check_all_forms(dir, &files);
    assert_same_key(&files, &forms.descs);
    assert_eq!(forms.descs[0]["public"]["crv"], curve);
}

#[test]
fn openssl_ec_p256_in_three_pem_forms() {
    openssl_ec("P-256");
}

#[test]
fn openssl_ec_p384_in_three_pem_forms() {
    openssl_ec("P-384");
}

#[test]
fn openssl_ec_p521_in_three_pem_forms() {
    openssl_ec("P-521");
}

#[test]
fn python_rsa_in_every_pem_form() {
    let src = tempfile::tempdir().unwrap();
    let dir = src.path();
    tool("python3", &["-c", &format!("{PY_PRELUDE}\n{PY_GEN}"), ".", "rsa"], dir);
    let tags = [
        ("py-rsa-pkcs8.pem", "PRIVATE KEY"),
        ("py-rsa-pkcs1.pem", "RSA PRIVATE KEY"),
        ("py-rsa-spki.pem", "PUBLIC KEY"),
        ("py-rsa-pkcs1pub.pem", "RSA PUBLIC KEY"),
    ];
    assert_tags(dir, &tags);
    let files = tags.map(|(f, _)| f);
    let forms = check_all_forms(dir, &files);
    assert_same_key(&files, &forms.descs);
}

#[test]
fn python_ec_in_every_pem_form() {
    let src = tempfile::tempdir().unwrap();
    let dir = src.path();
    tool("python3", &["-c", &format!("{PY_PRELUDE}\n{PY_GEN}"), ".", "ec"], dir);
    let mut tags = Vec::new();
    for curve in ["p256", "p384", "p521"] {
        tags.push((format!("py-{curve}-pkcs8.pem"), "PRIVATE KEY"));
        tags.push((format!("py-{curve}-sec1.pem"), "EC PRIVATE KEY"));
        tags.push((format!("py-{curve}-spki.pem"), "PUBLIC KEY"));
    }
    let tags: Vec<(&str, &str)> = tags.iter().map(|(f, t)| (f.as_str(), *t)).collect();
    assert_tags(dir, &tags);
    let files: Vec<&str> = tags.iter().map(|(f, _)| *f).collect();
    // All nine files in one set (kids differ), each curve's three forms one key.
    let forms = check_all_forms(dir, &files);
    for (i, crv) in ["P-256", "P-384", "P-521"].iter().enumerate() {
        assert_same_key(&files[3 * i..3 * i + 3], &forms.descs[3 * i..3 * i + 3]);
        assert_eq!(forms.descs[3 * i]["public"]["crv"], *crv);
    }
}

#[test]
fn private_jwks_from_python_import_and_publish() {
    let p = Project::new();
    fs::create_dir_all(p.at("keys")).unwrap();
    let descs = python(p.path(), PY_JWKGEN, &["ext"]);
    let mut imports: Vec<Import> = ["py-rsa", "py-p256", "py-p521"]
        .iter()
        .map(|name| Import {
            file: format!("ext/{name}.jwk.json"),
            args: Vec::new(),
            desc: &descs[name],
            want: Want {
                kid: name,
                label: name,
                key_use: "sig",
                alg: default_alg(&descs[name]),
                id: String::new(),
                created: NOW,
            },
        })
        .collect();
    import_build_check(&p, &mut imports);
    assert_eq!(jwks_keys(&p, "out/private/jwks.json").len(), 3);
}

#[test]
fn jwk_import_flags_land_in_meta_and_jwks() {
    let p = Project::new();
    fs::create_dir_all(p.at("keys")).unwrap();
    let descs = python(p.path(), PY_JWKGEN, &["ext"]);
    let mut imports = [
        Import {
            file: "ext/py-rsa.jwk.json".into(),
            args: vec!["--use", "enc", "--alg", "RSA-OAEP-256", "--kid", "partner-enc", "--label", "Partner key"],
            desc: &descs["py-rsa"],
            want: Want {
                kid: "partner-enc",
                label: "Partner key",
                key_use: "enc",
                alg: "RSA-OAEP-256",
                id: String::new(),
                created: NOW,
            },
        },
        // The same flags on an EC key: ECDH-ES for use enc.
        Import {
            file: "ext/py-p256.jwk.json".into(),
            args: vec!["--use", "enc", "--alg", "ECDH-ES", "--kid", "ec-enc", "--label", "EC encryption"],
            desc: &descs["py-p256"],
            want: Want {
                kid: "ec-enc",
                label: "EC encryption",
                key_use: "enc",
                alg: "ECDH-ES",
                id: String::new(),
                created: NOW,
            },
        },
    ];
    import_build_check(&p, &mut imports);
    assert_eq!(p.json("out/public/jwt-keys.json"), json!([]), "encryption keys are not jwt-keys");
}

/// The RFC 7517 A.1 JWKs, as python reads them; checks the transcription (RSA thumbprint = RFC 7638's value,
/// EC point on the curve) and writes them as SPKI PEM under `keys/` of `p`.
fn rfc_keys(p: &Project) -> Value {
    p.write("ext/rfc7517-ec.jwk.json", RFC7517_EC.as_bytes());
    p.write("ext/rfc7517-rsa.jwk.json", RFC7517_RSA.as_bytes());
    let descs = python(p.path(), PY_RFC2PEM, &["ext/rfc7517-ec.jwk.json", "ext/rfc7517-rsa.jwk.json", "keys"]);
    assert_eq!(descs["rfc-rsa"]["thumbprint"], RFC7638_THUMBPRINT, "RFC key transcribed wrongly");
    let ec: Value = serde_json::from_str(RFC7517_EC).unwrap();
    let rsa: Value = serde_json::from_str(RFC7517_RSA).unwrap();
    for member in ["kty", "crv", "x", "y"] {
        assert_eq!(descs["rfc-ec"]["public"][member], ec[member], "python EC {member}");
    }
    for member in ["kty", "n", "e"] {
        assert_eq!(descs["rfc-rsa"]["public"][member], rsa[member], "python RSA {member}");
    }
    descs
}

#[test]
fn rfc7517_public_keys_round_trip_through_jwk_import() {
    let p = Project::new();
    fs::create_dir_all(p.at("keys")).unwrap();
    p.write("ext/rfc7517-ec.jwk.json", RFC7517_EC.as_bytes());
    p.write("ext/rfc7517-rsa.jwk.json", RFC7517_RSA.as_bytes());
    p.ok(&["import", "ext/rfc7517-ec.jwk.json", "--kid", "1", "--use", "enc", "--alg", "ECDH-ES", "--now", NOW]);
    p.ok(&["import", "ext/rfc7517-rsa.jwk.json", "--kid", "2011-04-29", "--alg", "RS256", "--now", NOW]);
    assert!(!p.at("keys/1.key.pem").exists() && !p.at("keys/2011-04-29.key.pem").exists());
    p.ok(&["build", "--now", NOW]);
    let keys = jwks_keys(&p, "out/public/jwks.json");
    assert_eq!(keys.len(), 2);

    // Exactly the RFC members, plus the one the RFC leaves out (EC: alg; RSA: use).
    let mut ec: Value = serde_json::from_str(RFC7517_EC).unwrap();
    ec["alg"] = "ECDH-ES".into();
    assert_eq!(key_by_kid(&keys, "1", "RFC 7517 EC"), &ec);
    let mut rsa: Value = serde_json::from_str(RFC7517_RSA).unwrap();
    rsa["use"] = "sig".into();
    assert_eq!(key_by_kid(&keys, "2011-04-29", "RFC 7517 RSA"), &rsa);
    assert!(jwks_keys(&p, "out/private/jwks.json").is_empty());

    // The written SPKI files hold the RFC numbers as python reads them.
    let reread = describe(p.path(), &["keys/1.pub.pem", "keys/2011-04-29.pub.pem"]);
    for member in ["kty", "crv", "x", "y"] {
        assert_eq!(reread[0]["public"][member], ec[member], "keys/1.pub.pem {member}");
    }
    for member in ["kty", "n", "e"] {
        assert_eq!(reread[1]["public"][member], rsa[member], "keys/2011-04-29.pub.pem {member}");
    }
    assert_eq!(reread[1]["thumbprint"], RFC7638_THUMBPRINT);
}

#[test]
fn rfc7517_public_keys_as_python_pem_hand_dropped() {
    let p = Project::new();
    let descs = rfc_keys(&p);
    p.ok(&["build", "--now", NOW]);
    let keys = jwks_keys(&p, "out/public/jwks.json");
    assert_eq!(keys.len(), 2);
    let ec: Value = serde_json::from_str(RFC7517_EC).unwrap();
    let rsa: Value = serde_json::from_str(RFC7517_RSA).unwrap();
    let published_ec = key_by_kid(&keys, "rfc-ec", "RFC EC PEM");
    assert_eq!(
        published_ec,
        &json!({"kty": "EC", "kid": "rfc-ec", "use": "sig", "alg": "ES256", "crv": "P-256", "x": ec["x"], "y": ec["y"]})
    );
    let published_rsa = key_by_kid(&keys, "rfc-rsa", "RFC RSA PEM");
    assert_eq!(
        published_rsa,
        &json!({"kty": "RSA", "kid": "rfc-rsa", "use": "sig", "alg": "RS256", "n": rsa["n"], "e": "AQAB"})
    );
    for name in ["rfc-ec", "rfc-rsa"] {
        let desc = &descs[name];
        let want = Want {
            kid: name,
            label: name,
            key_use: "sig",
            alg: default_alg(desc),
            id: desc["id"].as_str().unwrap().to_string(),
            created: EPOCH,
        };
        check_outputs(&p, desc, &want, name);
    }
    // The RSA key's jwt-keys id is UUIDv5(URL, "jwksmith:key:<RFC 7638 thumbprint>").
    let jwt = p.json("out/public/jwt-keys.json");
    assert_eq!(jwt.as_array().unwrap().len(), 1);
    assert_eq!(jwt[0]["id"], descs["rfc-rsa"]["id"]);
}

#[test]
fn rfc7638_thumbprint_is_the_kid_under_the_thumbprint_strategy() {
    let p = Project::with_keyset("kid = \"thumbprint\"\n");
    // Without its own kid: a JWK's kid wins whatever the strategy.
    let mut kidless: Value = serde_json::from_str(RFC7517_RSA).unwrap();
    kidless.as_object_mut().unwrap().remove("kid");
    p.write("ext/rfc7638.jwk.json", kidless.to_string().as_bytes());
    p.ok(&["import", "ext/rfc7638.jwk.json", "--now", NOW]);
    for suffix in ["pub.pem", "meta.json"] {
        assert!(
            p.at(&format!("keys/{RFC7638_THUMBPRINT}.{suffix}")).exists(),
            "keys/{RFC7638_THUMBPRINT}.{suffix} missing"
        );
    }
    assert_eq!(p.json(&format!("keys/{RFC7638_THUMBPRINT}.meta.json"))["kid"], RFC7638_THUMBPRINT);
    p.ok(&["build", "--now", NOW]);
    let keys = jwks_keys(&p, "out/public/jwks.json");
    let rsa: Value = serde_json::from_str(RFC7517_RSA).unwrap();
    assert_eq!(
        keys,
        [json!({"kty": "RSA", "kid": RFC7638_THUMBPRINT, "use": "sig", "alg": "RS256", "n": rsa["n"], "e": "AQAB"})]
    );
}

#[test]
fn thumbprint_and_spki_sha256_kids_match_python_digests() {
    let src = tempfile::tempdir().unwrap();
    let dir = src.path();
    openssl(dir, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "ec.pem"]);
    openssl(dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem"]);
    let descs = describe(dir, &["ec.pem", "rsa.pem"]);
    for (strategy, member) in [("thumbprint", "thumbprint"), ("spki-sha256", "spki_sha256")] {
        let p = Project::with_keyset(&format!("kid = \"{strategy}\"\n"));
        let mut imports = Vec::new();
        for (file, desc) in ["ec.pem", "rsa.pem"].iter().zip(&descs) {
            p.write(&format!("ext/{file}"), &fs::read(dir.join(file)).unwrap());
            let kid = desc[member].as_str().unwrap();
            let want =
                Want { kid, label: kid, key_use: "sig", alg: default_alg(desc), id: String::new(), created: NOW };
            imports.push(Import { file: format!("ext/{file}"), args: Vec::new(), desc, want });
        }
        import_build_check(&p, &mut imports);
    }
}

#[test]
fn ec_p256_leading_zero_bytes_keep_fixed_length() {
    let src = tempfile::tempdir().unwrap();
    let dir = src.path();
    let descs = python(dir, PY_LEADING_ZERO, &["."]);
    let xy = &descs["lz-xy"]["public"];
    let decoded = |v: &Value| URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap();
    let (x, y) = (decoded(&xy["x"]), decoded(&xy["y"]));
    assert!(x.len() == 32 && y.len() == 32 && (x[0] == 0 || y[0] == 0), "python found no leading zero");
    let d = decoded(&descs["lz-d"]["private"]["d"]);
    assert!(d.len() == 32 && d[0] == 0, "python found no leading zero in d");

    // Hand-dropped and imported; every member compared with python's fixed-length values.
    let forms = check_all_forms(dir, &["lz-xy.pem", "lz-d.pem"]);
    assert_eq!(forms.descs[0], descs["lz-xy"]);
    assert_eq!(forms.descs[1], descs["lz-d"]);
    let projects = std::iter::once((&forms.hand, 2)).chain(forms.imported.iter().map(|p| (p, 1)));
    for (p, count) in projects {
        let public = jwks_keys(p, "out/public/jwks.json");
        let private = jwks_keys(p, "out/private/jwks.json");
        assert_eq!((public.len(), private.len()), (count, count));
        for key in public.iter().chain(&private) {
            for member in ["x", "y"] {
                assert_eq!(key[member].as_str().unwrap().len(), 43, "{member} of {key}");
            }
        }
        for key in &private {
            assert_eq!(key["d"].as_str().unwrap().len(), 43, "d of {}", key["kid"]);
        }
    }
}
