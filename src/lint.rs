//! Lints for `check`: client pitfalls in what a set publishes (each a known bug in a popular
//! client), timings that cannot work, rotations coming due, and the limits of the relying parties
//! a set lists ([`crate::parties`]). Pure: a set, its planned `jwks.json` and `now` in,
//! warnings out.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::Value;

use crate::lifecycle::State;
use crate::model::KeySet;
use crate::rotation::{Coming, coming};
use crate::times::Timestamp;

/// 2031-01-01T00:00:00Z: NIST SP 800-131A disallows 112-bit security (RSA-2048) after 2030.
const RSA_2048_SUNSET: i64 = 1_924_992_000;

/// Every warning for one set.
pub(crate) fn lint_set(set: &KeySet, jwks: &Value, now: Timestamp) -> Vec<String> {
    let mut out = lint_jwks(set.display_path(), jwks);
    out.extend(lint_timings(set, now));
    out.extend(crate::parties::lint_parties(set, jwks));
    out
}

/// Client pitfalls in a published JWK Set.
pub(crate) fn lint_jwks(name: &str, jwks: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let keys: Vec<&Value> = jwks["keys"].as_array().map(|k| k.iter().collect()).unwrap_or_default();
    let mut seen = BTreeSet::new();
    for key in &keys {
        let kid = key["kid"].as_str().unwrap_or("(no kid)");
        let warn = |out: &mut Vec<String>, what: String| out.push(format!("set {name}: key {kid}: {what}"));
        for member in ["kid", "use", "alg"] {
            if key[member].as_str().is_none_or(str::is_empty) {
                warn(
                    &mut out,
                    format!(
                        "has no `{member}`; clients that select keys by {member} (jose, jwks-rsa, PyJWT) skip or reject it"
                    ),
                );
            }
        }
        if !seen.insert(kid.to_string()) {
            warn(&mut out, "kid appears twice; kid lookups (jwks-rsa, PyJWKClient) pick either key".into());
        }
        match key["kty"].as_str() {
            Some("RSA") | Some("EC") => {}
            other => warn(
                &mut out,
                format!(
                    "kty {other:?} is not RSA or EC; one unknown kty makes some clients (older jwks-rsa, go-jose) reject the whole set"
                ),
            ),
        }
        lint_x5c(key, &mut |w| warn(&mut out, w));
    }
    let uses: Vec<Option<&str>> = keys.iter().map(|k| k["use"].as_str()).collect();
    if uses.first().is_some_and(|u| *u != Some("sig")) && uses.contains(&Some("sig")) {
        out.push(format!(
            "set {name}: the first key of jwks.json is not a signing key; clients that read only keys[0] (naive middleware, some API gateways) verify with the wrong key"
        ));
    }
    if !uses.contains(&Some("sig")) {
        out.push(format!(
            "set {name}: jwks.json has no signing key; token verifiers will find no key (run `jwksmith rotate` to make one, or add a signing spec)"
        ));
    }
    out
}

fn lint_x5c(key: &Value, warn: &mut dyn FnMut(String)) {
    let Some(chain) = key.get("x5c") else { return };
    let standard = chain.as_array().is_some_and(|certs| {
        !certs.is_empty()
            && certs
                .iter()
                .all(|c| c.as_str().is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok()))
    });
    if !standard {
        warn("x5c is not an array of standard base64 certificates; Java and .NET clients fail to parse it".into());
    }
    let beside = match key["kty"].as_str() {
        Some("RSA") => key.get("n").is_some() && key.get("e").is_some(),
        _ => key.get("x").is_some() && key.get("y").is_some(),
    };
    if !beside {
        warn("x5c without the key's own members; clients that read only n/e or x/y (jose) cannot use it".into());
    }
}

/// The warning of a rotation that is overdue: the spec's current key is older than
/// `rotate_every`. `build`, `status` and `check` print it.
pub(crate) fn overdue_warning(name: &str, c: &Coming, rotate_every: crate::times::Span) -> String {
    format!(
        "set {name}: spec `{}`: rotation overdue: its current key {} is older than rotate_every ({rotate_every}) since {}; run `jwksmith rotate --if-due` now",
        c.spec, c.kid, c.overdue_at
    )
}

/// The overdue-rotation warnings of a set at `now` (for `build` and `status`).
pub(crate) fn overdue_warnings(set: &KeySet, now: Timestamp) -> Vec<String> {
    let every = set.config.rotation.rotate_every;
    coming(set, now)
        .iter()
        .filter(|c| c.is_overdue(now))
        .map(|c| overdue_warning(set.display_path(), c, every))
        .collect()
}

fn lint_timings(set: &KeySet, now: Timestamp) -> Vec<String> {
    let name = set.display_path();
    let r = set.config.rotation;
    let mut out = Vec::new();
    if r.verify_for < r.cache_max_age {
        out.push(format!(
            "set {name}: verify_for ({}) is shorter than cache_max_age ({}); clients with a cached jwks.json may lack the retiring key",
            r.verify_for, r.cache_max_age
        ));
    }
    for spec in &set.config.keys {
        let mut keys = set.keys_of_spec(&spec.spec).map(|k| k.state(now)).peekable();
        if keys.peek().is_some() && !keys.any(|s| matches!(s, State::Current | State::Next)) {
            out.push(format!(
                "set {name}: spec `{}` has no current key (is due for rotation at {now}); run `jwksmith rotate --if-due`",
                spec.spec
            ));
        }
    }
    for c in coming(set, now) {
        if c.is_overdue(now) {
            out.push(overdue_warning(name, &c, r.rotate_every));
        } else if c.at <= now.plus(r.publish_ahead) {
            out.push(format!(
                "set {name}: spec `{}` is due for rotation at {}; run `jwksmith rotate --if-due`",
                c.spec, c.at
            ));
        }
    }
    for spec in &set.config.keys {
        let current: Vec<&str> =
            set.keys_of_spec(&spec.spec).filter(|k| k.state(now) == State::Current).map(|k| k.kid()).collect();
        if current.len() > 1 {
            out.push(format!(
                "set {name}: spec `{}` has {} current keys ({}); a spec signs with one: run `jwksmith revoke` on the extra ones, or give them a `retires` time",
                spec.spec,
                current.len(),
                current.join(", ")
            ));
        }
    }
    for key in set.keys.iter().filter(|k| k.state(now).is_active()) {
        let bits = key.material.public.rsa_bits().unwrap_or(0);
        let lives_past = key.meta.retires.is_none_or(|t| t.unix() >= RSA_2048_SUNSET);
        if (1..3072).contains(&bits) && lives_past && now.plus(r.rotate_every).unix() >= RSA_2048_SUNSET {
            out.push(format!(
                "set {name}: key {}: notice: RSA-{bits} is disallowed after 2030 by NIST SP 800-131A; use size = 3072 for new keys",
                key.kid()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn x5c_warnings(key: Value) -> Vec<String> {
        let mut out = Vec::new();
        lint_x5c(&key, &mut |w| out.push(w));
        out
    }

    fn one(jwks: Value, needle: &str) {
        let warnings = lint_jwks(".", &jwks);
        assert!(warnings.iter().any(|w| w.contains(needle)), "{needle}: {warnings:?}");
    }

    #[test]
    fn each_client_pitfall_is_named() {
        let good = json!({"kty": "EC", "kid": "a", "use": "sig", "alg": "ES256", "crv": "P-256", "x": "x", "y": "y"});
        assert!(lint_jwks(".", &json!({"keys": [good.clone()]})).is_empty());
        for member in ["kid", "use", "alg"] {
            let mut key = good.clone();
            key.as_object_mut().unwrap().remove(member);
            one(json!({"keys": [key]}), &format!("has no `{member}`"));
        }
        one(json!({"keys": [good.clone(), good.clone()]}), "kid appears twice");
        one(
            json!({"keys": [good.clone(), {"kty": "oct", "kid": "h", "use": "sig", "alg": "HS256", "k": "AA"}]}),
            "not RSA or EC",
        );
        let enc = json!({"kty": "EC", "kid": "e", "use": "enc", "alg": "ECDH-ES", "crv": "P-256", "x": "x", "y": "y"});
        one(json!({"keys": [enc.clone(), good]}), "keys[0]");
        one(json!({"keys": [enc]}), "no signing key");
    }

    #[test]
    fn x5c_must_be_standard_base64_beside_the_key() {
        assert!(x5c_warnings(json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "x5c": ["MIIB"]})).is_empty());
        assert_eq!(x5c_warnings(json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "x5c": ["MI-_"]})).len(), 1);
        assert_eq!(x5c_warnings(json!({"kty": "RSA", "x5c": ["MIIB"]})).len(), 1);
    }
}
