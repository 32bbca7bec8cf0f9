//! Reading `keys/` into the model: find the sets ([`discover`]), then read each set's
//! `keyset.toml`, key files and metadata ([`read_set`]), validating every key. Every input file
//! (templates and `import`'s FILE too) is read by [`read_input`] (the files the walk found by
//! `read_walked`): regular files of at most 1 MiB.
//!
//! Reading proves that each key parses, that its files agree and that its metadata fits it; the
//! caller passes the further [`KeyCheck`] it needs (the self-test lives in [`crate::selftest`]).
//!
//! - `walk.rs`: the walk of `keys/`; `input.rs`: reading one file safely.
//! - `files.rs`: a set's files by kid and kind; `kid.rs`: one kid's files into a key.
//! - `set.rs`: one set into a [`KeySet`](crate::model::KeySet), with its warnings.

use std::path::PathBuf;

use crate::key::KeyMaterial;
use crate::meta::Meta;

mod files;
mod input;
mod kid;
mod sealed;
mod set;
mod walk;

pub(crate) use input::{STDIN_NAME, check_size, not_regular, read_input, read_stdin, special_kind, stamped_reads};
pub(crate) use set::{CreatedAfter, check_now_after_created, config_of, created_after, read_set};
pub use walk::discover;
pub(crate) use walk::{discover_set, discover_stamped};

/// Name of a set's policy file.
pub(crate) const KEYSET_FILE: &str = "keyset.toml";

/// A directory under `keys/` that is a set, with the files that matter in it.
#[derive(Debug, Clone)]
pub struct SetDir {
    /// Publish path (`""` for the root set).
    pub path: String,
    /// The directory.
    pub dir: PathBuf,
    /// Its `keyset.toml`, `*.pem` and `*.meta.json` files, sorted.
    pub files: Vec<PathBuf>,
}

/// A check run on every key once it is read and its metadata validated; an error is reported
/// against the key's private file (its key file when it has none).
pub(crate) type KeyCheck<'a> = dyn Fn(&KeyMaterial, &Meta) -> Result<(), String> + Sync + 'a;
