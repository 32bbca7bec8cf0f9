//! OIDC discovery against real clients, for a root set and a nested one, each served by
//! `jwksmith serve` at its issuer (`http://127.0.0.1:PORT` and `http://127.0.0.1:PORT/tenants/acme`:
//! serve publishes out/public at the site root, and loopback http is an accepted issuer):
//!
//! - go-oidc (Debian's sources, built in GOPATH mode offline) runs `oidc.NewProvider(ctx, issuer)`
//!   and verifies tokens signed with `out/private/<spec>.pem` through the discovered `jwks_uri`;
//! - authlib's strict `OpenIDProviderMetadata(...).validate()` accepts the document as served
//!   (with `authorization_endpoint`/`token_endpoint` from `[discovery]`) and rejects it without
//!   any required member;
//! - node openid-client discovers the issuer, and jose verifies tokens at its `jwks_uri`.
//!
//! Every case has tokens that must fail: a flipped signature byte, another set's issuer, another
//! set's key. Clients come from `common::clients`; the scripts are in `tests/discovery/`.
//!
//! The same clients against `serve --local-issuer` (SPEC §5.2), on the real clock, for sets with
//! no `issuer` of their own and every signing alg:
//!
//! - go-oidc discovers `http://127.0.0.1:PORT[/tenants/acme]` and verifies a token from the token
//!   endpoint and tokens of `jwksmith token --iss <local issuer>` for every signing alg (and
//!   rejects another audience, another issuer, another set's key, a flipped signature);
//! - authlib validates the document strictly, its `OAuth2Session` gets tokens by client
//!   credentials (client_secret_basic and client_secret_post), PyJWT verifies them through the
//!   discovered `jwks_uri`;
//! - openid-client's `discovery()` + `clientCredentialsGrant` get tokens that jose verifies with
//!   `createRemoteJWKSet` at the discovered `jwks_uri`.

mod common;

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use common::{NOW, Project, assert_no_leak_in_text, clients, kids};
use serde_json::{Value, json};

/// The longest a client, a rebuild or serve's start may take.
const WAIT: Duration = Duration::from_secs(120);

/// The audience of every token (go-oidc's ClientID).
const AUDIENCE: &str = "jwksmith-test";

/// A go-oidc verifier: `oidccheck ISSUER CLIENT_ID TOKEN...` prints `jwks_uri <uri>`, `algs
/// <a,b>`, then `valid` or `rejected: <why>` per token; a failed discovery exits 1.
const GO_MAIN: &str = r#"package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	oidc "github.com/coreos/go-oidc"
)

func main() {
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, os.Args[1])
	if err != nil {
		fmt.Println("discovery failed:", err)
		os.Exit(1)
	}
	var claims struct {
		JwksURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&claims); err != nil {
		fmt.Println("claims failed:", err)
		os.Exit(1)
	}
	fmt.Println("jwks_uri", claims.JwksURI)
	fmt.Println("algs", strings.Join(claims.Algs, ","))
	verifier := provider.Verifier(&oidc.Config{ClientID: os.Args[2], SupportedSigningAlgs: claims.Algs})
	for _, token := range os.Args[3:] {
		if _, err := verifier.Verify(ctx, token); err != nil {
			fmt.Println("rejected:", err)
		} else {
			fmt.Println("valid")
		}
	}
}
"#;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The signing specs of a set: (spec, alg, `[[key]]` entry).
fn specs(path: &str) -> Vec<(&'static str, &'static str, String)> {
    let entry = |spec: &str, shape: &str, key_use: &str, alg: &str| {
        format!("[[key]]\nspec = \"{spec}\"\n{shape}\nuse = \"{key_use}\"\nalg = \"{alg}\"\n\n")
    };
    let rsa = "kty = \"RSA\"\nsize = 2048";
    let (ec_spec, ec_alg, ec_shape) = match path {
        "" => ("ec-sig", "ES256", "kty = \"EC\"\ncrv = \"P-256\""),
        _ => ("ec384-sig", "ES384", "kty = \"EC\"\ncrv = \"P-384\""),
    };
    vec![
        ("rsa-sig", "RS256", entry("rsa-sig", rsa, "sig", "RS256")),
        (ec_spec, ec_alg, entry(ec_spec, ec_shape, "sig", ec_alg)),
        ("ec-enc", "ECDH-ES", entry("ec-enc", "kty = \"EC\"\ncrv = \"P-256\"", "enc", "ECDH-ES")),
    ]
}

/// The keyset.toml of a set; with `base`, its issuer (and endpoints) under that site.
fn keyset(path: &str, base: Option<&str>) -> String {
    let kid = if path.is_empty() { "" } else { "kid = \"thumbprint\"\n" };
    let keys: String = specs(path).into_iter().map(|(_, _, entry)| entry).collect();
    let Some(base) = base else { return format!("{kid}{keys}") };
    let issuer = issuer(base, path);
    format!(
        "issuer = \"{issuer}\"\n{kid}{keys}[discovery]\nauthorization_endpoint = \"{issuer}/authorize\"\ntoken_endpoint = \"{issuer}/token\"\n"
    )
}

fn issuer(base: &str, path: &str) -> String {
    if path.is_empty() { base.to_string() } else { format!("{base}/{path}") }
}

/// `jwksmith serve --addr 127.0.0.1:0 ARGS` in a project: its stdout lines, the base URL it
/// printed; stderr goes to the project's `serve.stderr`. Killed on drop.
struct Serving {
    child: Child,
    lines: Receiver<String>,
    base: String,
}

impl Serving {
    fn start(p: &Project, args: &[&str]) -> Serving {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jwksmith"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .current_dir(p.path())
            .env("JWKSMITH_CACHE_DIR", "off")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(p.at("serve.stderr")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start jwksmith serve {}: {e}", args.join(" ")));
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        thread::spawn(move || BufReader::new(out).lines().map_while(Result::ok).try_for_each(|l| tx.send(l)));
        let first = lines.recv_timeout(WAIT).expect("serve prints its address");
        let base = first
            .strip_prefix("serving out/public at ")
            .and_then(|rest| rest.strip_suffix('/'))
            .unwrap_or_else(|| panic!("first line of serve: {first:?}"))
            .to_string();
        Serving { child, lines, base }
    }

    /// Kills serve and checks what it printed for private keys.
    fn stop(mut self, p: &Project) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        assert_no_leak_in_text(&self.lines.try_iter().collect::<Vec<_>>().join("\n"), "stdout of serve");
        assert_no_leak_in_text(&fs::read_to_string(p.at("serve.stderr")).unwrap_or_default(), "stderr of serve");
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `jwksmith serve` with a root and a nested issuer, both of its address.
struct Issuers {
    p: Project,
    serve: Serving,
}

const SETS: [&str; 2] = ["", "tenants/acme"];

impl Issuers {
    /// Makes the keys, starts serve on an ephemeral port, then gives both sets their issuer
    /// under its address and waits until serve has rebuilt both documents.
    fn start() -> Issuers {
        let p = Project::with_keyset(&keyset("", None));
        p.write("keys/tenants/acme/keyset.toml", keyset("tenants/acme", None).as_bytes());
        p.ok(&["rotate", "--now", NOW]);
        let serve = Serving::start(&p, &["--now", NOW]);
        let issuers = Issuers { p, serve };
        for path in SETS {
            let file = if path.is_empty() { "keys/keyset.toml".into() } else { format!("keys/{path}/keyset.toml") };
            issuers.p.write(&file, keyset(path, Some(&issuers.serve.base)).as_bytes());
        }
        for path in SETS {
            issuers.wait_for_document(path);
        }
        issuers
    }

    fn issuer(&self, path: &str) -> String {
        issuer(&self.serve.base, path)
    }

    fn document_url(&self, path: &str) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer(path))
    }

    /// Polls the set's document until serve answers it with the set's issuer.
    fn wait_for_document(&self, path: &str) {
        let start = Instant::now();
        loop {
            let body =
                ureq::get(&self.document_url(path)).call().ok().and_then(|mut r| r.body_mut().read_to_string().ok());
            let doc: Option<Value> = body.and_then(|b| serde_json::from_str(&b).ok());
            if doc.is_some_and(|d| d["issuer"] == self.issuer(path).as_str()) {
                return;
            }
            let stderr = fs::read_to_string(self.p.at("serve.stderr")).unwrap_or_default();
            assert!(start.elapsed() < WAIT, "serve never rebuilt {path:?}'s document:\n{stderr}");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Tokens for the set at `path`, with the outcome each must have: one valid token per
    /// signing spec, then a flipped signature, another set's issuer and another set's key.
    fn tokens(&self, path: &str, work: &Path) -> Vec<(String, bool)> {
        let other = SETS.into_iter().find(|s| *s != path).unwrap();
        let request = |set: &str, spec: &str, alg: &str, iss: String| {
            let prefix = if set.is_empty() { String::new() } else { format!("{set}/") };
            let jwks = self.p.json(&format!("out/public/{prefix}jwks.json"));
            let kid = jwks["keys"].as_array().unwrap().iter().find(|k| k["alg"] == alg).unwrap()["kid"].clone();
            let pem = self.p.at(&format!("out/private/{prefix}{spec}.pem"));
            json!({"pem": pem, "alg": alg, "kid": kid, "iss": iss, "aud": AUDIENCE, "sub": format!("alice-{spec}")})
        };
        let signing: Vec<(&str, &str)> =
            specs(path).into_iter().filter(|(_, alg, _)| *alg != "ECDH-ES").map(|(s, a, _)| (s, a)).collect();
        let mut requests: Vec<Value> = signing.iter().map(|(s, a)| request(path, s, a, self.issuer(path))).collect();
        requests.push(request(path, "rsa-sig", "RS256", self.issuer(other)));
        requests.push(request(other, "rsa-sig", "RS256", self.issuer(path)));
        let file = work.join(format!("sign-{}.json", path.replace('/', "-")));
        fs::write(&file, serde_json::to_vec(&requests).unwrap()).unwrap();
        let python = clients::python().expect("python clients installed");
        let out = client(Command::new(python).arg(repo().join("tests/discovery/clients.py")).arg("sign").arg(&file));
        let signed: Vec<String> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("sign: {e}: {out}"));
        let mut tokens: Vec<(String, bool)> = signed[..signing.len()].iter().map(|t| (t.clone(), true)).collect();
        tokens.push((flip_signature(&signed[0]), false));
        tokens.extend(signed[signing.len()..].iter().map(|t| (t.clone(), false)));
        tokens
    }

    /// Stops serve and checks what it printed for private key material.
    fn stop(self) {
        self.serve.stop(&self.p);
    }
}

/// The token with one character in the middle of its signature changed.
fn flip_signature(token: &str) -> String {
    let at = token.rfind('.').unwrap() + (token.len() - token.rfind('.').unwrap()) / 2;
    let mut bytes = token.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Runs a client to its end (killed after `WAIT`); its stdout, or a panic with its output.
fn client(command: &mut Command) -> String {
    let what = format!("{command:?}");
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > WAIT {
            let _ = child.kill();
            panic!("{what} did not finish in {WAIT:?}");
        }
        thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{what}: {}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    stdout
}

/// Asserts each outcome (`valid` or `rejected…`) is what its token must give.
fn assert_outcomes(client: &str, path: &str, outcomes: &[String], tokens: &[(String, bool)]) {
    assert_eq!(outcomes.len(), tokens.len(), "{client} for {path:?}: {outcomes:?}");
    for (i, (outcome, (_, valid))) in outcomes.iter().zip(tokens).enumerate() {
        let ok = if *valid { outcome == "valid" } else { outcome.starts_with("rejected") };
        assert!(
            ok,
            "{client} for {path:?}: token {i} must be {}: {outcome}",
            if *valid { "valid" } else { "rejected" }
        );
    }
}

fn work_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn go_oidc_verifies_tokens_through_discovery() {
    let oidccheck = match clients::go_program("oidccheck", GO_MAIN) {
        Ok(program) => program,
        Err(why) => return clients::unavailable("discovery::go_oidc_verifies_tokens_through_discovery", &why),
    };
    if let Err(why) = clients::python() {
        return clients::unavailable("discovery::go_oidc_verifies_tokens_through_discovery", why);
    }
    let (issuers, work) = (Issuers::start(), work_dir());
    for path in SETS {
        let tokens = issuers.tokens(path, work.path());
        let args: Vec<&str> = tokens.iter().map(|(t, _)| t.as_str()).collect();
        let out = client(Command::new(&oidccheck).arg(issuers.issuer(path)).arg(AUDIENCE).args(&args));
        let lines: Vec<String> = out.lines().map(str::to_string).collect();
        assert_eq!(lines[0], format!("jwks_uri {}/jwks.json", issuers.issuer(path)), "{out}");
        let algs = if path.is_empty() { "algs ES256,RS256" } else { "algs ES384,RS256" };
        assert_eq!(lines[1], algs, "{out}");
        assert_outcomes("go-oidc", path, &lines[2..], &tokens);
    }
    issuers.stop();
}

#[test]
fn authlib_validates_the_document_strictly() {
    let python = match clients::python() {
        Ok(python) => python,
        Err(why) => return clients::unavailable("discovery::authlib_validates_the_document_strictly", why),
    };
    let issuers = Issuers::start();
    let urls: Vec<String> = SETS.iter().map(|p| issuers.document_url(p)).collect();
    let out = client(Command::new(python).arg(repo().join("tests/discovery/clients.py")).arg("validate").args(&urls));
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    for url in &urls {
        assert_eq!(report[url]["served"], "ok", "authlib refuses {url}: {report}");
        let broken = report[url]["broken"].as_object().unwrap();
        assert_eq!(broken.len(), 7, "{report}");
        assert!(broken.values().all(|v| v == "rejected"), "authlib must refuse the broken copies: {report}");
    }
    issuers.stop();
}

#[test]
fn openid_client_discovers_and_jose_verifies() {
    let dir: PathBuf = match (clients::node_discovery(), clients::python()) {
        (Ok(dir), Ok(_)) => dir.to_path_buf(),
        (Err(why), _) | (_, Err(why)) => {
            return clients::unavailable("discovery::openid_client_discovers_and_jose_verifies", why);
        }
    };
    let (issuers, work) = (Issuers::start(), work_dir());
    for path in SETS {
        let tokens = issuers.tokens(path, work.path());
        let args: Vec<&str> = tokens.iter().map(|(t, _)| t.as_str()).collect();
        let out = client(
            Command::new("node").arg(dir.join("discovery.mjs")).arg(issuers.issuer(path)).arg(AUDIENCE).args(&args),
        );
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(report["issuer"], issuers.issuer(path).as_str(), "{report}");
        assert_eq!(report["jwks_uri"], format!("{}/jwks.json", issuers.issuer(path)).as_str(), "{report}");
        let outcomes: Vec<String> =
            report["tokens"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert_outcomes("openid-client + jose", path, &outcomes, &tokens);
    }
    let root_kids = kids(&issuers.p.json("out/public/jwks.json"));
    assert_eq!(root_kids[..2], ["rsa-sig-001", "ec-sig-001"], "signing keys first");
    issuers.stop();
}

// ---------------------------------------------------------------------------------------------
// `serve --local-issuer`: the same clients against the local issuer of each set, on the real
// clock (the clients check `exp` against it), with the token endpoint's client-credentials flow.

/// The client id and secret the clients authenticate with (any values are accepted).
const CLIENT: (&str, &str) = ("local-client", "any secret: &=+");

/// A keyset.toml with every signing alg (the first, RS256, signs the endpoint's tokens; OpenID
/// Discovery requires RS256) and an encryption spec, and no `issuer`; the nested set names its
/// keys by thumbprint, so the two sets share no kid.
fn local_keyset(path: &str) -> String {
    let kid = if path.is_empty() { "" } else { "kid = \"thumbprint\"\n" };
    let mut toml = kid.to_string();
    for (spec, alg, shape) in common::SIGNING_SPECS {
        toml.push_str(&format!("[[key]]\nspec = \"{spec}\"\n{shape}\nuse = \"sig\"\nalg = \"{alg}\"\n\n"));
    }
    toml + "[[key]]\nspec = \"ec-enc\"\nkty = \"EC\"\ncrv = \"P-256\"\nuse = \"enc\"\nalg = \"ECDH-ES\"\n"
}

/// `jwksmith serve --local-issuer` on the real clock over a root and a nested set.
struct LocalIssuers {
    p: Project,
    serve: Serving,
}

impl LocalIssuers {
    fn start() -> LocalIssuers {
        let p = Project::with_keyset(&local_keyset(""));
        p.write("keys/tenants/acme/keyset.toml", local_keyset("tenants/acme").as_bytes());
        p.ok(&["rotate"]);
        let serve = Serving::start(&p, &["--local-issuer"]);
        let issuers = LocalIssuers { p, serve };
        let start = Instant::now();
        while !issuers.p.at("out/public/tenants/acme/jwks.json").exists() {
            assert!(start.elapsed() < WAIT, "serve never built");
            thread::sleep(Duration::from_millis(100));
        }
        issuers
    }

    fn issuer(&self, path: &str) -> String {
        issuer(&self.serve.base, path)
    }

    /// An access token from the set's token endpoint, by client credentials in HTTP Basic.
    fn endpoint_token(&self, path: &str, audience: &str) -> String {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", CLIENT.0, "secret"));
        let mut answer = ureq::post(&format!("{}/token", self.issuer(path)))
            .header("Authorization", &format!("Basic {basic}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(format!("grant_type=client_credentials&audience={audience}"))
            .unwrap_or_else(|e| panic!("token endpoint of {path:?}: {e}"));
        let answer: Value = serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
        answer["access_token"].as_str().unwrap_or_else(|| panic!("{answer}")).to_string()
    }

    /// `jwksmith token --set PATH --spec S --iss ISS --aud AUD`: one line, the JWT.
    fn cli_token(&self, path: &str, spec: &str, iss: &str) -> String {
        let set = if path.is_empty() { "." } else { path };
        let out = self.p.ok(&["token", "--set", set, "--spec", spec, "--iss", iss, "--aud", AUDIENCE, "--sub", spec]);
        String::from_utf8(out.stdout).unwrap().trim_end().to_string()
    }

    fn stop(self) {
        self.serve.stop(&self.p);
    }
}

#[test]
fn go_oidc_verifies_local_issuer_tokens() {
    let oidccheck = match clients::go_program("oidccheck", GO_MAIN) {
        Ok(program) => program,
        Err(why) => return clients::unavailable("discovery::go_oidc_verifies_local_issuer_tokens", &why),
    };
    let issuers = LocalIssuers::start();
    for path in SETS {
        let (issuer, other) = (issuers.issuer(path), issuers.issuer(SETS.into_iter().find(|s| *s != path).unwrap()));
        // The endpoint's token, then `jwksmith token --iss <local issuer>` for every signing alg.
        let mut tokens = vec![(issuers.endpoint_token(path, AUDIENCE), true)];
        for (spec, _, _) in common::SIGNING_SPECS {
            tokens.push((issuers.cli_token(path, spec, &issuer), true));
        }
        tokens.push((flip_signature(&tokens[0].0), false));
        tokens.push((issuers.endpoint_token(path, "someone-else"), false));
        tokens.push((issuers.cli_token(path, "rs256", &other), false));
        let other_set = if path.is_empty() { "tenants/acme" } else { "" };
        tokens.push((issuers.cli_token(other_set, "rs256", &issuer), false));
        let args: Vec<&str> = tokens.iter().map(|(t, _)| t.as_str()).collect();
        let out = client(Command::new(&oidccheck).arg(&issuer).arg(AUDIENCE).args(&args));
        let lines: Vec<String> = out.lines().map(str::to_string).collect();
        assert_eq!(lines[0], format!("jwks_uri {issuer}/jwks.json"), "{out}");
        assert_eq!(lines[1], "algs ES256,ES384,ES512,PS256,PS384,PS512,RS256,RS384,RS512", "{out}");
        assert_outcomes("go-oidc (local issuer)", path, &lines[2..], &tokens);
    }
    issuers.stop();
}

#[test]
fn authlib_gets_a_token_from_the_local_issuer() {
    let python = match clients::python() {
        Ok(python) => python,
        Err(why) => return clients::unavailable("discovery::authlib_gets_a_token_from_the_local_issuer", why),
    };
    let issuers = LocalIssuers::start();
    for path in SETS {
        let issuer = issuers.issuer(path);
        let out = client(Command::new(python).arg(repo().join("tests/discovery/clients.py")).args([
            "client-credentials",
            &issuer,
            AUDIENCE,
            CLIENT.0,
            CLIENT.1,
        ]));
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(report["metadata"], "ok", "authlib's strict validation of {issuer}: {report}");
        for method in ["client_secret_basic", "client_secret_post"] {
            let got = &report["tokens"][method];
            assert_eq!(got["token_type"], "Bearer", "{method}: {report}");
            assert_eq!(got["expires_in"], 3600, "{method}: {report}");
            let claims = &got["claims"];
            assert_eq!(claims["iss"], issuer.as_str(), "{method}: {report}");
            assert_eq!((&claims["sub"], &claims["aud"]), (&json!(CLIENT.0), &json!(AUDIENCE)), "{method}: {report}");
            assert_eq!(claims["scope"], "read write", "{method}: {report}");
            assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600, "{report}");
        }
        assert!(report["rejected"].as_str().unwrap().starts_with("rejected"), "another audience: {report}");
    }
    issuers.stop();
}

#[test]
fn openid_client_gets_a_token_that_jose_verifies() {
    let dir: PathBuf = match clients::node_discovery() {
        Ok(dir) => dir.to_path_buf(),
        Err(why) => return clients::unavailable("discovery::openid_client_gets_a_token_that_jose_verifies", why),
    };
    let issuers = LocalIssuers::start();
    for path in SETS {
        let issuer = issuers.issuer(path);
        let out = client(Command::new("node").arg(dir.join("discovery.mjs")).args([
            "--client-credentials",
            &issuer,
            AUDIENCE,
            CLIENT.0,
            CLIENT.1,
        ]));
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(report["issuer"], issuer.as_str(), "{report}");
        assert_eq!(report["token_endpoint"], format!("{issuer}/token").as_str(), "{report}");
        for method in ["client_secret_basic", "client_secret_post"] {
            let got = &report["tokens"][method];
            assert_eq!(got["verified"], "valid", "{method}: {report}");
            assert_eq!(got["claims"]["iss"], issuer.as_str(), "{method}: {report}");
            assert_eq!(got["claims"]["sub"], CLIENT.0, "{method}: {report}");
            assert_eq!(got["claims"]["aud"], AUDIENCE, "{method}: {report}");
            assert_eq!(got["expires_in"], 3600, "{method}: {report}");
        }
        assert!(report["rejected"].as_str().unwrap().starts_with("rejected"), "another audience: {report}");
    }
    issuers.stop();
}
