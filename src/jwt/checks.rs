//! The verdicts of `jwksmith verify` (SPEC §4), in their fixed order: `kid`, `alg`, `signature`,
//! `exp`, `nbf`, then `iss` and `aud` when expected. Pure: the caller finds the published JWK of
//! the token's kid and what the key directory knows of it; this module judges.

use serde::Serialize;
use serde_json::Value;

use super::compact::Decoded;
use crate::jose::{Alg, Use};
use crate::key::PublicKey;
use crate::lifecycle::State;
use crate::times::Timestamp;

/// The leeway of `exp` and `nbf`, in seconds, as PyJWT's and jose's `leeway`/`clockTolerance`:
/// a token is expired from `exp + 60`, and valid from `nbf - 60`.
pub(crate) const LEEWAY_SECS: i64 = 60;

/// One verdict line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Check {
    /// `kid`, `alg`, `signature`, `exp`, `nbf`, `iss` or `aud`.
    pub name: &'static str,
    /// True when the check passes.
    pub ok: bool,
    /// What was found, in words.
    pub detail: String,
}

/// The JWK of the token's kid in the JWK Set checked against.
#[derive(Debug)]
pub(crate) struct Published {
    /// The public key, or why the JWK is not one jwksmith verifies with.
    pub key: Result<PublicKey, String>,
    /// Its `use` member.
    pub key_use: Option<String>,
    /// Its `alg` member.
    pub alg: Option<String>,
}

/// What the key directory says of the token's kid.
#[derive(Clone, Debug)]
pub(crate) struct KeyFacts {
    /// The set that holds the key, as users write it (`.` for the root).
    pub set: String,
    /// Its state at `now`.
    pub state: State,
    /// Its use.
    pub key_use: Use,
    /// Its alg.
    pub alg: Alg,
    /// When it was revoked.
    pub revoked: Option<Timestamp>,
    /// When it expires.
    pub expires: Option<Timestamp>,
}

/// The claims a caller expects (`--iss`, `--aud`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Expect {
    /// `--iss`.
    pub iss: Option<String>,
    /// `--aud`.
    pub aud: Option<String>,
}

/// Every check of a token, in order.
pub(crate) fn run_checks(
    token: &Decoded,
    published: Option<&Published>,
    known: Option<&KeyFacts>,
    source: &str,
    expect: &Expect,
    now: Timestamp,
) -> Vec<Check> {
    let mut checks = vec![
        kid_check(token, published, known, source),
        alg_check(token, published, known),
        signature_check(token, published),
        exp_check(token, now),
        nbf_check(token, now),
    ];
    if let Some(iss) = &expect.iss {
        checks.push(iss_check(token, iss));
    }
    if let Some(aud) = &expect.aud {
        checks.push(aud_check(token, aud));
    }
    checks
}

fn check(name: &'static str, ok: bool, detail: impl Into<String>) -> Check {
    Check { name, ok, detail: detail.into() }
}

fn kid_check(token: &Decoded, published: Option<&Published>, known: Option<&KeyFacts>, source: &str) -> Check {
    let kid = match token.header.get("kid") {
        None => return check("kid", false, "the header has no kid, so no published key can be chosen"),
        Some(Value::String(kid)) => kid,
        Some(other) => return check("kid", false, format!("the header's kid is {}, not a string", super::kind(other))),
    };
    if let Some(k) = known {
        let set = &k.set;
        if k.key_use == Use::Enc {
            return check(
                "kid",
                false,
                format!("`{kid}` is an encryption key of set {set} (use enc, alg {}): it does not sign", k.alg),
            );
        }
        let still = if published.is_some() {
            format!("; {source} still publishes it: run `jwksmith build`")
        } else {
            String::new()
        };
        match k.state {
            State::Revoked => {
                let at = k.revoked.map(|t| format!(" since {t}")).unwrap_or_default();
                return check("kid", false, format!("key `{kid}` of set {set} is revoked{at}{still}"));
            }
            State::Expired => {
                let at = k.expires.map(|t| format!(" since {t}")).unwrap_or_default();
                return check("kid", false, format!("key `{kid}` of set {set} is expired{at}{still}"));
            }
            _ => {}
        }
    }
    let Some(p) = published else {
        let detail = match known {
            Some(k) if k.state == State::Pending => {
                format!("key `{kid}` of set {} is created after now and {source} does not publish it", k.set)
            }
            Some(k) => format!(
                "key `{kid}` of set {} is {} but {source} does not publish it: run `jwksmith build`",
                k.set, k.state
            ),
            None => format!("no key `{kid}` is published in {source}, and no set under the key directory has it"),
        };
        return check("kid", false, detail);
    };
    if p.key_use.as_deref() == Some("enc") {
        return check("kid", false, format!("`{kid}` in {source} is an encryption key (use enc): it does not sign"));
    }
    if let Err(problem) = &p.key {
        return check(
            "kid",
            false,
            format!("the JWK of `{kid}` in {source} is not a key jwksmith verifies with: {problem}"),
        );
    }
    let state = known.map(|k| format!(" (set {}, {})", k.set, k.state)).unwrap_or_default();
    check("kid", true, format!("signing key `{kid}` is published in {source}{state}"))
}

/// The key's alg: its JWK's `alg`, else the key directory's.
fn key_alg(published: Option<&Published>, known: Option<&KeyFacts>) -> Option<String> {
    published.and_then(|p| p.alg.clone()).or_else(|| known.map(|k| k.alg.name().to_string()))
}

/// The header's alg, parsed: `Err` says why it is none jwksmith verifies.
fn header_alg(token: &Decoded) -> Result<Alg, String> {
    let name = match token.header.get("alg") {
        None => return Err("the header has no alg".into()),
        Some(Value::String(name)) => name,
        Some(other) => return Err(format!("the header's alg is {}, not a string", super::kind(other))),
    };
    match name.parse::<Alg>() {
        Ok(alg) if alg.key_use() == Use::Sig => Ok(alg),
        _ => Err(format!(
            "alg `{name}` is not a signature algorithm jwksmith verifies (RS256/384/512, PS256/384/512, ES256/384/512)"
        )),
    }
}

fn alg_check(token: &Decoded, published: Option<&Published>, known: Option<&KeyFacts>) -> Check {
    let alg = match header_alg(token) {
        Ok(alg) => alg,
        Err(problem) => return check("alg", false, problem),
    };
    match key_alg(published, known) {
        Some(key_alg) if key_alg == alg.name() => check("alg", true, format!("{alg} is the key's alg")),
        Some(key_alg) => check("alg", false, format!("the header's alg is {alg}, but the key's alg is {key_alg}")),
        None if published.is_some_and(|p| p.key.is_ok()) => {
            check("alg", true, format!("{alg}; the key's JWK has no alg to compare with"))
        }
        None => {
            check("alg", false, format!("the header's alg is {alg}, and there is no published key to compare with"))
        }
    }
}

fn signature_check(token: &Decoded, published: Option<&Published>) -> Check {
    let Some(Ok(public)) = published.map(|p| p.key.as_ref()) else {
        return check("signature", false, "not checked: no published key to check it against");
    };
    let alg = match header_alg(token) {
        Ok(alg) => alg,
        Err(problem) => return check("signature", false, format!("not checked: {problem}")),
    };
    match crate::selftest::verify(public, alg, token.signing_input.as_bytes(), &token.signature) {
        Ok(()) => check("signature", true, format!("valid {alg} signature by the published key")),
        Err(problem) => check("signature", false, format!("{problem} ({alg})")),
    }
}

/// A NumericDate claim: `Ok(None)` when absent, `Err` when not a number.
fn numeric_date(token: &Decoded, name: &str) -> Result<Option<f64>, String> {
    match token.claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| format!("{name} is not a usable number")),
        Some(other) => Err(format!("{name} is {}, not a NumericDate (seconds since the epoch)", super::kind(other))),
    }
}

/// A NumericDate as a person reads it.
fn shown(secs: f64) -> String {
    let t = Timestamp::from_unix(secs.floor() as i64);
    if t.is_writable() { t.to_string() } else { format!("{secs}") }
}

fn exp_check(token: &Decoded, now: Timestamp) -> Check {
    let exp = match numeric_date(token, "exp") {
        Ok(Some(exp)) => exp,
        Ok(None) => return check("exp", true, "no exp claim"),
        Err(problem) => return check("exp", false, problem),
    };
    let now_f = now.unix() as f64;
    if now_f < exp {
        check("exp", true, format!("expires at {} ({} s from now)", shown(exp), (exp - now_f).ceil()))
    } else if now_f < exp + LEEWAY_SECS as f64 {
        check(
            "exp",
            true,
            format!("expired at {}, {} s ago: within the {LEEWAY_SECS} s leeway", shown(exp), (now_f - exp)),
        )
    } else {
        check("exp", false, format!("expired at {}, {} s ago (leeway {LEEWAY_SECS} s)", shown(exp), (now_f - exp)))
    }
}

fn nbf_check(token: &Decoded, now: Timestamp) -> Check {
    let nbf = match numeric_date(token, "nbf") {
        Ok(Some(nbf)) => nbf,
        Ok(None) => return check("nbf", true, "no nbf claim"),
        Err(problem) => return check("nbf", false, problem),
    };
    let now_f = now.unix() as f64;
    if nbf <= now_f {
        check("nbf", true, format!("valid since {}", shown(nbf)))
    } else if nbf <= now_f + LEEWAY_SECS as f64 {
        check(
            "nbf",
            true,
            format!("valid from {}, {} s from now: within the {LEEWAY_SECS} s leeway", shown(nbf), nbf - now_f),
        )
    } else {
        check(
            "nbf",
            false,
            format!("not valid before {}, {} s from now (leeway {LEEWAY_SECS} s)", shown(nbf), nbf - now_f),
        )
    }
}

fn iss_check(token: &Decoded, expected: &str) -> Check {
    match token.claims.get("iss") {
        Some(Value::String(iss)) if iss == expected => check("iss", true, format!("`{iss}`")),
        Some(Value::String(iss)) => check("iss", false, format!("`{iss}`, expected `{expected}`")),
        Some(other) => check("iss", false, format!("iss is {}, expected the string `{expected}`", super::kind(other))),
        None => check("iss", false, format!("no iss claim, expected `{expected}`")),
    }
}

fn aud_check(token: &Decoded, expected: &str) -> Check {
    let found: Vec<&str> = match token.claims.get("aud") {
        None => return check("aud", false, format!("no aud claim, expected `{expected}`")),
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(other) => return check("aud", false, format!("aud is {}, not a string or an array", super::kind(other))),
    };
    let listed = found.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
    if found.contains(&expected) {
        check("aud", true, format!("{listed} includes `{expected}`"))
    } else {
        check(
            "aud",
            false,
            format!("{} does not include `{expected}`", if listed.is_empty() { "[]".into() } else { listed }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::Object;
    use serde_json::json;

    const NOW: i64 = 1_767_225_600;

    fn token(header: Value, claims: Value) -> Decoded {
        let object = |v: Value| Object::parse(v.to_string().as_bytes()).unwrap();
        Decoded { header: object(header), claims: object(claims), signing_input: "x.y".into(), signature: vec![] }
    }

    fn facts(state: State, key_use: Use) -> KeyFacts {
        KeyFacts {
            set: ".".into(),
            state,
            key_use,
            alg: Alg::Es256,
            revoked: Some(Timestamp::from_unix(NOW - 5)),
            expires: Some(Timestamp::from_unix(NOW - 9)),
        }
    }

    fn names_failed(checks: &[Check]) -> Vec<&'static str> {
        checks.iter().filter(|c| !c.ok).map(|c| c.name).collect()
    }

    #[test]
    fn exp_and_nbf_allow_exactly_sixty_seconds() {
        let at = |secs: i64| Timestamp::from_unix(NOW + secs);
        let t = token(json!({}), json!({"exp": NOW, "nbf": NOW + 100}));
        assert!(exp_check(&t, at(59)).ok && !exp_check(&t, at(60)).ok);
        assert!(nbf_check(&t, at(40)).ok && !nbf_check(&t, at(39)).ok);
        let none = token(json!({}), json!({}));
        assert!(exp_check(&none, at(0)).ok && nbf_check(&none, at(0)).ok, "absent claims pass");
        let text = token(json!({}), json!({"exp": "soon"}));
        assert_eq!(exp_check(&text, at(0)).detail, "exp is a string, not a NumericDate (seconds since the epoch)");
    }

    #[test]
    fn iss_and_aud_are_checked_only_when_expected() {
        let t = token(json!({"alg": "ES256", "kid": "k"}), json!({"iss": "me", "aud": ["a", "b"]}));
        let now = Timestamp::from_unix(NOW);
        assert_eq!(run_checks(&t, None, None, "s", &Expect::default(), now).len(), 5);
        let expect = Expect { iss: Some("me".into()), aud: Some("b".into()) };
        let checks = run_checks(&t, None, None, "s", &expect, now);
        assert_eq!(
            checks.iter().map(|c| c.name).collect::<Vec<_>>(),
            ["kid", "alg", "signature", "exp", "nbf", "iss", "aud"]
        );
        assert_eq!(names_failed(&checks), ["kid", "alg", "signature"], "no key: the first three fail");
        assert!(!aud_check(&t, "c").ok && aud_check(&token(json!({}), json!({"aud": "c"})), "c").ok);
        assert!(!iss_check(&t, "you").ok && !iss_check(&token(json!({}), json!({})), "me").ok);
    }

    #[test]
    fn kid_says_what_the_key_directory_knows() {
        let t = token(json!({"alg": "ES256", "kid": "k"}), json!({}));
        let kid = |known: Option<&KeyFacts>| kid_check(&t, None, known, "out/public/jwks.json").detail;
        assert_eq!(
            kid(Some(&facts(State::Revoked, Use::Sig))),
            "key `k` of set . is revoked since 2025-12-31T23:59:55Z"
        );
        assert!(kid(Some(&facts(State::Expired, Use::Sig))).ends_with("is expired since 2025-12-31T23:59:51Z"));
        assert!(
            kid(Some(&facts(State::Current, Use::Enc))).contains("is an encryption key of set . (use enc, alg ES256)")
        );
        assert!(
            kid(Some(&facts(State::Next, Use::Sig))).contains("is next but out/public/jwks.json does not publish it")
        );
        assert!(kid(None).contains("no key `k` is published in out/public/jwks.json"));
        let no_kid = token(json!({"alg": "ES256"}), json!({}));
        assert!(!kid_check(&no_kid, None, None, "s").ok);
    }

    #[test]
    fn alg_refuses_none_and_encryption_algs() {
        for alg in ["none", "HS256", "RSA-OAEP-256"] {
            let t = token(json!({"alg": alg, "kid": "k"}), json!({}));
            let check = alg_check(&t, None, Some(&facts(State::Current, Use::Sig)));
            assert!(!check.ok && check.detail.contains("is not a signature algorithm"), "{alg}: {check:?}");
        }
        let t = token(json!({"kid": "k"}), json!({}));
        assert_eq!(alg_check(&t, None, None).detail, "the header has no alg");
    }
}
