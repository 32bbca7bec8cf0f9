//! The built site under the hosts' own tools: Cloudflare Pages' asset server (`wrangler pages
//! dev`, which applies `_headers` as Pages does, limits included) and Netlify's `_headers`
//! parser (`@netlify/headers-parser`, with the rule matching of Netlify's CLI), on one set and
//! on 200 and more; and `check --url` against nginx, a real static server that sends none of
//! the headers. The node tools are pinned in `tests/hosts/package-lock.json` and installed by
//! the harness (`common::clients::host_tools`); nginx is Debian's (`.ci/run` installs it).

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::sites::{Server, SetSpec, free_port, get, json_files, project};
use common::{NOW, Project, clients};
use serde_json::Value;

/// A compatibility date the workerd that wrangler 4.86.0 bundles supports.
const COMPATIBILITY_DATE: &str = "2026-04-01";

fn tools(test: &str) -> Option<&'static Path> {
    match clients::host_tools() {
        Ok(dir) => Some(dir),
        Err(why) => {
            clients::unavailable(test, why);
            None
        }
    }
}

/// `wrangler pages dev out/public` of the project on a free loopback port.
fn wrangler(tools: &Path, p: &Project) -> (Server, String) {
    let port = free_port();
    let log = p.at("wrangler.log");
    let mut server = Server::spawn(
        Command::new(tools.join("node_modules/.bin/wrangler"))
            .args(["pages", "dev", "out/public", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--compatibility-date", COMPATIBILITY_DATE])
            // Its own debugger port: tests running wrangler at once would all take 9229.
            .args(["--inspector-port", &free_port().to_string()])
            .current_dir(p.path())
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "true")
            .env("XDG_CONFIG_HOME", p.at(".config"))
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(Stdio::from(fs::File::create(p.at("wrangler.err")).unwrap())),
    );
    let base = format!("http://127.0.0.1:{port}");
    server.wait(&format!("{base}/"), Duration::from_secs(90), &log.display().to_string());
    (server, base)
}

/// Asserts that `path` is answered 200 with exactly one `Content-Type: application/json`, one
/// `Cache-Control: public, max-age=<max_age>` and one `Access-Control-Allow-Origin: *`.
fn assert_served_json(base: &str, path: &str, max_age: i64, p: &Project) {
    let got = get(&format!("{base}{path}")).unwrap_or_else(|| panic!("no answer for {path}"));
    assert_eq!(got.status, 200, "GET {path}: {got:?}");
    assert_eq!(got.body, p.read(&format!("out/public{path}")), "GET {path}: the bytes build wrote");
    assert_eq!(got.all("content-type"), ["application/json"], "GET {path}: {:?}", got.headers);
    assert_eq!(got.all("cache-control"), [format!("public, max-age={max_age}")], "GET {path}: {:?}", got.headers);
    assert_eq!(got.all("access-control-allow-origin"), ["*"], "GET {path}: {:?}", got.headers);
}

/// Asserts that a page is not answered with a JSON content type.
fn assert_not_json(base: &str, path: &str) {
    let got = get(&format!("{base}{path}")).unwrap_or_else(|| panic!("no answer for {path}"));
    assert!(got.all("content-type").iter().all(|t| !t.contains("json")), "GET {path}: {:?}", got.headers);
}

/// The number of rules of a `_headers` file (its path lines).
fn rule_count(p: &Project) -> usize {
    let text = String::from_utf8(p.read("out/public/_headers")).unwrap();
    text.lines().filter(|l| l.starts_with('/')).count()
}

fn tenants(n: usize) -> Vec<SetSpec> {
    let mut sets = vec![SetSpec::new("")];
    sets.extend((0..n).map(|i| SetSpec::new(&format!("tenants/t{i:03}"))));
    sets
}

#[test]
fn cloudflare_pages_serves_one_set_with_its_headers_and_a_404() {
    let Some(tools) = tools("cloudflare_pages_serves_one_set_with_its_headers_and_a_404") else { return };
    let sets = [SetSpec::new("")];
    let p = project(&sets);
    let files = json_files(&p, &sets);
    let (_server, base) = wrangler(tools, &p);
    for (path, age) in &files {
        assert_served_json(&base, path, *age, &p);
    }
    assert_not_json(&base, "/");
    // A path the site does not have: 404.html with status 404, not index.html with 200.
    let missing = get(&format!("{base}/tenants/missing/jwks.json")).unwrap();
    assert_eq!(missing.status, 404, "{missing:?}");
    assert_eq!(missing.body, p.read("out/public/404.html"));
}

#[test]
fn cloudflare_pages_gives_every_file_of_201_sets_its_headers() {
    let Some(tools) = tools("cloudflare_pages_gives_every_file_of_201_sets_its_headers") else { return };
    let sets = tenants(201);
    let p = project(&sets);
    let files = json_files(&p, &sets);
    assert_eq!(rule_count(&p), 4, "sets that share a cache_max_age share the rules");
    p.ok(&["check", "--strict", "--now", NOW]);
    let (_server, base) = wrangler(tools, &p);
    // The last tenant (past any cut a rule limit would make), the root, and one in between.
    for set in ["tenants/t200", "", "tenants/t100"] {
        for (path, age) in sets.iter().find(|s| s.path == set).unwrap().json_files() {
            assert_served_json(&base, &path, age, &p);
        }
    }
    assert_eq!(files.len(), 202 * 7);
    assert_not_json(&base, "/tenants/t200/");
    // Each set's directory is its page, and the root page links it.
    for (url, file) in [("/", "index.html"), ("/tenants/t200/", "tenants/t200/index.html")] {
        let got = get(&format!("{base}{url}")).unwrap();
        assert_eq!((got.status, &got.body), (200, &p.read(&format!("out/public/{file}"))), "GET {url}");
    }
    let root = String::from_utf8(p.read("out/public/index.html")).unwrap();
    assert!(root.contains("href=\"tenants&#x2f;t200&#x2f;index.html\""), "the root page links the last set");
    assert_eq!(get(&format!("{base}/tenants/t999/jwks.json")).unwrap().status, 404);
}

/// Sets with a `cache_max_age` of their own, nested ones included, among shared ones.
fn mixed() -> Vec<SetSpec> {
    vec![
        SetSpec::aged("", 60),
        SetSpec::new("tenants/a"),
        SetSpec::aged("tenants/b", 600),
        SetSpec::new("tenants/b/eu"),
        SetSpec::aged("tenants/b/eu/x", 900),
        SetSpec::new("tenants/bb"),
        SetSpec::new("tenants/c"),
    ]
}

#[test]
fn cloudflare_pages_gives_sets_of_their_own_max_age_theirs() {
    let Some(tools) = tools("cloudflare_pages_gives_sets_of_their_own_max_age_theirs") else { return };
    let sets = mixed();
    let p = project(&sets);
    let files = json_files(&p, &sets);
    let (_server, base) = wrangler(tools, &p);
    for (path, age) in &files {
        assert_served_json(&base, path, *age, &p);
    }
}

/// Netlify's reading of the project's `_headers` for every file and page URL of the site.
fn netlify(tools: &Path, p: &Project, paths: &[String]) -> Value {
    let mut child = Command::new("node")
        .arg(tools.join("netlify.mjs"))
        .arg(p.at("out/public/_headers"))
        .current_dir(tools)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    serde_json::to_writer(child.stdin.take().unwrap(), paths).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "netlify.mjs: {}", String::from_utf8_lossy(&out.stderr));
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["errors"], serde_json::json!([]), "Netlify's parser refused lines of _headers");
    value
}

#[test]
fn netlify_gives_every_json_file_its_three_headers_and_no_page_a_json_type() {
    let Some(tools) = tools("netlify_gives_every_json_file_its_three_headers_and_no_page_a_json_type") else { return };
    for sets in [vec![SetSpec::new("")], tenants(201), mixed()] {
        let p = project(&sets);
        let files = json_files(&p, &sets);
        let mut pages: Vec<String> = p
            .snapshot("out/public")
            .into_keys()
            .filter(|f| f.ends_with(".html") || f == ".nojekyll")
            .map(|f| format!("/{f}"))
            .collect();
        pages.extend(sets.iter().map(|s| if s.path.is_empty() { "/".into() } else { format!("/{}/", s.path) }));
        let mut paths: Vec<String> = files.iter().map(|(f, _)| f.clone()).collect();
        paths.extend(pages.iter().cloned());
        let read = netlify(tools, &p, &paths);
        for (path, age) in &files {
            let headers = read["headers"][path].as_object().unwrap();
            let want = serde_json::json!({
                "Content-Type": "application/json",
                "Cache-Control": format!("public, max-age={age}"),
                "Access-Control-Allow-Origin": "*",
            });
            assert_eq!(Value::Object(headers.clone()), want, "Netlify's headers for {path}");
        }
        for page in &pages {
            let headers = read["headers"][page].as_object().unwrap();
            assert!(
                headers.iter().all(|(n, v)| !n.eq_ignore_ascii_case("content-type") || !v.to_string().contains("json")),
                "Netlify gives the page {page} a JSON type: {headers:?}"
            );
        }
    }
}

/// nginx on a free loopback port serving a copy of `out/public/` (at `site/`) with its own defaults (mime.types, no
/// `_headers`), as an unprivileged process.
fn nginx(p: &Project) -> Option<(Server, String)> {
    let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|b| Path::new(b).exists())?;
    let port = free_port();
    let dir = p.at("nginx");
    fs::create_dir_all(dir.join("tmp")).unwrap();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n  access_log off;\n  client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n  server {{\n    listen 127.0.0.1:{port};\n    root {root};\n  }}\n}}\n",
        d = dir.display(),
        root = p.at("site").display()
    );
    let copied = Command::new("cp").arg("-r").arg(p.at("out/public")).arg(p.at("site")).status().unwrap();
    assert!(copied.success());
    fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut command = Command::new(binary);
    // As root (CI), nginx itself runs as nobody: the project and its nginx/ are made readable
    // (and nginx/ writable) for it.
    if is_root() {
        use std::os::unix::fs::{PermissionsExt, chown};
        fs::set_permissions(p.path(), fs::Permissions::from_mode(0o755)).unwrap();
        for entry in walkdir::WalkDir::new(&dir) {
            chown(entry.unwrap().path(), Some(65534), Some(65534)).unwrap();
        }
        command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", binary]);
    }
    command.args(["-p"]).arg(&dir).arg("-c").arg(dir.join("nginx.conf")).stdin(Stdio::null()).stderr(Stdio::null());
    let mut server = Server::spawn(&mut command);
    let base = format!("http://127.0.0.1:{port}");
    server.wait(&format!("{base}/"), Duration::from_secs(20), &dir.join("error.log").display().to_string());
    Some((server, base))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

#[test]
fn check_url_against_nginx_warns_about_every_header_it_does_not_send() {
    let sets = [SetSpec::new(""), SetSpec::new("tenants/acme")];
    let p = project(&sets);
    let Some((_server, base)) = nginx(&p) else {
        return clients::unavailable("check_url_against_nginx", "nginx is not installed (apt-get install nginx)");
    };
    let out = p.run(&["check", "--now", NOW, "--url", &base]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "every file is there and the same: only warnings\n{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("files served at"), "{stdout}");
    for (path, _) in json_files(&p, &sets) {
        let url = format!("{base}{path}");
        assert!(stderr.contains(&format!("warning: {url}: Access-Control-Allow-Origin is none")), "{url}: {stderr}");
        let extensionless = !path.rsplit('/').next().unwrap().contains('.');
        let untyped = format!("warning: {url}: content type application/octet-stream, not application/json (this host");
        assert_eq!(stderr.contains(&untyped), extensionless, "{url}: {stderr}");
    }
    // nginx answers a set's directory with its page, and redirects the URL without the slash.
    let page = get(&format!("{base}/tenants/acme/")).unwrap();
    assert_eq!((page.status, page.body), (200, p.read("out/public/tenants/acme/index.html")));
    let moved = get(&format!("{base}/tenants/acme")).unwrap();
    assert_eq!(moved.status, 301, "{moved:?}");
    assert!(moved.all("location").iter().any(|l| l.ends_with("/tenants/acme/")), "{moved:?}");
    // --strict makes the warnings fail.
    let strict = p.run(&["check", "--strict", "--now", NOW, "--url", &base]);
    assert_eq!(strict.status.code(), Some(1), "{}", String::from_utf8_lossy(&strict.stderr));
    // A file the server lacks is missing: exit 1, naming the URL.
    fs::remove_file(p.at("site/tenants/acme/jwt-keys.json")).unwrap();
    let out = p.run(&["check", "--now", NOW, "--url", &base]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("missing: {base}/tenants/acme/jwt-keys.json (status 404)")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
