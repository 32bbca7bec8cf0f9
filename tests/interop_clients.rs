//! The interop matrix: tokens signed with `out/private/<spec>.pem` for every JWS alg verify through the real
//! key-fetching path of five client libraries in three languages (python PyJWT and joserfc, node jose and
//! jsonwebtoken + jwks-rsa, the Rust jsonwebtoken crate), each fetching `jwks.json` over HTTP from `jwksmith serve`;
//! tampered tokens and unknown kids are rejected; RSA-OAEP, RSA-OAEP-256 and ECDH-ES round trips (node jose and
//! python joserfc, both ways) encrypt to the served public JWK and decrypt with `out/private/jwks.json`. The matrix is
//! rendered as markdown and must equal the committed docs/COMPATIBILITY.md (`UPDATE_COMPAT=1` rewrites it).
//!
//! The node and python clients are `tests/interop/clients.mjs` and `tests/interop/clients.py`; their dependencies are
//! pinned in `tests/interop/package-lock.json` and `tests/requirements.txt`; the harness installs them into `target/`
//! on first use (`common::clients`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use common::{NOW, Project, assert_no_leak_in_dir, assert_no_leak_in_text, clients};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

/// Every JWE key-management spec jwksmith publishes, shaped like `common::SIGNING_SPECS`.
const ENCRYPTION: [(&str, &str, &str); 3] = [
    ("rsa-oaep", "RSA-OAEP", "kty = \"RSA\"\nsize = 2048"),
    ("rsa-oaep-256", "RSA-OAEP-256", "kty = \"RSA\"\nsize = 2048"),
    ("ecdh-es", "ECDH-ES", "kty = \"EC\"\ncrv = \"P-256\""),
];

/// The tokens made per signing key (by `clients.py sign`) and the outcome every client must report for each.
const CASES: [(&str, &str); 4] = [
    ("valid", "valid"),
    ("tampered-payload", "bad-signature"),
    ("tampered-signature", "bad-signature"),
    ("unknown-kid", "no-key"),
];

/// The verifying clients, in matrix order (the `client` names the scripts report).
const CLIENTS: [&str; 5] = ["PyJWT", "joserfc", "jose", "jsonwebtoken + jwks-rsa", RUST_CLIENT];
const RUST_CLIENT: &str = "jsonwebtoken";

/// The JWE libraries: each encrypts, and each decrypts what every one encrypted.
const JWE_CLIENTS: [(&str, &str); 2] = [("jose", "node"), ("joserfc", "python")];

/// Content encryption of every JWE (as the scripts use).
const CONTENT_ENCRYPTION: &str = "A256GCM";

/// The longest a client process or the server's first build may take, so a failure never hangs CI.
const WAIT: Duration = Duration::from_secs(60);

/// The regeneration command, written at the top of docs/COMPATIBILITY.md.
const REGENERATE: &str = "UPDATE_COMPAT=1 cargo test --test interop_clients";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The keyset.toml of the project: one `[[key]]` per signing and encryption spec.
fn keyset_toml() -> String {
    let sig = common::SIGNING_SPECS.iter().map(|(spec, alg, kty)| (spec, alg, kty, "sig"));
    let enc = ENCRYPTION.iter().map(|(spec, alg, kty)| (spec, alg, kty, "enc"));
    sig.chain(enc)
        .map(|(spec, alg, kty, usage)| {
            format!("[[key]]\nspec = \"{spec}\"\n{kty}\nuse = \"{usage}\"\nalg = \"{alg}\"\n\n")
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// `jwksmith serve` as a child process.

/// `jwksmith serve` on an ephemeral loopback port; killed and reaped on drop, whatever happens.
struct Server {
    child: Child,
    addr: SocketAddr,
    lines: Receiver<String>,
    stdout: Vec<String>,
    stderr: PathBuf,
}

impl Server {
    /// Starts `serve --addr 127.0.0.1:0 --now NOW` and waits for its address line and its first build.
    fn start(p: &Project, work: &Path) -> Server {
        let stderr = work.join("serve.stderr");
        let mut child = Command::new(env!("CARGO_BIN_EXE_jwksmith"))
            .args(["serve", "--addr", "127.0.0.1:0", "--now", NOW])
            .current_dir(p.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .expect("start jwksmith serve");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server =
            Server { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), lines, stdout: Vec::new(), stderr };
        let first = server.line_until("the `serving out/public at http://ADDR/` line", |_| true);
        let addr =
            first.strip_prefix("serving out/public at http://").and_then(|rest| rest.strip_suffix('/')).unwrap_or_else(
                || panic!("first stdout line of serve is not `serving out/public at http://ADDR/`: {first:?}"),
            );
        server.addr = addr.parse().unwrap_or_else(|e| panic!("{addr:?} is not an address: {e}"));
        assert!(server.addr.ip().is_loopback() && server.addr.port() != 0, "serving on {}", server.addr);
        server.line_until("the first `built …` line", |l| l.starts_with("built "));
        server
    }

    /// Reads stdout lines until one satisfies `cond`; panics after `WAIT` or when serve exits.
    fn line_until(&mut self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let left = WAIT.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if cond(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => panic!("waiting for {what}: serve exited\n{}", self.context()),
                Err(RecvTimeoutError::Timeout) if left.is_zero() => {
                    panic!("waiting for {what}: nothing after {WAIT:?}\n{}", self.context())
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn context(&self) -> String {
        let stderr = fs::read_to_string(&self.stderr).unwrap_or_default();
        format!("--- serve stdout ---\n{}\n--- serve stderr ---\n{stderr}", self.stdout.join("\n"))
    }

    /// The URL of a file served from `out/public/`.
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server and checks everything it printed for private key material.
    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdout.extend(self.lines.try_iter());
        assert_no_leak_in_text(&self.stdout.join("\n"), "stdout of jwksmith serve");
        assert_no_leak_in_text(&fs::read_to_string(&self.stderr).unwrap_or_default(), "stderr of jwksmith serve");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Node and python client processes.

/// A client script running; its stdout and stderr go to files in the work directory.
struct Pending {
    what: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// Starts `program args…` in `work`, where `name` names its output files.
fn spawn(work: &Path, name: &str, program: &str, args: &[&str]) -> Pending {
    let stdout = work.join(format!("{name}.stdout.json"));
    let stderr = work.join(format!("{name}.stderr"));
    let what = format!("{program} {}", args.join(" "));
    let child = Command::new(program)
        .args(args)
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): the interop clients need node 20 and python3 (see .ci/run)")
        });
    Pending { what, child, stdout, stderr }
}

impl Pending {
    /// Waits (at most `WAIT`) for a successful exit and returns the JSON document it printed.
    fn json(mut self) -> Value {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > WAIT {
                panic!("{} still runs after {WAIT:?}; stderr:\n{}", self.what, self.read(&self.stderr));
            }
            thread::sleep(Duration::from_millis(20));
        };
        let stderr = self.read(&self.stderr);
        assert!(status.success(), "{} failed ({status}):\n{stderr}", self.what);
        let stdout = self.read(&self.stdout);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{} printed no JSON document ({e}):\n{stdout}\nstderr:\n{stderr}", self.what))
    }

    fn read(&self, path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_default()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python(work: &Path, name: &str, args: &[&str]) -> Pending {
    let script = repo().join("tests/interop/clients.py");
    let mut argv = vec![script.to_str().unwrap()];
    argv.extend_from_slice(args);
    let python = clients::python().expect("checked by the test");
    spawn(work, name, python.to_str().unwrap(), &argv)
}

fn node(work: &Path, name: &str, args: &[&str]) -> Pending {
    // The script runs from the harness's install, beside the node_modules it imports.
    let script = clients::node_interop().expect("checked by the test").join("clients.mjs");
    let mut argv = vec![script.to_str().unwrap()];
    argv.extend_from_slice(args);
    spawn(work, name, "node", &argv)
}

/// Writes a JSON document into the work directory and returns its path as a string.
fn write_json(work: &Path, name: &str, value: &Value) -> String {
    let path = work.join(name);
    fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------
// The Rust client: jsonwebtoken with a JWK Set fetched over HTTP (raw HTTP/1.1 GET on a TcpStream).

/// `GET path`: the body of a 200 response with `Content-Type: application/json`.
fn http_get_json(addr: SocketAddr, path: &str) -> Result<Vec<u8>, String> {
    let io = |e: std::io::Error| format!("GET {path}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(io)?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(io)?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n")
        .map_err(io)?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).map_err(io)?;
        raw.extend_from_slice(&buf[..n]);
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            if n == 0 {
                return Err(format!("GET {path}: connection closed in the response head"));
            }
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_string();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap_or("").split(' ').nth(1).unwrap_or("").to_string();
        let headers: BTreeMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .ok_or_else(|| format!("GET {path}: no Content-Length in {head:?}"))?
            .parse()
            .map_err(|e| format!("GET {path}: Content-Length: {e}"))?;
        let body = &raw[end + 4..];
        if body.len() < length {
            if n == 0 {
                return Err(format!("GET {path}: connection closed after {} of {length} body bytes", body.len()));
            }
            continue;
        }
        if status != "200" {
            return Err(format!("GET {path}: HTTP {status}"));
        }
        let content_type = headers.get("content-type").map(String::as_str).unwrap_or("");
        if !content_type.starts_with("application/json") {
            return Err(format!("GET {path}: Content-Type {content_type:?}, not application/json"));
        }
        return Ok(body[..length].to_vec());
    }
}

/// A remote JWK Set as an application keeps it: fetched once, fetched again when a kid is not in it.
struct RemoteJwks {
    addr: SocketAddr,
    path: String,
    cached: Option<JwkSet>,
}

impl RemoteJwks {
    fn refresh(&mut self) -> Result<&JwkSet, String> {
        let body = http_get_json(self.addr, &self.path)?;
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| format!("jsonwebtoken cannot read the JWK Set: {e}"))?;
        Ok(self.cached.insert(set))
    }

    fn find(&mut self, kid: &str) -> Result<Option<Jwk>, String> {
        if let Some(jwk) = self.cached.as_ref().and_then(|set| set.find(kid)) {
            return Ok(Some(jwk.clone()));
        }
        Ok(self.refresh()?.find(kid).cloned())
    }
}

/// The claims every token carries (as `clients.py sign` signs them).
fn claims(spec: &str) -> Value {
    json!({"sub": "alice", "iss": "https://issuer.example", "exp": 4_102_444_800u64, "spec": spec})
}

/// Verifies one token the way an application does: header kid → key from the remote set → decode with the expected
/// alg. `unsupported` when the crate has no such algorithm.
fn rust_verify(jwks: &mut RemoteJwks, token: &str, alg: &str, spec: &str) -> Value {
    let result = |outcome: &str, detail: String| json!({"outcome": outcome, "detail": detail});
    let Ok(algorithm) = alg.parse::<Algorithm>() else {
        return result("unsupported", format!("`jsonwebtoken::Algorithm` has no `{alg}`"));
    };
    let header = match decode_header(token) {
        Ok(header) => header,
        Err(e) => return result("error", format!("decode_header: {e}")),
    };
    let Some(kid) = header.kid else { return result("error", "the token has no kid".into()) };
    let jwk = match jwks.find(&kid) {
        Ok(Some(jwk)) => jwk,
        Ok(None) => return result("no-key", format!("no key with kid {kid:?} in the JWK Set")),
        Err(e) => return result("error", e),
    };
    let key = match DecodingKey::from_jwk(&jwk) {
        Ok(key) => key,
        Err(e) => return result("error", format!("DecodingKey::from_jwk: {e}")),
    };
    match decode::<Value>(token, &key, &Validation::new(algorithm)) {
        Ok(data) if data.claims == claims(spec) => result("valid", String::new()),
        Ok(data) => result("error", format!("claims {} differ from the signed {}", data.claims, claims(spec))),
        Err(e) if e.kind() == &ErrorKind::InvalidSignature => result("bad-signature", format!("{e}")),
        Err(e) => result("error", format!("{e:?}")),
    }
}

/// The version of a crate in Cargo.lock.
fn locked_crate_version(name: &str) -> String {
    let lock = fs::read_to_string(repo().join("Cargo.lock")).expect("Cargo.lock");
    let needle = format!("name = \"{name}\"\nversion = \"");
    let at = lock.find(&needle).unwrap_or_else(|| panic!("{name} is not in Cargo.lock")) + needle.len();
    lock[at..].split('"').next().unwrap().to_string()
}

fn rust_client(addr: SocketAddr, tokens: &[Value]) -> Value {
    let mut jwks = RemoteJwks { addr, path: "/jwks.json".into(), cached: None };
    let results: serde_json::Map<String, Value> = tokens
        .iter()
        .map(|t| {
            let outcome = rust_verify(&mut jwks, str_of(t, "token"), str_of(t, "alg"), str_of(t, "spec"));
            (str_of(t, "id").to_string(), outcome)
        })
        .collect();
    json!({
        "client": RUST_CLIENT,
        "language": "Rust",
        "packages": [["jsonwebtoken", locked_crate_version("jsonwebtoken")]],
        "path": "HTTP GET + `JwkSet::find(kid)` + `DecodingKey::from_jwk` + `decode` (aws_lc_rs backend)",
        "results": results,
    })
}

// ---------------------------------------------------------------------------------------------
// Checking and rendering.

fn str_of<'a>(value: &'a Value, member: &str) -> &'a str {
    value[member].as_str().unwrap_or_else(|| panic!("no string `{member}` in {value}"))
}

/// Flips the middle character of part `part` of a compact serialization.
fn tamper(compact: &str, part: usize) -> String {
    let mut parts: Vec<String> = compact.split('.').map(str::to_string).collect();
    let target = &mut parts[part];
    let at = target.len() / 2;
    let new = if target.as_bytes()[at] == b'A' { "B" } else { "A" };
    target.replace_range(at..=at, new);
    parts.join(".")
}

/// `name==version` pins of tests/requirements.txt and exact versions of tests/interop/package.json.
fn pins() -> BTreeMap<String, String> {
    let mut pins = BTreeMap::new();
    let requirements = fs::read_to_string(repo().join("tests/requirements.txt")).expect("tests/requirements.txt");
    for line in requirements.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        if let Some((name, version)) = line.split_once("==") {
            pins.insert(name.trim().to_string(), version.trim().to_string());
        }
    }
    let package: Value = serde_json::from_slice(&fs::read(repo().join("tests/interop/package.json")).unwrap()).unwrap();
    for (name, version) in package["dependencies"].as_object().expect("dependencies in package.json") {
        pins.insert(name.clone(), version.as_str().unwrap().to_string());
    }
    pins
}

/// One cell of the signature matrix, and the failures behind it.
/// An `unsupported` cell adds a note to `notes`.
fn signature_cell(
    client: &Value,
    spec: &str,
    alg: &str,
    failures: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> String {
    let name = str_of(client, "client");
    let outcomes: Vec<(&str, &str, Value)> = CASES
        .iter()
        .map(|(case, expected)| (*case, *expected, client["results"][format!("{spec}/{case}")].clone()))
        .collect();
    if outcomes.iter().all(|(_, _, got)| got["outcome"] == "unsupported") {
        // Only a library that really lacks the algorithm may say so.
        if name == RUST_CLIENT && alg.parse::<Algorithm>().is_err() {
            let why = client["results"][format!("{spec}/valid")]["detail"].as_str().unwrap_or("").to_string();
            notes.push(format!("{name} ({}), {alg}: {why}.", str_of(client, "language")));
            return "unsupported by the library".into();
        }
        failures.push(format!("{name} {alg}: reports `unsupported`, but the library has {alg}"));
        return "❌ unsupported".into();
    }
    let mut wrong = Vec::new();
    for (case, expected, got) in outcomes {
        let outcome = got["outcome"].as_str().unwrap_or("(no result)");
        if outcome != expected {
            failures.push(format!(
                "{name} {alg} ({spec}): the {case} token gives `{outcome}`, expected `{expected}`: {}",
                got["detail"].as_str().unwrap_or("")
            ));
            wrong.push(format!("{case}: {outcome}"));
        }
    }
    if wrong.is_empty() { "✅".into() } else { format!("❌ {}", wrong.join("; ")) }
}

/// The `[name, version]` pairs a client reports, its own library first.
fn packages(client: &Value) -> Vec<(String, String)> {
    let pairs = client["packages"].as_array().unwrap_or_else(|| panic!("no packages list in {client}"));
    pairs
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([Value::String(name), Value::String(version)]) => (name.clone(), version.clone()),
            _ => panic!("not a [name, version] pair: {pair}"),
        })
        .collect()
}

/// Asserts that every installed client package is the pinned version (the matrix records versions).
fn assert_pinned_versions(clients: &[Value]) {
    let pinned = pins();
    // The Rust crate's version is read from Cargo.lock; the name `jsonwebtoken` is also the node package's.
    for client in clients.iter().filter(|c| c["client"] != RUST_CLIENT) {
        for (name, version) in packages(client) {
            if let Some(pin) = pinned.get(&name) {
                assert_eq!(
                    pin, &version,
                    "{name} {version} is installed, but {pin} is pinned: install the pinned versions (see .ci/run)"
                );
            }
        }
    }
}

/// The whole document, and the failures behind any ❌ in the signature matrix.
fn render(clients: &[Value], encryption: &[Vec<String>]) -> (String, Vec<String>) {
    let mut doc = String::new();
    doc += "# Client compatibility\n\n";
    doc += &format!("Regenerate this file with `{REGENERATE}`.\n\n");
    doc += "Written by `tests/interop_clients.rs`, which fails when this file differs from what it finds. One project with \
            one key per spec below runs `jwksmith rotate` and `jwksmith serve`; every client fetches `jwks.json` from \
            the server over HTTP through its own key-fetching path, the way an application does.\n\n";
    doc += "## Signatures (JWS)\n\n";
    doc += "Tokens are signed with PyJWT from the signer's file `out/private/<spec>.pem` (PKCS#8). RS and PS keys are \
            RSA 2048-bit; ES256, ES384 and ES512 keys are on P-256, P-384 and P-521. Each client is told the one \
            algorithm it should accept. ✅ means all of:\n\n";
    doc += "- the token verifies and its claims come back unchanged;\n";
    doc += "- the token with a claim changed (signature kept) is rejected as a bad signature;\n";
    doc += "- the token with one signature character flipped is rejected as a bad signature;\n";
    doc += "- a token signed by the same key under a kid the set does not publish is rejected: no matching key.\n\n";
    let algs: Vec<&str> = common::SIGNING_SPECS.iter().map(|(_, alg, _)| *alg).collect();
    doc += &format!("| client | {} |\n", algs.join(" | "));
    doc += &format!("|---|{}\n", ":-:|".repeat(algs.len()));
    let (mut failures, mut notes) = (Vec::new(), Vec::new());
    for client in clients {
        let cells: Vec<String> = common::SIGNING_SPECS
            .iter()
            .map(|(spec, alg, _)| signature_cell(client, spec, alg, &mut failures, &mut notes))
            .collect();
        doc += &format!("| {} ({}) | {} |\n", str_of(client, "client"), str_of(client, "language"), cells.join(" | "));
    }
    if !notes.is_empty() {
        doc += &format!("\nUnsupported by the library (not a failure): {}\n", notes.join(" "));
    }
    doc += "\n## Encryption (JWE)\n\n";
    doc += &format!(
        "Each library fetches `jwks.json` over HTTP and encrypts a message to the `use: enc` key of each algorithm \
         (compact JWE, content encryption {CONTENT_ENCRYPTION}); each library then decrypts every message with the \
         private JWK of the same kid from `out/private/jwks.json`. ✅ means the message comes back unchanged and the \
         same JWE with one ciphertext character flipped is rejected.\n\n"
    );
    let enc_algs: Vec<String> = ENCRYPTION
        .iter()
        .map(|(_, alg, kty)| if kty.contains("P-256") { format!("{alg} (P-256)") } else { format!("{alg} (RSA 2048)") })
        .collect();
    doc += &format!("| encrypted by → decrypted by | {} |\n", enc_algs.join(" | "));
    doc += &format!("|---|{}\n", ":-:|".repeat(enc_algs.len()));
    for row in encryption {
        doc += &format!("| {} |\n", row.join(" | "));
    }
    doc += "\n## Versions\n\n";
    doc += "Pinned in `tests/requirements.txt`, `tests/interop/package-lock.json` and `Cargo.lock`; `.ci/run` installs \
            them.\n\n";
    doc += "| client | language | packages | key-fetching path |\n|---|---|---|---|\n";
    for client in clients {
        let packages: Vec<String> =
            packages(client).into_iter().map(|(name, version)| format!("{name} {version}")).collect();
        doc += &format!(
            "| {} | {} | {} | {} |\n",
            str_of(client, "client"),
            str_of(client, "language"),
            packages.join(", "),
            str_of(client, "path")
        );
    }
    doc += RELYING_PARTIES;
    (doc, failures)
}

/// The closing section of docs/COMPATIBILITY.md: the relying parties and discovery clients have a page of their own.
const RELYING_PARTIES: &str = "\n## Relying parties and discovery clients\n\nWhat AWS, Microsoft Entra, Google Cloud, \
    Kubernetes and google-oauth-java-client each require of a set (`relying_parties` in keyset.toml, `jwksmith init \
    --for`), and the OpenID discovery clients tested against `.well-known/openid-configuration` (go-oidc, authlib, \
    openid-client): [RELYING_PARTIES.md](RELYING_PARTIES.md).\n";

/// Compares the rendered document with the committed docs/COMPATIBILITY.md.
fn assert_doc_is_current(doc: &str) {
    let committed = fs::read_to_string(repo().join("docs/COMPATIBILITY.md")).unwrap_or_default();
    if committed != doc {
        let first = committed.lines().zip(doc.lines()).position(|(a, b)| a != b).unwrap_or(committed.lines().count());
        panic!(
            "docs/COMPATIBILITY.md differs from the matrix the clients produced (first at line {}); regenerate it with \
             `{REGENERATE}` if the change is intended.\n--- rendered ---\n{doc}",
            first + 1
        );
    }
}

#[test]
fn five_clients_in_three_languages_verify_every_alg_and_round_trip_every_jwe_alg_from_jwksmith_serve() {
    if let Err(why) = clients::python().and(clients::node_interop()) {
        return clients::unavailable("the interop matrix", why);
    }
    let p = Project::with_keyset(&keyset_toml());
    p.ok(&["rotate", "--now", NOW]);
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let server = Server::start(&p, work);
    let jwks_url = server.url("/jwks.json");

    // What the server sends is the built file, and it lists one key per spec.
    let served = http_get_json(server.addr, "/jwks.json").unwrap_or_else(|e| panic!("{e}\n{}", server.context()));
    assert_eq!(served, p.read("out/public/jwks.json"), "served jwks.json differs from out/public/jwks.json");
    let public: Value = serde_json::from_slice(&served).unwrap();
    let public_keys = public["keys"].as_array().expect("keys array");
    let kid_of = |alg: &str, usage: &str| -> String {
        let found: Vec<&Value> = public_keys.iter().filter(|k| k["alg"] == alg && k["use"] == usage).collect();
        assert_eq!(found.len(), 1, "expected one {usage} key with alg {alg} in jwks.json: {public}");
        str_of(found[0], "kid").to_string()
    };
    let published: BTreeSet<String> = public_keys.iter().map(|k| str_of(k, "kid").to_string()).collect();

    // Tokens, signed by PyJWT with the signer's fixed-path PEMs.
    let keys: Vec<Value> = common::SIGNING_SPECS
        .iter()
        .map(|(spec, alg, _)| {
            let pem = p.at(&format!("out/private/{spec}.pem"));
            assert!(pem.is_file(), "out/private/{spec}.pem is missing");
            json!({"spec": spec, "alg": alg, "kid": kid_of(alg, "sig"), "pem": pem})
        })
        .collect();
    let keys_file = write_json(work, "keys.json", &Value::from(keys));
    let tokens = python(work, "sign", &["sign", &keys_file]).json();
    let tokens = tokens.as_array().expect("sign prints a list").clone();
    let ids: BTreeSet<String> = tokens.iter().map(|t| str_of(t, "id").to_string()).collect();
    let expected_ids: BTreeSet<String> = common::SIGNING_SPECS
        .iter()
        .flat_map(|(spec, _, _)| CASES.iter().map(move |(case, _)| format!("{spec}/{case}")))
        .collect();
    assert_eq!(
        (ids, tokens.len()),
        (expected_ids, common::SIGNING_SPECS.len() * CASES.len()),
        "the signer's token list"
    );
    for t in &tokens {
        // The unknown kid is really unknown, and every token carries the spec's alg.
        let header = decode_header(str_of(t, "token"));
        if let Ok(header) = header {
            assert_eq!(format!("{:?}", header.alg), str_of(t, "alg"), "{}", str_of(t, "id"));
            let kid = header.kid.expect("every token has a kid");
            assert_eq!(published.contains(&kid), str_of(t, "case") != "unknown-kid", "{}: kid {kid}", str_of(t, "id"));
        }
    }
    let tokens_file = write_json(work, "tokens.json", &Value::from(tokens.clone()));

    // Every client at once: four processes, and the Rust client here meanwhile.
    let py_verify = python(work, "py-verify", &["verify", &jwks_url, &tokens_file]);
    let node_verify = node(work, "node-verify", &["verify", &jwks_url, &tokens_file]);
    let py_encrypt = python(work, "py-encrypt", &["encrypt", &jwks_url]);
    let node_encrypt = node(work, "node-encrypt", &["encrypt", &jwks_url]);
    let rust = rust_client(server.addr, &tokens);
    let mut by_name: BTreeMap<String, Value> = BTreeMap::new();
    for client in [py_verify.json(), node_verify.json()]
        .iter()
        .flat_map(|doc| doc["clients"].as_array().expect("clients").clone())
        .chain([rust])
    {
        let name = str_of(&client, "client").to_string();
        assert!(by_name.insert(name.clone(), client).is_none(), "client {name} reported twice");
    }
    let names: Vec<&str> = by_name.keys().map(String::as_str).collect();
    assert_eq!(
        names.iter().copied().collect::<BTreeSet<_>>(),
        CLIENTS.into_iter().collect(),
        "the clients that reported"
    );
    let clients: Vec<Value> = CLIENTS.iter().map(|name| by_name[*name].clone()).collect();
    assert_pinned_versions(&clients);

    // JWE: each library encrypts to the served public keys; each decrypts everything, intact and tampered.
    let encrypted: Vec<(&str, Value)> = vec![("jose", node_encrypt.json()), ("joserfc", py_encrypt.json())];
    let mut items = Vec::new();
    let mut plaintexts = BTreeMap::new();
    let mut enc_failures = Vec::new();
    for (encryptor, doc) in &encrypted {
        assert_eq!(str_of(doc, "client"), *encryptor);
        for (_, alg, _) in ENCRYPTION {
            let kid = kid_of(alg, "enc");
            let jwes: Vec<&Value> = doc["jwes"].as_array().unwrap().iter().filter(|j| j["alg"] == alg).collect();
            assert_eq!(jwes.len(), 1, "{encryptor}: expected one JWE for {alg}: {doc}");
            assert_eq!(str_of(jwes[0], "kid"), kid, "{encryptor} encrypted {alg} to another key");
            let Some(jwe) = jwes[0]["jwe"].as_str() else {
                enc_failures.push(format!("{encryptor} cannot encrypt to {kid} ({alg}): {}", jwes[0]["detail"]));
                continue;
            };
            plaintexts.insert(format!("{encryptor}/{alg}"), str_of(jwes[0], "plaintext").to_string());
            items.push(json!({"id": format!("{encryptor}/{alg}/intact"), "jwe": jwe}));
            items.push(json!({"id": format!("{encryptor}/{alg}/tampered"), "jwe": tamper(jwe, 3)}));
        }
    }
    let jwes_file = write_json(work, "jwes.json", &Value::from(items));
    let private = p.at("out/private/jwks.json");
    let private = private.to_str().unwrap();
    let node_decrypt = node(work, "node-decrypt", &["decrypt", private, &jwes_file]);
    let py_decrypt = python(work, "py-decrypt", &["decrypt", private, &jwes_file]);
    let decrypted: BTreeMap<&str, Value> = [("jose", node_decrypt.json()), ("joserfc", py_decrypt.json())].into();
    let mut encryption = Vec::new();
    for (encryptor, encryptor_runtime) in JWE_CLIENTS {
        for (decryptor, decryptor_runtime) in JWE_CLIENTS {
            let mut row = vec![format!("{encryptor_runtime} {encryptor} → {decryptor_runtime} {decryptor}")];
            for (_, alg, _) in ENCRYPTION {
                let Some(plaintext) = plaintexts.get(&format!("{encryptor}/{alg}")) else {
                    row.push("❌ encryption failed".into());
                    continue;
                };
                let results = &decrypted[decryptor]["results"];
                let intact = &results[format!("{encryptor}/{alg}/intact")];
                let tampered = &results[format!("{encryptor}/{alg}/tampered")];
                let mut wrong = Vec::new();
                if intact["outcome"] != "decrypted" || intact["plaintext"] != plaintext.as_str() {
                    wrong.push("intact: not decrypted");
                    enc_failures.push(format!("{decryptor} cannot decrypt {encryptor}'s {alg} JWE: {intact}"));
                }
                if tampered["outcome"] != "rejected" {
                    wrong.push("tampered: accepted");
                    enc_failures.push(format!("{decryptor} accepts {encryptor}'s tampered {alg} JWE: {tampered}"));
                }
                row.push(if wrong.is_empty() { "✅".into() } else { format!("❌ {}", wrong.join("; ")) });
            }
            encryption.push(row);
        }
    }

    server.stop();
    assert_no_leak_in_dir(&p.at("out/public"));
    let (doc, sig_failures) = render(&clients, &encryption);
    // Under UPDATE_COMPAT=1 the file records what happened, ❌ included, and the test still fails on any ❌.
    if std::env::var("UPDATE_COMPAT").as_deref() == Ok("1") {
        let path = repo().join("docs/COMPATIBILITY.md");
        fs::write(&path, &doc).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
    assert!(
        sig_failures.is_empty(),
        "clients reject valid jwksmith tokens or accept bad ones:\n{}",
        sig_failures.join("\n")
    );
    assert!(enc_failures.is_empty(), "JWE round trips through jwksmith's keys fail:\n{}", enc_failures.join("\n"));
    assert_doc_is_current(&doc);
}

/// `jwksmith token` (issue 17): a token minted for every signing spec verifies in PyJWT and node
/// jose through `jwksmith serve`'s jwks.json, with its iss, aud and exp required and checked, and
/// carries exactly the claims `token` was asked for. Tokens use the real clock (the clients do).
#[test]
fn tokens_from_jwksmith_token_verify_in_pyjwt_and_jose_for_every_alg() {
    if let Err(why) = clients::python().and(clients::node_interop()) {
        return clients::unavailable("jwksmith token against PyJWT and jose", why);
    }
    let p = Project::with_keyset(&keyset_toml());
    p.ok(&["rotate", "--now", NOW]);
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let server = Server::start(&p, work);
    let iss = "https://issuer.example/interop";
    let tokens: Vec<Value> = common::SIGNING_SPECS
        .iter()
        .map(|(spec, alg, _)| {
            let aud = format!("aud-{spec}");
            let out = p.ok(&["token", "--spec", spec, "--iss", iss, "--sub", "alice", "--aud", &aud, "--claim", "n=7"]);
            let token = String::from_utf8(out.stdout).unwrap().trim_end_matches('\n').to_string();
            json!({"id": spec, "alg": alg, "token": token, "iss": iss, "aud": aud})
        })
        .collect();
    let tokens_file = write_json(work, "minted.json", &Value::from(tokens.clone()));
    let jwks_url = server.url("/jwks.json");
    let py = python(work, "py-minted", &["verify-minted", &jwks_url, &tokens_file]);
    let node = node(work, "node-minted", &["verify-minted", &jwks_url, &tokens_file]);
    for doc in [py.json(), node.json()] {
        let client = str_of(&doc, "client").to_string();
        for t in &tokens {
            let (id, aud) = (str_of(t, "id"), str_of(t, "aud"));
            let result = &doc["results"][id];
            assert_eq!(result["outcome"], "valid", "{client} rejects the {id} token: {}", result["detail"]);
            let claims = &result["claims"];
            let names: Vec<&str> = claims.as_object().unwrap().keys().map(String::as_str).collect();
            let mut sorted = names.clone();
            sorted.sort();
            assert_eq!(sorted, ["aud", "exp", "iat", "iss", "n", "sub"], "{client}, {id}: {claims}");
            assert_eq!(
                (&claims["iss"], &claims["sub"], &claims["aud"], &claims["n"]),
                (&json!(iss), &json!("alice"), &json!(aud), &json!(7))
            );
            assert_eq!(
                claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
                3600,
                "{client}, {id}: ttl 1h"
            );
        }
    }
    server.stop();
}
