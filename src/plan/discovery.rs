//! `.well-known/openid-configuration`: the OpenID Provider Metadata of a set with an `issuer`,
//! for a JWT issuer without interactive login. Pure.

use std::collections::BTreeSet;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;

use crate::jose::Use;
use crate::model::{Key, KeySet};
use crate::shapes::json_bytes;

/// Members in document order.
struct Document(Vec<(String, Value)>);

impl Serialize for Document {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The document's members: `issuer` (as written), `jwks_uri`, `response_types_supported`,
/// `subject_types_supported`, `id_token_signing_alg_values_supported` (the sorted, distinct algs
/// of the signing keys of `jwks.json`, given as `published`), then `[discovery]`: a member named
/// like one above replaces it in place, the others follow sorted by name.
pub(super) fn members(set: &KeySet, published: &[&Key]) -> Vec<(String, Value)> {
    let issuer = set.config.issuer.as_str();
    let mut members: Vec<(String, Value)> = vec![
        ("issuer".into(), issuer.into()),
        ("jwks_uri".into(), format!("{}/jwks.json", issuer.trim_end_matches('/')).into()),
        ("response_types_supported".into(), Value::from(vec!["id_token"])),
        ("subject_types_supported".into(), Value::from(vec!["public"])),
        ("id_token_signing_alg_values_supported".into(), Value::from(signing_algs(published))),
    ];
    let mut extra: Vec<&(String, Value)> = set.config.discovery.iter().collect();
    extra.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in extra {
        match members.iter_mut().find(|(n, _)| n == name) {
            Some(member) => member.1 = value.clone(),
            None => members.push((name.clone(), value.clone())),
        }
    }
    members
}

/// The sorted, distinct algs of the signing keys among `published` (the keys of `jwks.json`):
/// the document's `id_token_signing_alg_values_supported`.
pub(crate) fn signing_algs(published: &[&Key]) -> Vec<&'static str> {
    let algs: BTreeSet<&'static str> =
        published.iter().filter(|k| k.meta.key_use == Use::Sig).map(|k| k.meta.alg.name()).collect();
    algs.into_iter().collect()
}

/// The document's bytes.
pub(super) fn document(set: &KeySet, published: &[&Key], pretty: bool) -> Vec<u8> {
    members_bytes(members(set, published), pretty)
}

/// The JSON bytes of an object with these members, in this order (serve's local issuer writes
/// its documents with it too).
pub(crate) fn members_bytes(members: Vec<(String, Value)>, pretty: bool) -> Vec<u8> {
    json_bytes(&Document(members), pretty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeysetConfig;

    fn set(issuer: &str, discovery: &[(&str, Value)]) -> KeySet {
        let discovery = discovery.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
        let config = KeysetConfig { issuer: issuer.into(), discovery, ..KeysetConfig::default() };
        KeySet {
            path: "tenants/acme".into(),
            dir: "keys".into(),
            config,
            config_file: None,
            keys: Vec::new(),
            unfinished: Vec::new(),
        }
    }

    fn names(members: &[(String, Value)]) -> Vec<&str> {
        members.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn the_issuer_is_kept_as_written_and_jwks_uri_sits_beside_it() {
        for (issuer, uri) in [
            ("https://k.example/tenants/acme", "https://k.example/tenants/acme/jwks.json"),
            ("https://k.example/tenants/acme/", "https://k.example/tenants/acme/jwks.json"),
            ("https://acme.example", "https://acme.example/jwks.json"),
        ] {
            let m = members(&set(issuer, &[]), &[]);
            assert_eq!(m[0], ("issuer".into(), issuer.into()));
            assert_eq!(m[1], ("jwks_uri".into(), uri.into()));
        }
        let m = members(&set("https://a", &[]), &[]);
        assert_eq!(
            names(&m),
            [
                "issuer",
                "jwks_uri",
                "response_types_supported",
                "subject_types_supported",
                "id_token_signing_alg_values_supported"
            ]
        );
        assert_eq!(m[2].1, serde_json::json!(["id_token"]));
        assert_eq!(m[3].1, serde_json::json!(["public"]));
        assert_eq!(m[4].1, serde_json::json!([]));
    }

    #[test]
    fn discovery_members_replace_in_place_or_follow_sorted() {
        let extra = [
            ("token_endpoint", Value::from("https://t")),
            ("subject_types_supported", serde_json::json!(["pairwise"])),
            ("authorization_endpoint", Value::from("urn:x")),
        ];
        let m = members(&set("https://a", &extra), &[]);
        assert_eq!(
            names(&m),
            [
                "issuer",
                "jwks_uri",
                "response_types_supported",
                "subject_types_supported",
                "id_token_signing_alg_values_supported",
                "authorization_endpoint",
                "token_endpoint"
            ]
        );
        assert_eq!(m[3].1, serde_json::json!(["pairwise"]));
        let bytes = document(&set("https://a", &extra), &[], false);
        assert!(bytes.starts_with(b"{\"issuer\":\"https://a\",\"jwks_uri\":\"https://a/jwks.json\""));
    }
}
