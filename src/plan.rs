//! The pure core: the model and `now` in, the complete list of output files out. No disk, no
//! clock: `build` writes this list, `check` compares it with the disk.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::keydir::{SetDir, config_of};
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

/// The keys of `jwks.json` in publication order: current (spec order), next, previous.
pub fn published_keys(set: &KeySet, now: Timestamp) -> Vec<&Key> {
    let mut keys: Vec<&Key> = set.keys.iter().filter(|k| k.state(now).is_active()).collect();
    keys.sort_by_key(|k| {
        let t = k.meta.times();
        (
            k.state(now).publish_rank(),
            set.config.spec_rank(k.meta.spec.as_deref()),
            Reverse(t.activates.or(t.created).unwrap_or(Timestamp::EPOCH)),
            k.meta.kid.clone(),
        )
    });
    keys
}

/// The current key of a spec at `now` (the most recently activated, should there be two).
pub fn current_of_spec<'a>(set: &'a KeySet, spec: &'a str, now: Timestamp) -> Option<&'a Key> {
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
        files.push(public(".well-known/openid-configuration", discovery(set, pretty)));
    }
    if set.config.api_mirrors {
        let root = |path: String, bytes: Vec<u8>| OutputFile { path, bytes, private: false };
        files.push(root(format!("public/api/{}/service/jwks/get", set.config.service_id), jwks));
        files.push(root(format!("public/projects/{project_id}/jwt-keys"), jwt_keys));
    }
    files.extend(plan_private(set, &published, now, pretty));
    files
}

fn discovery(set: &KeySet, pretty: bool) -> Vec<u8> {
    #[derive(Serialize)]
    struct Discovery<'a> {
        issuer: &'a str,
        jwks_uri: String,
    }
    let issuer = set.config.issuer.as_str();
    let base = issuer.trim_end_matches('/');
    json_bytes(&Discovery { issuer, jwks_uri: format!("{base}/{}jwks.json", set_prefix(&set.path)) }, pretty)
}

fn plan_private(set: &KeySet, published: &[&Key], now: Timestamp, pretty: bool) -> Vec<OutputFile> {
    let prefix = set_prefix(&set.path);
    let private =
        |name: &str, bytes: Vec<u8>| OutputFile { path: format!("private/{prefix}{name}"), bytes, private: true };
    let keys = published.iter().filter_map(|k| private_jwk(k, set.config.x5c)).collect();
    let mut files = vec![private("jwks.json", json_bytes(&JwkSet { keys }, pretty))];
    for spec in &set.config.keys {
        if let Some(pem) = current_of_spec(set, &spec.spec, now).and_then(|k| k.material.pkcs8_pem()) {
            files.push(private(&format!("{}.pem", spec.spec), pem.into_bytes()));
        }
    }
    files
}

/// What a set with `api_mirrors` on claims at the site root: its `service_id` and `project_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorClaim {
    /// The set's `service_id`.
    pub service_id: String,
    /// The set's project id.
    pub project_id: String,
    /// The set's `keyset.toml` (named in the error).
    pub file: PathBuf,
}

impl MirrorClaim {
    /// The claim of `set`, when its mirrors are on.
    pub fn of(set: &KeySet) -> Option<MirrorClaim> {
        set.config.api_mirrors.then(|| MirrorClaim {
            service_id: set.config.service_id.clone(),
            project_id: set.project_id(),
            file: set.config_file.clone().unwrap_or_else(|| set.dir.join("keyset.toml")),
        })
    }

    /// The claim of the set at `dir` from its policy alone (a set a `--set` build does not
    /// load still holds its mirror paths).
    pub fn of_dir(dir: &SetDir) -> Result<Option<MirrorClaim>> {
        let (config, file) = config_of(dir)?;
        let set = KeySet {
            path: dir.path.clone(),
            dir: dir.dir.clone(),
            config,
            config_file: file,
            keys: Vec::new(),
            unfinished: Vec::new(),
        };
        Ok(MirrorClaim::of(&set))
    }
}

/// Checks that no output is both a file and a directory of another output (a set published
/// under a path that another set's mirror file or `jwks.json` takes): the error names both,
/// before anything is written. `outputs` pairs each path (relative to `out/`) with what writes
/// it (`set tenants/acme`).
pub fn check_collisions<'a>(outputs: impl Iterator<Item = (&'a str, &'a str)>) -> Result<()> {
    let files: HashMap<&str, &str> = outputs.collect();
    let mut paths: Vec<(&&str, &&str)> = files.iter().collect();
    paths.sort_unstable();
    for (path, owner) in paths {
        if let Some((file, by)) = crate::layout::parents(path).find_map(|dir| files.get_key_value(dir)) {
            return Err(Error::Failed(format!(
                "out/{file} would be a file of {by} and a directory of {owner} (for out/{path}); move or rename one of the sets' directories, or change the service_id / project_id of the one with api_mirrors"
            )));
        }
    }
    Ok(())
}

/// What writes an output, for [`check_collisions`]: `set <publish path>` (`.` for the root).
pub fn owner(publish_path: &str) -> String {
    format!("set {}", if publish_path.is_empty() { "." } else { publish_path })
}

/// Checks that no two sets with mirrors on share a `service_id` or `project_id`.
pub fn check_mirrors<'a>(claims: impl IntoIterator<Item = &'a MirrorClaim>) -> Result<()> {
    let mut seen: BTreeMap<(&str, &str), &MirrorClaim> = BTreeMap::new();
    for claim in claims {
        for (field, value) in [("service_id", claim.service_id.as_str()), ("project_id", claim.project_id.as_str())] {
            if let Some(other) = seen.insert((field, value), claim) {
                return Err(Error::input(
                    &claim.file,
                    format!(
                        "{field} `{value}` is also used by {} and both sets have api_mirrors on: their mirror files would collide",
                        other.file.display()
                    ),
                    "give each set its own service_id / project_id, or turn api_mirrors off in one",
                ));
            }
        }
    }
    Ok(())
}
