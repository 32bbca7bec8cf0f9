//! The disk side of `out/` and of key files: writing one file atomically (`atomic`),
//! applying a plan (`apply`), or a plan made in batches in two steps (`stage`), reading `out/` back and comparing it with a plan (`walk`).

mod apply;
mod atomic;
mod stage;
mod walk;

pub(crate) use apply::{All, Ownership, WriteReport, apply, remove_stale, restore_dir_modes};
pub(crate) use atomic::{ensure_dir, make_dirs, remove_file, write_atomic, write_atomic_via};
pub(crate) use stage::{Prepared, Staging, commit};
pub(crate) use walk::{
    Difference, Entries, check_out_dir, diff_public, difference, existing_files, read_only_changes, walk_out,
};

/// Prefix of temporary files; they never end in `.json` or `.pem`.
pub(crate) const TEMP_PREFIX: &str = ".jwksmith-tmp-";

/// Directory under `out/` where `build` stages its temporary files.
pub(crate) const STAGING_DIR: &str = ".jwksmith-staging";
