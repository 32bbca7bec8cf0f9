//! A small blocking S3 client for `publish`: list, head, put and delete objects of one bucket.
//!
//! rusty-s3 builds the request URLs (path-style or virtual-hosted) and the XML bodies and parses
//! the XML answers; [`super::sigv4`] signs; ureq sends. Credentials, region and endpoint come
//! from the standard AWS environment.

use std::time::Duration;

use rusty_s3::actions::{DeleteObjects, DeleteObjectsResponse, ListObjectsV2, ObjectIdentifier};
use rusty_s3::{Bucket, S3Action, UrlStyle};

use super::sigv4::{self, Keys};
use crate::error::{Error, Result};

/// The user metadata that marks an object as jwksmith's (`x-amz-meta-jwksmith`).
pub(crate) const MARK: &str = "x-amz-meta-jwksmith";
/// Its value.
pub(crate) const MARK_VALUE: &str = "published";
/// The user metadata that says under which `PREFIX/` jwksmith published an object: `/` and the
/// prefix, percent-encoded (`/` for the bucket's root, `/staging` for `s3://BUCKET/staging`).
/// A publish deletes only its own prefix's objects, never another deployment's in the bucket.
pub(crate) const PREFIX_MARK: &str = "x-amz-meta-jwksmith-prefix";

/// The value of [`PREFIX_MARK`] for `prefix` (without leading or trailing `/`).
pub(crate) fn prefix_mark(prefix: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const ENCODED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.');
    format!("/{}", utf8_percent_encode(prefix, ENCODED))
}

/// One bucket, reached with the environment's credentials.
pub(crate) struct Store {
    bucket: Bucket,
    keys: Keys,
    agent: ureq::Agent,
}

/// An object as a listing shows it.
#[derive(Clone, Debug)]
pub(crate) struct Listed {
    /// Its key.
    pub(crate) key: String,
    /// Its ETag without the quotes.
    pub(crate) etag: String,
    /// Its size in bytes.
    pub(crate) size: u64,
}

/// The metadata of an object that `publish` compares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Head {
    /// `Content-Type`.
    pub(crate) content_type: Option<String>,
    /// `Cache-Control`.
    pub(crate) cache_control: Option<String>,
    /// True when the object carries jwksmith's mark.
    pub(crate) marked: bool,
    /// Its [`PREFIX_MARK`] (none on objects of an earlier jwksmith).
    pub(crate) prefix_mark: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The time in SigV4's form, `YYYYMMDDTHHMMSSZ`.
fn amz_date() -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

/// What a refused request answered: the `<Code>` and `<Message>` of S3's error XML, else the status.
fn refusal(status: u16, body: &str) -> String {
    let element = |name: &str| {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].trim().to_string())
    };
    match (element("Code"), element("Message")) {
        (Some(code), Some(message)) if !message.is_empty() => format!("{code} (HTTP {status}: {message})"),
        (Some(code), _) => format!("{code} (HTTP {status})"),
        _ => format!("HTTP {status}"),
    }
}

impl Store {
    /// The bucket `name` with the credentials, region and endpoint of the environment;
    /// path-style requests when `AWS_ENDPOINT_URL` is set.
    pub(crate) fn from_env(name: &str) -> Result<Store> {
        let (Some(access_key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) else {
            return Err(Error::Failed(
                "publish needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)".into(),
            ));
        };
        let keys = Keys { access_key, secret, token: env("AWS_SESSION_TOKEN") };
        let region = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into());
        let (endpoint, style) = match env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")) {
            Some(url) => (url, UrlStyle::Path),
            None => (format!("https://s3.{region}.amazonaws.com"), UrlStyle::VirtualHost),
        };
        let bad_endpoint = |why: String| Error::Failed(format!("AWS_ENDPOINT_URL `{endpoint}`: {why}"));
        let parsed = url::Url::parse(&endpoint).map_err(|e| bad_endpoint(e.to_string()))?;
        let bucket = Bucket::new(parsed, style, name.to_string(), region)
            .map_err(|e| bad_endpoint(format!("no S3 bucket URL can be made from it ({e:?})")))?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .max_idle_connections_per_host(64)
            .build()
            .into();
        Ok(Store { bucket, keys, agent })
    }

    /// `s3://bucket/key`, as messages name an object.
    pub(crate) fn name(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket.name())
    }

    fn signed(
        &self,
        method: &str,
        url: &url::Url,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> Vec<(String, String)> {
        let req = sigv4::Request { method, url, headers, payload_sha256: sigv4::sha256_hex(body) };
        sigv4::sign(req, &self.keys, self.bucket.region(), &amz_date())
    }

    /// Sends one request of S3 operation `op`; a transport failure or a status outside 2xx
    /// (other than a HEAD's 404) is an error naming `what` (the object or listing) and the
    /// store's code.
    fn send(&self, op: &str, url: url::Url, headers: Vec<(String, String)>, body: &[u8], what: &str) -> Result<Answer> {
        let method = match op {
            "ListObjectsV2" => "GET",
            "HeadObject" => "HEAD",
            "PutObject" => "PUT",
            _ => "POST",
        };
        let headers = self.signed(method, &url, headers, body);
        let uri = url.as_str();
        let fail = |why: String| Error::Failed(format!("{what}: {op} refused: {why}"));
        let response = match method {
            "GET" | "HEAD" => {
                let mut req = if method == "GET" { self.agent.get(uri) } else { self.agent.head(uri) };
                for (n, v) in &headers {
                    req = req.header(n, v);
                }
                req.call()
            }
            _ => {
                let mut req = if method == "PUT" { self.agent.put(uri) } else { self.agent.post(uri) };
                for (n, v) in &headers {
                    req = req.header(n, v);
                }
                req.send(body)
            }
        }
        .map_err(|e| fail(format!("no answer from the store ({e})")))?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let head = Head {
            content_type: header("content-type"),
            cache_control: header("cache-control"),
            marked: header(MARK).is_some_and(|v| v == MARK_VALUE),
            prefix_mark: header(PREFIX_MARK),
        };
        let etag = header("etag");
        let text = response.into_body().read_to_string().unwrap_or_default();
        if status == 404 && method == "HEAD" {
            return Ok(Answer { status, head: None, etag, text });
        }
        if !(200..300).contains(&status) {
            return Err(fail(refusal(status, &text)));
        }
        Ok(Answer { status, head: Some(head), etag, text })
    }

    /// Every object under `prefix` (`""` for the whole bucket), in key order.
    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        let what = self.name(prefix);
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = ListObjectsV2::new(&self.bucket, None);
            if !prefix.is_empty() {
                action.with_prefix(prefix);
            }
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let url = action.sign(Duration::from_secs(60));
            let answer = self.send("ListObjectsV2", url, Vec::new(), b"", &what)?;
            let page = ListObjectsV2::parse_response(&answer.text)
                .map_err(|e| Error::Failed(format!("{what}: the store's listing cannot be read ({e})")))?;
            found.extend(page.contents.into_iter().map(|c| Listed {
                etag: c.etag.unwrap_or_default().trim_matches('"').to_string(),
                size: c.size.unwrap_or(0),
                key: c.key,
            }));
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => return Ok(found),
            }
        }
    }

    /// The metadata of `key`, `None` when there is no such object.
    pub(crate) fn head(&self, key: &str) -> Result<Option<Head>> {
        Ok(self.send("HeadObject", self.bucket.object_url(key), Vec::new(), b"", &self.name(key))?.head)
    }

    /// Uploads `bytes` as `key` with `headers` (Content-Type, Cache-Control, the mark) and checks
    /// that the ETag the store answers is their MD5.
    pub(crate) fn put(&self, key: &str, bytes: &[u8], headers: Vec<(String, String)>) -> Result<()> {
        let answer = self.send("PutObject", self.bucket.object_url(key), headers, bytes, &self.name(key))?;
        let etag = answer.etag.unwrap_or_default();
        if etag.trim_matches('"') != md5_hex(bytes) {
            return Err(Error::Failed(format!(
                "{}: PutObject answered ETag {etag}, not the MD5 of the bytes sent (status {})",
                self.name(key),
                answer.status
            )));
        }
        Ok(())
    }

    /// Deletes `keys` with DeleteObjects requests of at most 1,000 keys; a key the store
    /// refuses to delete is an error naming it and the code.
    pub(crate) fn delete(&self, keys: &[String]) -> Result<()> {
        for chunk in keys.chunks(1000) {
            let objects: Vec<ObjectIdentifier> = chunk.iter().map(|k| ObjectIdentifier::new(k.clone())).collect();
            let mut action = DeleteObjects::new(&self.bucket, None, objects.iter());
            action.set_quiet(true);
            let url = action.sign(Duration::from_secs(60));
            let (body, md5) = action.body_with_md5();
            let headers = vec![("content-md5".into(), md5), ("content-type".into(), "application/xml".into())];
            let what = self.name(&chunk[0]);
            let answer = self.send("DeleteObjects", url, headers, body.as_bytes(), &what)?;
            let parsed = DeleteObjectsResponse::parse(&answer.text).map_err(|e| {
                Error::Failed(format!("{what}: the store's answer to DeleteObjects cannot be read ({e})"))
            })?;
            if let Some(e) = parsed.errors.first() {
                return Err(Error::Failed(format!(
                    "{}: DeleteObjects refused: {} ({})",
                    self.name(&e.key),
                    e.code,
                    e.message
                )));
            }
        }
        Ok(())
    }
}

/// A store's answer.
struct Answer {
    status: u16,
    head: Option<Head>,
    etag: Option<String>,
    text: String,
}

/// The hex MD5 of `bytes`: the ETag S3 gives a single-part upload of them.
pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_known_bytes() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn refusals_name_the_code() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>";
        assert_eq!(
            refusal(403, xml),
            "InvalidAccessKeyId (HTTP 403: The AWS Access Key Id you provided does not exist in our records.)"
        );
        assert_eq!(refusal(403, ""), "HTTP 403");
    }
}
