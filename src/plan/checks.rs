//! The checks of a whole plan: no two sets claim the same mirror paths, and no output is both a
//! file and a directory of another. Pure: the claims of sets a run does not load are read by the
//! command.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::KeySet;

/// What a set with `api_mirrors` on claims at the site root: its `service_id` and `project_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MirrorClaim {
    /// The set's `service_id`.
    pub(crate) service_id: String,
    /// The set's project id.
    pub(crate) project_id: String,
    /// The set's `keyset.toml` (named in the error).
    pub(crate) file: PathBuf,
}

impl MirrorClaim {
    /// The claim of `set`, when its mirrors are on.
    pub(crate) fn of(set: &KeySet) -> Option<MirrorClaim> {
        set.config.api_mirrors.then(|| MirrorClaim {
            service_id: set.config.service_id.clone(),
            project_id: set.project_id(),
            file: set.config_file.clone().unwrap_or_else(|| set.dir.join("keyset.toml")),
        })
    }
}

/// What writes an output, for [`check_collisions`] (named only in its error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner<'a> {
    /// The set at this publish path.
    Set(&'a str),
    /// The site files (the root chain, `_headers`, `404.html`, …).
    Site,
    /// A set a `--set` build does not select.
    Unselected,
}

impl std::fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Set(path) => write!(f, "set {}", if path.is_empty() { "." } else { path }),
            Owner::Site => f.write_str("the site"),
            Owner::Unselected => f.write_str("a set this build does not select"),
        }
    }
}

/// Checks that no output is both a file and a directory of another output (a set published
/// under a path that another set's mirror file or `jwks.json` takes): the error names both,
/// before anything is written. `outputs` pairs each path (relative to `out/`) with what writes
/// it.
pub(crate) fn check_collisions<'a>(outputs: impl Iterator<Item = (&'a str, Owner<'a>)>) -> Result<()> {
    let files: HashMap<&str, Owner> = outputs.collect();
    let mut paths: Vec<(&&str, &Owner)> = files.iter().collect();
    paths.sort_unstable_by_key(|(path, _)| **path);
    for (path, owner) in paths {
        if let Some((file, by)) = crate::layout::parents(path).find_map(|dir| files.get_key_value(dir)) {
            let fix = if *by == Owner::Site {
                "rename the set's directory: the site's own files (index.html, index-2.html, …, 404.html, _headers) are at the root"
            } else {
                "move or rename one of the sets' directories, or change the service_id / project_id of the one with api_mirrors"
            };
            return Err(Error::Failed(format!(
                "out/{file} would be a file of {by} and a directory of {owner} (for out/{path}); {fix}"
            )));
        }
    }
    Ok(())
}

/// Checks that no two sets with mirrors on share a `service_id` or `project_id`.
pub(crate) fn check_mirrors<'a>(claims: impl IntoIterator<Item = &'a MirrorClaim>) -> Result<()> {
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
