//! `jwksmith serve`: `watch` plus a loopback HTTP server of `out/public/` that sends the headers
//! `_headers` declares, a directory's `index.html` at `/` and at `/tenants/acme/` (with a redirect
//! from `/tenants/acme`, as static hosts do), and `404.html` with status 404 for anything else — never a file outside
//! `out/public/` (no `..`, no encoded traversal, no symlinks out). `OPTIONS` of a file answers a
//! CORS preflight. Each connection is answered on a thread of its own, so a client that stalls
//! delays no other.

use std::collections::HashMap;
use std::fs;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SendError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::headers;

/// Flags of `serve`.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// `--addr`.
    pub addr: String,
    /// `--allow-remote`.
    pub allow_remote: bool,
}

/// A response, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// HTTP status.
    pub(crate) status: u16,
    /// Headers.
    pub(crate) headers: Vec<(String, String)>,
    /// Body.
    pub(crate) body: Vec<u8>,
}

/// Maps a request path to a file under `root`, or `None` (404). Decodes `%xx`, refuses `..`,
/// backslashes and NULs, serves a directory's `index.html` for `/` and `/tenants/acme/`, and
/// checks the real path stays in `root`.
pub(crate) fn resolve(root: &Path, url: &str) -> Option<PathBuf> {
    let raw = url.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode_str(raw).decode_utf8().ok()?;
    let rest = decoded.strip_prefix('/')?;
    if decoded.contains('\\') || decoded.contains('\0') {
        return None;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| *s == ".." || *s == ".") {
        return None;
    }
    let mut rel = segments.join("/");
    if rel.is_empty() || rel.ends_with('/') {
        rel.push_str("index.html");
    }
    let root = fs::canonicalize(root).ok()?;
    let real = fs::canonicalize(root.join(&rel)).ok()?;
    (real.starts_with(&root) && real.is_file()).then_some(real)
}

/// Where `GET url` is redirected when it names a directory of `root` that has an `index.html`
/// without the trailing slash (`/tenants/acme`): the same URL with the slash (`/tenants/acme/`),
/// as GitHub Pages, Cloudflare Pages and nginx answer, so that the page's relative links
/// resolve inside the set's directory.
pub(crate) fn directory_redirect(root: &Path, url: &str) -> Option<String> {
    let (path, query) = match url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (url.split('#').next().unwrap_or(""), None),
    };
    if path.ends_with('/') || path.contains('#') {
        return None;
    }
    resolve(root, &format!("{path}/"))?;
    Some(match query {
        Some(query) => format!("{path}/?{query}"),
        None => format!("{path}/"),
    })
}

fn default_content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("txt") | None => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The reply to `GET url` for the site at `root`.
pub(crate) fn reply(root: &Path, url: &str) -> Reply {
    let not_found = || not_found(root);
    let Some(file) = resolve(root, url) else {
        if let Some(location) = directory_redirect(root, url) {
            let headers =
                vec![("Location".into(), location), ("Content-Type".into(), "text/plain; charset=utf-8".into())];
            return Reply { status: 301, headers, body: b"moved: the address of a directory ends with /\n".to_vec() };
        }
        return not_found();
    };
    let Ok(body) = fs::read(&file) else { return not_found() };
    let rules = fs::read_to_string(root.join("_headers")).map(|t| headers::parse(&t)).unwrap_or_default();
    let path = percent_decode_str(url.split(['?', '#']).next().unwrap_or("/")).decode_utf8_lossy().to_string();
    let mut headers = headers::for_path(&rules, &path);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
        headers.push(("Content-Type".into(), default_content_type(&file).into()));
    }
    Reply { status: 200, headers, body }
}

/// The 404 answer: the site's `404.html`, as hosts answer a path the site does not have (no
/// `_headers` rule applies to it, and no cache keeps it).
fn not_found(root: &Path) -> Reply {
    let (content_type, body) = match fs::read(root.join("404.html")) {
        Ok(page) => ("text/html; charset=utf-8", page),
        Err(_) => ("text/plain; charset=utf-8", b"404 not found\n".to_vec()),
    };
    let headers = vec![("Content-Type".into(), content_type.into()), ("Cache-Control".into(), "no-store".into())];
    Reply { status: 404, headers, body }
}

/// Resolves `--addr`, refusing a non-loopback address unless `allow_remote`.
pub(crate) fn bind_address(ctx: &Context, opts: &ServeOptions) -> Result<SocketAddr> {
    let addr = opts
        .addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Error::Usage(format!("--addr {}: not an address such as 127.0.0.1:8000", opts.addr)))?;
    if !addr.ip().is_loopback() {
        if !opts.allow_remote {
            return Err(Error::Usage(format!(
                "--addr {addr} is not a loopback address; serve is a development server: add --allow-remote if you really mean it"
            )));
        }
        ctx.ui.warn(&format!("serving on {addr}, reachable from other machines; this is a development server"));
    }
    Ok(addr)
}

/// The reply to `OPTIONS url`: a CORS preflight answer for a file that exists, else 404.
pub(crate) fn preflight(root: &Path, url: &str) -> Reply {
    if resolve(root, url).is_none() {
        return reply(root, url);
    }
    let headers = vec![
        ("Access-Control-Allow-Origin".into(), "*".into()),
        ("Access-Control-Allow-Methods".into(), ALLOWED.into()),
    ];
    Reply { status: 204, headers, body: Vec::new() }
}

/// The methods `serve` answers.
const ALLOWED: &str = "GET, HEAD, OPTIONS";

fn respond(root: &Path, request: tiny_http::Request) {
    let reply = match request.method() {
        tiny_http::Method::Get | tiny_http::Method::Head => reply(root, request.url()),
        tiny_http::Method::Options => preflight(root, request.url()),
        _ => Reply { status: 405, headers: vec![("Allow".into(), ALLOWED.into())], body: Vec::new() },
    };
    // tiny_http sends no body to a HEAD request, and the GET's Content-Length.
    let Reply { status, headers, body } = reply;
    let mut response = tiny_http::Response::from_data(body).with_status_code(status);
    for (name, value) in &headers {
        if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(h);
        }
    }
    let _ = request.respond(response);
    // Dropping the request reads the rest of its body, if any: on this connection's own thread.
}

/// How long a connection's worker waits for its next request before it ends.
const IDLE: Duration = Duration::from_secs(5);

/// Hands each request to a worker thread of its own connection, so that a client that stalls
/// holds only its own thread. tiny_http reads each connection on a thread of its own but queues
/// every request to one consumer; answering on that consumer would let one client block all:
/// `respond` blocks while a client does not read, and dropping a request blocks until its
/// announced body (`Content-Length`, `Expect: 100-continue`) has arrived. One worker per
/// connection (rather than per request) keeps a client that pipelines thousands of requests to
/// one thread, and answers them in order.
struct Dispatcher {
    root: PathBuf,
    /// Where a worker that cannot start is reported.
    ui: crate::ui::Ui,
    workers: Arc<Mutex<HashMap<SocketAddr, Sender<tiny_http::Request>>>>,
}

impl Dispatcher {
    fn dispatch(&self, request: tiny_http::Request) {
        let Some(peer) = request.remote_addr().copied() else {
            let root = self.root.clone();
            spawn_worker(&self.ui, move || respond(&root, request));
            return;
        };
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        // A worker leaves the map (under this lock) before it stops receiving, so a send to a
        // listed worker is received; should it fail anyway, a new worker takes the request.
        let request = match workers.get(&peer) {
            Some(tx) => match tx.send(request) {
                Ok(()) => return,
                Err(SendError(request)) => request,
            },
            None => request,
        };
        let (tx, rx) = channel();
        let _ = tx.send(request);
        workers.insert(peer, tx);
        let (root, all) = (self.root.clone(), self.workers.clone());
        spawn_worker(&self.ui, move || serve_connection(&root, peer, &rx, &all));
    }
}

/// Answers one connection's requests in order until it has been idle for `IDLE`.
fn serve_connection(
    root: &Path,
    peer: SocketAddr,
    rx: &Receiver<tiny_http::Request>,
    workers: &Mutex<HashMap<SocketAddr, Sender<tiny_http::Request>>>,
) {
    loop {
        match rx.recv_timeout(IDLE) {
            Ok(request) => respond(root, request),
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                let mut workers = workers.lock().unwrap_or_else(|e| e.into_inner());
                // A request queued between the timeout and the lock is still answered.
                match rx.try_recv() {
                    Ok(request) => {
                        drop(workers);
                        respond(root, request);
                    }
                    Err(_) => {
                        workers.remove(&peer);
                        return;
                    }
                }
            }
        }
    }
}

/// Starts a worker thread; if the system has none left, the work is dropped (a request dropped
/// unanswered gets a 500 from tiny_http) and the server goes on.
fn spawn_worker(ui: &crate::ui::Ui, work: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name("serve-connection".into()).spawn(work) {
        // Printed even with `-q`, as it always was.
        ui.always(&format!("warning: cannot start a thread for a connection: {e}"));
    }
}

/// Runs `serve`: the server on a thread, the watch loop on this one.
pub fn run(ctx: &Context, opts: &ServeOptions) -> Result<()> {
    let addr = bind_address(ctx, opts)?;
    let server = tiny_http::Server::http(addr).map_err(|e| Error::Failed(format!("cannot listen on {addr}: {e}")))?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    let dispatcher = Dispatcher { root: ctx.out.join("public"), ui: ctx.ui.clone(), workers: Arc::default() };
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            dispatcher.dispatch(request);
        }
    });
    ctx.ui.data(&format!("serving {} at http://{bound}/\n", ctx.out.join("public").display()));
    crate::watch::run(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("public");
        fs::create_dir_all(root.join("a")).unwrap();
        fs::write(root.join("index.html"), "hi").unwrap();
        fs::write(root.join("a/jwks.json"), "{}").unwrap();
        fs::write(dir.path().join("secret.pem"), "x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.pem"), root.join("link.pem")).unwrap();
        assert!(resolve(&root, "/").is_some());
        assert!(resolve(&root, "/a/jwks.json?x=1").is_some());
        for bad in [
            "/../secret.pem",
            "/a/../../secret.pem",
            "/%2e%2e/secret.pem",
            "/%2E%2E%2Fsecret.pem",
            "/link.pem",
            "//etc/passwd",
            "/a/%00",
            "/a\\..\\x",
            "/nope",
        ] {
            assert!(resolve(&root, bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_directory_answers_its_index_html_and_redirects_without_its_slash() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("tenants/acme")).unwrap();
        fs::create_dir_all(dir.path().join("empty")).unwrap();
        fs::write(dir.path().join("tenants/acme/index.html"), "acme").unwrap();
        fs::write(dir.path().join("tenants/acme/jwks.json"), "{}").unwrap();
        assert_eq!(reply(dir.path(), "/tenants/acme/").body, b"acme");
        let moved = reply(dir.path(), "/tenants/acme?x=1");
        assert_eq!(moved.status, 301);
        assert!(moved.headers.contains(&("Location".into(), "/tenants/acme/?x=1".into())), "{:?}", moved.headers);
        assert_eq!(directory_redirect(dir.path(), "/tenants/acme"), Some("/tenants/acme/".into()));
        for none in ["/tenants", "/empty", "/tenants/acme/jwks.json", "/tenants/acme/", "/nope", "/../tenants/acme"] {
            assert_eq!(directory_redirect(dir.path(), none), None, "{none}");
        }
        assert_eq!(reply(dir.path(), "/tenants").status, 404, "a directory without a page");
    }

    #[test]
    fn preflight_answers_files_only() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a")).unwrap();
        fs::write(dir.path().join("a/jwks.json"), "{}").unwrap();
        let ok = preflight(dir.path(), "/a/jwks.json?x");
        assert_eq!(ok.status, 204);
        assert!(ok.body.is_empty());
        assert!(ok.headers.contains(&("Access-Control-Allow-Origin".into(), "*".into())));
        assert!(ok.headers.contains(&("Access-Control-Allow-Methods".into(), "GET, HEAD, OPTIONS".into())));
        for missing in ["/a/nope.json", "/", "*", "/../a/jwks.json"] {
            assert_eq!(preflight(dir.path(), missing).status, 404, "{missing}");
        }
    }
}
