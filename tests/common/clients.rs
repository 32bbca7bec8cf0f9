//! Test clients that come from the registries (PyPI, npm), installed by the harness itself on
//! first use into `target/tmp/test-clients/`, exactly as `tests/requirements.txt` and
//! `tests/interop/package-lock.json` pin them, so that `cargo test` passes on a fresh clone with
//! nothing installed by hand. An install is made in a scratch directory and renamed into place,
//! under a file lock (test binaries may run at once), and redone when its pins change.
//!
//! A test whose client cannot be had here calls [`unavailable`]: it prints a line the user sees
//! and returns, except under `JWKSMITH_TEST_REQUIRE_ALL=1` (set by `.ci/run`), where it fails.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-clients")
}

/// The python interpreter of a virtual environment holding `tests/requirements.txt`.
/// A failed install is an `Err` with pip's output.
pub fn python() -> Result<&'static Path, &'static str> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    shared(&PYTHON, || venv("python", "tests/requirements.txt"))
}

/// The python interpreter of a virtual environment holding `tests/publish/requirements.txt`
/// (moto's S3 server and boto3).
pub fn moto() -> Result<&'static Path, &'static str> {
    static MOTO: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    shared(&MOTO, || venv("moto", "tests/publish/requirements.txt"))
}

/// A directory holding `tests/interop`'s scripts beside the `node_modules` its lock file pins.
pub fn node_interop() -> Result<&'static Path, &'static str> {
    static NODE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    shared(&NODE, || npm_dir("node-interop", "tests/interop", "clients.mjs"))
}

/// A directory holding `tests/discovery`'s node script beside the `node_modules` its lock file
/// pins: openid-client (discovery) and jose (verification at the discovered `jwks_uri`).
pub fn node_discovery() -> Result<&'static Path, &'static str> {
    static NODE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    shared(&NODE, || npm_dir("node-discovery", "tests/discovery", "discovery.mjs"))
}

/// The result of a one-time install, shared by every test of the binary.
fn shared(
    cell: &'static OnceLock<Result<PathBuf, String>>,
    make: impl FnOnce() -> Result<PathBuf, String>,
) -> Result<&'static Path, &'static str> {
    cell.get_or_init(make).as_ref().map(PathBuf::as_path).map_err(String::as_str)
}

/// The python of a virtual environment `root()/<name>` holding the pinned `requirements`
/// (relative to the repository).
fn venv(name: &str, requirements: &str) -> Result<PathBuf, String> {
    let requirements = repo().join(requirements);
    let pins = fs::read(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let dir = install(name, &pins, |scratch| {
        run(Command::new("python3").args(["-m", "venv"]).arg(scratch))?;
        run(Command::new(scratch.join("bin/python"))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "-r"])
            .arg(&requirements))
    })?;
    Ok(dir.join("bin/python"))
}

/// `root()/<name>`: the `package.json`, `package-lock.json` and `script` of the repository's
/// directory `src`, beside the `node_modules` that `npm ci` installs from the lock file.
fn npm_dir(name: &str, src: &str, script: &str) -> Result<PathBuf, String> {
    let src = repo().join(src);
    let files = ["package.json", "package-lock.json", script];
    let mut pins = Vec::new();
    for file in files {
        pins.extend(fs::read(src.join(file)).map_err(|e| format!("{file}: {e}"))?);
    }
    install(name, &pins, |scratch| {
        fs::create_dir_all(scratch).map_err(|e| e.to_string())?;
        for file in files {
            fs::copy(src.join(file), scratch.join(file)).map_err(|e| format!("{file}: {e}"))?;
        }
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .env("WRANGLER_SEND_METRICS", "false")
            .current_dir(scratch))
    })
}

/// A Go program built against Debian's go-oidc sources (packages golang-go and
/// golang-github-coreos-go-oidc-dev, installed by `.ci/run`) in GOPATH mode, offline: `main_go`
/// becomes package `name` in a GOPATH of its own beside `/usr/share/gocode`. Rebuilt when the
/// source changes; Go's build cache lives in `target/tmp/test-clients/go-cache`.
pub fn go_program(name: &str, main_go: &str) -> Result<PathBuf, String> {
    if !Path::new("/usr/share/gocode/src/github.com/coreos/go-oidc").is_dir() {
        return Err("go-oidc's sources are missing (apt-get install golang-github-coreos-go-oidc-dev)".into());
    }
    let dir = install(&format!("go-{name}"), main_go.as_bytes(), |scratch| {
        let package = scratch.join("gopath/src").join(name);
        fs::create_dir_all(&package).map_err(|e| e.to_string())?;
        fs::write(package.join("main.go"), main_go).map_err(|e| e.to_string())?;
        let gopath = format!("{}:/usr/share/gocode", scratch.join("gopath").display());
        run(Command::new("go")
            .args(["build", "-o"])
            .arg(scratch.join(name))
            .arg(name)
            .env("GOPATH", gopath)
            .env("GO111MODULE", "off")
            .env("GOPROXY", "off")
            .env("GOFLAGS", "")
            .env("GOCACHE", root().join("go-cache"))
            .current_dir(scratch))
    })?;
    Ok(dir.join(name))
}

/// A directory holding `tests/hosts`' scripts beside the `node_modules` its lock file pins: the
/// hosts' own tools, `wrangler` (Cloudflare Pages' asset server) and `@netlify/headers-parser`.
pub fn host_tools() -> Result<&'static Path, &'static str> {
    static TOOLS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    shared(&TOOLS, || npm_dir("host-tools", "tests/hosts", "netlify.mjs"))
}

/// Reports a test that cannot run here. Under `JWKSMITH_TEST_REQUIRE_ALL=1` it fails the test;
/// otherwise it prints, past the test harness's capture, a line saying what was skipped and why.
pub fn unavailable(test: &str, why: &str) {
    if std::env::var_os("JWKSMITH_TEST_REQUIRE_ALL").is_some_and(|v| v != "0") {
        panic!("{test} cannot run: {why} (JWKSMITH_TEST_REQUIRE_ALL is set, so this fails)");
    }
    // Written to the stream itself, not through `eprintln!`, which the test harness captures.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// The install directory `root()/<name>`, made by `make` unless it already holds an install of
/// these exact `pins`.
fn install(name: &str, pins: &[u8], make: impl FnOnce(&Path) -> Result<(), String>) -> Result<PathBuf, String> {
    let root = root();
    fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let lock = File::create(root.join(format!("{name}.lock"))).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    let dir = root.join(name);
    let stamp = dir.join(".pins");
    if fs::read(&stamp).is_ok_and(|done| done == pins) {
        return Ok(dir);
    }
    let scratch = root.join(format!("{name}.partial"));
    let _ = fs::remove_dir_all(&scratch);
    make(&scratch).map_err(|e| format!("installing the {name} test clients failed: {e}"))?;
    fs::write(scratch.join(".pins"), pins).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&dir);
    // A moved venv still works through `bin/python -m …` (its scripts' shebangs do not).
    fs::rename(&scratch, &dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command.stdin(Stdio::null()).output().map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} exited {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
    }
}
