//! `jwksmith publish s3://BUCKET[/PREFIX]` (SPEC §5.3) against a real S3-compatible server on
//! loopback: moto's server mode from PyPI (pinned in tests/publish/requirements.txt, installed by
//! the harness), started on an ephemeral port by each test. The test inspects the bucket with its
//! own client (boto3, tests/publish/s3.py) and counts the uploads in the server's request log.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{EC_SPECS, NOW, Project, assert_no_leak_in_text, clients};
use serde::Deserialize;

const ROOT: &str =
    "service_id = \"root\"\nproject_id = \"root-project\"\nissuer = \"https://keys.example.com\"\napi_mirrors = true\n";
const ACME: &str = "service_id = \"acme\"\nproject_id = \"acme-project\"\nissuer = \"https://keys.example.com/tenants/acme\"\napi_mirrors = true\n\n[rotation]\ncache_max_age = \"5m\"\n";

/// A moto server on a free loopback port, killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
    python: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
    /// The credentials that work (any, until `iam` turns authentication on).
    keys: (String, String),
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// A server with bucket `site`, or `None` (reported) when moto cannot be installed here.
    fn start(test: &str) -> Option<Moto> {
        let python = match clients::moto() {
            Ok(python) => python.to_path_buf(),
            Err(why) => {
                clients::unavailable(test, why);
                return None;
            }
        };
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("moto.log");
        let child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.path().join("moto.out")).unwrap())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("start moto");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let keys = ("AKIAIOSFODNN7EXAMPLE".to_string(), "any-secret-before-iam".to_string());
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}"), python, log, _dir: dir, keys };
        moto.s3(&["mkbucket", "site"]);
        Some(moto)
    }

    /// Runs tests/publish/s3.py COMMAND ARGS with the working keys; returns its stdout.
    fn s3(&self, args: &[&str]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/publish/s3.py");
        let out = Command::new(&self.python)
            .arg(script)
            .arg(&self.endpoint)
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &self.keys.0)
            .env("AWS_SECRET_ACCESS_KEY", &self.keys.1)
            .output()
            .unwrap();
        assert!(out.status.success(), "s3.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Turns authentication on: from now on only a user's real keys work. Returns the keys of a
    /// user who may only list and read.
    fn iam(&mut self) -> (String, String) {
        let text = self.s3(&["iam"]);
        let mut users = text.lines().map(|line| {
            let (key, secret) = line.trim().split_once(' ').unwrap();
            (key.to_string(), secret.to_string())
        });
        self.keys = users.next().unwrap();
        users.next().unwrap()
    }

    /// Every object of bucket `site`.
    fn dump(&self) -> BTreeMap<String, Object> {
        serde_json::from_str(&self.s3(&["dump", "site"])).unwrap()
    }

    /// How many PUT requests the server has answered so far.
    fn puts(&self) -> usize {
        fs::read_to_string(&self.log).unwrap().lines().filter(|l| l.contains("\"PUT /")).count()
    }

    /// How many requests the server has answered so far.
    fn requests(&self) -> usize {
        fs::read_to_string(&self.log).unwrap().lines().filter(|l| l.contains(" HTTP/1.1\" ")).count()
    }

    /// `jwksmith publish URL --now NOW` in `p` with `keys`; at most two minutes.
    fn publish_with(&self, p: &Project, url: &str, keys: (&str, &str)) -> Output {
        self.publish_at(p, url, NOW, keys)
    }

    /// `jwksmith publish URL --now NOW` in `p` with `keys`; at most two minutes.
    fn publish_at(&self, p: &Project, url: &str, now: &str, keys: (&str, &str)) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jwksmith"))
            .args(["publish", url, "--now", now])
            .current_dir(p.path())
            .env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"))
            .env("AWS_ACCESS_KEY_ID", keys.0)
            .env("AWS_SECRET_ACCESS_KEY", keys.1)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env_remove("AWS_SESSION_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("jwksmith publish {url} did not finish in two minutes");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        assert_no_leak_in_text(&String::from_utf8_lossy(&out.stdout), "stdout");
        assert_no_leak_in_text(&String::from_utf8_lossy(&out.stderr), "stderr");
        out
    }

    /// Publishes with the working keys and asserts success; returns stdout.
    fn publish(&self, p: &Project, url: &str) -> String {
        self.publish_ok_at(p, url, NOW)
    }

    /// Publishes at `now` with the working keys and asserts success; returns stdout.
    fn publish_ok_at(&self, p: &Project, url: &str, now: &str) -> String {
        let out = self.publish_at(p, url, now, (&self.keys.0, &self.keys.1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "publish {url} failed: {stderr}");
        String::from_utf8(out.stdout).unwrap()
    }
}

/// An object as the test's own client sees it.
#[derive(Debug, Deserialize, PartialEq)]
struct Object {
    content_type: Option<String>,
    cache_control: Option<String>,
    metadata: BTreeMap<String, String>,
    body: String,
}

/// A root set and a nested set `tenants/acme` with its own cache_max_age, both with issuer
/// (the extension-less discovery document) and API mirrors, built at NOW.
fn project() -> Project {
    let p = Project::with_keyset(&format!("{ROOT}{EC_SPECS}"));
    p.write("keys/tenants/acme/keyset.toml", format!("{ACME}{EC_SPECS}").as_bytes());
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    p
}

/// The files publish must upload: out/public/ but `_headers` and `.nojekyll`.
fn site(p: &Project) -> BTreeMap<String, Vec<u8>> {
    let mut files = p.snapshot("out/public");
    files.remove("_headers");
    files.remove(".nojekyll");
    files
}

/// The objects a line of `verb` names in publish's output, relative to `base`.
fn named(stdout: &str, verb: &str, base: &str) -> BTreeSet<String> {
    stdout.lines().filter_map(|l| l.strip_prefix(&format!("{verb} {base}"))).map(str::to_string).collect()
}

/// The `max-age` publish must give a JSON file of the project.
fn max_age(rel: &str) -> u32 {
    let acme = ["tenants/acme/", "api/acme/", "projects/acme-project/"];
    if acme.iter().any(|a| rel.starts_with(a)) { 300 } else { 3600 }
}

#[test]
fn first_publish_sets_every_header_and_a_republish_uploads_nothing() {
    let Some(moto) = Moto::start("first_publish_sets_every_header_and_a_republish_uploads_nothing") else { return };
    let p = project();
    // out/private/ is never opened: a FIFO there would block any reader forever.
    fs::rename(p.at("out/private"), p.at("private-aside")).unwrap();
    fs::create_dir(p.at("out/private")).unwrap();
    let fifo = p.at("out/private/jwks.json");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let files = site(&p);
    for expected in [".well-known/openid-configuration", "api/acme/service/jwks/get", "projects/acme-project/jwt-keys"]
    {
        assert!(files.contains_key(expected), "{expected} is built");
    }

    let stdout = moto.publish(&p, "s3://site/keys/v1");
    assert_eq!(named(&stdout, "uploaded", "s3://site/keys/v1/"), files.keys().cloned().collect());
    let objects = moto.dump();
    let keys: BTreeSet<String> = files.keys().map(|rel| format!("keys/v1/{rel}")).collect();
    assert_eq!(objects.keys().cloned().collect::<BTreeSet<_>>(), keys, "exactly out/public/ under the prefix");
    for (rel, bytes) in &files {
        let object = &objects[&format!("keys/v1/{rel}")];
        assert_eq!(object.body.as_bytes(), bytes.as_slice(), "{rel}");
        assert_eq!(object.metadata.get("jwksmith").map(String::as_str), Some("published"), "{rel} is marked");
        if rel.ends_with(".html") {
            assert!(object.content_type.as_deref().is_some_and(|t| t.starts_with("text/html")), "{rel}: {object:?}");
        } else {
            assert_eq!(object.content_type.as_deref(), Some("application/json"), "{rel}");
            let cache = format!("public, max-age={}", max_age(rel));
            assert_eq!(object.cache_control.as_deref(), Some(cache.as_str()), "{rel}");
        }
        assert!(!object.body.contains("PRIVATE KEY") && !object.body.contains("\"d\":"), "{rel}");
    }

    let puts = moto.puts();
    let stdout = moto.publish(&p, "s3://site/keys/v1");
    assert_eq!(moto.puts(), puts, "a republish of the same build uploads nothing");
    assert!(stdout.contains(&format!("0 uploaded, {} kept, 0 deleted", files.len())), "{stdout}");
    assert_eq!(moto.dump(), objects);

    // A new cache_max_age changes no JSON byte, only the headers: those objects are uploaded again.
    fs::remove_dir_all(p.at("out/private")).unwrap();
    fs::rename(p.at("private-aside"), p.at("out/private")).unwrap();
    p.write("keys/tenants/acme/keyset.toml", format!("{ACME}{EC_SPECS}").replace("\"5m\"", "\"10m\"").as_bytes());
    p.ok(&["build", "--now", NOW]);
    let stdout = moto.publish(&p, "s3://site/keys/v1");
    let uploaded = named(&stdout, "uploaded", "s3://site/keys/v1/");
    // The set's JSON files (its page has no Cache-Control: it is kept).
    let json: BTreeSet<String> =
        files.keys().filter(|rel| max_age(rel) == 300 && !rel.ends_with(".html")).cloned().collect();
    assert!(json.is_subset(&uploaded), "{stdout}");
    assert!(uploaded.iter().all(|rel| json.contains(rel) || rel.ends_with(".html")), "{stdout}");
    let objects = moto.dump();
    for rel in &json {
        assert_eq!(objects[&format!("keys/v1/{rel}")].cache_control.as_deref(), Some("public, max-age=600"), "{rel}");
    }
}

#[test]
fn a_changed_key_uploads_its_files_and_a_removed_set_goes() {
    let Some(moto) = Moto::start("a_changed_key_uploads_its_files_and_a_removed_set_goes") else { return };
    let p = project();
    moto.publish(&p, "s3://site");
    // Another tool's objects: one where no set publishes, one inside a set, and one unmarked
    // copy of a file the build produces (same bytes and type: only the mark is missing).
    moto.s3(&["put", "site", "notes/readme.txt", "not jwksmith's"]);
    moto.s3(&["put", "site", "tenants/acme/extra.txt", "not jwksmith's either"]);
    let jwks = String::from_utf8(p.read("out/public/jwks.json")).unwrap();
    moto.s3(&["put", "site", "jwks.json", &jwks, "application/json"]);

    let before = site(&p);
    let later = "2026-01-02T00:00:00Z";
    p.ok(&["revoke", "ec-sig-001", "--set", "tenants/acme", "--now", later]);
    p.ok(&["build", "--now", later]);
    let after = site(&p);
    let changed: BTreeSet<String> =
        after.iter().filter(|(rel, b)| before.get(*rel) != Some(b)).map(|(r, _)| r.clone()).collect();
    assert!(changed.contains("tenants/acme/jwks.json"));
    for rel in &changed {
        assert!(rel.ends_with(".html") || max_age(rel) == 300, "{rel} changed outside tenants/acme");
    }
    let stdout = moto.publish_ok_at(&p, "s3://site", later);
    let mut expected = changed.clone();
    expected.insert("jwks.json".to_string());
    assert_eq!(named(&stdout, "uploaded", "s3://site/"), expected, "{stdout}");
    assert_eq!(moto.dump()["jwks.json"].metadata.get("jwksmith").map(String::as_str), Some("published"));

    fs::remove_dir_all(p.at("keys/tenants/acme")).unwrap();
    p.ok(&["build", "--now", later]);
    let stdout = moto.publish_ok_at(&p, "s3://site", later);
    let gone: BTreeSet<String> = after.keys().filter(|rel| max_age(rel) == 300).cloned().collect();
    assert_eq!(named(&stdout, "deleted", "s3://site/"), gone, "{stdout}");
    let objects = moto.dump();
    let mut expected: BTreeSet<String> = site(&p).keys().cloned().collect();
    expected.extend(["notes/readme.txt".to_string(), "tenants/acme/extra.txt".to_string()]);
    assert_eq!(objects.keys().cloned().collect::<BTreeSet<_>>(), expected, "another tool's objects stay");
    assert_eq!(objects["tenants/acme/extra.txt"].body, "not jwksmith's either");
}

#[test]
fn a_publish_at_the_bucket_root_leaves_other_prefixes_alone() {
    let Some(moto) = Moto::start("a_publish_at_the_bucket_root_leaves_other_prefixes_alone") else { return };
    let p = project();
    moto.publish(&p, "s3://site/staging");
    let staged: BTreeSet<String> = moto.dump().keys().cloned().collect();
    let stdout = moto.publish(&p, "s3://site");
    assert!(!stdout.contains("deleted s3://"), "another deployment of the bucket is not the root's: {stdout}");
    let objects = moto.dump();
    assert!(staged.iter().all(|k| objects.contains_key(k)), "the staging deployment stays");
    let prefix_of = |key: &str| objects[key].metadata.get("jwksmith-prefix").cloned();
    assert_eq!((prefix_of("staging/jwks.json"), prefix_of("jwks.json")), (Some("/staging".into()), Some("/".into())));

    // The root's own objects still go when their set does.
    fs::remove_dir_all(p.at("keys/tenants/acme")).unwrap();
    p.ok(&["build", "--now", NOW]);
    let stdout = moto.publish(&p, "s3://site");
    let deleted = named(&stdout, "deleted", "s3://site/");
    assert!(deleted.contains("tenants/acme/jwks.json"), "{stdout}");
    assert!(deleted.iter().all(|rel| !rel.starts_with("staging/")), "{stdout}");
    assert!(moto.dump().contains_key("staging/tenants/acme/jwks.json"));
}

#[test]
fn wrong_credentials_are_an_error_naming_the_object_and_the_code() {
    let Some(mut moto) = Moto::start("wrong_credentials_are_an_error_naming_the_object_and_the_code") else { return };
    let reader = moto.iam();
    let p = project();
    moto.publish(&p, "s3://site/v1");
    let objects = moto.dump();
    // The next publish would delete the removed set's objects: with wrong keys nothing goes.
    fs::remove_dir_all(p.at("keys/tenants/acme")).unwrap();
    p.ok(&["build", "--now", NOW]);
    let key = moto.keys.0.clone();
    let mut messages = Vec::new();
    // A wrong secret, an unknown key, and a user who may list and read but not write: the
    // upload of the changed root page is refused, and the deletions that would follow never run.
    for keys in [(key.as_str(), "not-the-secret"), ("AKIAUNKNOWNKEY000000", "whatever"), (&reader.0, &reader.1)] {
        let out = moto.publish_with(&p, "s3://site/v1", keys);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
        messages.push(String::from_utf8(out.stderr).unwrap().replace(&key, "[KEY]").replace(&reader.0, "[KEY]"));
    }
    insta::assert_snapshot!("publish_wrong_credentials", messages.join(""));
    assert_eq!(moto.dump(), objects, "nothing deleted or uploaded");
}

#[test]
fn a_stale_out_public_is_refused_before_any_request() {
    let Some(moto) = Moto::start("a_stale_out_public_is_refused_before_any_request") else { return };
    let p = project();
    let mut jwks = p.read("out/public/tenants/acme/jwks.json");
    jwks.push(b'\n');
    p.write("out/public/tenants/acme/jwks.json", &jwks);
    let requests = moto.requests();
    let out = moto.publish_with(&p, "s3://site", (&moto.keys.0, &moto.keys.1));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "changed  public/tenants/acme/jwks.json\n");
    insta::assert_snapshot!("publish_stale", String::from_utf8_lossy(&out.stderr));
    assert_eq!(moto.requests(), requests, "no request reached the store");
    assert!(moto.dump().is_empty());

    let out = moto.publish_with(&p, "https://site/", (&moto.keys.0, &moto.keys.1));
    assert_eq!(out.status.code(), Some(2), "not an s3:// URL is a usage error");
    jwks.pop();
    p.write("out/public/tenants/acme/jwks.json", &jwks);
    let out = moto.publish_with(&p, "s3://site", ("", ""));
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("publish_no_credentials", String::from_utf8_lossy(&out.stderr));
    assert!(moto.dump().is_empty());
}

#[test]
fn a_selected_set_publishes_only_its_own_objects() {
    let Some(moto) = Moto::start("a_selected_set_publishes_only_its_own_objects") else { return };
    let p = project();
    moto.publish(&p, "s3://site/v1");
    let objects = moto.dump();
    let before = site(&p);
    let later = "2026-01-02T00:00:00Z";
    p.ok(&["revoke", "ec-sig-001", "--set", "tenants/acme", "--now", later]);
    p.ok(&["build", "--set", "tenants/acme", "--now", later]);
    let changed: BTreeSet<String> =
        site(&p).into_iter().filter(|(rel, b)| before.get(rel) != Some(b)).map(|(rel, _)| rel).collect();
    assert!(changed.contains("tenants/acme/jwks.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_jwksmith"))
        .args(["publish", "s3://site/v1", "--set", "tenants/acme", "--now", later])
        .current_dir(p.path())
        .env("AWS_ACCESS_KEY_ID", &moto.keys.0)
        .env("AWS_SECRET_ACCESS_KEY", &moto.keys.1)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(named(&stdout, "uploaded", "s3://site/v1/"), changed, "{stdout}");
    assert!(changed.iter().all(|rel| max_age(rel) == 300), "only acme's files: {changed:?}");
    assert!(stdout.contains(" 0 deleted"), "{stdout}");
    let now = moto.dump();
    for (key, object) in &objects {
        if max_age(key.trim_start_matches("v1/")) == 3600 {
            assert_eq!(&now[key], object, "{key}: the other sets' objects are left as they are");
        }
    }
}
