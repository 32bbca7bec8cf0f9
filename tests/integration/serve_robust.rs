//! `serve` against clients that stall, and `watch` after its directories are replaced.
//!
//! Each stall is a raw TCP connection held open while another client GETs `/jwks.json`: the
//! answer must come within a second (SPEC §4 `serve`). `OPTIONS` answers a CORS preflight.
//! `watch` keeps rebuilding after `keys/` or the templates directory is moved away and
//! recreated (SPEC §6 "Clear errors"), and ignores hidden directories under `keys/`.

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::running::Running;
use crate::common::{NOW, Project, assert_no_leak_in_text, tool};
use serde_json::Value;

/// The contract: a stalled client delays no other client by more than this.
const PROMPT: Duration = Duration::from_secs(1);

/// A root set with one EC signing key (fast to make), and a nested set.
const EC_KEYSET: &str = r#"[[key]]
spec = "ec256-sig"
kty = "EC"
crv = "P-256"
use = "sig"
alg = "ES256"
"#;

/// A project with keys in the root set and in `tenants/acme`, made by `rotate`.
fn project() -> Project {
    let p = Project::with_keyset(EC_KEYSET);
    p.write("keys/tenants/acme/keyset.toml", EC_KEYSET.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p
}

/// Starts `serve` on an ephemeral loopback port, waits for its first build, returns the address.
fn serve(p: &Project) -> (Running, SocketAddr) {
    let mut server = Running::start_with(p, &["serve", "--addr", "127.0.0.1:0", "--now", NOW], |c| {
        c.env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"));
    });
    let addr = server.served();
    (server, addr)
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client.

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        let values: Vec<&str> =
            self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect();
        assert!(values.len() <= 1, "header {name} sent {} times: {values:?}", values.len());
        values.first().copied()
    }
}

/// Parses the first response in `raw`, to a request of `method`, and how many bytes it took;
/// `None` while it is incomplete (unless `eof`).
fn parse_response(raw: &[u8], method: &str, eof: bool) -> Option<(Response, usize)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status code");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let body = if method == "HEAD" || status == 204 || status == 304 {
        Vec::new()
    } else if find("transfer-encoding").is_some() {
        panic!("the server chose a chunked body; this client expects Content-Length: {head}");
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
    let used = end + 4 + body.len();
    Some((Response { status, headers, body }, used))
}

/// Reads the next response to `method` from a kept-alive connection; `raw` keeps what follows.
fn read_response(stream: &mut TcpStream, raw: &mut Vec<u8>, method: &str) -> Response {
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some((r, used)) = parse_response(raw, method, false) {
            raw.drain(..used);
            return r;
        }
        let n = stream.read(&mut buf).unwrap_or_else(|e| panic!("reading a response to {method}: {e}"));
        assert!(n > 0, "the connection closed before a response to {method}: {:?}", String::from_utf8_lossy(raw));
        raw.extend_from_slice(&buf[..n]);
    }
}

/// `METHOD path` on a new connection with extra header lines; the answer and how long it took,
/// or why there was none within 5 s.
fn timed(addr: SocketAddr, method: &str, path: &str, extra: &str) -> Result<(Response, Duration), String> {
    let start = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).map_err(|e| format!("no answer after {:?} ({e})", start.elapsed()))?;
        raw.extend_from_slice(&buf[..n]);
        if let Some((r, _)) = parse_response(&raw, method, n == 0) {
            assert_no_leak_in_text(&String::from_utf8_lossy(&r.body), &format!("body of {method} {path}"));
            return Ok((r, start.elapsed()));
        }
        if n == 0 {
            return Err(format!("connection closed mid-response: {:?}", String::from_utf8_lossy(&raw)));
        }
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, extra: &str) -> Response {
    timed(addr, method, path, extra).unwrap_or_else(|e| panic!("{method} {path}: {e}")).0
}

/// Asserts that other clients are answered promptly and correctly while `stall` holds on.
fn assert_others_served(p: &Project, addr: SocketAddr, stall: &str) {
    let jwks = p.read("out/public/jwks.json");
    for round in 0..3 {
        let (r, took) = timed(addr, "GET", "/jwks.json", "")
            .unwrap_or_else(|e| panic!("GET /jwks.json while {stall} (round {round}): {e}"));
        assert!(took < PROMPT, "GET /jwks.json took {took:?} while {stall} (round {round})");
        assert_eq!(r.status, 200, "GET /jwks.json while {stall}");
        assert_eq!(r.body, jwks, "GET /jwks.json while {stall}: out/public/jwks.json byte for byte");
        assert_eq!(r.header("content-type"), Some("application/json"), "while {stall}");
    }
    let (r, took) =
        timed(addr, "HEAD", "/tenants/acme/jwks.json", "").unwrap_or_else(|e| panic!("HEAD while {stall}: {e}"));
    assert!(took < PROMPT, "HEAD took {took:?} while {stall}");
    assert_eq!(r.status, 200, "HEAD while {stall}");
}

/// A raw connection that sends `bytes` and then holds on, reading nothing.
fn stalled(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.write_all(bytes).unwrap();
    stream.flush().unwrap();
    stream
}

/// Sends `request` over and over without reading any answer, until the socket's buffers are
/// full (a write would block) or `cap` bytes are sent; returns the connection, held open.
fn pipelined(addr: SocketAddr, request: &str, cap: usize) -> TcpStream {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.set_nonblocking(true).unwrap();
    let mut sent = 0;
    let mut pending: &[u8] = request.as_bytes();
    while sent < cap {
        match stream.write(pending) {
            Ok(n) => {
                sent += n;
                pending = &pending[n..];
                if pending.is_empty() {
                    pending = request.as_bytes();
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("pipelining {request:?}: {e}"),
        }
    }
    stream
}

/// Gives the server time to reach the point where it would block on the stalled client.
fn settle() {
    thread::sleep(Duration::from_millis(300));
}

// ---------------------------------------------------------------------------------------------
// serve: one stalled client delays no other.

#[test]
fn a_content_length_without_its_body_stalls_only_its_own_connection() {
    let p = project();
    let (_server, addr) = serve(&p);
    assert_others_served(&p, addr, "nothing stalls (warm-up)");
    let mut held = Vec::new();
    for (method, length) in [("POST", 100_000), ("GET", 5000), ("GET", 10), ("PUT", 1)] {
        let head = format!("{method} /jwks.json HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {length}\r\n\r\n");
        held.push(stalled(addr, head.as_bytes()));
        settle();
        assert_others_served(&p, addr, &format!("a {method} with `Content-Length: {length}` never sends its body"));
    }
    // Half a body, then nothing.
    let head =
        format!("POST /jwks.json HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 50000\r\n\r\n{}", "x".repeat(20_000));
    held.push(stalled(addr, head.as_bytes()));
    settle();
    assert_others_served(&p, addr, "a POST sent 20000 of its 50000 bytes");
    // A chunked body that never ends.
    let head = format!("POST /jwks.json HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc");
    held.push(stalled(addr, head.as_bytes()));
    settle();
    assert_others_served(&p, addr, "a chunked body never ends");
    drop(held);
    assert_others_served(&p, addr, "the stalled clients hung up");
}

#[test]
fn expect_100_continue_without_the_body_stalls_only_its_own_connection() {
    let p = project();
    let (_server, addr) = serve(&p);
    assert_others_served(&p, addr, "nothing stalls (warm-up)");
    let mut held = Vec::new();
    for (method, length) in [("POST", 10), ("PUT", 100_000), ("GET", 20)] {
        let head = format!(
            "{method} /jwks.json HTTP/1.1\r\nHost: {addr}\r\nExpect: 100-continue\r\nContent-Length: {length}\r\n\r\n"
        );
        held.push(stalled(addr, head.as_bytes()));
        settle();
        assert_others_served(
            &p,
            addr,
            &format!("a {method} with `Expect: 100-continue` and `Content-Length: {length}` never sends the body"),
        );
    }
}

/// A small template whose page is `lines` lines of 16 bytes: a template itself may not pass
/// 1 MiB (SPEC §2), so the page is made big by a loop (minijinja's `range` stops at 100,000).
fn big_page_template(lines: usize) -> String {
    let outer = lines.div_ceil(512);
    format!(
        "<!doctype html><title>big</title>\n{{% for i in range({outer}) %}}{{% for j in range(512) %}}<!-- filler -->\n{{% endfor %}}{{% endfor %}}"
    )
}

#[test]
fn pipelining_without_reading_stalls_only_its_own_connection() {
    let p = project();
    // A large index.html: a few pipelined GETs of `/` fill every buffer between the server and
    // a client that never reads.
    p.write("site-template/index.html", big_page_template(1 << 16).as_bytes()); // 1 MiB
    let (_server, addr) = serve(&p);
    assert!(p.read("out/public/index.html").len() > 1 << 20, "the big template is used");
    assert_others_served(&p, addr, "nothing stalls (warm-up)");

    let small = format!("GET /jwks.json HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let _many = pipelined(addr, &small, 2 << 20);
    settle();
    assert_others_served(&p, addr, "a client pipelines thousands of GET /jwks.json and reads no answer");

    let big = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let _big = pipelined(addr, &big, big.len() * 64);
    settle();
    assert_others_served(&p, addr, "a client pipelines 64 GET / of 1 MiB each and reads no answer");

    // A pipelined request with a body that never comes, behind a GET.
    let mixed = format!("{small}POST /jwks.json HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 9000\r\n\r\n{small}");
    let _mixed = stalled(addr, mixed.as_bytes());
    settle();
    assert_others_served(&p, addr, "a pipelined POST never sends its body");
}

#[test]
fn a_kept_alive_connection_gets_its_answers_in_order_also_after_an_idle_pause() {
    let p = project();
    let (_server, addr) = serve(&p);
    let files = ["/jwks.json", "/tenants/acme/jwks.json", "/", "/nope.json", "/.well-known/jwks.json"];
    let expected = |path: &str| match path {
        "/" => Some(p.read("out/public/index.html")),
        "/nope.json" => None,
        _ => Some(p.read(&format!("out/public{path}"))),
    };
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut raw = Vec::new();
    // Longer than a connection's worker waits for its next request (5 s) in the second round.
    for pause in [Duration::ZERO, Duration::from_secs(6)] {
        thread::sleep(pause);
        // All pipelined at once, then one at a time.
        let all: String = files.iter().map(|f| format!("GET {f} HTTP/1.1\r\nHost: {addr}\r\n\r\n")).collect();
        stream.write_all(all.as_bytes()).unwrap();
        for path in files {
            let r = read_response(&mut stream, &mut raw, "GET");
            match expected(path) {
                Some(body) => assert_eq!((r.status, &r.body), (200, &body), "GET {path} after a pause of {pause:?}"),
                None => assert_eq!(r.status, 404, "GET {path} after a pause of {pause:?}"),
            }
        }
        for path in files {
            write!(stream, "HEAD {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
            let r = read_response(&mut stream, &mut raw, "HEAD");
            assert_eq!(r.status, if expected(path).is_some() { 200 } else { 404 }, "HEAD {path}");
        }
    }
    assert!(raw.is_empty(), "bytes after the last response: {:?}", String::from_utf8_lossy(&raw));
}

#[test]
fn a_connection_that_never_reads_or_never_finishes_stalls_only_itself() {
    let p = project();
    p.write("site-template/index.html", big_page_template(1 << 18).as_bytes()); // 4 MiB
    let (_server, addr) = serve(&p);
    assert_others_served(&p, addr, "nothing stalls (warm-up)");
    let mut held = Vec::new();
    // Connected, silent: many of them.
    for _ in 0..64 {
        held.push(stalled(addr, b""));
    }
    settle();
    assert_others_served(&p, addr, "64 clients connected and sent nothing");
    // Half a request line, half a header block.
    held.push(stalled(addr, b"GET /jwks"));
    held.push(stalled(addr, format!("GET /jwks.json HTTP/1.1\r\nHost: {addr}\r\nAccept:").as_bytes()));
    settle();
    assert_others_served(&p, addr, "clients sent half a request");
    // Several GETs of 4 MiB each, on separate connections that never read.
    for _ in 0..4 {
        held.push(stalled(addr, format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()));
    }
    settle();
    assert_others_served(&p, addr, "four clients GET 4 MiB each and never read");
    drop(held);
    assert_others_served(&p, addr, "the stalled clients hung up");
}

// ---------------------------------------------------------------------------------------------
// serve: OPTIONS

#[test]
fn options_answers_a_cors_preflight_for_paths_that_exist() {
    let p = project();
    let (_server, addr) = serve(&p);
    let preflight = "Origin: https://app.example\r\nAccess-Control-Request-Method: GET\r\n";
    for path in
        ["/jwks.json", "/jwks.json?v=1", "/", "/index.html", "/tenants/acme/jwks.json", "/.well-known/jwks.json"]
    {
        for extra in ["", preflight] {
            let r = request(addr, "OPTIONS", path, extra);
            assert_eq!(r.status, 204, "OPTIONS {path} ({extra:?}): {r:?}");
            assert_eq!(r.header("access-control-allow-origin"), Some("*"), "OPTIONS {path}: {r:?}");
            assert_eq!(r.header("access-control-allow-methods"), Some("GET, HEAD, OPTIONS"), "OPTIONS {path}: {r:?}");
            assert!(r.body.is_empty(), "OPTIONS {path}: a 204 has no body");
        }
    }
    for path in ["/nope.json", "/tenants/acme/nope.json", "/../keys/keyset.toml", "/%2e%2e/keys/keyset.toml", "*"] {
        for extra in ["", preflight] {
            let r = request(addr, "OPTIONS", path, extra);
            assert_eq!(r.status, 404, "OPTIONS {path} ({extra:?}): {r:?}");
            assert_eq!(r.header("access-control-allow-methods"), None, "OPTIONS {path}: {r:?}");
        }
    }
    // Other methods are still refused, naming the ones that work.
    for method in ["POST", "PUT", "DELETE"] {
        let r = request(addr, method, "/jwks.json", "Content-Length: 0\r\n");
        assert_eq!(r.status, 405, "{method} /jwks.json: {r:?}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"), "{method} /jwks.json: {r:?}");
    }
    // GET is unchanged.
    let r = request(addr, "GET", "/jwks.json", preflight);
    assert_eq!((r.status, &r.body), (200, &p.read("out/public/jwks.json")));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

// ---------------------------------------------------------------------------------------------
// watch: its directories replaced

/// Copies a directory tree (as `cp -r`).
fn copy_tree(from: &Path, to: &Path) {
    tool("cp", &["-r", from.to_str().unwrap(), to.to_str().unwrap()], Path::new("/"));
}

/// A new P-256 private key (PKCS#8 PEM) from openssl, beside keys/.
fn openssl_ec_key(p: &Project, name: &str) -> std::path::PathBuf {
    let path = p.at(name);
    tool(
        "openssl",
        &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path.to_str().unwrap()],
        p.path(),
    );
    path
}

fn has_kid(path: &Path, kid: &str) -> bool {
    let Some(jwks) = fs::read(path).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
        return false;
    };
    jwks["keys"].as_array().is_some_and(|keys| keys.iter().any(|k| k["kid"] == kid))
}

/// How `keys/` or the templates directory gets replaced.
#[derive(Clone, Copy, Debug)]
enum Replace {
    /// `mv D D.old && cp -r D.old D`
    MoveAwayAndCopyBack,
    /// `cp -r D D.new && mv D D.old && mv D.new D`
    SwapInACopy,
    /// `cp -r D D.old && rm -r D && cp -r D.old D`
    RemoveAndRestore,
}

fn replace(p: &Project, dir: &str, how: Replace, round: usize) {
    let (dir, old, new) = (p.at(dir), p.at(&format!("{dir}.old{round}")), p.at(&format!("{dir}.new{round}")));
    match how {
        Replace::MoveAwayAndCopyBack => {
            fs::rename(&dir, &old).unwrap();
            copy_tree(&old, &dir);
        }
        Replace::SwapInACopy => {
            copy_tree(&dir, &new);
            fs::rename(&dir, &old).unwrap();
            fs::rename(&new, &dir).unwrap();
        }
        Replace::RemoveAndRestore => {
            copy_tree(&dir, &old);
            fs::remove_dir_all(&dir).unwrap();
            copy_tree(&old, &dir);
        }
    }
}

const ROUNDS: [Replace; 6] = [
    Replace::MoveAwayAndCopyBack,
    Replace::SwapInACopy,
    Replace::RemoveAndRestore,
    Replace::MoveAwayAndCopyBack,
    Replace::SwapInACopy,
    Replace::RemoveAndRestore,
];

/// The time a change may take to show: "within a second or so" (debounce and build take about
/// 0.1 s; the rest is room for a loaded CI machine).
const REBUILD: Duration = Duration::from_secs(2);

#[test]
fn watch_keeps_rebuilding_after_keys_is_replaced() {
    let p = Project::with_keyset(EC_KEYSET);
    p.ok(&["rotate", "--now", NOW]);
    let jwks = p.at("out/public/jwks.json");
    let mut w = Running::start_with(&p, &["watch", "--now", NOW, "-v"], |c| {
        c.env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"));
    });
    w.until("the `watching` line", |r| r.builds() >= 1 && r.stdout().contains("watching "));
    for (round, how) in ROUNDS.into_iter().enumerate() {
        replace(&p, "keys", how, round);
        // The edit inside comes after the watcher has seen the new directory, or at once.
        if round % 2 == 0 {
            thread::sleep(Duration::from_millis(300));
        }
        let kid = format!("dropped{round}");
        let fresh = openssl_ec_key(&p, &format!("{kid}.tmp-key"));
        fs::rename(&fresh, p.at(&format!("keys/{kid}.pem"))).unwrap();
        let took = w.until(&format!("kid {kid} after keys/ was replaced ({how:?})"), |_| has_kid(&jwks, &kid));
        assert!(took < REBUILD, "kid {kid} showed after {took:?} (keys/ replaced: {how:?})\n{}", w.context());
        // An edit in the moved-away copy is no change of keys/.
        let old = p.at(&format!("keys.old{round}"));
        if old.is_dir() {
            let builds = w.quiet_builds();
            fs::write(old.join("stray.pem"), b"not a key\n").unwrap();
            thread::sleep(Duration::from_millis(500));
            assert_eq!(w.builds(), builds, "an edit in {} rebuilt\n{}", old.display(), w.context());
        }
    }
    assert!(w.alive(), "{}", w.context());
}

#[test]
fn watch_keeps_rebuilding_after_the_templates_directory_is_replaced() {
    let p = Project::with_keyset(EC_KEYSET);
    p.ok(&["rotate", "--now", NOW]);
    let page = |marker: &str| {
        format!("{{% extends \"default/index.html\" %}}{{% block intro %}}<h1>{marker}</h1>{{% endblock %}}")
    };
    p.write("site-template/index.html", page("first").as_bytes());
    let index = p.at("out/public/index.html");
    let mut w = Running::start_with(&p, &["watch", "--now", NOW, "-v"], |c| {
        c.env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"));
    });
    w.until("the `watching` line", |r| r.builds() >= 1 && r.stdout().contains("watching "));
    assert!(fs::read_to_string(&index).unwrap().contains("<h1>first</h1>"));
    for (round, how) in ROUNDS.into_iter().enumerate() {
        replace(&p, "site-template", how, round);
        if round % 2 == 0 {
            thread::sleep(Duration::from_millis(300));
        }
        let marker = format!("replaced-{round}");
        p.write("site-template/index.html", page(&marker).as_bytes());
        let took = w.until(&format!("{marker} in index.html ({how:?})"), |_| {
            fs::read_to_string(&index).is_ok_and(|t| t.contains(&format!("<h1>{marker}</h1>")))
        });
        assert!(took < REBUILD, "{marker} showed after {took:?} (templates replaced: {how:?})\n{}", w.context());
    }
    assert!(w.alive(), "{}", w.context());
}

#[test]
fn watch_ignores_hidden_directories_under_keys() {
    let p = Project::with_keyset(EC_KEYSET);
    p.ok(&["rotate", "--now", NOW]);
    fs::create_dir_all(p.at("keys/.jwksmith/tmp")).unwrap();
    fs::create_dir_all(p.at("keys/tenants/acme/.cache")).unwrap();
    p.write("keys/tenants/acme/keyset.toml", EC_KEYSET.as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    let mut w = Running::start_with(&p, &["watch", "--now", NOW, "-v"], |c| {
        c.env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"));
    });
    w.until("the `watching` line", |r| r.builds() >= 1 && r.stdout().contains("watching "));
    let builds = w.quiet_builds();
    // What jwksmith keeps in keys/.jwksmith/ (locks, temporary files), and what a tool caches
    // in a hidden directory: no walk of keys/ reads them, so nothing to rebuild.
    for (rel, bytes) in [
        ("keys/.jwksmith/lock", &b""[..]),
        ("keys/.jwksmith/tmp/rsa-sig-002", b"-----BEGIN PRIVATE KEY-----\n"),
        ("keys/.jwksmith/started/rsa-sig-002", b"{}"),
        ("keys/tenants/acme/.cache/new.pem", b"not a key\n"),
    ] {
        p.write(rel, bytes);
    }
    fs::remove_file(p.at("keys/.jwksmith/lock")).unwrap();
    settle();
    assert_eq!(w.quiet_builds(), builds, "a change in a hidden directory rebuilt\n{}", w.context());
    // A real change is still seen.
    let fresh = openssl_ec_key(&p, "seen.tmp-key");
    fs::rename(&fresh, p.at("keys/tenants/acme/seen.pem")).unwrap();
    let jwks = p.at("out/public/tenants/acme/jwks.json");
    w.until("kid `seen` in tenants/acme/jwks.json", |_| has_kid(&jwks, "seen"));
}
