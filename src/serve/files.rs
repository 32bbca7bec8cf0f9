//! The static half of `serve`: `out/public/` as a host serves it. A request path maps to a file
//! under the site root, never one outside it (no `..`, no encoded traversal, no symlinks out);
//! the file is answered byte for byte with the headers `_headers` declares, a directory's
//! `index.html` at `/` and at `/tenants/acme/` (with a redirect from `/tenants/acme`, as static
//! hosts do), `404.html` with status 404 for anything else, and `OPTIONS` of a file answers a
//! CORS preflight.

use std::fs;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

use super::{ALLOWED, Reply};
use crate::headers;

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
