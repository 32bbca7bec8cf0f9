//! The OAuth 2.0 side of the local issuer's token endpoint, pure: a client-credentials token
//! request read from its `Content-Type`, `Authorization` and body (RFC 6749 §4.4.2, client
//! authentication §2.3.1), and the error answers of RFC 6749 §5.2. Any client id and secret are
//! accepted: the point is the token's shape, not who asks.

use base64::Engine;
use serde_json::{Value, json};

/// The largest request body the token endpoint reads; a client-credentials form is a few
/// hundred bytes.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// The one grant the local issuer answers.
pub(crate) const GRANT: &str = "client_credentials";

/// A client-credentials token request, as accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenRequest {
    /// The client id (from HTTP Basic or the body): the token's `sub`.
    pub(crate) client_id: String,
    /// `audience` values in request order (RFC 8693 allows several), empty ones dropped.
    pub(crate) audience: Vec<String>,
    /// `scope`, when given and not empty.
    pub(crate) scope: Option<String>,
}

/// An error answer of the token endpoint (RFC 6749 §5.2, and 413/503 of our own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    /// HTTP status.
    pub(crate) status: u16,
    /// The RFC 6749 `error` code.
    pub(crate) error: &'static str,
    /// `error_description`, for the person reading it; `None` leaves the member out.
    pub(crate) description: Option<String>,
}

impl OAuthError {
    /// 400 `invalid_request`: the request is not a well-formed token request.
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError { status: 400, error: "invalid_request", description: Some(description.into()) }
    }

    /// 401 `invalid_client`: no usable client credentials.
    fn invalid_client(description: impl Into<String>) -> Self {
        OAuthError { status: 401, error: "invalid_client", description: Some(description.into()) }
    }

    /// 413 with `invalid_request`: a body over [`MAX_BODY`].
    pub(crate) fn too_large() -> Self {
        OAuthError {
            status: 413,
            error: "invalid_request",
            description: Some(format!("the request body is over {MAX_BODY} bytes; a token request is a short form")),
        }
    }

    /// 503 `temporarily_unavailable`: the set cannot sign a token now, and why.
    pub(crate) fn unavailable(description: impl Into<String>) -> Self {
        OAuthError { status: 503, error: "temporarily_unavailable", description: Some(description.into()) }
    }

    /// The JSON body: `{"error"}`, then `error_description` when there is one.
    pub(crate) fn body(&self) -> Value {
        match &self.description {
            Some(description) => json!({"error": self.error, "error_description": description}),
            None => json!({"error": self.error}),
        }
    }
}

/// Reads a token request. Checks, in order: the content type (`application/x-www-form-urlencoded`,
/// parameters allowed), the form (strict percent-encoding, UTF-8, no parameter twice but
/// `audience`), `grant_type` (present, then `client_credentials`: another one is
/// `unsupported_grant_type` with no description, as RFC 6749 spells it), then the client's
/// credentials: HTTP Basic or `client_id` in the body (a secret is not required; a body
/// `client_id` beside Basic must be the same).
pub(crate) fn parse(
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<TokenRequest, OAuthError> {
    if !is_form(content_type) {
        return Err(OAuthError::invalid_request(format!(
            "the token request must have Content-Type application/x-www-form-urlencoded, not {}",
            content_type.map_or("none".to_string(), |t| format!("`{t}`"))
        )));
    }
    let params = parse_form(body).map_err(OAuthError::invalid_request)?;
    for (i, (name, _)) in params.iter().enumerate() {
        if name != "audience" && params[..i].iter().any(|(n, _)| n == name) {
            return Err(OAuthError::invalid_request(format!("the parameter `{name}` is given more than once")));
        }
    }
    let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    match get("grant_type") {
        None => {
            return Err(OAuthError::invalid_request(format!("the parameter `grant_type` is missing (give `{GRANT}`)")));
        }
        Some(GRANT) => {}
        Some(_) => return Err(OAuthError { status: 400, error: "unsupported_grant_type", description: None }),
    }
    let client_id = client_id(authorization, get("client_id"))?;
    let audience = params.iter().filter(|(n, v)| n == "audience" && !v.is_empty()).map(|(_, v)| v.clone()).collect();
    let scope = get("scope").filter(|s| !s.is_empty()).map(str::to_string);
    Ok(TokenRequest { client_id, audience, scope })
}

/// True for `application/x-www-form-urlencoded`, any case, with or without parameters.
fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|t| t.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// The client id, from HTTP Basic (RFC 6749 §2.3.1: id and secret form-encoded, then base64)
/// or from the body's `client_id`.
fn client_id(authorization: Option<&str>, in_body: Option<&str>) -> Result<String, OAuthError> {
    let basic = match authorization {
        Some(header) => Some(basic_client_id(header).map_err(OAuthError::invalid_client)?),
        None => None,
    };
    match (basic, in_body) {
        (Some(id), Some(body)) if id != body => Err(OAuthError::invalid_request(format!(
            "the body's client_id `{body}` is not the client of the HTTP Basic credentials (`{id}`); send one of them"
        ))),
        (Some(id), _) => Ok(id),
        (None, Some(body)) if !body.is_empty() => Ok(body.to_string()),
        _ => Err(OAuthError::invalid_client(
            "no client credentials: send HTTP Basic (client_secret_basic) or client_id and client_secret in the body (client_secret_post); any values are accepted",
        )),
    }
}

/// The client id of an `Authorization: Basic …` header.
fn basic_client_id(header: &str) -> Result<String, String> {
    let bad = |why: &str| format!("the Authorization header {why}; send `Basic base64(client_id:client_secret)`");
    let (scheme, credentials) = header.trim().split_once(' ').ok_or_else(|| bad("is not HTTP Basic"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad("is not HTTP Basic"));
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let decoded = engine.decode(credentials.trim()).map_err(|_| bad("is not valid base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| bad("is not UTF-8 text"))?;
    let (id, _secret) = text.split_once(':').ok_or_else(|| bad("has no `:` between the client id and secret"))?;
    let id = form_decode(id).map_err(|e| bad(&format!("holds a client id that {e}")))?;
    if id.is_empty() {
        return Err(bad("has an empty client id"));
    }
    Ok(id)
}

/// The name-value pairs of an `application/x-www-form-urlencoded` body, in order; empty
/// segments (`a=1&&b=2`) are skipped, a segment without `=` is a name with an empty value.
pub(crate) fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the form body is not UTF-8 text".to_string())?;
    text.split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            let field = |part: &str| form_decode(part).map_err(|e| format!("the form field `{segment}` {e}"));
            Ok((field(name)?, field(value)?))
        })
        .collect()
}

/// One form-encoded component: `+` is a space, `%XX` a byte; the bytes must be UTF-8.
fn form_decode(part: &str) -> Result<String, String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| "has a `%` not followed by two hex digits".to_string())?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "decodes to bytes that are not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_and_body_credentials_give_the_client_id() {
        let from_basic = parse(FORM, Some(&basic("my%20app", "s%3Acret")), b"grant_type=client_credentials").unwrap();
        assert_eq!(from_basic, TokenRequest { client_id: "my app".into(), audience: vec![], scope: None });
        let from_body = parse(
            Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            None,
            b"grant_type=client_credentials&client_id=svc+1&client_secret=x&audience=api&scope=read%20write",
        )
        .unwrap();
        assert_eq!(
            from_body,
            TokenRequest { client_id: "svc 1".into(), audience: vec!["api".into()], scope: Some("read write".into()) }
        );
        let both = parse(FORM, Some(&basic("svc", "x")), b"grant_type=client_credentials&client_id=svc").unwrap();
        assert_eq!(both.client_id, "svc");
        let several = parse(FORM, None, b"grant_type=client_credentials&client_id=c&audience=a&audience=&audience=b");
        assert_eq!(several.unwrap().audience, ["a", "b"]);
        let no_secret = parse(FORM, Some(&basic("c", "")), b"grant_type=client_credentials&scope=").unwrap();
        assert_eq!((no_secret.client_id.as_str(), no_secret.scope), ("c", None));
    }

    #[test]
    fn another_grant_type_is_unsupported_without_description() {
        let e = parse(FORM, Some(&basic("c", "s")), b"grant_type=password&username=u").unwrap_err();
        assert_eq!((e.status, e.body()), (400, json!({"error": "unsupported_grant_type"})));
    }

    #[test]
    fn malformed_requests_are_invalid_request() {
        let cases: [(Option<&str>, &[u8]); 7] = [
            (None, b"grant_type=client_credentials&client_id=c"),
            (Some("application/json"), b"{\"grant_type\":\"client_credentials\"}"),
            (FORM, b"{\"grant_type\":\"client_credentials\"}"),
            (FORM, b"client_id=c"),
            (FORM, b"grant_type=client_credentials&client_id=c&grant_type=client_credentials"),
            (FORM, b"grant_type=client_credentials&client_id=%zz"),
            (FORM, b"grant_type=client_credentials&client_id=%ff"),
        ];
        for (content_type, body) in cases {
            let e = parse(content_type, None, body).unwrap_err();
            assert_eq!(
                (e.status, e.error),
                (400, "invalid_request"),
                "{content_type:?} {}",
                String::from_utf8_lossy(body)
            );
            assert!(e.body()["error_description"].is_string());
        }
        let differ = parse(FORM, Some(&basic("a", "s")), b"grant_type=client_credentials&client_id=b").unwrap_err();
        assert_eq!(differ.error, "invalid_request");
    }

    #[test]
    fn missing_or_broken_credentials_are_invalid_client() {
        for authorization in
            [None, Some("Bearer abc"), Some("Basic !!!"), Some("Basic Y2xpZW50"), Some(basic("", "s").as_str())]
        {
            let e = parse(FORM, authorization, b"grant_type=client_credentials").unwrap_err();
            assert_eq!((e.status, e.error), (401, "invalid_client"), "{authorization:?}");
        }
    }

    #[test]
    fn forms_decode_strictly() {
        assert_eq!(
            parse_form(b"a=1&&b&c=x%2By+z").unwrap(),
            [("a".into(), "1".into()), ("b".into(), String::new()), ("c".into(), "x+y z".into())]
        );
        assert!(parse_form(b"a=%4").is_err());
        assert!(parse_form(b"\xff=1").is_err());
    }
}
