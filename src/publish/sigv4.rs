//! AWS Signature Version 4 in the `Authorization` header, for S3 requests.
//!
//! rusty-s3 signs by presigned URLs (the signature in the query string). AWS accepts those for
//! every request `publish` makes, but S3-compatible servers do not all authenticate them (moto's
//! IAM mode reads only the header), so `publish` signs in the header, the way the AWS CLI and
//! SDKs do, and uses rusty-s3 for the URLs and the XML.

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use ring::{digest, hmac};

/// Everything but RFC 3986's unreserved characters, as SigV4 encodes query names and values.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// The access key, secret and optional session token of the standard AWS environment.
#[derive(Clone)]
pub(crate) struct Keys {
    /// `AWS_ACCESS_KEY_ID`.
    pub(crate) access_key: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub(crate) secret: String,
    /// `AWS_SESSION_TOKEN`.
    pub(crate) token: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("access_key", &self.access_key).finish_non_exhaustive()
    }
}

/// The hex SHA-256 of `bytes` (the `x-amz-content-sha256` of a body).
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes()).as_ref().to_vec()
}

/// One request to sign: method, URL (path already percent-encoded), headers to sign besides
/// `host`, `x-amz-date` and `x-amz-content-sha256`, and the body's SHA-256.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) url: &'a url::Url,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) payload_sha256: String,
}

/// The headers to send: the request's own plus `x-amz-date`, `x-amz-content-sha256`, the
/// session token and `authorization`. `amz_date` is `YYYYMMDDTHHMMSSZ`.
pub(crate) fn sign(req: Request, keys: &Keys, region: &str, amz_date: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> =
        req.headers.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string())).collect();
    headers.push(("x-amz-date".into(), amz_date.into()));
    headers.push(("x-amz-content-sha256".into(), req.payload_sha256.clone()));
    if let Some(token) = &keys.token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    let host = match req.url.port() {
        Some(port) => format!("{}:{port}", req.url.host_str().unwrap_or_default()),
        None => req.url.host_str().unwrap_or_default().to_string(),
    };
    let mut signed = headers.clone();
    signed.push(("host".into(), host));
    signed.sort();
    let names = signed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
    let canonical_headers: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let mut query: Vec<(String, String)> = req
        .url
        .query_pairs()
        .map(|(k, v)| (utf8_percent_encode(&k, QUERY).to_string(), utf8_percent_encode(&v, QUERY).to_string()))
        .collect();
    query.sort();
    let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let canonical =
        format!("{}\n{}\n{query}\n{canonical_headers}\n{names}\n{}", req.method, req.url.path(), req.payload_sha256);
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/s3/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical.as_bytes()));
    let mut key = hmac_sha256(format!("AWS4{}", keys.secret).as_bytes(), date);
    for part in [region, "s3", "aws4_request"] {
        key = hmac_sha256(&key, part);
    }
    let signature = hex(&hmac_sha256(&key, &to_sign));
    headers.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={names}, Signature={signature}",
            keys.access_key
        ),
    ));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "GET Object" example of the AWS S3 API reference (Signature Version 4, header auth).
    #[test]
    fn aws_get_object_example() {
        let keys = Keys {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            token: None,
        };
        let url = url::Url::parse("https://examplebucket.s3.amazonaws.com/test.txt").unwrap();
        let req = Request {
            method: "GET",
            url: &url,
            headers: vec![("Range".into(), "bytes=0-9".into())],
            payload_sha256: sha256_hex(b""),
        };
        let headers = sign(req, &keys, "us-east-1", "20130524T000000Z");
        let auth = headers.iter().find(|(n, _)| n == "authorization").unwrap();
        assert_eq!(
            auth.1,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn a_session_token_is_sent_and_signed() {
        let keys = Keys { access_key: "ASIAEXAMPLE".into(), secret: "s".into(), token: Some("tok".into()) };
        let url = url::Url::parse("http://127.0.0.1:9000/bucket/a%20b?list-type=2&prefix=v1%2F").unwrap();
        let req = Request { method: "GET", url: &url, headers: Vec::new(), payload_sha256: sha256_hex(b"") };
        let headers = sign(req, &keys, "eu-west-1", "20260101T000000Z");
        assert!(headers.contains(&("x-amz-security-token".to_string(), "tok".to_string())));
        let auth = &headers.iter().find(|(n, _)| n == "authorization").unwrap().1;
        assert!(auth.contains("/20260101/eu-west-1/s3/aws4_request"), "{auth}");
        assert!(auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"), "{auth}");
    }
}
