//! `jwksmith verify`: checks a compact JWS against the built `jwks.json` of the set that
//! publishes its kid (or `--set`'s, or `--jwks FILE|URL`), says what the key directory knows of
//! that kid (revoked or expired since when, an encryption key), and prints a verdict per check
//! (SPEC §4). The verdicts are [`crate::jwt::run_checks`]'s; this module finds the inputs.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::cmd::{Context, load_showing_pending};
use crate::error::{Error, Result};
use crate::jwt::{Check, Decoded, Expect, KeyFacts, Object, Published, decode, run_checks};
use crate::layout::set_prefix;
use crate::model::KeySet;

/// How long fetching a `--jwks` URL may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest JWK Set read from a URL (a file is limited as every input file is).
const BODY_LIMIT: u64 = 1 << 20;

/// The flags of `verify`.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// The token; `None` reads stdin.
    pub token: Option<String>,
    /// `--jwks FILE|URL`.
    pub jwks: Option<String>,
    /// `--iss`.
    pub iss: Option<String>,
    /// `--aud`.
    pub aud: Option<String>,
    /// `--json`.
    pub json: bool,
}

/// A JWK Set and where it came from.
struct Jwks {
    /// For messages: the file or URL.
    source: String,
    /// The set that publishes it (`None` for `--jwks`).
    set: Option<String>,
    /// Its keys, as JSON.
    keys: Vec<Value>,
}

/// The document `verify --json` prints.
#[derive(Serialize)]
struct Report<'a> {
    valid: bool,
    kid: Option<&'a str>,
    set: Option<String>,
    state: Option<&'static str>,
    checks: &'a [Check],
    header: &'a Object,
    claims: &'a Object,
}

/// Checks the token and prints the verdicts; a failed check is exit 1.
pub fn run(ctx: &Context, options: &VerifyOptions) -> Result<()> {
    let token = read_token(options.token.as_deref())?;
    let decoded = decode(&token).map_err(Error::Failed)?;
    let kid = decoded.header.text("kid").map(str::to_string);
    let known_sets = known_sets(ctx, options.jwks.is_some())?;
    let jwks = match &options.jwks {
        Some(target) => {
            let jwks = read_jwks_option(target)?;
            if jwks.keys.iter().any(has_private_members) {
                ctx.ui.warn(&format!(
                    "{}: this JWK Set holds private key members; verify needs only public keys (out/public/…/jwks.json), and a set with private members must never be published",
                    jwks.source
                ));
            }
            vec![jwks]
        }
        None => built_sets(ctx, known_sets.as_deref().unwrap_or_default())?,
    };
    let found = kid.as_deref().and_then(|kid| publisher(ctx, &jwks, kid, &decoded));
    let known = kid.as_deref().and_then(|kid| {
        let sets = known_sets.as_deref().unwrap_or_default();
        let publisher = found.and_then(|(set, _)| set.set.as_deref());
        let holder =
            sets.iter().filter(|s| s.key(kid).is_some()).min_by_key(|s| Some(s.display_path()) != publisher)?;
        let key = holder.key(kid)?;
        Some(KeyFacts {
            set: holder.display_path().to_string(),
            state: key.state(ctx.now),
            key_use: key.meta.key_use,
            alg: key.meta.alg,
            revoked: key.meta.revoked,
            expires: key.meta.expires,
        })
    });
    let published = found.map(|(_, jwk)| published_key(jwk));
    let source = match (found, jwks.as_slice()) {
        (Some((set, _)), _) => set.source.clone(),
        (None, [one]) => one.source.clone(),
        (None, _) => format!("the built jwks.json of {}", ctx.out.join("public").display()),
    };
    let expect = Expect { iss: options.iss.clone(), aud: options.aud.clone() };
    let checks = run_checks(&decoded, published.as_ref(), known.as_ref(), &source, &expect, ctx.now);
    let set = found.and_then(|(s, _)| s.set.clone()).or_else(|| known.as_ref().map(|k| k.set.clone()));
    let state = known.as_ref().map(|k| k.state.name());
    let valid = checks.iter().all(|c| c.ok);
    if options.json {
        let report = Report {
            valid,
            kid: kid.as_deref(),
            set: set.clone(),
            state,
            checks: &checks,
            header: &decoded.header,
            claims: &decoded.claims,
        };
        ctx.ui.data(&String::from_utf8_lossy(&crate::json::json_bytes(&report, true)));
    } else {
        ctx.ui.data(&text(
            &decoded,
            set.as_deref(),
            &source,
            kid.as_deref(),
            published.as_ref(),
            known.as_ref(),
            &checks,
        ));
    }
    if valid {
        return Ok(());
    }
    let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    Err(Error::Failed(format!(
        "the token is not valid: {} {} failed",
        if failed.len() == 1 { "check" } else { "checks" },
        failed.join(", ")
    )))
}

/// The JWK of `kid` and the JWK Set that publishes it. Sets' kids repeat (every tenant has an
/// `rsa-sig-001`): of several sets publishing the kid, the first whose key verifies the
/// signature, else the first; a notice names the others.
fn publisher<'a>(ctx: &Context, jwks: &'a [Jwks], kid: &str, token: &Decoded) -> Option<(&'a Jwks, &'a Value)> {
    let candidates: Vec<(&Jwks, &Value)> = jwks
        .iter()
        .filter_map(|set| set.keys.iter().find(|k| k["kid"].as_str() == Some(kid)).map(|jwk| (set, jwk)))
        .collect();
    let alg = token.header.text("alg").and_then(|a| a.parse::<crate::jose::Alg>().ok());
    let verifies = |jwk: &Value| {
        let (Ok(public), Some(alg)) = (published_key(jwk).key, alg) else { return false };
        crate::selftest::verify(&public, alg, token.signing_input.as_bytes(), &token.signature).is_ok()
    };
    let chosen = candidates.iter().find(|(_, jwk)| verifies(jwk)).or(candidates.first()).copied()?;
    let others: Vec<&str> = candidates
        .iter()
        .filter(|(set, _)| set.source != chosen.0.source)
        .filter_map(|(set, _)| set.set.as_deref())
        .collect();
    if !others.is_empty() {
        ctx.ui.notice(&format!(
            "kid `{kid}` is also published by set {}; checking against set {} (--set picks one)",
            others.join(", set "),
            chosen.0.set.as_deref().unwrap_or(".")
        ));
    }
    Some(chosen)
}

/// The token argument, or stdin (trimmed).
fn read_token(arg: Option<&str>) -> Result<String> {
    let text = match arg {
        Some(text) if text != "-" => text.to_string(),
        _ => {
            let bytes = crate::keydir::read_stdin()?;
            String::from_utf8(bytes).map_err(|_| {
                Error::Failed(
                    "the token on stdin is not UTF-8 text: give a compact JWS (header.payload.signature)".into(),
                )
            })?
        }
    };
    Ok(text.trim().to_string())
}

/// The sets of the key directory, read without signing (as `status` reads them), for what they
/// know of the kid. With `--jwks`, a key directory that is missing or cannot be read is only a
/// warning: the token is checked against the given set all the same.
fn known_sets(ctx: &Context, jwks_given: bool) -> Result<Option<Vec<KeySet>>> {
    if jwks_given && !ctx.keys.exists() {
        return Ok(None);
    }
    match load_showing_pending(ctx) {
        Ok(loaded) => Ok(Some(loaded.sets)),
        Err(e) if jwks_given => {
            ctx.ui.warn(&format!("the key directory is not read, so no set's knowledge of the kid is shown: {e}"));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The built `out/public/<path>/jwks.json` of every selected set that has one.
fn built_sets(ctx: &Context, sets: &[KeySet]) -> Result<Vec<Jwks>> {
    let mut found = Vec::new();
    for set in sets {
        let file = ctx.out.join("public").join(format!("{}jwks.json", set_prefix(&set.path)));
        if !file.exists() {
            continue;
        }
        let mut jwks = read_jwks_file(&file)?;
        jwks.set = Some(set.display_path().to_string());
        found.push(jwks);
    }
    if found.is_empty() {
        return Err(Error::Failed(format!(
            "no built jwks.json under {} for {}: run `jwksmith build` first, or give the JWK Set with --jwks FILE|URL",
            ctx.out.join("public").display(),
            if ctx.all_sets() { "any set" } else { "the selected set" }
        )));
    }
    Ok(found)
}

/// `--jwks`: a URL when it starts with `http://` or `https://`, else a file.
fn read_jwks_option(target: &str) -> Result<Jwks> {
    if target.starts_with("http://") || target.starts_with("https://") {
        fetch_jwks(target)
    } else {
        read_jwks_file(Path::new(target))
    }
}

fn read_jwks_file(file: &Path) -> Result<Jwks> {
    let bytes = crate::keydir::read_input(file)?;
    let keys = jwks_keys(&bytes).map_err(|problem| {
        Error::input(file, problem, "give a JWK Set: a JSON object {\"keys\": [...]}, such as out/public/jwks.json")
    })?;
    Ok(Jwks { source: file.display().to_string(), set: None, keys })
}

fn fetch_jwks(url: &str) -> Result<Jwks> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(FETCH_TIMEOUT))
        .http_status_as_error(false)
        .user_agent(concat!("jwksmith/", env!("CARGO_PKG_VERSION"), " verify"))
        .build()
        .into();
    let failed = |why: String| Error::Failed(format!("--jwks {url}: {why}"));
    let response = agent.get(url).call().map_err(|e| failed(format!("no answer ({e})")))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(failed(format!("the server answered status {status}, not 200")));
    }
    let body = response
        .into_body()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_vec()
        .map_err(|e| failed(format!("the body could not be read ({e})")))?;
    let keys = jwks_keys(&body).map_err(failed)?;
    Ok(Jwks { source: url.to_string(), set: None, keys })
}

/// The `keys` of a JWK Set document.
fn jwks_keys(bytes: &[u8]) -> std::result::Result<Vec<Value>, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("is not JSON ({e})"))?;
    match doc.get("keys") {
        Some(Value::Array(keys)) => Ok(keys.clone()),
        _ => Err("is not a JWK Set: it has no \"keys\" array".into()),
    }
}

/// True when a JWK carries a private member (`d p q dp dq qi oth k`).
fn has_private_members(jwk: &Value) -> bool {
    ["d", "p", "q", "dp", "dq", "qi", "oth", "k"].iter().any(|m| jwk.get(m).is_some())
}

/// The public key of one JWK (its private members, if any, are dropped at once).
fn published_key(jwk: &Value) -> Published {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str).map(str::to_string);
    let key = crate::key::parse_jwk(jwk.to_string().as_bytes()).map(|(material, _)| material.public);
    Published { key, key_use: text("use"), alg: text("alg") }
}

/// The report a person reads: header, claims, set and key, one line per check, the verdict.
fn text(
    decoded: &Decoded,
    set: Option<&str>,
    source: &str,
    kid: Option<&str>,
    published: Option<&Published>,
    known: Option<&KeyFacts>,
    checks: &[Check],
) -> String {
    let pretty = |o: &Object| serde_json::to_string_pretty(o).unwrap_or_default().replace('\n', "\n  ");
    let mut out = format!("header:\n  {}\nclaims:\n  {}\n", pretty(&decoded.header), pretty(&decoded.claims));
    out.push_str(&format!("set:    {} ({source})\n", set.unwrap_or("none (no set of the key directory has this kid)")));
    let alg = published.and_then(|p| p.alg.clone()).or_else(|| known.map(|k| k.alg.name().to_string()));
    let key = match kid {
        Some(kid) => format!(
            "{kid} (alg {}, state {})",
            alg.as_deref().unwrap_or("unknown"),
            known.map(|k| k.state.name()).unwrap_or("unknown")
        ),
        None => "none (the header has no kid)".into(),
    };
    out.push_str(&format!("key:    {key}\n\n"));
    for c in checks {
        out.push_str(&format!("{:<10} {:<4}  {}\n", c.name, if c.ok { "ok" } else { "FAIL" }, c.detail));
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        out.push_str("\nvalid: every check passes\n");
    } else {
        out.push_str(&format!("\ninvalid: {failed} of {} checks failed\n", checks.len()));
    }
    out
}
