//! The I/O edge of the local issuer (`serve --local-issuer`): for each request to an issuer's
//! path it reads the one set the path names, and only its directory (age identities from the
//! environment, as `build` reads them), reads the token request's body (at most [`MAX_BODY`] bytes), takes the clock
//! (or `--now`), and hands them to the pure answers of `issuer.rs`. The sets are read again at
//! every request, so the answers follow `keys/` as `watch` does; nothing is written anywhere.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::Reply;
use super::issuer::{self, DOCUMENT_METHODS, Endpoint, TOKEN_METHODS};
use super::oauth::{self, MAX_BODY, OAuthError};
use crate::cmd::Context;
use crate::error::Result;
use crate::keydir::{SetDir, discover_set};
use crate::model::KeySet;
use crate::times::Timestamp;

/// The local issuer of every set under `keys/`, at the address serve bound.
pub(crate) struct LocalIssuer {
    /// `--keys`.
    keys: PathBuf,
    /// The address actually bound: the issuers' authority.
    addr: SocketAddr,
    /// `--now`, when given; else each answer reads the clock.
    fixed_now: Option<Timestamp>,
}

impl LocalIssuer {
    /// The local issuer of the context's key directory at `addr`.
    pub(crate) fn new(ctx: &Context, addr: SocketAddr) -> Self {
        LocalIssuer { keys: ctx.keys.clone(), addr, fixed_now: ctx.now_fixed.then_some(ctx.now) }
    }

    fn now(&self) -> Timestamp {
        self.fixed_now.unwrap_or_else(Timestamp::now)
    }

    /// The answer to a request for a set's discovery document or token endpoint; `None` for any
    /// other path (the site answers it), found without reading `keys/` at all, and for a path
    /// where no set is. A set directory that cannot be read is a 503 saying why.
    pub(crate) fn answer(&self, request: &mut tiny_http::Request) -> Option<Reply> {
        let (path, endpoint) = issuer::route(request.url())?;
        let dir = match discover_set(&self.keys, &path) {
            Ok(found) => found?,
            Err(e) => return Some(issuer::error_reply(&OAuthError::unavailable(super::describe(&e)))),
        };
        let method = request.method().clone();
        Some(match (endpoint, method) {
            (_, tiny_http::Method::Options) => issuer::preflight(endpoint),
            (Endpoint::Discovery, tiny_http::Method::Get | tiny_http::Method::Head) => self.document(&dir),
            (Endpoint::Discovery, _) => issuer::wrong_method(DOCUMENT_METHODS),
            (Endpoint::Token, tiny_http::Method::Post) => {
                self.token(&dir, request).unwrap_or_else(|e| issuer::error_reply(&e))
            }
            (Endpoint::Token, _) => issuer::wrong_method(TOKEN_METHODS),
        })
    }

    /// The set's document; a set that cannot be read is a 503 saying why.
    fn document(&self, dir: &SetDir) -> Reply {
        match read(dir) {
            Ok(set) => issuer::json_reply(200, issuer::document(&set, self.addr, self.now()), "no-cache"),
            Err(e) => issuer::error_reply(&OAuthError::unavailable(e)),
        }
    }

    /// The token endpoint: the request is read and checked before the set is.
    fn token(&self, dir: &SetDir, request: &mut tiny_http::Request) -> Result<Reply, OAuthError> {
        let (content_type, authorization) = (header(request, "Content-Type"), header(request, "Authorization"));
        let body = read_body(request)?;
        let token_request = oauth::parse(content_type.as_deref(), authorization.as_deref(), &body)?;
        let set = read(dir).map_err(OAuthError::unavailable)?;
        let body = issuer::token(&set, self.addr, self.now(), &token_request)?;
        let mut reply = issuer::json_reply(200, body, "no-store");
        reply.headers.push(("Pragma".into(), "no-cache".into()));
        Ok(reply)
    }
}

/// The value of a request header, when it is there.
fn header(request: &tiny_http::Request, name: &'static str) -> Option<String> {
    request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_string())
}

/// Reads one set as `status` does (every key parsed and checked, none signing), its private
/// keys opened with the run's age identities. The error is the text of the answer.
fn read(dir: &SetDir) -> std::result::Result<KeySet, String> {
    crate::selftest::read_set_usable(dir).map(|(set, _warnings)| set).map_err(|e| super::describe(&e))
}

/// The request's body, refused past [`MAX_BODY`] bytes (before reading it when its
/// `Content-Length` says so). Read on this connection's own worker, so a client that stalls
/// in its body holds only its own connection.
fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>, OAuthError> {
    if request.body_length().is_some_and(|n| n > MAX_BODY) {
        return Err(OAuthError::too_large());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| OAuthError::invalid_request(format!("the request body could not be read: {e}")))?;
    if body.len() > MAX_BODY {
        return Err(OAuthError::too_large());
    }
    Ok(body)
}
