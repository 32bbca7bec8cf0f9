//! An issuer the world accepts (issue 14): the discovery document member for member, for root
//! and nested sets; `jwks.json` with the current signing keys first whatever the spec order;
//! `out/private/<set>/verify.pem`; `check`'s notice of where a set must be served; and each
//! relying-party rule of `check`, end to end. (The clients themselves: `tests/discovery.rs`.)

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::{NOW, Project, RSA_SIG_SPEC, kids, tool};

/// A `[[key]]` entry.
fn spec(name: &str, kty: &str, alg: &str, key_use: &str) -> String {
    let shape = if kty == "RSA" { "kty = \"RSA\"\nsize = 2048" } else { "kty = \"EC\"\ncrv = \"P-256\"" };
    format!("[[key]]\nspec = \"{name}\"\n{shape}\nuse = \"{key_use}\"\nalg = \"{alg}\"\n\n")
}

/// Four EC specs, encryption ones listed first.
fn enc_first_specs() -> String {
    [
        spec("a-enc", "EC", "ECDH-ES", "enc"),
        spec("b-sig", "EC", "ES256", "sig"),
        spec("c-enc", "EC", "ECDH-ES", "enc"),
        "[[key]]\nspec = \"d-sig\"\nkty = \"EC\"\ncrv = \"P-384\"\nuse = \"sig\"\nalg = \"ES384\"\n\n".to_string(),
    ]
    .concat()
}

fn built(keyset: &str) -> Project {
    let p = Project::with_keyset(keyset);
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    p
}

fn stderr_of(p: &Project, args: &[&str]) -> String {
    String::from_utf8_lossy(&p.ok(args).stderr).into_owned()
}

#[test]
fn jwks_lists_current_signing_keys_first_whatever_the_spec_order() {
    let p = built(&enc_first_specs());
    let order: Vec<String> = kids(&p.json("out/public/jwks.json"));
    assert_eq!(order, ["b-sig-001", "d-sig-001", "a-enc-001", "c-enc-001"]);
    let private: Vec<String> = kids(&p.json("out/private/jwks.json"));
    assert_eq!(private, order, "out/private/jwks.json in the same order");
    let stderr = stderr_of(&p, &["check", "--strict", "--now", NOW]);
    assert!(!stderr.contains("keys[0]"), "{stderr}");
}

#[test]
fn verify_pem_holds_every_signing_key_of_jwks_json_in_its_order() {
    let p = Project::with_keyset(&enc_first_specs());
    p.ok(&["rotate", "--now", NOW]);
    // A public-only signing key (held in a KMS): published, so in verify.pem too.
    let private = tool("openssl", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], p.path());
    p.write("partner.key", &private);
    let public = tool("openssl", &["pkey", "-in", "partner.key", "-pubout"], p.path());
    p.write("keys/partner.pem", &public);
    fs::remove_file(p.at("partner.key")).unwrap();
    p.ok(&["build", "--now", NOW]);

    let order = kids(&p.json("out/public/jwks.json"));
    assert_eq!(order[..3], ["b-sig-001", "d-sig-001", "partner"]);
    let pem_of = |kid: &str| match kid {
        "partner" => public.clone(),
        _ => p.read(&format!("keys/{kid}.pub.pem")),
    };
    let expected: Vec<u8> = order[..3].iter().flat_map(|kid| pem_of(kid)).collect();
    assert_eq!(String::from_utf8(p.read("out/private/verify.pem")).unwrap(), String::from_utf8(expected).unwrap());
    let mode = fs::metadata(p.at("out/private/verify.pem")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!p.at("out/public/verify.pem").exists());
}

#[test]
fn discovery_document_members_in_order_with_the_discovery_table() {
    let keyset = format!(
        "issuer = \"https://keys.example.com/\"\n{}{}\n[discovery]\ntoken_endpoint = \"https://keys.example.com/token\"\nauthorization_endpoint = \"urn:kubernetes:programmatic_authorization\"\nsubject_types_supported = [\"public\", \"pairwise\"]\n",
        enc_first_specs(),
        RSA_SIG_SPEC
    );
    let p = built(&keyset);
    let text = String::from_utf8(p.read("out/public/.well-known/openid-configuration")).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"issuer":"https://keys.example.com/","jwks_uri":"https://keys.example.com/jwks.json","#,
            r#""response_types_supported":["id_token"],"subject_types_supported":["public","pairwise"],"#,
            r#""id_token_signing_alg_values_supported":["ES256","ES384","RS256"],"#,
            r#""authorization_endpoint":"urn:kubernetes:programmatic_authorization","#,
            r#""token_endpoint":"https://keys.example.com/token"}"#,
            "\n"
        )
    );
    p.ok(&["build", "--now", NOW, "--pretty"]);
    let pretty = p.json("out/public/.well-known/openid-configuration");
    assert_eq!(pretty, serde_json::from_str::<serde_json::Value>(&text).unwrap());
}

#[test]
fn a_nested_issuer_serves_its_own_directory() {
    let p = Project::with_keyset(&spec("sig", "EC", "ES256", "sig"));
    p.write(
        "keys/tenants/acme/keyset.toml",
        format!("issuer = \"https://keys.example.com/tenants/acme\"\n{}", spec("sig", "EC", "ES256", "sig")).as_bytes(),
    );
    p.write(
        "keys/tenants/beta/keyset.toml",
        format!("issuer = \"https://beta.example.com\"\n{}", spec("sig", "EC", "ES256", "sig")).as_bytes(),
    );
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    let acme = p.json("out/public/tenants/acme/.well-known/openid-configuration");
    assert_eq!(acme["jwks_uri"], "https://keys.example.com/tenants/acme/jwks.json");
    let beta = p.json("out/public/tenants/beta/.well-known/openid-configuration");
    assert_eq!(beta["jwks_uri"], "https://beta.example.com/jwks.json");

    let stderr = stderr_of(&p, &["check", "--strict", "--now", NOW]);
    let notices: Vec<&str> = stderr.lines().filter(|l| l.starts_with("notice: ")).collect();
    assert_eq!(notices.len(), 1, "only beta's issuer lacks its publish path: {stderr}");
    assert!(notices[0].contains("set tenants/beta"), "{stderr}");
    assert!(notices[0].contains("https://beta.example.com/.well-known/openid-configuration"), "{stderr}");
    assert!(!stderr.contains("warning"), "a notice is not a warning: {stderr}");
    let quiet = stderr_of(&p, &["check", "-q", "--now", NOW]);
    assert!(quiet.is_empty(), "{quiet}");
}

#[test]
fn a_loopback_http_issuer_is_accepted() {
    for issuer in ["http://127.0.0.1:8080/tenants/acme", "http://localhost:3000", "http://[::1]:9000/"] {
        let p = Project::with_keyset(&format!("issuer = \"{issuer}\"\n{}", spec("sig", "EC", "ES256", "sig")));
        p.ok(&["build", "--now", NOW]);
        assert_eq!(p.json("out/public/.well-known/openid-configuration")["issuer"], issuer);
    }
}

/// The relying-party warnings of `check` on a project built from `keyset` (after `more`).
fn party_warnings(keyset: &str, more: impl FnOnce(&Project)) -> Vec<String> {
    let p = Project::with_keyset(keyset);
    p.ok(&["rotate", "--now", NOW]);
    more(&p);
    p.ok(&["build", "--now", NOW]);
    let stderr = stderr_of(&p, &["check", "--now", NOW]);
    let warnings: Vec<String> = stderr.lines().filter(|l| l.contains(": relying party ")).map(str::to_string).collect();
    if !warnings.is_empty() {
        let strict = p.fails(&["check", "--strict", "--now", NOW], 1);
        assert!(strict.contains("--strict"), "{strict}");
    }
    warnings
}

/// Asserts exactly one relying-party warning, for `party` and `rule`, mentioning `detail`.
fn one_warning(warnings: &[String], party: &str, rule: &str, detail: &str) {
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let prefix = format!("warning: set .: relying party {party}: {rule}: ");
    assert!(warnings[0].starts_with(&prefix), "{prefix}\n{}", warnings[0]);
    assert!(warnings[0].contains(detail), "{detail}\n{}", warnings[0]);
}

const HTTPS: &str = "issuer = \"https://keys.example.com\"\n";

#[test]
fn aws_issuer_set_and_https() {
    let w = party_warnings(&format!("relying_parties = [\"aws\"]\n{}", spec("s", "EC", "ES256", "sig")), |_| {});
    one_warning(&w, "aws", "issuer set and https", "`issuer` is not set");
    let ok =
        party_warnings(&format!("relying_parties = [\"aws\"]\n{HTTPS}{}", spec("s", "EC", "ES256", "sig")), |_| {});
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn aws_at_most_100_keys() {
    let specs: String = (0..101).map(|i| spec(&format!("s{i:03}"), "EC", "ES256", "sig")).collect();
    let w = party_warnings(&format!("relying_parties = [\"aws\"]\n{HTTPS}{specs}"), |_| {});
    one_warning(&w, "aws", "at most 100 keys in jwks.json", "101 keys");
}

#[test]
fn entra_issuer_set_and_https() {
    let keyset = format!("relying_parties = [\"entra\"]\nissuer = \"http://127.0.0.1:8080\"\n{RSA_SIG_SPEC}");
    one_warning(&party_warnings(&keyset, |_| {}), "entra", "issuer set and https", "not https://");
}

#[test]
fn entra_signing_algs_only_rsa() {
    let specs =
        format!("{RSA_SIG_SPEC}{}{}", spec("ec-sig", "EC", "ES256", "sig"), spec("ec-enc", "EC", "ECDH-ES", "enc"));
    let w = party_warnings(&format!("relying_parties = [\"entra\"]\n{HTTPS}{specs}"), |_| {});
    one_warning(&w, "entra", "signing algs only RS256/384/512 or PS256/384/512", "key ec-sig-001 (ES256)");
}

#[test]
fn gcp_jwk_members_only() {
    let keyset = format!("relying_parties = [\"gcp\"]\n{}", spec("s", "EC", "ES256", "sig"));
    assert!(party_warnings(&keyset, |_| {}).is_empty());
    let w = party_warnings(&format!("x5c = true\n{keyset}"), |_| {});
    one_warning(&w, "gcp", "JWK members only kty, alg, use, kid, n, e, x, y, crv", "`x5c`");
}

#[test]
fn kubernetes_issuer_set_and_https() {
    let keyset = format!("relying_parties = [\"kubernetes\"]\nkid = \"spki-sha256\"\n{RSA_SIG_SPEC}");
    one_warning(&party_warnings(&keyset, |_| {}), "kubernetes", "issuer set and https", "`issuer` is not set");
    assert!(party_warnings(&format!("{HTTPS}{keyset}"), |_| {}).is_empty(), "the kubernetes profile passes");
}

#[test]
fn kubernetes_kid_spki_sha256() {
    let keyset = format!("relying_parties = [\"kubernetes\"]\n{HTTPS}{}", spec("s", "EC", "ES256", "sig"));
    one_warning(&party_warnings(&keyset, |_| {}), "kubernetes", "kid = \"spki-sha256\"", "keyset.toml does not set");
    // A hand-dropped key keeps the kid of its file name, which is not its SPKI hash.
    let hand = |p: &Project| {
        let key = tool("openssl", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], p.path());
        p.write("k.pem", &key);
        p.write("keys/sa.pem", &tool("openssl", &["pkey", "-in", "k.pem", "-pubout"], p.path()));
    };
    let w = party_warnings(&format!("kid = \"spki-sha256\"\n{keyset}"), hand);
    one_warning(&w, "kubernetes", "kid = \"spki-sha256\"", "signing key sa ");
}

#[test]
fn kubernetes_rsa_signing_keys_use_rs256() {
    let keyset = format!(
        "relying_parties = [\"kubernetes\"]\n{HTTPS}kid = \"spki-sha256\"\n{}{}",
        spec("ps", "RSA", "PS256", "sig"),
        spec("ec", "EC", "ES256", "sig")
    );
    let w = party_warnings(&keyset, |_| {});
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("warning: set .: relying party kubernetes: RSA signing keys use RS256: key "), "{w:?}");
    assert!(w[0].contains("(PS256)"), "{w:?}");
}

#[test]
fn google_oauth_java_every_key_rs256_or_es256() {
    let specs =
        format!("{RSA_SIG_SPEC}{}{}", spec("ec-sig", "EC", "ES256", "sig"), spec("ec-enc", "EC", "ECDH-ES", "enc"));
    let w = party_warnings(&format!("relying_parties = [\"google-oauth-java\"]\n{specs}"), |_| {});
    one_warning(&w, "google-oauth-java", "every key has alg RS256 or ES256", "key ec-enc-001 (ECDH-ES)");
}
