//! Projects of many sets for the tests of what hosts serve (`tests/hosts.rs`, the integration
//! module `deployed`): every set with an issuer and API mirrors, so each kind of JSON file is
//! there, and the list of JSON files each set publishes with its `cache_max_age`. Also a
//! server process that is ended with its whole process group, and a plain HTTP GET.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::{NOW, Project};

/// One set of a test project.
#[derive(Clone, Debug)]
pub struct SetSpec {
    /// Publish path (`""` for the root set).
    pub path: String,
    /// Its own `cache_max_age` in seconds, when it has one (else the default 3600).
    pub max_age: Option<i64>,
}

impl SetSpec {
    /// A set with the default `cache_max_age`.
    pub fn new(path: &str) -> SetSpec {
        SetSpec { path: path.to_string(), max_age: None }
    }

    /// A set with a `cache_max_age` of its own.
    pub fn aged(path: &str, secs: i64) -> SetSpec {
        SetSpec { path: path.to_string(), max_age: Some(secs) }
    }

    fn id(&self) -> String {
        if self.path.is_empty() { "root".to_string() } else { self.path.replace('/', "-") }
    }

    fn prefix(&self) -> String {
        if self.path.is_empty() { String::new() } else { format!("{}/", self.path) }
    }

    /// The URL paths of its JSON files, each with the max-age it must be served with.
    pub fn json_files(&self) -> Vec<(String, i64)> {
        let age = self.max_age.unwrap_or(3600);
        let p = self.prefix();
        let id = self.id();
        [
            format!("/{p}jwks.json"),
            format!("/{p}.well-known/jwks.json"),
            format!("/{p}jwt-keys.json"),
            format!("/{p}jwt-keys.active.json"),
            format!("/{p}.well-known/openid-configuration"),
            format!("/api/s-{id}/service/jwks/get"),
            format!("/projects/p-{id}/jwt-keys"),
        ]
        .into_iter()
        .map(|f| (f, age))
        .collect()
    }
}

/// A built project of these sets (one EC signing key each), at [`NOW`].
pub fn project(sets: &[SetSpec]) -> Project {
    let p = Project::new();
    for set in sets {
        let id = set.id();
        let mut toml = format!(
            "issuer = \"https://keys.example.com/{}\"\napi_mirrors = true\nservice_id = \"s-{id}\"\nproject_id = \"p-{id}\"\n",
            set.path
        );
        if let Some(secs) = set.max_age {
            toml.push_str(&format!("[rotation]\ncache_max_age = \"{secs}s\"\n"));
        }
        toml.push_str("[[key]]\nspec = \"ec\"\nkty = \"EC\"\ncrv = \"P-256\"\nuse = \"sig\"\nalg = \"ES256\"\n");
        let dir = if set.path.is_empty() { "keys".to_string() } else { format!("keys/{}", set.path) };
        p.write(&format!("{dir}/keyset.toml"), toml.as_bytes());
    }
    p.ok(&["rotate", "-q", "--now", NOW]);
    p.ok(&["build", "-q", "--now", NOW]);
    p
}

/// Every JSON file of these sets with its max-age; asserts it is exactly the JSON files (every
/// file but `_headers`, `.nojekyll` and the `.html` pages) that `build` wrote.
pub fn json_files(p: &Project, sets: &[SetSpec]) -> Vec<(String, i64)> {
    let files: Vec<(String, i64)> = sets.iter().flat_map(SetSpec::json_files).collect();
    let mut want: Vec<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
    want.sort_unstable();
    let mut built: Vec<String> = p
        .snapshot("out/public")
        .into_keys()
        .filter(|f| !f.ends_with(".html") && f != "_headers" && f != ".nojekyll")
        .map(|f| format!("/{f}"))
        .collect();
    built.sort_unstable();
    assert_eq!(built, want, "the JSON files build wrote");
    files
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server child in a process group of its own, ended with the group (its children too).
pub struct Server(pub Child);

impl Server {
    /// Spawns `command` in a new process group.
    pub fn spawn(command: &mut Command) -> Server {
        use std::os::unix::process::CommandExt;
        Server(command.process_group(0).spawn().expect("spawn server"))
    }

    /// Waits until `url` answers (any status), up to `limit`; panics naming the server's log.
    pub fn wait(&mut self, url: &str, limit: Duration, log: &str) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if get(url).is_some() {
                return;
            }
            if let Ok(Some(status)) = self.0.try_wait() {
                panic!("the server exited ({status}) before answering {url}: {log}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("no answer from {url} within {limit:?}: {log}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// A response: status, every header (name lowercased, one entry per header line), body.
#[derive(Debug)]
pub struct Got {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Got {
    /// Every value of the header `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// `GET url` with ureq, redirects not followed; `None` when nothing answered.
pub fn get(url: &str) -> Option<Got> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent.get(url).call().ok()?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = response.into_body().read_to_vec().ok()?;
    Some(Got { status, headers, body })
}
