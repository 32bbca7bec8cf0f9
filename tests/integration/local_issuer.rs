//! `serve --local-issuer` (SPEC §5.2), against the real binary with a raw HTTP client: the
//! discovery documents of a root and a nested set at the bound address (whatever the sets'
//! own `issuer`), the token endpoint's answers (HTTP Basic and body credentials, audience,
//! scope, the RFC 6749 errors, 503 for a set that cannot sign: public-only, or age-encrypted
//! without an identity), tokens that verify against the served `jwks.json`, nothing written
//! under `out/`, a stalled token request that delays no other client, and plain `serve` with no
//! token endpoint and its files byte for byte.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::common::running::Running;
use crate::common::{NOW, Project, assert_no_leak_in_text, snapshot};

/// The longest any wait may take, so that a failure never hangs CI.
const WAIT: Duration = Duration::from_secs(20);
/// `NOW` as a Unix time: the tokens' `iat` under `--now NOW`.
const NOW_UNIX: i64 = 1_767_225_600;

/// An EC signing spec first (fast keys), an encryption spec, a second signing spec.
const KEYSET: &str = r#"[[key]]
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

[[key]]
spec = "ec384-sig"
kty = "EC"
crv = "P-384"
use = "sig"
alg = "ES384"
"#;

/// A nested set with a production issuer and `[discovery]` members the local issuer must not use.
const NESTED: &str = r#"issuer = "https://keys.example.com/tenants/acme"

[discovery]
token_endpoint = "https://auth.example.com/token"

[[key]]
spec = "ec-sig"
kty = "EC"
crv = "P-256"
use = "sig"
alg = "ES256"
"#;

/// `jwksmith serve …` running in a project; killed on drop, its output scanned for keys.
struct Server {
    _running: Running,
    addr: SocketAddr,
}

impl Server {
    /// Starts `serve --addr 127.0.0.1:0 ARGS` with `env`, and waits for its first build.
    fn start(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Server {
        let args = [&["serve", "--addr", "127.0.0.1:0"], args].concat();
        let mut running = Running::start_with(p, &args, |command| {
            command
                .env("JWKSMITH_CACHE_DIR", "off")
                .env_remove("JWKSMITH_AGE_IDENTITY")
                .env_remove("JWKSMITH_AGE_IDENTITY_FILE")
                .envs(env.iter().copied());
        })
        .waiting(WAIT);
        let addr = running.served();
        Server { _running: running, addr }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// `METHOD path` with extra header lines and a body, on a connection of its own.
fn send(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &[u8]) -> Response {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let length =
        if body.is_empty() && method != "POST" { String::new() } else { format!("Content-Length: {}\r\n", body.len()) };
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}{length}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no head: {raw:?}"));
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("a status");
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    let body = raw[end + 4..].to_vec();
    assert_no_leak_in_text(&String::from_utf8_lossy(&body), &format!("body of {method} {path}"));
    Response { status, headers, body }
}

fn get(addr: SocketAddr, path: &str) -> Response {
    send(addr, "GET", path, "", b"")
}

const FORM: &str = "Content-Type: application/x-www-form-urlencoded\r\n";

fn basic(id: &str, secret: &str) -> String {
    format!("Authorization: Basic {}\r\n", STANDARD.encode(format!("{id}:{secret}")))
}

/// POSTs a form to a token endpoint.
fn post_form(addr: SocketAddr, path: &str, headers: &str, form: &str) -> Response {
    send(addr, "POST", path, &format!("{FORM}{headers}"), form.as_bytes())
}

/// The two root keys' project: a root set (enc spec first) and the nested set, made by rotate.
fn project() -> Project {
    let p = Project::with_keyset(KEYSET);
    p.write("keys/tenants/acme/keyset.toml", NESTED.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p
}

/// The header and claims of a compact JWT, after checking its signature with the JWK of its
/// kid in `jwks` (jsonwebtoken, an independent implementation).
fn verified(token: &str, jwks: &Value) -> (Value, Value) {
    let part = |i: usize| -> Value {
        let bytes = URL_SAFE_NO_PAD.decode(token.split('.').nth(i).expect("three parts")).expect("base64url");
        serde_json::from_slice(&bytes).expect("JSON")
    };
    let (header, claims) = (part(0), part(1));
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("kid published");
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let alg: jsonwebtoken::Algorithm = header["alg"].as_str().unwrap().parse().unwrap();
    let mut validation = jsonwebtoken::Validation::new(alg);
    // Under --now the token is from the test's instant, not the clock's; times are checked below.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap_or_else(|e| panic!("signature: {e}"));
    (header, claims)
}

#[test]
fn documents_name_the_local_issuer_of_root_and_nested_sets() {
    let p = project();
    let server = Server::start(&p, &["--local-issuer", "--now", NOW], &[]);
    let base = server.base();
    for (path, algs) in [("", json!(["ES256", "ES384"])), ("tenants/acme", json!(["ES256"]))] {
        let issuer = if path.is_empty() { base.clone() } else { format!("{base}/{path}") };
        let url = if path.is_empty() { String::new() } else { format!("/{path}") };
        let r = get(server.addr, &format!("{url}/.well-known/openid-configuration"));
        assert_eq!(r.status, 200, "{path:?}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        let doc = r.json();
        assert_eq!(
            doc,
            json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}/jwks.json"),
                "token_endpoint": format!("{issuer}/token"),
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": algs,
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }),
            "{path:?}"
        );
        let keys = get(server.addr, &format!("{url}/jwks.json"));
        let prefix = if path.is_empty() { String::new() } else { format!("{path}/") };
        assert_eq!(keys.body, p.read(&format!("out/public/{prefix}jwks.json")), "jwks_uri serves the set's jwks.json");
        let preflight = send(server.addr, "OPTIONS", &format!("{url}/.well-known/openid-configuration"), "", b"");
        assert_eq!(preflight.status, 204);
        assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    }
    // The production document on disk is left as build wrote it.
    let built = p.json("out/public/tenants/acme/.well-known/openid-configuration");
    assert_eq!(built["issuer"], "https://keys.example.com/tenants/acme");
    assert_eq!(get(server.addr, "/tenants/nope/.well-known/openid-configuration").status, 404, "not a set");
}

#[test]
fn the_token_endpoint_mints_tokens_of_the_local_issuer() {
    let p = project();
    let server = Server::start(&p, &["--local-issuer", "--now", NOW], &[]);
    let base = server.base();
    let jwks = p.json("out/public/jwks.json");
    let current_sig = p.json("keys/ec-sig-001.meta.json")["kid"].clone();

    let r = post_form(server.addr, "/token", &basic("my app", "s3cret:x"), "grant_type=client_credentials");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let answer = r.json();
    let members: Vec<&String> = answer.as_object().unwrap().keys().collect();
    assert_eq!(members.len(), 3, "{answer}");
    assert_eq!((&answer["token_type"], &answer["expires_in"]), (&json!("Bearer"), &json!(3600)));
    let (header, claims) = verified(answer["access_token"].as_str().unwrap(), &jwks);
    assert_eq!(header, json!({"alg": "ES256", "kid": current_sig, "typ": "JWT"}), "the first signing spec's key");
    assert_eq!(claims, json!({"iss": base, "sub": "my app", "iat": NOW_UNIX, "exp": NOW_UNIX + 3600}));

    let form =
        "grant_type=client_credentials&client_id=svc%2B1&client_secret=x&audience=https%3A%2F%2Fapi&scope=read+write";
    let r = post_form(server.addr, "/tenants/acme/token", "", form);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    let (_, claims) = verified(&token, &p.json("out/public/tenants/acme/jwks.json"));
    assert_eq!(
        claims,
        json!({"iss": format!("{base}/tenants/acme"), "sub": "svc+1", "aud": "https://api", "iat": NOW_UNIX,
               "exp": NOW_UNIX + 3600, "scope": "read write"})
    );
    let order: Vec<&str> = ["\"iss\"", "\"sub\"", "\"aud\"", "\"iat\"", "\"exp\"", "\"scope\""].to_vec();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let at: Vec<usize> = order.iter().map(|m| payload.find(m).unwrap_or_else(|| panic!("{m} in {payload}"))).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "claims in order: {payload}");

    let r =
        post_form(server.addr, "/token?x=1", &basic("a", ""), "grant_type=client_credentials&audience=x&audience=y");
    let (_, claims) = verified(r.json()["access_token"].as_str().unwrap(), &jwks);
    assert_eq!(claims["aud"], json!(["x", "y"]));
}

#[test]
fn the_token_endpoint_refuses_what_is_not_a_client_credentials_request() {
    let p = project();
    let server = Server::start(&p, &["--local-issuer", "--now", NOW], &[]);
    let addr = server.addr;
    let r = post_form(addr, "/token", &basic("c", "s"), "grant_type=password&username=u&password=p");
    assert_eq!((r.status, r.json()), (400, json!({"error": "unsupported_grant_type"})));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let invalid: [(&str, &str, &[u8]); 5] = [
        ("no content type", "", b"grant_type=client_credentials"),
        ("JSON", "Content-Type: application/json\r\n", br#"{"grant_type":"client_credentials"}"#),
        ("no grant_type", FORM, b"client_id=c"),
        ("a bad escape", FORM, b"grant_type=client_credentials&client_id=%zz"),
        ("grant_type twice", FORM, b"grant_type=client_credentials&grant_type=client_credentials&client_id=c"),
    ];
    for (what, headers, body) in invalid {
        let r = send(addr, "POST", "/tenants/acme/token", &format!("{headers}{}", basic("c", "s")), body);
        assert_eq!(r.status, 400, "{what}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["error"], "invalid_request", "{what}");
        assert!(r.json()["error_description"].is_string(), "{what}");
        assert_eq!(r.header("content-type"), Some("application/json"), "{what}");
    }
    let r = post_form(addr, "/token", "", "grant_type=client_credentials");
    assert_eq!((r.status, r.json()["error"].clone()), (401, json!("invalid_client")));
    assert!(r.header("www-authenticate").is_some_and(|v| v.starts_with("Basic ")));
    let huge = format!("grant_type=client_credentials&client_id=c&pad={}", "x".repeat(70 * 1024));
    assert_eq!(post_form(addr, "/token", "", &huge).status, 413);
    let r = get(addr, "/token");
    assert_eq!((r.status, r.header("allow")), (405, Some("POST, OPTIONS")));
    let preflight = send(addr, "OPTIONS", "/token", "", b"");
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-methods"), Some("POST, OPTIONS"));
    assert!(preflight.header("access-control-allow-headers").is_some_and(|h| h.contains("Authorization")));
}

#[test]
fn a_set_that_cannot_sign_answers_503_saying_why() {
    let p = project();
    // Public-only: the current signing key's private file is gone (a key held in a KMS).
    std::fs::remove_file(p.at("keys/tenants/acme/ec-sig-001.key.pem")).unwrap();
    // An encryption spec only.
    p.write("keys/enc-only/keyset.toml", KEYSET.split("[[key]]\nspec = \"ec-sig\"").next().unwrap().as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    let server = Server::start(&p, &["--local-issuer", "--now", NOW], &[]);
    let r = post_form(server.addr, "/tenants/acme/token", &basic("c", "s"), "grant_type=client_credentials");
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    let why = r.json()["error_description"].as_str().unwrap().to_string();
    assert!(why.contains("ec-sig-001") && why.contains("private"), "{why}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = post_form(server.addr, "/enc-only/token", &basic("c", "s"), "grant_type=client_credentials");
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["error_description"].as_str().unwrap().contains("signing"), "{}", r.json());
    // The document of a public-only set is still there: verifiers need no private key.
    assert_eq!(get(server.addr, "/tenants/acme/.well-known/openid-configuration").status, 200);
}

#[test]
fn an_age_encrypted_key_signs_only_with_an_identity() {
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let p = Project::with_keyset(&format!("recipients = [\"{recipient}\"]\n{}", crate::common::EC_SPECS));
    p.ok(&["rotate", "--now", NOW]);
    assert!(p.at("keys/ec-sig-001.key.age").exists() && !p.at("keys/ec-sig-001.key.pem").exists());
    let without = Server::start(&p, &["--local-issuer", "--now", NOW], &[]);
    let r = post_form(without.addr, "/token", &basic("c", "s"), "grant_type=client_credentials");
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    let why = r.json()["error_description"].as_str().unwrap().to_string();
    assert!(why.contains("ec-sig-001.key.age") && why.contains("JWKSMITH_AGE_IDENTITY"), "{why}");
    drop(without);
    let secret = identity.to_string();
    let with =
        Server::start(&p, &["--local-issuer", "--now", NOW], &[("JWKSMITH_AGE_IDENTITY", secret.expose_secret())]);
    let r = post_form(with.addr, "/token", &basic("c", "s"), "grant_type=client_credentials");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    verified(r.json()["access_token"].as_str().unwrap(), &p.json("out/public/jwks.json"));
}

#[test]
fn the_local_issuer_writes_nothing_under_out() {
    let p = project();
    p.ok(&["build", "--now", NOW]);
    let (out, keys) = (p.snapshot("out"), p.snapshot("keys"));
    let server = Server::start(&p, &["--local-issuer", "--now", NOW], &[]);
    for path in ["", "/tenants/acme"] {
        assert_eq!(get(server.addr, &format!("{path}/.well-known/openid-configuration")).status, 200);
        let r = post_form(server.addr, &format!("{path}/token"), &basic("c", "s"), "grant_type=client_credentials");
        assert_eq!(r.status, 200);
    }
    assert_eq!(p.snapshot("out"), out, "out/ as build left it");
    assert_eq!(p.snapshot("keys"), keys, "keys/ untouched");
    assert!(!p.at("out/public/.well-known/openid-configuration").exists(), "the root set has no issuer: no file");
    drop(server);
    let leftovers: Vec<String> = snapshot(p.path()).into_keys().filter(|f| f.contains("tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_stalled_token_request_delays_no_other_client() {
    let p = project();
    let server = Server::start(&p, &["--local-issuer", "--now", NOW], &[]);
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    let head = format!("POST /token HTTP/1.1\r\nHost: x\r\n{FORM}Content-Length: 5000\r\n\r\ngrant_type=");
    stalled.write_all(head.as_bytes()).unwrap();
    thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let r = post_form(server.addr, "/token", &basic("c", "s"), "grant_type=client_credentials");
    let doc = get(server.addr, "/tenants/acme/.well-known/openid-configuration");
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?} beside a stalled body", start.elapsed());
    assert_eq!((r.status, doc.status), (200, 200));
    drop(stalled);
}

#[test]
fn plain_serve_has_no_local_issuer() {
    let p = project();
    let server = Server::start(&p, &["--now", NOW], &[]);
    let r = post_form(server.addr, "/token", &basic("c", "s"), "grant_type=client_credentials");
    assert_eq!(r.status, 405, "no token endpoint");
    assert_eq!(post_form(server.addr, "/tenants/acme/token", "", "grant_type=client_credentials").status, 405);
    assert_eq!(get(server.addr, "/token").status, 404);
    assert_eq!(get(server.addr, "/.well-known/openid-configuration").status, 404, "the root set has no issuer");
    let nested = get(server.addr, "/tenants/acme/.well-known/openid-configuration");
    assert_eq!(nested.status, 200);
    assert_eq!(nested.body, p.read("out/public/tenants/acme/.well-known/openid-configuration"), "byte for byte");
    for (rel, bytes) in p.snapshot("out/public") {
        if rel.ends_with(".json") {
            assert_eq!(get(server.addr, &format!("/{rel}")).body, bytes, "{rel}");
        }
    }
}
