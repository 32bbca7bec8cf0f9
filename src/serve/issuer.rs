//! The local issuer of `serve --local-issuer` (SPEC §5.2), pure: which set and endpoint a
//! request path names ([`route`]), each set's issuer at the bound address ([`issuer_url`]), its
//! discovery document ([`document`]) and its token endpoint's answer ([`token`]), all functions
//! of the set, the address and `now`. Nothing here is written to `out/`: the answers are made in
//! memory for each request.

use std::net::SocketAddr;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde_json::{Value, json};

use super::Reply;
use super::oauth::{OAuthError, TokenRequest};
use crate::jwt::{Claims, Selection, mint};
use crate::model::KeySet;
use crate::plan::{members_bytes, published_keys, signing_algs};
use crate::times::{Span, Timestamp};

/// The lifetime of the access tokens, in seconds (`expires_in`).
pub(crate) const TOKEN_TTL_SECS: i64 = 3600;

/// The document's path under a set's issuer.
const DISCOVERY: &str = ".well-known/openid-configuration";
/// The token endpoint's path under a set's issuer.
const TOKEN: &str = "token";

/// The methods the discovery document answers.
pub(crate) const DOCUMENT_METHODS: &str = "GET, HEAD, OPTIONS";
/// The methods the token endpoint answers.
pub(crate) const TOKEN_METHODS: &str = "POST, OPTIONS";

/// What a request path asks the local issuer for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `<set>/.well-known/openid-configuration`.
    Discovery,
    /// `<set>/token`.
    Token,
}

/// The set (its publish path, `""` for the root) and endpoint that a request URL would name:
/// `<path>/.well-known/openid-configuration` or `<path>/token`. The path is percent-decoded and
/// its query ignored, as for files; whether a set is there is for the caller to find out.
pub(crate) fn route(url: &str) -> Option<(String, Endpoint)> {
    let raw = url.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode_str(raw).decode_utf8().ok()?;
    let rest = decoded.strip_prefix('/')?;
    let (prefix, endpoint) = if let Some(prefix) = rest.strip_suffix(DISCOVERY) {
        (prefix, Endpoint::Discovery)
    } else {
        (rest.strip_suffix(TOKEN)?, Endpoint::Token)
    };
    let set = match prefix {
        "" => "",
        _ => prefix.strip_suffix('/').filter(|p| !p.is_empty() && !p.starts_with('/'))?,
    };
    Some((set.to_string(), endpoint))
}

/// Characters a publish path keeps percent-encoded in a URL: controls, space, and those that
/// end or delimit a path (`?`, `#`) or that URLs never hold raw.
const PATH: &AsciiSet =
    &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'<').add(b'>').add(b'?').add(b'`').add(b'{').add(b'}');

/// The local issuer of the set at `path`: `http://<addr>/<path>`, `http://<addr>` for the root
/// set (no trailing slash either way); `addr` is the address serve actually bound.
pub(crate) fn issuer_url(addr: SocketAddr, path: &str) -> String {
    match path {
        "" => format!("http://{addr}"),
        _ => format!("http://{addr}/{}", utf8_percent_encode(path, PATH)),
    }
}

/// The set's discovery document at the local issuer: `issuer`, `jwks_uri`, `token_endpoint`,
/// the members OpenID Discovery requires (`response_types_supported`, `subject_types_supported`,
/// `id_token_signing_alg_values_supported`: the algs of the signing keys `jwks.json` publishes
/// at `now`), and those a client-credentials client reads (`grant_types_supported`,
/// `token_endpoint_auth_methods_supported`). With only `client_credentials` among the grants,
/// strict validators (authlib) need no `authorization_endpoint`. The set's own `issuer` and
/// `[discovery]` members name the production issuer, so none of them is used.
pub(crate) fn document(set: &KeySet, addr: SocketAddr, now: Timestamp) -> Vec<u8> {
    let issuer = issuer_url(addr, &set.path);
    let published = published_keys(set, now);
    let members: Vec<(String, Value)> = vec![
        ("issuer".into(), issuer.as_str().into()),
        ("jwks_uri".into(), format!("{issuer}/jwks.json").into()),
        ("token_endpoint".into(), format!("{issuer}/{TOKEN}").into()),
        ("response_types_supported".into(), json!(["id_token"])),
        ("subject_types_supported".into(), json!(["public"])),
        ("id_token_signing_alg_values_supported".into(), json!(signing_algs(&published))),
        ("grant_types_supported".into(), json!([super::oauth::GRANT])),
        ("token_endpoint_auth_methods_supported".into(), json!(["client_secret_basic", "client_secret_post"])),
    ];
    members_bytes(members, set.config.pretty)
}

/// The token endpoint's answer to an accepted request: a JWT signed as `jwksmith token` signs
/// one (the current key of the set's first signing spec) with `iss` the local issuer, `sub` the
/// client id, `aud` the audience when given, `iat` now, `exp` an hour later, then `scope` when
/// given; in `{"access_token", "token_type": "Bearer", "expires_in": 3600}`. A set that cannot
/// sign (no signing spec, no current key, a public-only key, an age-encrypted key that no
/// identity opens) is a 503 saying why.
pub(crate) fn token(
    set: &KeySet,
    addr: SocketAddr,
    now: Timestamp,
    request: &TokenRequest,
) -> Result<Vec<u8>, OAuthError> {
    let claims = Claims {
        iss: Some(issuer_url(addr, &set.path)),
        sub: Some(request.client_id.clone()),
        aud: request.audience.clone(),
        ttl: Span::from_secs(TOKEN_TTL_SECS),
        extra: request.scope.iter().map(|s| ("scope".to_string(), Value::from(s.as_str()))).collect(),
    };
    let jwt = mint(set, &Selection::FirstSigningSpec, &claims, now)
        .map_err(|e| OAuthError::unavailable(super::describe(&e)))?;
    let answer = vec![
        ("access_token".to_string(), Value::from(jwt)),
        ("token_type".into(), "Bearer".into()),
        ("expires_in".into(), TOKEN_TTL_SECS.into()),
    ];
    Ok(members_bytes(answer, false))
}

/// A JSON answer of the local issuer, readable from any origin. `cache` is its Cache-Control:
/// `no-store` for everything the token endpoint answers (RFC 6749 §5.1).
pub(crate) fn json_reply(status: u16, body: Vec<u8>, cache: &str) -> Reply {
    let headers = vec![
        ("Content-Type".into(), "application/json".into()),
        ("Cache-Control".into(), cache.into()),
        ("Access-Control-Allow-Origin".into(), "*".into()),
    ];
    Reply { status, headers, body }
}

/// The token endpoint's error answer: the RFC 6749 §5.2 JSON, `no-store`, and for a 401 the
/// challenge that tells a client to send HTTP Basic.
pub(crate) fn error_reply(error: &OAuthError) -> Reply {
    let body = serde_json::to_vec(&error.body()).unwrap_or_default();
    let mut reply = json_reply(error.status, body, "no-store");
    reply.headers.push(("Pragma".into(), "no-cache".into()));
    if error.status == 401 {
        reply.headers.push(("WWW-Authenticate".into(), "Basic realm=\"jwksmith local issuer\"".into()));
    }
    reply
}

/// The answer to a method an endpoint does not take: 405 with `Allow` and a JSON error.
pub(crate) fn wrong_method(allowed: &str) -> Reply {
    let error = OAuthError::invalid_request(format!("this endpoint answers {allowed}"));
    let mut reply = error_reply(&OAuthError { status: 405, ..error });
    reply.headers.push(("Allow".into(), allowed.into()));
    reply
}

/// The CORS preflight answer of an endpoint: 204 with its methods and, for the token endpoint,
/// the request headers a browser client sends (`Authorization`, `Content-Type`).
pub(crate) fn preflight(endpoint: Endpoint) -> Reply {
    let mut headers = vec![("Access-Control-Allow-Origin".to_string(), "*".to_string())];
    match endpoint {
        Endpoint::Discovery => headers.push(("Access-Control-Allow-Methods".into(), DOCUMENT_METHODS.into())),
        Endpoint::Token => {
            headers.push(("Access-Control-Allow-Methods".into(), TOKEN_METHODS.into()));
            headers.push(("Access-Control-Allow-Headers".into(), "Authorization, Content-Type".into()));
        }
    }
    Reply { status: 204, headers, body: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:8000".parse().unwrap()
    }

    #[test]
    fn routes_name_a_set_path_and_an_endpoint() {
        let some = |path: &str, endpoint| Some((path.to_string(), endpoint));
        let cases = [
            ("/.well-known/openid-configuration", some("", Endpoint::Discovery)),
            ("/token?x=1", some("", Endpoint::Token)),
            ("/tenants/acme/.well-known/openid-configuration", some("tenants/acme", Endpoint::Discovery)),
            ("/tenants/acme/token", some("tenants/acme", Endpoint::Token)),
            ("/tenants%2Facme/token", some("tenants/acme", Endpoint::Token)),
            ("/tenants/token#x", some("tenants", Endpoint::Token)),
            ("/tenants/acme/token/", None),
            ("/tenants/acmetoken", None),
            ("//token", None),
            ("/jwks.json", None),
            ("/tenants/acme/.well-known/jwks.json", None),
            ("token", None),
            ("/%ff/token", None),
        ];
        for (url, want) in cases {
            assert_eq!(route(url), want, "{url}");
        }
    }

    #[test]
    fn issuers_sit_at_the_bound_address_without_a_trailing_slash() {
        assert_eq!(issuer_url(addr(), ""), "http://127.0.0.1:8000");
        assert_eq!(issuer_url(addr(), "tenants/acme"), "http://127.0.0.1:8000/tenants/acme");
        assert_eq!(issuer_url("[::1]:9".parse().unwrap(), "a b/ü"), "http://[::1]:9/a%20b/%C3%BC");
    }

    #[test]
    fn the_document_names_the_local_endpoints_in_order() {
        let config = crate::config::KeysetConfig {
            issuer: "https://keys.example.com/tenants/acme".into(),
            discovery: vec![("token_endpoint".into(), "https://prod/token".into())],
            ..Default::default()
        };
        let set = KeySet {
            path: "tenants/acme".into(),
            dir: "keys/tenants/acme".into(),
            config,
            config_file: None,
            keys: Vec::new(),
            unfinished: Vec::new(),
        };
        let bytes = document(&set, addr(), Timestamp::from_unix(0));
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"issuer":"http://127.0.0.1:8000/tenants/acme","#,
                r#""jwks_uri":"http://127.0.0.1:8000/tenants/acme/jwks.json","#,
                r#""token_endpoint":"http://127.0.0.1:8000/tenants/acme/token","#,
                r#""response_types_supported":["id_token"],"subject_types_supported":["public"],"#,
                r#""id_token_signing_alg_values_supported":[],"grant_types_supported":["client_credentials"],"#,
                r#""token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"]}"#,
                "\n"
            )
        );
    }

    #[test]
    fn errors_are_json_that_no_cache_keeps() {
        let reply = error_reply(&OAuthError::unavailable("set .: no key"));
        assert_eq!(reply.status, 503);
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body, json!({"error": "temporarily_unavailable", "error_description": "set .: no key"}));
        assert!(reply.headers.contains(&("Cache-Control".into(), "no-store".into())));
        let basic = error_reply(&OAuthError { status: 401, error: "invalid_client", description: None });
        assert!(basic.headers.iter().any(|(n, v)| n == "WWW-Authenticate" && v.starts_with("Basic ")));
        let wrong = wrong_method(TOKEN_METHODS);
        assert_eq!(wrong.status, 405);
        assert!(wrong.headers.contains(&("Allow".into(), "POST, OPTIONS".into())));
    }
}
