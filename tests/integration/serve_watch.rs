//! `serve` and `watch` as real child processes: files and `_headers` over loopback HTTP, 404s and
//! traversal, the loopback-only rule, rebuilds on changes to keys, templates and keyset.toml, and
//! PyJWT verifying tokens against the served `jwks.json`.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::common::running::Running;
use crate::common::{NOW, Project, assert_no_leak_in_dir, assert_no_leak_in_text, snapshot, tool};
use serde_json::Value;

/// A root set with one RSA and one EC signing key, an issuer and the API mirrors on.
const ROOT_KEYSET: &str = r#"service_id = "example"
issuer = "https://issuer.example"
api_mirrors = true

[[key]]
spec = "rsa-sig"
kty = "RSA"
size = 2048
use = "sig"
alg = "RS256"

[[key]]
spec = "ec256-sig"
kty = "EC"
crv = "P-256"
use = "sig"
alg = "ES256"
"#;

/// A nested set with one EC signing key.
const TENANT_KEYSET: &str = r#"service_id = "acme"
issuer = "https://acme.example"
api_mirrors = true

[[key]]
spec = "ec256-sig"
kty = "EC"
crv = "P-256"
use = "sig"
alg = "ES256"
"#;

/// A set with only an EC signing key (fast to rotate).
const EC_KEYSET: &str = r#"[[key]]
spec = "ec256-sig"
kty = "EC"
crv = "P-256"
use = "sig"
alg = "ES256"
"#;

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client.

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// Every value of a header (names compared without case).
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The single value of a header; panics if it is sent more than once.
    fn header(&self, name: &str) -> Option<&str> {
        let values = self.all(name);
        assert!(values.len() <= 1, "header {name} sent {} times: {values:?}", values.len());
        values.first().copied()
    }
}

/// Decodes a chunked body; `None` while it is incomplete.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(body);
        }
        if data.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Parses a response; `None` while it is incomplete (unless `eof`).
fn parse_response(raw: &[u8], eof: bool) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(length) = find("content-length") {
        let length: usize = length.parse().expect("Content-Length is a number");
        if rest.len() < length {
            return None;
        }
        rest[..length].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Response { status, headers, body })
}

/// `GET path` with the request target sent exactly as given (no normalisation of `..` or `%2e`).
/// Every body is checked for private key material.
fn get(addr: SocketAddr, path: &str) -> Response {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: jwksmith-test\r\nConnection: close\r\n\r\n")
        .unwrap_or_else(|e| panic!("send GET {path}: {e}"));
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let response = loop {
        let n = stream.read(&mut buf).unwrap_or_else(|e| panic!("GET {path}: reading the response: {e}"));
        raw.extend_from_slice(&buf[..n]);
        if let Some(r) = parse_response(&raw, n == 0) {
            break r;
        }
        assert!(n != 0, "GET {path}: connection closed mid-response: {raw:?}");
    };
    assert_no_leak_in_text(&String::from_utf8_lossy(&response.body), &format!("body of GET {path}"));
    response
}

/// `HEAD path`: the status line and headers (lower-case names), and whatever followed them
/// before the server closed the connection (nothing, for a HEAD).
fn head(addr: SocketAddr, path: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "HEAD {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap_or_else(|e| panic!("HEAD {path}: {e}"));
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head") + 4;
    let text = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = text.lines();
    let status = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, raw[end..].to_vec())
}

// ---------------------------------------------------------------------------------------------
// Helpers on the project.

/// The rules of a `_headers` file: path pattern → headers (an independent reading of the format);
/// a `! Name` line is the header name with no value (it removes what earlier rules set).
type Rules = Vec<(String, Vec<(String, Option<String>)>)>;

fn headers_rules(text: &str) -> Rules {
    let mut rules: Rules = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let rule = &mut rules.last_mut().expect("header line before any path").1;
            match line.trim().strip_prefix("! ") {
                Some(name) => rule.push((name.trim().to_string(), None)),
                None => {
                    let (name, value) = line.trim().split_once(':').expect("header line is `Name: value`");
                    rule.push((name.trim().to_string(), Some(value.trim().to_string())));
                }
            }
        } else {
            rules.push((line.trim().to_string(), Vec::new()));
        }
    }
    rules
}

/// The headers `_headers` declares for a URL path: every matching rule in file order, a later
/// rule's `! Name` removing what earlier ones set.
fn declared(rules: &Rules, path: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (_, headers) in rules.iter().filter(|(pattern, _)| crate::common::header_pattern_matches(pattern, path)) {
        for (name, value) in headers {
            match value {
                None => out.retain(|(n, _)| !n.eq_ignore_ascii_case(name)),
                Some(v) => out.push((name.clone(), v.clone())),
            }
        }
    }
    out
}

/// A JSON file, or `None` while it is missing or unreadable.
fn try_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// The JWK with this kid in a JWK Set.
fn jwk<'a>(jwks: &'a Value, kid: &str) -> Option<&'a Value> {
    jwks["keys"].as_array()?.iter().find(|k| k["kid"] == kid)
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .map(|keys| keys.iter().map(|k| k["kid"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

/// Key files under `keys/` (private, public, certificate, metadata), relative paths.
fn key_files(p: &Project) -> BTreeSet<String> {
    snapshot(&p.at("keys"))
        .into_keys()
        .filter(|f| [".key.pem", ".pub.pem", ".crt.pem", ".meta.json"].iter().any(|s| f.ends_with(s)))
        .collect()
}

/// A new P-256 private key (PKCS#8 PEM) from openssl.
fn openssl_ec_key(p: &Project, name: &str) -> std::path::PathBuf {
    let path = p.at(name);
    tool(
        "openssl",
        &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path.to_str().unwrap()],
        p.path(),
    );
    path
}

/// A project with a root set (RSA + EC) and `tenants/acme` (EC), keys made by `rotate`.
fn two_set_project() -> Project {
    let p = Project::with_keyset(ROOT_KEYSET);
    p.write("keys/tenants/acme/keyset.toml", TENANT_KEYSET.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p
}

/// Starts `serve` on an ephemeral loopback port and waits for its first build.
fn serve(p: &Project) -> (Running, SocketAddr) {
    let mut server = Running::start(p, &["serve", "--addr", "127.0.0.1:0", "--now", NOW]);
    let addr = server.serving_addr();
    assert!(addr.ip().is_loopback(), "serving on {addr}");
    assert_ne!(addr.port(), 0, "the bound port is printed, not 0");
    server.until("the first build", |r| r.builds() >= 1);
    (server, addr)
}

// ---------------------------------------------------------------------------------------------
// serve

#[test]
fn serve_sends_every_file_with_its_declared_headers() {
    let p = two_set_project();
    assert!(!p.at("out/public").exists(), "rotate does not build");
    let (server, addr) = serve(&p);

    // `/` is index.html.
    let index = p.read("out/public/index.html");
    for path in ["/", "/index.html"] {
        let r = get(addr, path);
        assert_eq!(r.status, 200, "GET {path}");
        let ct = r.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("text/html"), "GET {path}: Content-Type {ct:?}");
        assert_eq!(r.body, index, "GET {path} is out/public/index.html");
    }

    // A set's directory is its page, as static hosts serve it; without the slash, a redirect
    // there (the page's relative links resolve inside the directory).
    let page = p.read("out/public/tenants/acme/index.html");
    let r = get(addr, "/tenants/acme/");
    assert_eq!(r.status, 200, "GET /tenants/acme/");
    assert!(r.header("content-type").unwrap_or_default().starts_with("text/html"));
    assert_eq!(r.body, page, "GET /tenants/acme/ is its index.html");
    let r = get(addr, "/tenants/acme");
    assert_eq!((r.status, r.header("location")), (301, Some("/tenants/acme/")), "GET /tenants/acme");

    // `/jwks.json`: the file byte for byte, with the three headers of the contract.
    let jwks = p.read("out/public/jwks.json");
    for path in ["/jwks.json", "/jwks.json?v=2"] {
        let r = get(addr, path);
        assert_eq!(r.status, 200, "GET {path}");
        assert_eq!(r.body, jwks, "GET {path} is out/public/jwks.json byte for byte");
        assert_eq!(r.header("content-type"), Some("application/json"), "GET {path}");
        assert_eq!(r.header("cache-control"), Some("public, max-age=3600"), "GET {path}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "GET {path}");
    }

    // HEAD: the GET's headers and length, no body.
    let (status, headers, rest) = head(addr, "/jwks.json");
    assert!(status.contains(" 200 "), "HEAD /jwks.json: {status}");
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(header("content-length"), Some(jwks.len().to_string()), "HEAD gives the GET's Content-Length");
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert!(rest.is_empty(), "HEAD has no body: {} bytes followed", rest.len());

    // Every file of the site: served byte for byte; every JSON file with exactly the headers
    // `_headers` declares for its path (and `_headers` declares the three for each one).
    let rules = headers_rules(&String::from_utf8(p.read("out/public/_headers")).unwrap());
    let files = p.snapshot("out/public");
    for expected in [
        ".well-known/jwks.json",
        ".well-known/openid-configuration",
        "api/example/service/jwks/get",
        "tenants/acme/jwks.json",
        "tenants/acme/.well-known/jwks.json",
        "api/acme/service/jwks/get",
    ] {
        assert!(files.contains_key(expected), "build wrote {expected}: {:?}", files.keys());
    }
    let mut json_files = 0;
    for (rel, bytes) in &files {
        let path = format!("/{rel}");
        let r = get(addr, &path);
        assert_eq!(r.status, 200, "GET {path}");
        assert_eq!(&r.body, bytes, "GET {path} is out/public/{rel} byte for byte");
        let declared = declared(&rules, &path);
        for (name, value) in &declared {
            assert_eq!(
                r.all(name),
                [value.as_str()],
                "GET {path}: `_headers` declares {name}: {value}; response headers {:?}",
                r.headers
            );
        }
        if serde_json::from_slice::<Value>(bytes).is_ok() {
            json_files += 1;
            for (name, value) in [
                ("Content-Type", "application/json"),
                ("Cache-Control", "public, max-age=3600"),
                ("Access-Control-Allow-Origin", "*"),
            ] {
                assert!(
                    declared.iter().any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value),
                    "`_headers` does not declare {name}: {value} for the JSON file {path}: {declared:?}"
                );
            }
            assert_eq!(r.header("content-type"), Some("application/json"), "GET {path}");
        }
    }
    assert!(json_files >= 12, "only {json_files} JSON files served: {:?}", files.keys());

    // Anything else is a 404.
    for path in
        ["/nope.json", "/private/jwks.json", "/jwks.json/", "/tenants/acme/nope.json", "/rsa-sig.pem", "/keyset.toml"]
    {
        let r = get(addr, path);
        assert_eq!(r.status, 404, "GET {path}: body {:?}", String::from_utf8_lossy(&r.body));
    }
    server.stop();
}

#[test]
fn serve_never_leaves_out_public() {
    let p = two_set_project();
    let (server, addr) = serve(&p);
    let keyset = p.read("keys/keyset.toml");
    let private_jwks = p.read("out/private/jwks.json");
    assert!(String::from_utf8_lossy(&private_jwks).contains("\"d\":"));

    let refused = |path: &str| {
        let r = get(addr, path);
        let body = String::from_utf8_lossy(&r.body).to_string();
        assert_eq!(r.status, 404, "GET {path} must be 404; got body {body:?}");
        assert!(!body.contains("service_id"), "GET {path} served keyset.toml");
        assert!(!body.contains("root:"), "GET {path} served /etc/passwd");
        assert!(r.body != keyset && r.body != private_jwks, "GET {path} served a file outside out/public");
    };
    for path in [
        // The paths of the brief, then ones that would really reach a file (out/public/../..
        // is the project, where keys/ is; out/public/.. holds private/).
        "/../keys/keyset.toml",
        "/../out/private/jwks.json",
        "/../private/jwks.json",
        "/../../keys/keyset.toml",
        "/../../keys/rsa-sig-001.key.pem",
        "/%2e%2e/%2e%2e/keys/keyset.toml",
        "/%2e%2e/private/rsa-sig.pem",
        "/..%2f..%2fkeys%2frsa-sig-001.key.pem",
        "/%2e%2e/out/private/jwks.json",
        "/%2e%2e/keys/keyset.toml",
        "/%2E%2E%2Fout%2Fprivate%2Fjwks.json",
        "/..%2f..%2fetc%2fpasswd",
        "/..%2fprivate%2fjwks.json",
        "/.well-known/../../private/jwks.json",
        "/tenants/../../keys/keyset.toml",
        "/tenants/acme/%2e%2e/%2e%2e/%2e%2e/keys/keyset.toml",
        "//etc/passwd",
        "///etc/passwd",
        "/%2fetc%2fpasswd",
        "/..\\..\\keys\\keyset.toml",
        "/%5c..%5c..%5ckeys%5ckeyset.toml",
        "/jwks.json%00.html",
    ] {
        refused(path);
    }

    // Symlinks placed inside out/public after the server started. `serve` does not rebuild on
    // changes under out/ (and a rebuild would remove them), so they are there when requested.
    let public = p.at("out/public");
    std::os::unix::fs::symlink(p.at("out/private/jwks.json"), public.join("leak.json")).unwrap();
    std::os::unix::fs::symlink("../private/jwks.json", public.join("leak-relative.json")).unwrap();
    std::os::unix::fs::symlink(p.at("keys"), public.join("keys-link")).unwrap();
    std::os::unix::fs::symlink(p.at("out/private"), public.join("private-link")).unwrap();
    for path in [
        "/leak.json",
        "/leak-relative.json",
        "/keys-link/keyset.toml",
        "/keys-link/rsa-sig-001.key.pem",
        "/keys-link/ec256-sig-001.key.pem",
        "/keys-link/tenants/acme/ec256-sig-001.key.pem",
        "/keys-link/",
        "/private-link/jwks.json",
        "/private-link/rsa-sig.pem",
        "/private-link/ec256-sig.pem",
    ] {
        refused(path);
    }
    for link in ["leak.json", "leak-relative.json", "keys-link", "private-link"] {
        let _ = fs::remove_file(public.join(link));
    }

    // The server still answers normally afterwards.
    assert_eq!(get(addr, "/jwks.json").status, 200);
    server.stop();
    assert_no_leak_in_dir(&p.at("out/public"));
}

#[test]
fn serve_and_watch_refuse_a_set_that_is_not_there() {
    let p = Project::with_keyset(EC_KEYSET);
    p.ok(&["rotate", "--now", NOW]);
    for command in [&["watch"][..], &["serve", "--addr", "127.0.0.1:0"]] {
        let mut refused = Running::start(&p, &[command, &["--set", "nope", "--now", NOW]].concat());
        let status = refused.wait_exit();
        let (out, err) = refused.stop();
        assert_eq!(status.code(), Some(2), "{command:?} --set nope, as build: {out}\n{err}");
        assert!(err.contains("--set nope: no key set at"), "{err}");
    }
}

#[test]
fn serve_needs_allow_remote_for_a_non_loopback_address() {
    let p = Project::with_keyset(EC_KEYSET);
    p.ok(&["rotate", "--now", NOW]);

    let mut refused = Running::start(&p, &["serve", "--addr", "0.0.0.0:0", "--now", NOW]);
    let status = refused.wait_exit();
    let (out, err) = refused.stop();
    assert_eq!(status.code(), Some(2), "non-loopback without --allow-remote\nstdout: {out}\nstderr: {err}");
    assert!(err.contains("--allow-remote") && err.contains("loopback"), "the error says why and what to do: {err}");
    assert!(!out.contains("serving"), "it must not serve: {out}");

    let mut remote = Running::start(&p, &["serve", "--addr", "0.0.0.0:0", "--allow-remote", "--now", NOW]);
    let addr = remote.serving_addr();
    assert!(addr.ip().is_unspecified(), "{addr}");
    remote.until("a warning on stderr", |r| r.stderr().contains("warning:"));
    let (_, err) = remote.stop();
    assert!(
        err.lines().any(|l| l.starts_with("warning:") && l.contains("0.0.0.0")),
        "the warning names the address: {err}"
    );
}

// ---------------------------------------------------------------------------------------------
// watch

#[test]
fn watch_rebuilds_on_changes_and_never_creates_keys() {
    let p = Project::with_keyset(EC_KEYSET);
    p.ok(&["rotate", "--now", NOW]);
    p.write("site-template/README", b"overrides of the embedded templates\n");
    let keys_before = key_files(&p);
    assert_eq!(
        keys_before,
        BTreeSet::from([
            "ec256-sig-001.key.pem".to_string(),
            "ec256-sig-001.meta.json".to_string(),
            "ec256-sig-001.pub.pem".to_string()
        ])
    );
    let jwks_path = p.at("out/public/jwks.json");

    let mut w = Running::start(&p, &["watch", "--now", NOW, "-v"]);
    w.until("the first build", |r| r.builds() >= 1);
    assert_eq!(kids(&p.json("out/public/jwks.json")), ["ec256-sig-001"]);
    w.until("the `watching` line", |r| r.stdout().contains("watching "));

    // (a) A hand-dropped key appears under its file name. Written beside keys/ and renamed in,
    // as editors and `cp` onto the same file system do, so no half-written file is seen.
    let fresh = openssl_ec_key(&p, "new-1.pem");
    fs::rename(&fresh, p.at("keys/new.pem")).unwrap();
    w.until("kid `new` in out/public/jwks.json", |_| try_json(&jwks_path).is_some_and(|j| jwk(&j, "new").is_some()));
    let jwks = p.json("out/public/jwks.json");
    let first = jwk(&jwks, "new").unwrap().clone();
    assert_eq!((first["kty"].as_str(), first["crv"].as_str()), (Some("EC"), Some("P-256")));
    assert_eq!(first["alg"], "ES256", "hand-dropped defaults: {first}");
    let x1 = first["x"].as_str().unwrap().to_string();

    // (b) Replaced by another key: the published x changes.
    let fresh = openssl_ec_key(&p, "new-2.pem");
    fs::rename(&fresh, p.at("keys/new.pem")).unwrap();
    w.until("a new `x` for kid `new`", |_| {
        try_json(&jwks_path).is_some_and(|j| jwk(&j, "new").is_some_and(|k| k["x"].as_str() != Some(x1.as_str())))
    });

    // (c) Deleted: the kid leaves jwks.json.
    fs::remove_file(p.at("keys/new.pem")).unwrap();
    w.until("kid `new` gone from out/public/jwks.json", |_| {
        try_json(&jwks_path).is_some_and(|j| jwk(&j, "new").is_none() && jwk(&j, "ec256-sig-001").is_some())
    });

    // (d) A template override is used at once.
    let marker = "jwksmith-watch-marker-5c1e";
    p.write(
        "site-template/index.html",
        format!("<!doctype html><title>{marker}</title>{{% for set in sets %}}<p>{{{{ set.display_path }}}}</p>{{% endfor %}}\n")
            .as_bytes(),
    );
    w.until("the marker in out/public/index.html", |_| {
        fs::read_to_string(p.at("out/public/index.html")).is_ok_and(|t| t.contains(marker))
    });

    // (e) A bad edit: the error is printed, the process keeps running, out/ stays as it was.
    thread::sleep(Duration::from_millis(300));
    let public = p.snapshot("out/public");
    let private = p.snapshot("out/private");
    let errors = w.errors();
    p.write("keys/keyset.toml", b"[[key]\nspec = \"ec256-sig\"\nkty = \n");
    w.until("an error on stderr", |r| r.errors() > errors);
    thread::sleep(Duration::from_millis(300));
    assert!(w.alive(), "watch exited after a bad edit\n{}", w.context());
    let err = w.stderr();
    assert!(err.contains("keyset.toml"), "the error names the file: {err}");
    assert_eq!(p.snapshot("out/public"), public, "a bad edit changed out/public");
    assert_eq!(p.snapshot("out/private"), private, "a bad edit changed out/private");

    // Fixing it rebuilds (pretty = true makes the rebuild visible).
    p.write("keys/keyset.toml", format!("pretty = true\n{EC_KEYSET}").as_bytes());
    w.until("an indented jwks.json after the fix", |_| {
        fs::read_to_string(&jwks_path).is_ok_and(|t| t.starts_with("{\n"))
    });
    assert_eq!(kids(&p.json("out/public/jwks.json")), ["ec256-sig-001"]);
    assert!(
        fs::read_to_string(p.at("out/public/index.html")).unwrap().contains(marker),
        "the template override is still used"
    );

    assert!(w.alive());
    w.stop();
    assert_eq!(key_files(&p), keys_before, "watch created or removed key files");
    assert_no_leak_in_dir(&p.at("out/public"));
}

/// Asserts that no build happens during `quiet` (the watcher must be idle).
fn assert_no_rebuild(w: &mut Running, quiet: Duration, why: &str) {
    let before = w.builds();
    thread::sleep(quiet);
    let after = w.builds();
    assert!(w.alive(), "watch exited\n{}", w.context());
    assert_eq!(after, before, "{why}: {} rebuilds in {quiet:?}\n{}", after - before, w.context());
}

#[test]
fn watch_sees_a_templates_directory_made_after_it_started() {
    let p = Project::with_keyset(EC_KEYSET);
    p.ok(&["rotate", "--now", NOW]);
    assert!(!p.at("site-template").exists());
    let mut w = Running::start(&p, &["watch", "--now", NOW, "-v"]);
    w.until("the first build", |r| r.builds() >= 1);
    w.until("the `watching` line", |r| r.stdout().contains("watching "));
    // A file beside the templates' place is not a change the site depends on.
    p.write("notes.txt", b"not a template\n");
    assert_no_rebuild(&mut w, Duration::from_millis(600), "a file in the project root");
    fs::create_dir(p.at("site-template")).unwrap();
    let custom = b"{% extends \"default/index.html\" %}{% block intro %}<h1>Made later</h1>{% endblock %}";
    p.write("site-template/index.html", custom);
    let index = p.at("out/public/index.html");
    w.until("the override in index.html", |_| fs::read_to_string(&index).is_ok_and(|t| t.contains("Made later")));
    // The directory is watched itself now: a later edit is seen like any other.
    let edited = String::from_utf8_lossy(custom).replace("Made later", "Made again");
    p.write("site-template/index.html", edited.as_bytes());
    w.until("the edited override", |_| fs::read_to_string(&index).is_ok_and(|t| t.contains("Made again")));
}

#[test]
fn watch_is_idle_when_nothing_changes() {
    let p = Project::with_keyset(EC_KEYSET);
    p.ok(&["rotate", "--now", NOW]);
    p.write("site-template/README", b"overrides of the embedded templates\n");
    let mut w = Running::start(&p, &["watch", "--now", NOW, "-v"]);
    w.until("the `watching` line", |r| r.builds() >= 1 && r.stdout().contains("watching "));
    assert_no_rebuild(&mut w, Duration::from_millis(1000), "watch rebuilt with no change at all");

    // One real change: one rebuild (or a short burst), then silence again. Reading keys/ during
    // a build is not a change.
    let fresh = openssl_ec_key(&p, "new-1.pem");
    fs::rename(&fresh, p.at("keys/new.pem")).unwrap();
    let jwks_path = p.at("out/public/jwks.json");
    w.until("kid `new` in out/public/jwks.json", |_| try_json(&jwks_path).is_some_and(|j| jwk(&j, "new").is_some()));
    thread::sleep(Duration::from_millis(300));
    assert_no_rebuild(
        &mut w,
        Duration::from_millis(1000),
        "after one change to keys/ (new.pem added), watch keeps rebuilding with nothing changing",
    );

    // Editor side files alone trigger no rebuild.
    p.write("keys/.x.swp", b"swap");
    p.write("keys/x~", b"backup");
    p.write("keys/#keyset.toml#", b"autosave");
    p.write("site-template/index.html~", b"backup");
    p.write("site-template/.index.html.swp", b"swap");
    assert_no_rebuild(
        &mut w,
        Duration::from_millis(1000),
        "editor files (keys/.x.swp, keys/x~, keys/#keyset.toml#, site-template/index.html~, …) caused a rebuild",
    );
    w.stop();
}

// ---------------------------------------------------------------------------------------------
// PyJWT against the served JWK Set

const PYJWT_SCRIPT: &str = r#"
import base64, json, sys
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.exceptions import InvalidAlgorithmError, InvalidSignatureError, PyJWKClientError

url, rsa_pem, ec_pem, rsa_kid, ec_kid = sys.argv[1:6]
client = jwt.PyJWKClient(url, cache_keys=False, timeout=5)
kids = sorted(k.key_id for k in client.get_signing_keys())
if kids != sorted([rsa_kid, ec_kid]):
    sys.exit(f"signing keys from {url}: {kids}")

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def flip(text):
    i = len(text) // 2
    return text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1:]

def must_fail(what, errors, fn):
    try:
        fn()
    except errors:
        print(f"rejected {what}")
    else:
        sys.exit(f"accepted {what}")

claims = {"sub": "alice", "aud": "jwksmith-test"}
keys = {}
for alg, pem_path, kid in (("RS256", rsa_pem, rsa_kid), ("ES256", ec_pem, ec_kid)):
    with open(pem_path, "rb") as f:
        private = f.read()
    keys[alg] = private
    token = jwt.encode(claims, private, algorithm=alg, headers={"kid": kid})
    signing_key = client.get_signing_key_from_jwt(token)
    if signing_key.key_id != kid:
        sys.exit(f"{alg}: got key {signing_key.key_id} for kid {kid}")
    decoded = jwt.decode(token, signing_key.key, algorithms=[alg], audience="jwksmith-test")
    if decoded != claims:
        sys.exit(f"{alg}: decoded {decoded}")
    print(f"verified {alg} {kid}")

    header, payload, signature = token.split(".")
    forged = b64(json.dumps({**claims, "sub": "mallory"}).encode())
    decode = lambda t, a=alg, k=signing_key.key: jwt.decode(t, k, algorithms=[a], audience="jwksmith-test")
    must_fail(f"{alg} tampered payload", InvalidSignatureError, lambda: decode(f"{header}.{forged}.{signature}"))
    must_fail(f"{alg} tampered signature", InvalidSignatureError, lambda: decode(f"{header}.{payload}.{flip(signature)}"))
    unknown = jwt.encode(claims, private, algorithm=alg, headers={"kid": kid + "-unknown"})
    must_fail(f"{alg} unknown kid", PyJWKClientError, lambda: client.get_signing_key_from_jwt(unknown))

# A token signed by a key that is not published, claiming the published RSA kid.
other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
impostor = jwt.encode(claims, other, algorithm="RS256", headers={"kid": rsa_kid})
key = client.get_signing_key_from_jwt(impostor)
must_fail("RS256 unpublished key with a published kid", InvalidSignatureError,
          lambda: jwt.decode(impostor, key.key, algorithms=[key.algorithm_name], audience="jwksmith-test"))

# An ES256 token claiming the RSA kid: the key's own alg is enforced.
confused = jwt.encode(claims, keys["ES256"], algorithm="ES256", headers={"kid": rsa_kid})
key = client.get_signing_key_from_jwt(confused)
must_fail("ES256 token with the RSA kid", InvalidAlgorithmError,
          lambda: jwt.decode(confused, key.key, algorithms=[key.algorithm_name], audience="jwksmith-test"))
print("ok")
"#;

#[test]
fn pyjwt_verifies_tokens_with_the_served_jwks() {
    if let Err(why) = crate::common::clients::python() {
        return crate::common::clients::unavailable("PyJWT against serve", why);
    }
    let p = Project::with_keyset(ROOT_KEYSET);
    p.ok(&["rotate", "--now", NOW]);
    let (server, addr) = serve(&p);
    let jwks = p.json("out/public/jwks.json");
    let kid_of = |alg: &str| {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["alg"] == alg)
            .and_then(|k| k["kid"].as_str())
            .unwrap_or_else(|| panic!("no {alg} key in {jwks}"))
            .to_string()
    };
    let (rsa_kid, ec_kid) = (kid_of("RS256"), kid_of("ES256"));
    let url = format!("http://{addr}/jwks.json");
    let rsa_pem = p.at("out/private/rsa-sig.pem");
    let ec_pem = p.at("out/private/ec256-sig.pem");
    let out = tool(
        "python3",
        &["-c", PYJWT_SCRIPT, &url, rsa_pem.to_str().unwrap(), ec_pem.to_str().unwrap(), &rsa_kid, &ec_kid],
        p.path(),
    );
    let out = String::from_utf8_lossy(&out);
    for line in [
        format!("verified RS256 {rsa_kid}"),
        format!("verified ES256 {ec_kid}"),
        "rejected RS256 tampered payload".to_string(),
        "rejected ES256 tampered signature".to_string(),
        "rejected ES256 unknown kid".to_string(),
        "rejected RS256 unpublished key with a published kid".to_string(),
        "rejected ES256 token with the RSA kid".to_string(),
        "ok".to_string(),
    ] {
        assert!(out.lines().any(|l| l == line), "python output lacks {line:?}:\n{out}");
    }
    server.stop();
}
