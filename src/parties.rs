//! The relying-party lints of `check`: for each party a set lists in `relying_parties`, the
//! limits that party documents, each broken rule one warning line naming the set, the party and
//! the rule. Rules about signing keys say nothing of encryption keys. Pure: a set and its planned
//! `jwks.json` in, warnings out.

use serde_json::Value;

use crate::config::KidStrategy;
use crate::issuer::RelyingParty;
use crate::model::KeySet;

/// The JWK members Google's workload identity federation accepts (an uploaded `jwksJson` too).
const GCP_MEMBERS: [&str; 9] = ["kty", "alg", "use", "kid", "n", "e", "x", "y", "crv"];

/// The most keys an AWS IAM OIDC provider reads from a JWK Set.
const AWS_MAX_KEYS: usize = 100;

/// How many kids a warning names before it says how many more there are.
const NAMED: usize = 5;

/// Every relying-party warning of a set.
pub(crate) fn lint_parties(set: &KeySet, jwks: &Value) -> Vec<String> {
    let keys: Vec<&Value> = jwks["keys"].as_array().map(|k| k.iter().collect()).unwrap_or_default();
    let mut out = Vec::new();
    for &party in &set.config.relying_parties {
        for (rule, problem) in broken_rules(party, set, &keys) {
            out.push(format!("set {}: relying party {}: {rule}: {problem}", set.display_path(), party.name()));
        }
    }
    out
}

/// The rules of `party` that the set breaks: (rule, what is wrong and what to do).
fn broken_rules(party: RelyingParty, set: &KeySet, keys: &[&Value]) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut rule = |name: &'static str, problem: Option<String>| out.extend(problem.map(|p| (name, p)));
    match party {
        RelyingParty::Aws => {
            rule("issuer set and https", https_issuer(set, "AWS IAM OIDC providers"));
            rule(
                "at most 100 keys in jwks.json",
                (keys.len() > AWS_MAX_KEYS).then(|| {
                    format!(
                        "jwks.json has {} keys, and AWS reads at most {AWS_MAX_KEYS}; run `jwksmith prune`, shorten verify_for or use fewer specs",
                        keys.len()
                    )
                }),
            );
        }
        RelyingParty::Entra => {
            rule("issuer set and https", https_issuer(set, "Microsoft Entra"));
            let bad = kids(signing(keys).filter(|k| !alg(k).starts_with("RS") && !alg(k).starts_with("PS")));
            rule(
                "signing algs only RS256/384/512 or PS256/384/512",
                bad.map(|kids| {
                    format!("{kids}; Entra refuses other signatures (ES* included): use an RSA signing spec")
                }),
            );
        }
        RelyingParty::Gcp => rule("JWK members only kty, alg, use, kid, n, e, x, y, crv", gcp_members(keys)),
        RelyingParty::Kubernetes => {
            rule("issuer set and https", https_issuer(set, "Kubernetes service-account issuers"));
            rule("kid = \"spki-sha256\"", spki_kids(set, keys));
            let bad = kids(signing(keys).filter(|k| k["kty"] == "RSA" && alg(k) != "RS256"));
            rule(
                "RSA signing keys use RS256",
                bad.map(|kids| {
                    format!("{kids}; kube-apiserver signs with RSA keys as RS256 only: set alg = \"RS256\"")
                }),
            );
        }
        RelyingParty::GoogleOauthJava => {
            let bad = kids(keys.iter().copied().filter(|k| !matches!(alg(k), "RS256" | "ES256")));
            rule(
                "every key has alg RS256 or ES256",
                bad.map(|kids| {
                    format!(
                        "{kids}; google-oauth-java-client rejects the whole set for one such key: remove their specs"
                    )
                }),
            );
        }
    }
    out
}

fn alg(key: &Value) -> &str {
    key["alg"].as_str().unwrap_or("(none)")
}

fn signing<'a>(keys: &'a [&'a Value]) -> impl Iterator<Item = &'a Value> + 'a {
    keys.iter().copied().filter(|k| k["use"] == "sig")
}

/// `key <kid> has alg <alg>`, or `keys a (RS384), b (ES256)`: `None` when there are none.
fn kids<'a>(keys: impl Iterator<Item = &'a Value>) -> Option<String> {
    let named: Vec<String> =
        keys.map(|k| format!("{} ({})", k["kid"].as_str().unwrap_or("(no kid)"), alg(k))).collect();
    match named.len() {
        0 => None,
        1 => Some(format!("key {} has that alg", named[0])),
        n if n <= NAMED => Some(format!("keys {} have those algs", named.join(", "))),
        n => Some(format!("keys {} and {} more have those algs", named[..NAMED].join(", "), n - NAMED)),
    }
}

fn https_issuer(set: &KeySet, who: &str) -> Option<String> {
    let issuer = set.config.issuer.as_str();
    if issuer.is_empty() {
        Some(format!(
            "`issuer` is not set; {who} discover keys through an https:// issuer's .well-known/openid-configuration: set `issuer` in keyset.toml"
        ))
    } else if !issuer.starts_with("https://") {
        Some(format!("issuer {issuer} is not https://; {who} accept only https:// issuers"))
    } else {
        None
    }
}

fn gcp_members(keys: &[&Value]) -> Option<String> {
    let mut extra: Vec<&str> = keys
        .iter()
        .filter_map(|k| k.as_object())
        .flat_map(|k| k.keys().map(String::as_str))
        .filter(|m| !GCP_MEMBERS.contains(m))
        .collect();
    extra.sort_unstable();
    extra.dedup();
    (!extra.is_empty()).then(|| {
        format!(
            "jwks.json has {}; Google's workload identity federation refuses any other member (set x5c = false)",
            extra.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
        )
    })
}

/// The kid rule: keyset.toml names new keys by their SPKI SHA-256, and every signing key's kid
/// is that hash (the kid kube-apiserver puts in the tokens it signs).
fn spki_kids(set: &KeySet, keys: &[&Value]) -> Option<String> {
    let mut problems = Vec::new();
    if set.config.kid != KidStrategy::SpkiSha256 {
        problems.push("keyset.toml does not set kid = \"spki-sha256\"".to_string());
    }
    let other: Vec<&str> = signing(keys)
        .filter_map(|k| k["kid"].as_str())
        .filter(|kid| set.key(kid).is_some_and(|key| key.material.public.spki_sha256() != *kid))
        .collect();
    if !other.is_empty() {
        let more = other.len().saturating_sub(NAMED);
        let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
        problems.push(format!(
            "the kid of signing key{} {}{tail} is not the base64url SHA-256 of its DER SPKI",
            if other.len() == 1 { "" } else { "s" },
            other[..other.len().min(NAMED)].join(", ")
        ));
    }
    (!problems.is_empty()).then(|| {
        format!(
            "{}; kube-apiserver puts that hash in the kid of the tokens it signs, so verifiers find no key by the published kid",
            problems.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeysetConfig;
    use serde_json::json;

    fn set(issuer: &str, party: RelyingParty) -> KeySet {
        let config = KeysetConfig {
            issuer: issuer.into(),
            relying_parties: vec![party],
            kid: KidStrategy::SpkiSha256,
            ..KeysetConfig::default()
        };
        KeySet {
            path: "t".into(),
            dir: "keys/t".into(),
            config,
            config_file: None,
            keys: Vec::new(),
            unfinished: Vec::new(),
        }
    }

    fn rsa(kid: &str, key_use: &str, alg: &str) -> Value {
        json!({"kty": "RSA", "kid": kid, "use": key_use, "alg": alg, "n": "AQAB", "e": "AQAB"})
    }

    fn ec(kid: &str, key_use: &str, alg: &str) -> Value {
        json!({"kty": "EC", "kid": kid, "use": key_use, "alg": alg, "crv": "P-256", "x": "x", "y": "y"})
    }

    fn warnings(set: &KeySet, keys: Vec<Value>) -> Vec<String> {
        lint_parties(set, &json!({ "keys": keys }))
    }

    /// The warnings of `keys` for `party`, asserting there is exactly one, naming the rule.
    fn one(set: &KeySet, keys: Vec<Value>, rule: &str) -> String {
        let w = warnings(set, keys);
        assert_eq!(w.len(), 1, "{w:?}");
        let prefix = format!("set t: relying party {}: {rule}: ", set.config.relying_parties[0].name());
        assert!(w[0].starts_with(&prefix), "{prefix}\n{}", w[0]);
        w[0].clone()
    }

    const HTTPS: &str = "https://k.example/t";

    #[test]
    fn aws_wants_an_https_issuer_and_at_most_100_keys() {
        let good = set(HTTPS, RelyingParty::Aws);
        let hundred: Vec<Value> = (0..100).map(|i| rsa(&format!("k{i}"), "sig", "RS256")).collect();
        assert!(warnings(&good, hundred.clone()).is_empty());
        let mut many = hundred.clone();
        many.push(ec("e", "enc", "ECDH-ES"));
        assert!(one(&good, many, "at most 100 keys in jwks.json").contains("101 keys"));
        one(&set("", RelyingParty::Aws), vec![], "issuer set and https");
        one(&set("http://127.0.0.1:8080", RelyingParty::Aws), vec![], "issuer set and https");
    }

    #[test]
    fn entra_wants_an_https_issuer_and_rsa_signatures() {
        let good = set(HTTPS, RelyingParty::Entra);
        let ok = vec![rsa("a", "sig", "RS256"), rsa("b", "sig", "PS512"), ec("e", "enc", "ECDH-ES")];
        assert!(warnings(&good, ok).is_empty(), "encryption keys are not signing keys");
        let w = one(
            &good,
            vec![rsa("a", "sig", "RS256"), ec("b", "sig", "ES256")],
            "signing algs only RS256/384/512 or PS256/384/512",
        );
        assert!(w.contains("b (ES256)"), "{w}");
        one(&set("", RelyingParty::Entra), vec![], "issuer set and https");
    }

    #[test]
    fn gcp_wants_only_the_plain_members() {
        let good = set("", RelyingParty::Gcp);
        assert!(
            warnings(&good, vec![rsa("a", "sig", "RS256"), ec("b", "enc", "ECDH-ES")]).is_empty(),
            "no issuer needed"
        );
        let mut with_x5c = rsa("a", "sig", "RS256");
        with_x5c["x5c"] = json!(["MIIB"]);
        with_x5c["x5t#S256"] = json!("t");
        let w = one(&good, vec![with_x5c], "JWK members only kty, alg, use, kid, n, e, x, y, crv");
        assert!(w.contains("`x5c`, `x5t#S256`"), "{w}");
    }

    #[test]
    fn kubernetes_wants_https_spki_kids_and_rs256() {
        let good = set(HTTPS, RelyingParty::Kubernetes);
        assert!(
            warnings(&good, vec![rsa("a", "sig", "RS256"), ec("b", "sig", "ES256"), rsa("c", "enc", "RSA-OAEP")])
                .is_empty()
        );
        let w = one(&good, vec![rsa("a", "sig", "RS384")], "RSA signing keys use RS256");
        assert!(w.contains("a (RS384)"), "{w}");
        one(&set("", RelyingParty::Kubernetes), vec![], "issuer set and https");
        let mut sequence = set(HTTPS, RelyingParty::Kubernetes);
        sequence.config.kid = KidStrategy::Sequence;
        let w = one(&sequence, vec![], "kid = \"spki-sha256\"");
        assert!(w.contains("kid = \"spki-sha256\""), "{w}");
    }

    #[test]
    fn google_oauth_java_wants_rs256_or_es256_on_every_key() {
        let good = set("", RelyingParty::GoogleOauthJava);
        assert!(warnings(&good, vec![rsa("a", "sig", "RS256"), ec("b", "sig", "ES256")]).is_empty());
        let w = one(
            &good,
            vec![rsa("a", "sig", "RS256"), rsa("b", "enc", "RSA-OAEP-256"), ec("c", "enc", "ECDH-ES")],
            "every key has alg RS256 or ES256",
        );
        assert!(w.contains("keys b (RSA-OAEP-256), c (ECDH-ES)"), "encryption keys count here: {w}");
    }

    #[test]
    fn long_lists_are_cut() {
        let keys: Vec<Value> = (0..8).map(|i| rsa(&format!("k{i}"), "enc", "RSA-OAEP")).collect();
        let w = one(&set("", RelyingParty::GoogleOauthJava), keys, "every key has alg RS256 or ES256");
        assert!(w.contains("k4 (RSA-OAEP) and 3 more"), "{w}");
    }
}
