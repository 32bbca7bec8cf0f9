//! `check --url BASE` (SPEC §5.1) against `jwksmith serve` (every file as built, every header),
//! and against small servers made here: one that redirects everything, one that serves a stale
//! `jwks.json`, and a port where nothing listens. nginx, a real static server without the
//! headers, is in `tests/hosts.rs`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::sites::{Server, SetSpec, free_port, json_files, project};
use crate::common::{NOW, Project};

fn sets() -> Vec<SetSpec> {
    vec![SetSpec::new(""), SetSpec::aged("tenants/acme", 600), SetSpec::new("tenants/acme/eu")]
}

fn serve(p: &Project) -> (Server, String) {
    let port = free_port();
    let mut server = Server::spawn(
        Command::new(env!("CARGO_BIN_EXE_jwksmith"))
            .args(["serve", "-q", "--addr", &format!("127.0.0.1:{port}"), "--now", NOW])
            .current_dir(p.path())
            .env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"))
            .stdin(Stdio::null()),
    );
    let base = format!("http://127.0.0.1:{port}");
    server.wait(&format!("{base}/"), Duration::from_secs(30), "jwksmith serve");
    (server, base)
}

/// A loopback server answering every request with `answer(path)` (a whole HTTP response), one
/// connection at a time, each closed after its answer. It stops with the test process.
fn tiny_server(answer: impl Fn(&str) -> Vec<u8> + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
            let _ = stream.write_all(&answer(&path));
        }
    });
    base
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn text(out: &std::process::Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn check_url_passes_against_serve_and_fetches_every_json_file() {
    let sets = sets();
    let p = project(&sets);
    let files = json_files(&p, &sets);
    let (_server, base) = serve(&p);
    let out = p.run(&["check", "--strict", "--now", NOW, "--url", &base]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Every JSON file and the page at BASE/.
    assert!(stdout.contains(&format!("{} files served at {base}", files.len() + 1)), "{stdout}");
    assert!(!stderr.contains("warning"), "{stderr}");
    // With --set the root page is fetched but not planned: it is not counted as compared.
    let out = p.run(&["check", "--set", ".", "--now", NOW, "--url", &base]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("the page at") && stdout.contains("does not compare its bytes"), "{stdout}");
    assert!(!stdout.contains(&format!("{} files served", files.len() + 1)), "{stdout}");
}

#[test]
fn check_url_fails_on_redirects_and_never_follows_them() {
    let p = project(&sets());
    let real = tiny_server(|_| response("200 OK", &[], b"followed"));
    let base =
        tiny_server(move |path| response("301 Moved Permanently", &[("Location", &format!("{real}{path}"))], b""));
    let out = p.run(&["check", "--now", NOW, "--url", &base]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3 * 7 + 1, "one line per file and the page: {stdout}");
    assert!(lines.iter().all(|l| l.starts_with(&format!("redirected: {base}/"))), "{stdout}");
    assert!(!stdout.contains("differs"), "a redirect is not followed: {stdout}");
    insta::assert_snapshot!("check_url_redirected", stderr.replace(&base, "BASE"));
    insta::assert_snapshot!("check_url_redirected_line", lines[0].replace(&base, "BASE").split(" to ").next().unwrap());
}

#[test]
fn check_url_fails_on_stale_bytes_and_warns_about_headers() {
    let sets = sets();
    let p = project(&sets);
    let site = p.at("out/public");
    let ages: Vec<(String, i64)> = json_files(&p, &sets);
    let base = tiny_server(move |path| {
        let file = if path == "/" { site.join("index.html") } else { site.join(path.trim_start_matches('/')) };
        let Ok(mut body) = std::fs::read(&file) else { return response("404 Not Found", &[], b"") };
        if path == "/tenants/acme/jwks.json" {
            body = br#"{"keys":[]}"#.to_vec();
        }
        let cache = if path.starts_with("/tenants/acme/") && !path.starts_with("/tenants/acme/eu/") {
            "public, max-age=3600"
        } else {
            "public, max-age=60"
        };
        let ct = if path.ends_with(".json") || path.contains("openid") { "application/json" } else { "text/html" };
        let cors = if path.ends_with("jwt-keys") { "https://example.com" } else { "*" };
        response(
            "200 OK",
            &[("Content-Type", ct), ("Cache-Control", cache), ("Access-Control-Allow-Origin", cors)],
            &body,
        )
    });
    let out = p.run(&["check", "--now", NOW, "--url", &base]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let redacted = |s: &str| s.replace(&base, "BASE");
    insta::assert_snapshot!(
        "check_url_stale",
        format!("stdout:\n{}\nstderr:\n{}", redacted(&stdout), redacted(&stderr))
    );
    // Each of acme's own files (max-age 600) served with 3600 is named once.
    let too_long = stderr.lines().filter(|l| l.contains("is above the set's cache_max_age")).count();
    assert_eq!(
        too_long,
        ages.iter().filter(|(f, _)| f.starts_with("/tenants/acme/") && !f.starts_with("/tenants/acme/eu/")).count()
    );
}

#[test]
fn check_url_reports_a_site_that_does_not_answer_and_refuses_a_bad_url() {
    let p = project(&[SetSpec::new("")]);
    let base = format!("http://127.0.0.1:{}", free_port());
    let out = p.run(&["check", "--now", NOW, "--url", &base]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().count(), 8, "{stdout}");
    assert!(stdout.lines().all(|l| l.starts_with(&format!("missing: {base}/")) && l.contains("no answer")), "{stdout}");
    let usage = p.fails(&["check", "--now", NOW, "--url", "keys.example.com"], 2);
    insta::assert_snapshot!("check_url_usage", usage);
}

#[test]
fn serve_answers_a_missing_path_with_404_html_and_status_404() {
    let p = project(&[SetSpec::new("")]);
    p.write("site-template/404.html", b"<p>no such key set</p>\n");
    p.ok(&["build", "-q", "--now", NOW]);
    assert_eq!(p.read("out/public/404.html"), b"<p>no such key set</p>\n", "404.html is overridden like the others");
    let (_server, base) = serve(&p);
    for path in ["/tenants/missing/jwks.json", "/nope", "/tenants/missing/"] {
        let got = crate::common::sites::get(&format!("{base}{path}")).unwrap();
        assert_eq!(got.status, 404, "GET {path}");
        assert_eq!(got.body, b"<p>no such key set</p>\n", "GET {path}");
        assert_eq!(got.all("content-type"), ["text/html; charset=utf-8"], "GET {path}");
    }
}

#[test]
fn check_warns_when_headers_would_pass_cloudflare_pages_limits() {
    // 101 sets, each with a cache_max_age of its own: one splat rule each past the shared one.
    let sets: Vec<SetSpec> = (0..101).map(|i| SetSpec::aged(&format!("t{i:03}"), 60 + i)).collect();
    let p = crate::common::Project::new();
    for set in &sets {
        let toml = format!(
            "[rotation]\ncache_max_age = \"{}s\"\n[[key]]\nspec = \"ec\"\nkty = \"EC\"\ncrv = \"P-256\"\nuse = \"sig\"\nalg = \"ES256\"\n",
            set.max_age.unwrap()
        );
        p.write(&format!("keys/{}/keyset.toml", set.path), toml.as_bytes());
    }
    p.ok(&["rotate", "-q", "--now", NOW]);
    p.ok(&["build", "-q", "--now", NOW]);
    let out = p.run(&["check", "--now", NOW]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    insta::assert_snapshot!("check_headers_over_the_rule_limit", stderr);
    p.fails(&["check", "--strict", "--now", NOW], 1);
}
