//! A set's issuer in `keyset.toml`: the `issuer` URL (https, or http on a loopback host), the
//! `relying_parties` that `check` lints for, and the extra members of the discovery document
//! (`[discovery]`). Pure: validation of parsed values, and where the document must be served.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Deserialize;
use serde_json::Value;

use crate::model::KeySet;

/// A relying party whose documented limits `check` lints a set for (`relying_parties`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RelyingParty {
    /// AWS IAM OIDC providers (IRSA, AssumeRoleWithWebIdentity).
    Aws,
    /// Microsoft Entra workload identity federation.
    Entra,
    /// Google Cloud workload identity federation (an uploaded `jwksJson` included).
    Gcp,
    /// A self-hosted Kubernetes service-account issuer.
    Kubernetes,
    /// google-oauth-java-client.
    GoogleOauthJava,
}

impl RelyingParty {
    /// The name as `relying_parties` spells it.
    pub fn name(self) -> &'static str {
        match self {
            RelyingParty::Aws => "aws",
            RelyingParty::Entra => "entra",
            RelyingParty::Gcp => "gcp",
            RelyingParty::Kubernetes => "kubernetes",
            RelyingParty::GoogleOauthJava => "google-oauth-java",
        }
    }
}

/// The parties as listed, each once.
pub(crate) fn distinct(mut parties: Vec<RelyingParty>) -> Vec<RelyingParty> {
    let mut seen = std::collections::HashSet::new();
    parties.retain(|p| seen.insert(*p));
    parties
}

/// Why an `issuer` is refused, or `None` when it is an absolute `https://` URL with a host and
/// no query or fragment (or `http://` on a loopback host). The empty string is no issuer.
pub(crate) fn issuer_problem(issuer: &str) -> Option<String> {
    if issuer.is_empty() {
        return None;
    }
    const FIX: &str =
        "write the absolute URL at which this set's directory is served, such as https://keys.example.com/tenants/acme";
    let (https, rest) = match (issuer.strip_prefix("https://"), issuer.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return Some(format!("`{issuer}` is not an https:// URL; {FIX}")),
    };
    if issuer.contains(['?', '#']) {
        return Some(format!("`{issuer}` has a query or a fragment, which an issuer must not have; {FIX}"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Some(format!("`{issuer}` holds a user name or password, which an issuer must not have; {FIX}"));
    }
    if authority.is_empty() || authority.starts_with(':') {
        return Some(format!("`{issuer}` has no host; {FIX}"));
    }
    let uri = match issuer.parse::<http::Uri>() {
        Ok(uri) => uri,
        Err(e) => return Some(format!("`{issuer}` is not a valid URL ({e}); {FIX}")),
    };
    let host = uri.host().unwrap_or_default();
    if !https && !is_loopback(host) {
        return Some(format!(
            "`{issuer}` is http://, which is accepted only for a loopback host (127.0.0.0/8, localhost, [::1]) in local development; relying parties fetch an issuer over https://"
        ));
    }
    None
}

/// True for `localhost`, an address in 127.0.0.0/8 and `[::1]`.
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback());
    }
    host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

/// The members of `[discovery]` as JSON, sorted by name; a TOML datetime becomes its string.
/// Fails on a value JSON cannot hold (a float that is not finite).
pub(crate) fn discovery_members(table: toml::Table) -> Result<Vec<(String, Value)>, String> {
    let mut members = table
        .into_iter()
        .map(|(name, value)| json_of(value).map(|v| (name.clone(), v)).map_err(|e| format!("`{name}`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    members.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(members)
}

fn json_of(value: toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} is not a number JSON can hold"))?,
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(json_of).collect::<Result<_, _>>()?),
        toml::Value::Table(table) => {
            Value::Object(table.into_iter().map(|(k, v)| json_of(v).map(|v| (k, v))).collect::<Result<_, String>>()?)
        }
    })
}

/// Why a set's `[discovery]` is refused (field, problem): a member named `issuer`, or members in
/// a set without an issuer.
pub(crate) fn discovery_problem(issuer: &str, members: &[(String, Value)]) -> Option<(&'static str, String)> {
    if members.iter().any(|(name, _)| name == "issuer") {
        return Some((
            "[discovery] issuer",
            "the document's `issuer` is the top-level `issuer` field, exactly as written (tokens must carry the same string); remove it from [discovery]".into(),
        ));
    }
    if issuer.is_empty() && !members.is_empty() {
        let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        return Some((
            "[discovery]",
            format!(
                "has members ({}) but `issuer` is not set, so no discovery document is written; set `issuer`, or remove [discovery]",
                names.join(", ")
            ),
        ));
    }
    None
}

/// Where a set's directory must be served when its issuer's path does not end with its publish
/// path (a set deployed on a host of its own): a notice for `check`, or `None`.
pub(crate) fn serve_notice(set: &KeySet) -> Option<String> {
    let issuer = set.config.issuer.as_str();
    if issuer.is_empty() || set.path.is_empty() {
        return None;
    }
    let base = issuer.trim_end_matches('/');
    let after_scheme = base.split_once("://").map_or(base, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |at| &after_scheme[at..]);
    if path.ends_with(&format!("/{}", set.path)) {
        return None;
    }
    Some(format!(
        "set {}: issuer {issuer} does not end with the publish path {}: serve the set's directory (out/public/{}/) at the issuer, so that its discovery document is at {base}/.well-known/openid-configuration",
        set.display_path(),
        set.path,
        set.path
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_fields_parse() {
        let parse = |text: &str| crate::config::KeysetConfig::parse(text, std::path::Path::new("keys/keyset.toml"));
        let c = parse(
            "issuer = \"https://k.example/t\"\nrelying_parties = [\"gcp\", \"aws\", \"gcp\", \"google-oauth-java\"]\n[discovery]\ntoken_endpoint = \"https://t\"\nauthorization_endpoint = \"urn:x\"\n",
        )
        .unwrap();
        assert_eq!(c.relying_parties, [RelyingParty::Gcp, RelyingParty::Aws, RelyingParty::GoogleOauthJava]);
        let names: Vec<&str> = c.discovery.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["authorization_endpoint", "token_endpoint"]);
        assert!(parse("[discovery]\n").is_ok(), "an empty [discovery] needs no issuer");
        for (bad, needle) in [
            ("relying_parties = [\"okta\"]\n", "okta"),
            ("issuer = \"http://keys.example.com\"\n", "issuer"),
            ("issuer = \"https://a\"\n[discovery]\nissuer = \"https://b\"\n", "[discovery] issuer"),
            ("[discovery]\ntoken_endpoint = \"https://t\"\n", "[discovery]"),
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("keys/keyset.toml") && err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn https_issuers_are_accepted() {
        for ok in [
            "",
            "https://keys.example.com",
            "https://keys.example.com/",
            "https://keys.example.com/tenants/acme",
            "https://keys.example.com:8443/a/",
            "https://[2001:db8::1]/x",
            "http://127.0.0.1:8080",
            "http://127.3.4.5/tenants/acme",
            "http://localhost:3000/",
            "http://[::1]:9000/a",
        ] {
            assert_eq!(issuer_problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn other_issuers_are_refused() {
        for (bad, needle) in [
            ("keys.example.com", "not an https:// URL"),
            ("ftp://keys.example.com", "not an https:// URL"),
            ("HTTPS://keys.example.com", "not an https:// URL"),
            ("http://keys.example.com", "loopback"),
            ("http://128.0.0.1", "loopback"),
            ("http://localhost.example.com", "loopback"),
            ("http://[::2]", "loopback"),
            ("https://keys.example.com/?a=b", "query or a fragment"),
            ("https://keys.example.com/#top", "query or a fragment"),
            ("https://", "no host"),
            ("https:///path", "no host"),
            ("https://:443/x", "no host"),
            ("https://user:pw@keys.example.com", "user name or password"),
            ("https://keys example.com", "not a valid URL"),
        ] {
            let problem = issuer_problem(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(problem.contains(needle), "{bad}: {problem}");
        }
    }

    #[test]
    fn discovery_members_become_sorted_json() {
        let table: toml::Table = toml::from_str(
            "token_endpoint = \"https://t\"\nauthorization_endpoint = \"urn:x\"\nn = 1\nf = 1.5\nok = true\nlist = [\"a\", 2]\nwhen = 2026-01-01T00:00:00Z\n[nested]\nb = 1\na = 2\n",
        )
        .unwrap();
        let members = discovery_members(table).unwrap();
        let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["authorization_endpoint", "f", "list", "n", "nested", "ok", "token_endpoint", "when"]);
        let doc: serde_json::Map<String, Value> = members.into_iter().collect();
        assert_eq!(
            Value::Object(doc),
            serde_json::json!({"authorization_endpoint": "urn:x", "f": 1.5, "list": ["a", 2], "n": 1,
                "nested": {"a": 2, "b": 1}, "ok": true, "token_endpoint": "https://t", "when": "2026-01-01T00:00:00Z"})
        );
        let nan: toml::Table = toml::from_str("x = nan\n").unwrap();
        assert!(discovery_members(nan).unwrap_err().contains("`x`"));
    }

    #[test]
    fn discovery_needs_an_issuer_and_must_not_name_one() {
        let member = |n: &str| vec![(n.to_string(), Value::from("v"))];
        assert_eq!(discovery_problem("", &[]), None, "an empty table is not an error");
        assert_eq!(discovery_problem("https://a", &member("token_endpoint")), None);
        assert_eq!(discovery_problem("https://a", &member("issuer")).unwrap().0, "[discovery] issuer");
        let (field, problem) = discovery_problem("", &member("token_endpoint")).unwrap();
        assert_eq!(field, "[discovery]");
        assert!(problem.contains("token_endpoint") && problem.contains("`issuer` is not set"), "{problem}");
    }

    #[test]
    fn a_notice_says_where_a_set_must_be_served() {
        let set = |path: &str, issuer: &str| {
            let config = crate::config::KeysetConfig { issuer: issuer.into(), ..Default::default() };
            KeySet {
                path: path.into(),
                dir: "keys".into(),
                config,
                config_file: None,
                keys: Vec::new(),
                unfinished: Vec::new(),
            }
        };
        assert_eq!(serve_notice(&set("", "https://a.example")), None);
        assert_eq!(serve_notice(&set("tenants/acme", "")), None);
        assert_eq!(serve_notice(&set("tenants/acme", "https://k.example/tenants/acme")), None);
        assert_eq!(serve_notice(&set("tenants/acme", "https://k.example/x/tenants/acme/")), None);
        let notice = serve_notice(&set("tenants/acme", "https://acme.example/")).unwrap();
        assert!(notice.contains("https://acme.example/.well-known/openid-configuration"), "{notice}");
        assert!(notice.starts_with("set tenants/acme: "), "{notice}");
        assert!(serve_notice(&set("acme", "https://k.example/xacme")).is_some(), "whole segments");
        assert!(serve_notice(&set("tenants/acme", "https://tenants/acme")).is_some(), "a host is no path");
    }
}
