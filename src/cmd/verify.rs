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
use crate::key::PublicKey;
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

/// What was found for the token's kid: the JWK Set checked against, its JWK of the kid, and what
/// the key directory knows of it.
struct Found {
    /// The set named in the report: the one that publishes the kid, else one that knows it.
    set: Option<String>,
    /// The JWK Set checked against, for messages (a file or URL).
    source: String,
    /// The published JWK of the kid.
    published: Option<Published>,
    /// The key directory's facts about the kid.
    known: Option<KeyFacts>,
}

/// Checks the token and prints the verdicts; a failed check is exit 1.
pub fn run(ctx: &Context, options: &VerifyOptions) -> Result<()> {
    let token = read_token(options.token.as_deref())?;
    let decoded = decode(&token).map_err(Error::Failed)?;
    let found = find(ctx, options, &decoded)?;
    let expect = Expect { iss: options.iss.clone(), aud: options.aud.clone() };
    let checks = run_checks(&decoded, found.published.as_ref(), found.known.as_ref(), &found.source, &expect, ctx.now);
    let valid = checks.iter().all(|c| c.ok);
    if options.json {
        let report = Report {
            valid,
            kid: decoded.header.text("kid"),
            set: found.set.clone(),
            state: found.known.as_ref().map(|k| k.state.name()),
            checks: &checks,
            header: &decoded.header,
            claims: &decoded.claims,
        };
        ctx.ui.data(&String::from_utf8_lossy(&crate::json::json_bytes(&report, true)));
    } else {
        ctx.ui.data(&text(&decoded, &found, &checks));
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

/// Reads the JWK Set(s) and the key directory, and finds the token's kid in them.
fn find(ctx: &Context, options: &VerifyOptions, decoded: &Decoded) -> Result<Found> {
    let kid = decoded.header.text("kid");
    let sets = known_sets(ctx, options.jwks.is_some())?;
    let sets = sets.as_deref().unwrap_or_default();
    let jwks = match &options.jwks {
        Some(target) => vec![given_jwks(ctx, target)?],
        None => built_sets(ctx, sets)?,
    };
    let found = kid.and_then(|kid| publisher(ctx, &jwks, kid, decoded));
    let publishing_set = found.and_then(|(set, _)| set.set.clone());
    let published = found.map(|(_, jwk)| published_key(jwk));
    let public = published.as_ref().and_then(|p| p.key.as_ref().ok());
    let known = kid.and_then(|kid| key_facts(sets, kid, public, publishing_set.as_deref(), ctx));
    let source = match (found, jwks.as_slice()) {
        (Some((set, _)), _) => set.source.clone(),
        (None, [one]) => one.source.clone(),
        (None, _) => format!("the built jwks.json of {}", ctx.out.join("public").display()),
    };
    Ok(Found { set: publishing_set.or_else(|| known.as_ref().map(|k| k.set.clone())), source, published, known })
}

/// `--jwks`: the set read, with a warning when it holds private members.
fn given_jwks(ctx: &Context, target: &str) -> Result<Jwks> {
    let jwks = read_jwks_option(target)?;
    if jwks.keys.iter().any(has_private_members) {
        ctx.ui.warn(&format!(
            "{}: this JWK Set holds private key members; verify needs only public keys (out/public/…/jwks.json), and a set with private members must never be published",
            jwks.source
        ));
    }
    Ok(jwks)
}

/// What the key directory knows of `kid`: from the set that publishes it when that set has it,
/// else from the first set that has it. When the kid is published, only a key with the same
/// public key counts (a deployed set checked with `--jwks` may reuse a local kid for another key).
fn key_facts(
    sets: &[KeySet],
    kid: &str,
    published: Option<&PublicKey>,
    publisher: Option<&str>,
    ctx: &Context,
) -> Option<KeyFacts> {
    let same = |s: &&KeySet| s.key(kid).is_some_and(|k| published.is_none_or(|p| &k.material.public == p));
    let holder = sets.iter().filter(same).min_by_key(|s| Some(s.display_path()) != publisher)?;
    let key = holder.key(kid)?;
    Some(KeyFacts {
        set: holder.display_path().to_string(),
        state: key.state(ctx.now),
        key_use: key.meta.key_use,
        alg: key.meta.alg,
        revoked: key.meta.revoked,
        expires: key.meta.expires,
    })
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
fn text(decoded: &Decoded, found: &Found, checks: &[Check]) -> String {
    let pretty = |o: &Object| serde_json::to_string_pretty(o).unwrap_or_default().replace('\n', "\n  ");
    let mut out = format!("header:\n  {}\nclaims:\n  {}\n", pretty(&decoded.header), pretty(&decoded.claims));
    let set = found.set.as_deref().unwrap_or("none (no set of the key directory has this kid)");
    out.push_str(&format!("set:    {set} ({})\n", found.source));
    let known = found.known.as_ref();
    let alg = found.published.as_ref().and_then(|p| p.alg.clone()).or_else(|| known.map(|k| k.alg.name().to_string()));
    let key = match decoded.header.text("kid") {
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
