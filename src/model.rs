//! The in-memory model of a key directory: sets, their policy and their keys.

use std::path::PathBuf;

use crate::config::KeysetConfig;
use crate::key::KeyMaterial;
use crate::lifecycle::State;
use crate::meta::Meta;
use crate::times::Timestamp;

/// One key set: a directory with a `keyset.toml` or key files.
#[derive(Debug)]
pub struct KeySet {
    /// Publish path relative to `out/public/`, `""` for the root set.
    pub path: String,
    /// The set's directory.
    pub dir: PathBuf,
    /// Its policy.
    pub config: KeysetConfig,
    /// Path of its `keyset.toml`, when there is one.
    pub config_file: Option<PathBuf>,
    /// Finished keys, sorted by kid.
    pub keys: Vec<Key>,
    /// Key files without metadata (a crash during `rotate`): never published.
    pub unfinished: Vec<Unfinished>,
}

/// A finished key: material plus metadata (given or defaulted).
#[derive(Debug)]
pub struct Key {
    /// Metadata (defaults for hand-dropped keys without a meta file).
    pub meta: Meta,
    /// Public part, and the secret part when a private file is present.
    pub material: KeyMaterial,
    /// The self-signed certificate (`<kid>.crt.pem`), DER.
    pub cert_der: Option<Vec<u8>>,
    /// The files that make up this key.
    pub files: Vec<PathBuf>,
    /// True for a hand-dropped `<kid>.pem`.
    pub hand_dropped: bool,
}

/// Key files of a kid that has no metadata.
#[derive(Debug, Clone)]
pub struct Unfinished {
    /// The kid.
    pub kid: String,
    /// Its files.
    pub files: Vec<PathBuf>,
    /// True when a private file is among them.
    pub private: bool,
}

impl KeySet {
    /// The publish path as users write it: `.` for the root set.
    pub(crate) fn display_path(&self) -> &str {
        if self.path.is_empty() { "." } else { &self.path }
    }

    /// The Ampersand project id: from keyset.toml, or UUIDv5 of `jwksmith:project:<path>`.
    pub(crate) fn project_id(&self) -> String {
        match &self.config.project_id {
            Some(id) => id.clone(),
            None => {
                uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("jwksmith:project:{}", self.path).as_bytes())
                    .to_string()
            }
        }
    }

    /// The key with this kid.
    pub(crate) fn key(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.meta.kid == kid)
    }

    /// Keys of a spec.
    pub(crate) fn keys_of_spec<'a>(&'a self, spec: &'a str) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys.iter().filter(move |k| k.meta.spec.as_deref() == Some(spec))
    }
}

impl Key {
    /// State at `now`.
    pub(crate) fn state(&self, now: Timestamp) -> State {
        self.meta.times().state_at(now)
    }

    /// The kid.
    pub(crate) fn kid(&self) -> &str {
        &self.meta.kid
    }

    /// True when the private part is present.
    pub(crate) fn has_private(&self) -> bool {
        self.material.secret.is_some()
    }
}
