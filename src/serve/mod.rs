//! `jwksmith serve`: `watch` plus a loopback HTTP server of `out/public/` (`files.rs`) and, with
//! `--local-issuer`, a local stand-in for every set's issuer (SPEC §5.2): discovery documents
//! and a client-credentials token endpoint made in memory, never written to `out/`.
//! Each connection is answered on a thread of its own, so a client that stalls delays no other.
//!
//! - `files.rs`: a request path to a file of the site, its headers, 404, preflight.
//! - `issuer.rs`: the local issuer's routes, documents and token answers (pure).
//! - `oauth.rs`: the token request's form and client credentials, RFC 6749 errors (pure).
//! - `local.rs`: the local issuer's I/O: the request body, the set from `keys/`, the clock.

mod files;
mod issuer;
mod local;
mod oauth;

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SendError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cmd::Context;
use crate::error::{Error, Result};

/// Flags of `serve`.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// `--addr`.
    pub addr: String,
    /// `--allow-remote`.
    pub allow_remote: bool,
    /// `--local-issuer`: answer every set's discovery document and token endpoint.
    pub local_issuer: bool,
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

/// The methods `serve` answers.
pub(crate) const ALLOWED: &str = "GET, HEAD, OPTIONS";

/// What the server answers: the site at `root`, and the local issuer when it is on.
struct Site {
    /// `out/public/`.
    root: PathBuf,
    /// `--local-issuer`.
    issuer: Option<local::LocalIssuer>,
}

/// An error as one line of text with its causes, for an answer's `error_description`.
pub(crate) fn describe(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn respond(site: &Site, mut request: tiny_http::Request) {
    let issued = site.issuer.as_ref().and_then(|issuer| issuer.answer(&mut request));
    let root = &site.root;
    let reply = match (issued, request.method()) {
        (Some(reply), _) => reply,
        (None, tiny_http::Method::Get | tiny_http::Method::Head) => files::reply(root, request.url()),
        (None, tiny_http::Method::Options) => files::preflight(root, request.url()),
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
    site: Arc<Site>,
    /// Where a worker that cannot start is reported.
    ui: crate::ui::Ui,
    workers: Arc<Mutex<HashMap<SocketAddr, Sender<tiny_http::Request>>>>,
}

impl Dispatcher {
    fn dispatch(&self, request: tiny_http::Request) {
        let Some(peer) = request.remote_addr().copied() else {
            let site = self.site.clone();
            spawn_worker(&self.ui, move || respond(&site, request));
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
        let (site, all) = (self.site.clone(), self.workers.clone());
        spawn_worker(&self.ui, move || serve_connection(&site, peer, &rx, &all));
    }
}

/// Answers one connection's requests in order until it has been idle for `IDLE`.
fn serve_connection(
    site: &Site,
    peer: SocketAddr,
    rx: &Receiver<tiny_http::Request>,
    workers: &Mutex<HashMap<SocketAddr, Sender<tiny_http::Request>>>,
) {
    loop {
        match rx.recv_timeout(IDLE) {
            Ok(request) => respond(site, request),
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                let mut workers = workers.lock().unwrap_or_else(|e| e.into_inner());
                // A request queued between the timeout and the lock is still answered.
                match rx.try_recv() {
                    Ok(request) => {
                        drop(workers);
                        respond(site, request);
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
    crate::watch::refuse_at_once(ctx)?;
    let server = tiny_http::Server::http(addr).map_err(|e| Error::Failed(format!("cannot listen on {addr}: {e}")))?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    let issuer = opts.local_issuer.then(|| local::LocalIssuer::new(ctx, bound));
    let site = Arc::new(Site { root: ctx.out.join("public"), issuer });
    let dispatcher = Dispatcher { site, ui: ctx.ui.clone(), workers: Arc::default() };
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            dispatcher.dispatch(request);
        }
    });
    ctx.ui.data(&format!("serving {} at http://{bound}/\n", ctx.out.join("public").display()));
    if opts.local_issuer {
        let root = issuer::issuer_url(bound, "");
        ctx.ui.report(&format!(
            "local issuer of each set at {root}/<set path> ({root} for the root set): <issuer>/.well-known/openid-configuration, POST <issuer>/token"
        ));
    }
    crate::watch::run(ctx)
}
