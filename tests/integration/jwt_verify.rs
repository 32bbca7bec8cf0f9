//! JWTs signed with the signer's files in `out/private/` verify against the published `out/public/**/jwks.json`
//! with independent verifiers (the `jsonwebtoken` crate and python3 `cryptography`), and tampered tokens fail.

use crate::common::{NOW, Project, tool};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde_json::{Value, json};

/// The algorithms `jsonwebtoken` both signs and verifies (it has no ES512).
const JSONWEBTOKEN_ALGS: [(&str, Algorithm); 8] = [
    ("rs256", Algorithm::RS256),
    ("rs384", Algorithm::RS384),
    ("rs512", Algorithm::RS512),
    ("ps256", Algorithm::PS256),
    ("ps384", Algorithm::PS384),
    ("ps512", Algorithm::PS512),
    ("es256", Algorithm::ES256),
    ("es384", Algorithm::ES384),
];

/// An independent JWS signer/verifier on python3 `cryptography`; it reads only the files it is given.
///
/// - `sign-pem PEM ALG KID SPEC`: a JWT signed with a PKCS#8 PEM private key.
/// - `sign-jwk PRIVATE_JWKS KID SPEC`: a JWT signed with a key rebuilt from the private JWK members
///   (`n e d p q dp dq qi` or `crv x y d`), after checking that the members agree with each other.
/// - `verify JWKS TOKEN`: prints `valid`, `invalid`, or why no key applies (`no-key`, `alg-mismatch`, ...).
const PY: &str = r#"
import base64, json, math, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def num(s):
    return int.from_bytes(b64d(s), "big")

HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
CURVE = {"P-256": (ec.SECP256R1, 32), "P-384": (ec.SECP384R1, 48), "P-521": (ec.SECP521R1, 66)}
ALG_CRV = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
CURVE_NAME = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

def pss(h):
    return padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)

def sign(key, alg, msg):
    h = HASH[alg[2:]]()
    if alg.startswith("RS"):
        assert isinstance(key, rsa.RSAPrivateKey), "not an RSA key"
        return key.sign(msg, padding.PKCS1v15(), h)
    if alg.startswith("PS"):
        assert isinstance(key, rsa.RSAPrivateKey), "not an RSA key"
        return key.sign(msg, pss(h), h)
    if alg.startswith("ES"):
        assert isinstance(key, ec.EllipticCurvePrivateKey), "not an EC key"
        crv = CURVE_NAME[key.curve.name]
        if crv != ALG_CRV[alg]:
            sys.exit(f"{alg} needs {ALG_CRV[alg]}, the key is on {crv}")
        r, s = utils.decode_dss_signature(key.sign(msg, ec.ECDSA(h)))
        size = CURVE[crv][1]
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    sys.exit(f"unsupported alg {alg}")

def token(key, alg, kid, spec):
    header = b64e(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
    claims = b64e(json.dumps({"sub": "alice", "iss": "https://issuer.example", "exp": 4102444800, "spec": spec}).encode())
    msg = f"{header}.{claims}".encode()
    return f"{header}.{claims}.{b64e(sign(key, alg, msg))}"

def one_key(path, kid):
    keys = [k for k in json.load(open(path))["keys"] if k.get("kid") == kid]
    return keys[0] if len(keys) == 1 else None

def key_from_private_jwk(jwk):
    if jwk["kty"] == "RSA":
        n, e, d, p, q, dp, dq, qi = (num(jwk[m]) for m in ("n", "e", "d", "p", "q", "dp", "dq", "qi"))
        assert p * q == n, "p*q != n"
        assert (d * e) % math.lcm(p - 1, q - 1) == 1, "d is not the inverse of e"
        assert dp == d % (p - 1), "dp != d mod (p-1)"
        assert dq == d % (q - 1), "dq != d mod (q-1)"
        assert (qi * q) % p == 1, "qi is not q^-1 mod p"
        m = 0x1234567890ABCDEF
        assert pow(pow(m, e, n), d, n) == m, "d does not decrypt what e encrypts"
        return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, rsa.RSAPublicNumbers(e, n)).private_key()
    if jwk["kty"] == "EC":
        curve, size = CURVE[jwk["crv"]]
        assert len(b64d(jwk["d"])) == size, f"d of {jwk['crv']} is {len(b64d(jwk['d']))} bytes, not {size}"
        key = ec.derive_private_key(num(jwk["d"]), curve())
        pub = key.public_key().public_numbers()
        assert (pub.x, pub.y) == (num(jwk["x"]), num(jwk["y"])), "d does not give the key's x, y"
        return key
    sys.exit(f"unexpected kty {jwk['kty']}")

def verify(path, tok):
    h64, p64, s64 = tok.split(".")
    header = json.loads(b64d(h64))
    jwk = one_key(path, header["kid"])
    if jwk is None:
        return "no-key"
    if jwk.get("use") != "sig" or jwk.get("alg") != header["alg"]:
        return "alg-mismatch"
    alg = jwk["alg"]
    h = HASH[alg[2:]]()
    msg = f"{h64}.{p64}".encode()
    sig = b64d(s64)
    try:
        if jwk["kty"] == "RSA" and alg[:2] in ("RS", "PS"):
            pub = rsa.RSAPublicNumbers(num(jwk["e"]), num(jwk["n"])).public_key()
            pub.verify(sig, msg, padding.PKCS1v15() if alg.startswith("RS") else pss(h), h)
        elif jwk["kty"] == "EC" and alg.startswith("ES"):
            if jwk["crv"] != ALG_CRV[alg]:
                return "alg-mismatch"
            curve, size = CURVE[jwk["crv"]]
            if len(b64d(jwk["x"])) != size or len(b64d(jwk["y"])) != size:
                return "bad-coordinates"
            pub = ec.EllipticCurvePublicNumbers(num(jwk["x"]), num(jwk["y"]), curve()).public_key()
            if len(sig) != 2 * size:
                return "invalid"
            r, s = int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big")
            pub.verify(utils.encode_dss_signature(r, s), msg, ec.ECDSA(h))
        else:
            return "alg-mismatch"
    except InvalidSignature:
        return "invalid"
    return "valid"

mode = sys.argv[1]
if mode == "sign-pem":
    pem, alg, kid, spec = sys.argv[2:]
    key = serialization.load_pem_private_key(open(pem, "rb").read(), password=None)
    print(token(key, alg, kid, spec))
elif mode == "sign-jwk":
    path, kid, spec = sys.argv[2:]
    jwk = one_key(path, kid)
    if jwk is None:
        sys.exit(f"{path}: no single key {kid}")
    print(token(key_from_private_jwk(jwk), jwk["alg"], kid, spec))
elif mode == "verify":
    print(verify(sys.argv[2], sys.argv[3]))
else:
    sys.exit(f"unknown mode {mode}")
"#;

/// The keyset.toml of the root set: one `[[key]]` per entry of `crate::common::SIGNING_SPECS`.
fn keyset_toml(specs: &[(&str, &str, &str)]) -> String {
    specs
        .iter()
        .map(|(spec, alg, kty)| format!("[[key]]\nspec = \"{spec}\"\n{kty}\nuse = \"sig\"\nalg = \"{alg}\"\n\n"))
        .collect()
}

/// A project with every signing spec, rotated and built at `NOW`.
fn built_project() -> Project {
    let p = Project::with_keyset(&keyset_toml(&crate::common::SIGNING_SPECS));
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    p
}

/// Runs the python verifier/signer; returns its trimmed stdout.
fn py(p: &Project, args: &[&str]) -> String {
    let mut argv = vec!["-c", PY];
    argv.extend_from_slice(args);
    String::from_utf8(tool("python3", &argv, p.path())).unwrap().trim().to_string()
}

/// The `keys` array of a JWK Set file.
fn keys_of(p: &Project, rel: &str) -> Vec<Value> {
    p.json(rel)["keys"].as_array().unwrap_or_else(|| panic!("{rel} has no keys array")).clone()
}

/// The single key of a JWK Set whose member `name` is `value`.
fn only_key(p: &Project, rel: &str, name: &str, value: &str) -> Value {
    let keys = keys_of(p, rel);
    let found: Vec<&Value> = keys.iter().filter(|k| k[name] == value).collect();
    assert_eq!(found.len(), 1, "{rel}: expected exactly one key with {name} = {value}: {keys:#?}");
    found[0].clone()
}

/// The published signing JWK of `alg` in `rel`, with its kid.
fn signing_jwk(p: &Project, rel: &str, alg: &str) -> (Value, String) {
    let jwk = only_key(p, rel, "alg", alg);
    assert_eq!(jwk["use"], "sig", "{rel}: key of {alg} is not a signing key: {jwk}");
    let kid = jwk["kid"].as_str().unwrap_or_else(|| panic!("{rel}: key of {alg} has no kid")).to_string();
    (jwk, kid)
}

/// The claims every token carries; `spec` tells the tokens apart.
fn claims(spec: &str) -> Value {
    json!({"sub": "alice", "iss": "https://issuer.example", "exp": 4_102_444_800u64, "spec": spec})
}

/// Signs with `jsonwebtoken` using a PKCS#8 PEM from `out/private/`.
fn sign_with_pem(pem: &[u8], alg: Algorithm, kid: &str, spec: &str) -> String {
    let key = match alg {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
    .unwrap_or_else(|e| panic!("jsonwebtoken cannot load the {alg:?} private PEM: {e}"));
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    encode(&header, &claims(spec), &key).unwrap_or_else(|e| panic!("jsonwebtoken cannot sign {alg:?}: {e}"))
}

/// Verifies with `jsonwebtoken` against one published JWK.
fn jsonwebtoken_verify(token: &str, jwk: &Value, alg: Algorithm) -> jsonwebtoken::errors::Result<Value> {
    let jwk: Jwk = serde_json::from_value(jwk.clone()).unwrap_or_else(|e| panic!("jsonwebtoken rejects {jwk}: {e}"));
    let key = DecodingKey::from_jwk(&jwk).unwrap_or_else(|e| panic!("jsonwebtoken cannot use {jwk:?}: {e}"));
    decode::<Value>(token, &key, &Validation::new(alg)).map(|data| data.claims)
}

/// Asserts that `jsonwebtoken` accepts the token with the JWK and returns the claims it was signed with.
fn assert_jsonwebtoken_accepts(token: &str, jwk: &Value, alg: Algorithm, spec: &str) {
    let claims_back = jsonwebtoken_verify(token, jwk, alg)
        .unwrap_or_else(|e| panic!("{spec}: jsonwebtoken rejects a token signed by the private key: {e}\njwk: {jwk}"));
    assert_eq!(claims_back, claims(spec));
}

/// Asserts that `jsonwebtoken` rejects the token for a bad signature.
fn assert_jsonwebtoken_rejects(token: &str, jwk: &Value, alg: Algorithm, what: &str) {
    match jsonwebtoken_verify(token, jwk, alg) {
        Ok(_) => panic!("{what}: jsonwebtoken accepted it\ntoken: {token}\njwk: {jwk}"),
        Err(e) => assert_eq!(e.kind(), &ErrorKind::InvalidSignature, "{what}: unexpected error {e}"),
    }
}

/// Flips one character in the middle of part `part` (0 header, 1 payload, 2 signature) of a JWT.
fn tamper(token: &str, part: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token}");
    let target = &mut parts[part];
    // The middle character: all 6 of its bits are significant, unlike the last one's.
    let at = target.len() / 2;
    let old = target.as_bytes()[at];
    let new = if old == b'A' { 'B' } else { 'A' };
    target.replace_range(at..=at, &new.to_string());
    parts.join(".")
}

/// Asserts the python verifier's result for a token against a JWK Set file.
fn assert_python(p: &Project, jwks: &str, token: &str, expected: &str, what: &str) {
    assert_eq!(py(p, &["verify", jwks, token]), expected, "{what}: python cryptography against {jwks}\ntoken: {token}");
}

#[test]
fn jsonwebtoken_tokens_signed_with_out_private_pem_verify_against_public_jwks() {
    let p = built_project();
    let jwks = "out/public/jwks.json";
    for (spec, alg) in JSONWEBTOKEN_ALGS {
        let alg_name = format!("{alg:?}");
        let (jwk, kid) = signing_jwk(&p, jwks, &alg_name);
        assert_eq!(kid, format!("{spec}-001"), "the only key of spec {spec} has a sequence kid");
        let token = sign_with_pem(&p.read(&format!("out/private/{spec}.pem")), alg, &kid, spec);

        assert_jsonwebtoken_accepts(&token, &jwk, alg, spec);
        assert_python(&p, jwks, &token, "valid", spec);

        for (part, name) in [(1, "payload"), (2, "signature")] {
            let bad = tamper(&token, part);
            let what = format!("{spec}: token with a flipped {name} character");
            assert_jsonwebtoken_rejects(&bad, &jwk, alg, &what);
            assert_python(&p, jwks, &bad, "invalid", &what);
        }

        // Another published RSA key (same kty, same validation alg) must not verify it.
        if jwk["kty"] == "RSA" {
            for other in keys_of(&p, jwks).iter().filter(|k| k["kty"] == "RSA" && k["kid"] != kid.as_str()) {
                assert_jsonwebtoken_rejects(&token, other, alg, &format!("{spec} token checked with {}", other["kid"]));
            }
        }
    }
}

#[test]
fn python_tokens_signed_with_out_private_pem_verify_for_every_alg_including_es512() {
    let p = built_project();
    let jwks = "out/public/jwks.json";
    for (spec, alg_name, _) in crate::common::SIGNING_SPECS {
        let (jwk, kid) = signing_jwk(&p, jwks, alg_name);
        let pem = format!("out/private/{spec}.pem");
        let pem_text = String::from_utf8(p.read(&pem)).unwrap();
        assert!(pem_text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem} is not PKCS#8 PEM");
        let token = py(&p, &["sign-pem", &pem, alg_name, &kid, spec]);

        assert_python(&p, jwks, &token, "valid", spec);
        // jsonwebtoken has no ES512: python cryptography is the only verifier there.
        if let Ok(alg) = alg_name.parse::<Algorithm>() {
            assert_jsonwebtoken_accepts(&token, &jwk, alg, spec);
        }
        for (part, name) in [(1, "payload"), (2, "signature")] {
            let bad = tamper(&token, part);
            assert_python(&p, jwks, &bad, "invalid", &format!("{spec}: token with a flipped {name} character"));
        }
    }
    // The ES512 key is on P-521 with 66-byte coordinates.
    let (es512, _) = signing_jwk(&p, jwks, "ES512");
    assert_eq!(es512["crv"], "P-521");
}

#[test]
fn private_jwk_members_sign_tokens_that_verify_against_public_jwks() {
    let p = built_project();
    let public = "out/public/jwks.json";
    let private = "out/private/jwks.json";
    let public_keys = keys_of(&p, public);
    let private_keys = keys_of(&p, private);
    let kids = |keys: &[Value]| keys.iter().map(|k| k["kid"].clone()).collect::<Vec<_>>();
    assert_eq!(kids(&private_keys), kids(&public_keys), "private and public sets list different keys");
    assert_eq!(private_keys.len(), crate::common::SIGNING_SPECS.len());

    for (spec, alg_name, _) in crate::common::SIGNING_SPECS {
        let (jwk, kid) = signing_jwk(&p, public, alg_name);
        // The private JWK is the public one plus private members.
        let private_jwk = only_key(&p, private, "kid", &kid);
        for (name, value) in jwk.as_object().unwrap() {
            assert_eq!(&private_jwk[name], value, "{kid}: private JWK's `{name}` differs from the public one");
        }
        // Rebuilt from the private members alone (consistency checked in python), signed, verified.
        let token = py(&p, &["sign-jwk", private, &kid, spec]);
        assert_python(&p, public, &token, "valid", &format!("{spec}: token signed with the private JWK"));
        if let Ok(alg) = alg_name.parse::<Algorithm>() {
            assert_jsonwebtoken_accepts(&token, &jwk, alg, spec);
        }
        let bad = tamper(&token, 2);
        assert_python(&p, public, &bad, "invalid", &format!("{spec}: private-JWK token, flipped signature"));
    }
}

#[test]
fn nested_set_token_verifies_against_its_own_jwks_only() {
    let es256 = [("es256", "ES256", "kty = \"EC\"\ncrv = \"P-256\"")];
    let p = Project::with_keyset(&keyset_toml(&es256));
    p.write("keys/tenants/acme/keyset.toml", keyset_toml(&es256).as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);

    let acme = "out/public/tenants/acme/jwks.json";
    let root = "out/public/jwks.json";
    let (jwk, kid) = signing_jwk(&p, acme, "ES256");
    let (root_jwk, root_kid) = signing_jwk(&p, root, "ES256");
    assert_ne!((&jwk["x"], &jwk["y"]), (&root_jwk["x"], &root_jwk["y"]), "both sets publish the same key");

    let token = sign_with_pem(&p.read("out/private/tenants/acme/es256.pem"), Algorithm::ES256, &kid, "acme");
    assert_jsonwebtoken_accepts(&token, &jwk, Algorithm::ES256, "acme");
    assert_python(&p, acme, &token, "valid", "acme token");
    for part in [1, 2] {
        let bad = tamper(&token, part);
        assert_jsonwebtoken_rejects(&bad, &jwk, Algorithm::ES256, "tampered acme token");
        assert_python(&p, acme, &bad, "invalid", "tampered acme token");
    }

    // The root set's key does not verify the tenant's token (kids are per set and may coincide).
    assert_jsonwebtoken_rejects(&token, &root_jwk, Algorithm::ES256, "acme token checked with the root key");
    let expected_at_root = if root_kid == kid { "invalid" } else { "no-key" };
    assert_python(&p, root, &token, expected_at_root, "acme token checked against the root set");

    // The tenant's private JWK signs tokens its public set verifies.
    let token = py(&p, &["sign-jwk", "out/private/tenants/acme/jwks.json", &kid, "acme"]);
    assert_python(&p, acme, &token, "valid", "acme token signed with the private JWK");
    assert_jsonwebtoken_accepts(&token, &jwk, Algorithm::ES256, "acme");
}
