//! Test harness: a temporary project, the real binary, and a leak scan after every run.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod clients;
pub mod running;
pub mod sites;

/// A fixed instant for reproducible runs.
pub const NOW: &str = "2026-01-01T00:00:00Z";

/// Every JWS spec jwksmith publishes: spec name, `alg`, and the key-type lines of its `[[key]]`.
pub const SIGNING_SPECS: [(&str, &str, &str); 9] = [
    ("rs256", "RS256", "kty = \"RSA\"\nsize = 2048"),
    ("rs384", "RS384", "kty = \"RSA\"\nsize = 2048"),
    ("rs512", "RS512", "kty = \"RSA\"\nsize = 2048"),
    ("ps256", "PS256", "kty = \"RSA\"\nsize = 2048"),
    ("ps384", "PS384", "kty = \"RSA\"\nsize = 2048"),
    ("ps512", "PS512", "kty = \"RSA\"\nsize = 2048"),
    ("es256", "ES256", "kty = \"EC\"\ncrv = \"P-256\""),
    ("es384", "ES384", "kty = \"EC\"\ncrv = \"P-384\""),
    ("es512", "ES512", "kty = \"EC\"\ncrv = \"P-521\""),
];

/// Two EC specs: the fast keyset for tests where RSA is not the point.
pub const EC_SPECS: &str = r#"
[[key]]
spec = "ec-sig"
kty = "EC"
crv = "P-256"
use = "sig"
alg = "ES256"

[[key]]
spec = "ec-enc"
kty = "EC"
crv = "P-256"
use = "enc"
alg = "ECDH-ES"
"#;

/// One RSA signing spec (its keys are listed in `jwt-keys.json`).
pub const RSA_SIG_SPEC: &str = r#"
[[key]]
spec = "rsa-sig"
kty = "RSA"
size = 2048
use = "sig"
alg = "RS256"
"#;

/// Whether a `_headers` path pattern matches a URL path, as Cloudflare Pages reads patterns:
/// `*` is any run of characters (slashes included), `:name` one non-empty path segment.
pub fn header_pattern_matches(pattern: &str, path: &str) -> bool {
    fn go(pattern: &[char], path: &[char]) -> bool {
        match pattern {
            [] => path.is_empty(),
            ['*', rest @ ..] => (0..=path.len()).any(|i| go(rest, &path[i..])),
            [':', c, ..] if c.is_ascii_alphabetic() => {
                let name_len = pattern[1..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_').count();
                let rest = &pattern[1 + name_len..];
                let segment = path.iter().position(|c| *c == '/').unwrap_or(path.len());
                (1..=segment).any(|i| go(rest, &path[i..]))
            }
            [c, rest @ ..] => path.first() == Some(c) && go(rest, &path[1..]),
        }
    }
    go(&pattern.chars().collect::<Vec<_>>(), &path.chars().collect::<Vec<_>>())
}

/// The kids of a JWK Set value, in order.
pub fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"].as_array().expect("keys array").iter().map(|k| k["kid"].as_str().expect("kid").to_string()).collect()
}

/// True for `YYYY-MM-DDTHH:MM:SSZ`, the only time format jwksmith writes.
pub fn is_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// A temporary project directory in which the binary runs.
pub struct Project {
    pub dir: tempfile::TempDir,
}

/// The private JWK members that must never be published.
pub const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    /// An empty project.
    pub fn new() -> Self {
        Project { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// A project whose root set has the given keyset.toml.
    pub fn with_keyset(toml: &str) -> Self {
        let p = Project::new();
        p.write("keys/keyset.toml", toml.as_bytes());
        p
    }

    /// The project path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the project.
    pub fn at(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `jwksmith ARGS` in the project; scans its output and `out/public` for leaks.
    pub fn run(&self, args: &[&str]) -> Output {
        let output = Command::new(env!("CARGO_BIN_EXE_jwksmith"))
            .args(args)
            .current_dir(self.path())
            // Incremental builds' records stay with the project (not in the user's cache).
            .env("JWKSMITH_CACHE_DIR", self.at(".jwksmith-cache"))
            .output()
            .expect("run jwksmith");
        assert_no_leak_in_text(&String::from_utf8_lossy(&output.stdout), "stdout");
        assert_no_leak_in_text(&String::from_utf8_lossy(&output.stderr), "stderr");
        assert_no_leak_in_dir(&self.at("out/public"));
        // A command that changes keys/ and succeeded has removed every temporary file of an
        // earlier, killed run and left none of its own with a plaintext key.
        let changes_keys = args.iter().any(|a| ["rotate", "revoke", "import", "prune", "rekey"].contains(a));
        if changes_keys && output.status.success() {
            assert_no_plaintext_key_in(&self.at("keys/.jwksmith/tmp"), &[]);
        }
        output
    }

    /// Runs and asserts exit code 0.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "jwksmith {args:?} failed ({:?})\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs and asserts the exit code; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(code),
            "jwksmith {args:?}: expected exit {code}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!stderr.contains("panicked"), "panic: {stderr}");
        stderr
    }

    /// Writes a file (creating parents).
    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.at(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    /// Reads a file.
    pub fn read(&self, rel: &str) -> Vec<u8> {
        fs::read(self.at(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Reads a JSON file.
    pub fn json(&self, rel: &str) -> serde_json::Value {
        serde_json::from_slice(&self.read(rel)).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
    }

    /// Every file under a directory: relative path → bytes.
    pub fn snapshot(&self, rel: &str) -> BTreeMap<String, Vec<u8>> {
        snapshot(&self.at(rel))
    }
}

/// Every file under `dir`: relative path → bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    if !dir.exists() {
        return files;
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(dir).unwrap().to_string_lossy().to_string();
            files.insert(rel, fs::read(entry.path()).unwrap());
        }
    }
    files
}

/// Panics if text holds a PEM private key or a private JWK member.
pub fn assert_no_leak_in_text(text: &str, what: &str) {
    assert!(!text.contains("PRIVATE KEY"), "{what} contains a PEM private key:\n{text}");
    for member in PRIVATE_MEMBERS {
        assert!(!text.contains(&format!("\"{member}\":")), "{what} contains private JWK member `{member}`:\n{text}");
    }
}

/// Panics if any file under `dir` holds a PEM private key or a JWK with a private member.
pub fn assert_no_leak_in_dir(dir: &Path) {
    for (rel, bytes) in snapshot(dir) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("PRIVATE KEY"), "{rel} under out/public contains a PEM private key");
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            assert_no_private_member(&value, &rel);
        }
    }
}

fn assert_no_private_member(value: &serde_json::Value, file: &str) {
    match value {
        serde_json::Value::Object(map) => {
            if map.contains_key("kty") {
                for member in PRIVATE_MEMBERS {
                    assert!(!map.contains_key(member), "{file} publishes private JWK member `{member}`");
                }
            }
            map.values().for_each(|v| assert_no_private_member(v, file));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| assert_no_private_member(v, file)),
        _ => {}
    }
}

/// Runs a program (openssl, python3) and returns stdout; panics with its stderr on failure.
/// `python3` is the harness's own environment with the pinned packages ([`clients::python`]).
pub fn tool(program: &str, args: &[&str], cwd: &Path) -> Vec<u8> {
    let program = match program {
        "python3" => clients::python().unwrap_or_else(|e| panic!("{e}")).to_str().expect("a UTF-8 path"),
        other => other,
    };
    let out = Command::new(program).args(args).current_dir(cwd).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Panics if a file under `dir` (hidden ones and `.git/` objects included, since they are read
/// as bytes) holds a plaintext PEM private key, except the files `allowed` (paths relative to
/// `dir`, or prefixes of them such as `out/private/`): the opt-in scan of the custody tests,
/// and, after every run, the scan of `keys/.jwksmith/tmp/`.
pub fn assert_no_plaintext_key_in(dir: &Path, allowed: &[&str]) {
    for (rel, bytes) in snapshot(dir) {
        if allowed.iter().any(|a| rel == *a || (a.ends_with('/') && rel.starts_with(a))) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("PRIVATE KEY-----"), "{} holds a plaintext private key", dir.join(&rel).display());
    }
}
