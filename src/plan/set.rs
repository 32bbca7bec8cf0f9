//! One set's files: the model and `now` in; its public JSON files, discovery document, mirrors
//! and private files out. Pure.

use std::cmp::Reverse;

use crate::jose::Use;
use crate::layout::{OutputFile, set_prefix};
use crate::model::{Key, KeySet};
use crate::shapes::{JwkSet, is_jwt_key, json_bytes, jwt_key, private_jwk, public_jwk};
use crate::times::Timestamp;

/// Options that change the output bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlanOptions {
    /// `--pretty`: indent every JSON file whatever keyset.toml says.
    pub force_pretty: bool,
}

/// The keys of `jwks.json` in publication order: current keys (signing keys first, whatever the
/// spec order, so that a client reading only `keys[0]` gets a signing key; each group in spec
/// order), then next, then previous.
pub(crate) fn published_keys(set: &KeySet, now: Timestamp) -> Vec<&Key> {
    let mut keys: Vec<&Key> = set.keys.iter().filter(|k| k.state(now).is_active()).collect();
    keys.sort_by_key(|k| {
        let t = k.meta.times();
        let state = k.state(now);
        (
            state.publish_rank(),
            state == crate::lifecycle::State::Current && k.meta.key_use != Use::Sig,
            set.config.spec_rank(k.meta.spec.as_deref()),
            Reverse(t.activates.or(t.created).unwrap_or(Timestamp::EPOCH)),
            k.meta.kid.clone(),
        )
    });
    keys
}

/// The current key of a spec at `now` (the most recently activated, should there be two).
pub(crate) fn current_of_spec<'a>(set: &'a KeySet, spec: &'a str, now: Timestamp) -> Option<&'a Key> {
    set.keys_of_spec(spec)
        .filter(|k| k.state(now) == crate::lifecycle::State::Current)
        .max_by_key(|k| (k.meta.activates, k.meta.kid.clone()))
}

/// Every file of one set: public JSON files, discovery, mirrors, private files.
pub fn plan_set(set: &KeySet, now: Timestamp, options: PlanOptions) -> Vec<OutputFile> {
    let pretty = options.force_pretty || set.config.pretty;
    let x5c = set.config.x5c;
    let prefix = set_prefix(&set.path);
    let public =
        |name: &str, bytes: Vec<u8>| OutputFile { path: format!("public/{prefix}{name}"), bytes, private: false };
    let published = published_keys(set, now);

    let jwks = json_bytes(&JwkSet { keys: published.iter().map(|k| public_jwk(k, x5c)).collect() }, pretty);
    let project_id = set.project_id();
    let mut listed: Vec<&Key> = set.keys.iter().filter(|k| is_jwt_key(k) && k.state(now).is_listed()).collect();
    listed.sort_by_key(|k| (Reverse(k.meta.times().create_time()), k.meta.kid.clone()));
    let entries: Vec<_> = listed.iter().map(|k| jwt_key(k, &project_id, now)).collect();
    let active: Vec<_> = entries.iter().filter(|e| e.active).cloned().collect();
    let jwt_keys = json_bytes(&entries, pretty);

    let mut files = vec![
        public("jwks.json", jwks.clone()),
        public(".well-known/jwks.json", jwks.clone()),
        public("jwt-keys.json", jwt_keys.clone()),
        public("jwt-keys.active.json", json_bytes(&active, pretty)),
    ];
    if !set.config.issuer.is_empty() {
        files.push(public(".well-known/openid-configuration", super::discovery::document(set, &published, pretty)));
    }
    if set.config.api_mirrors {
        let root = |path: String, bytes: Vec<u8>| OutputFile { path, bytes, private: false };
        files.push(root(format!("public/api/{}/service/jwks/get", set.config.service_id), jwks));
        files.push(root(format!("public/projects/{project_id}/jwt-keys"), jwt_keys));
    }
    files.extend(plan_private(set, &published, now, pretty));
    files
}

fn plan_private(set: &KeySet, published: &[&Key], now: Timestamp, pretty: bool) -> Vec<OutputFile> {
    let prefix = set_prefix(&set.path);
    let private =
        |name: &str, bytes: Vec<u8>| OutputFile { path: format!("private/{prefix}{name}"), bytes, private: true };
    let keys = published.iter().filter_map(|k| private_jwk(k, set.config.x5c)).collect();
    // Every signing key of jwks.json, in its order: what a signer that verifies its own tokens
    // (kube-apiserver's --service-account-key-file) reads.
    let verify: String =
        published.iter().filter(|k| k.meta.key_use == Use::Sig).map(|k| k.material.public.spki_pem_ref()).collect();
    let mut files =
        vec![private("jwks.json", json_bytes(&JwkSet { keys }, pretty)), private("verify.pem", verify.into_bytes())];
    for spec in &set.config.keys {
        if let Some(pem) = current_of_spec(set, &spec.spec, now).and_then(|k| k.material.pkcs8_pem()) {
            files.push(private(&format!("{}.pem", spec.spec), pem.into_bytes()));
        }
    }
    files
}
