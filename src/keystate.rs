//! jwksmith's own corner of the key directory: `keys/.jwksmith/`, a 0700 directory that git
//! never stages (it holds a `.gitignore` of `*`) and that the walk of `keys/` never reads (it is
//! hidden). It holds the lock of the commands that change keys, the temporary files that may
//! carry private key material before they are renamed into place, and the record of the keys a
//! command started but has not finished yet.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of the state directory inside `keys/`.
pub(crate) const STATE_DIR: &str = ".jwksmith";

/// The lock file of the commands that change `keys/` (inside [`STATE_DIR`]).
pub(crate) const LOCK_FILE: &str = "lock";

/// Directory of temporary files of key writes (inside [`STATE_DIR`]).
pub(crate) const TMP_DIR: &str = "tmp";

/// Directory of the records of keys started and not yet finished (inside [`STATE_DIR`]).
pub(crate) const STARTED_DIR: &str = "started";

/// What `.gitignore` in the state directory says: ignore everything here, itself included.
const GITIGNORE: &str = "# jwksmith's locks, temporary files and records: never commit them.\n*\n";

/// `keys/.jwksmith/`, without touching the disk.
pub(crate) fn state_dir(keys: &Path) -> PathBuf {
    keys.join(STATE_DIR)
}

/// `keys/.jwksmith/` made (0700) when missing, without its `.gitignore`: for the lock file,
/// which must exist before the lock is held. Only the lock's holder writes the `.gitignore`
/// ([`ensure`]), since its temporary file is a leftover to the recovery of another holder.
pub(crate) fn make(keys: &Path) -> Result<PathBuf> {
    let state = state_dir(keys);
    make_private_dir(&state)?;
    Ok(state)
}

/// `keys/.jwksmith/<name>` made (0700, with its `.gitignore`) when missing; returns its path.
/// `name` may be empty for the state directory itself. Called under the lock of `keys/`.
pub(crate) fn ensure(keys: &Path, name: &str) -> Result<PathBuf> {
    let state = make(keys)?;
    let ignore = state.join(".gitignore");
    if !ignore.exists() {
        // Written before anything else goes in, so nothing here is ever stageable.
        crate::write::write_atomic(&ignore, GITIGNORE.as_bytes(), 0o644, true)?;
    }
    if name.is_empty() {
        return Ok(state);
    }
    let dir = state.join(name);
    make_private_dir(&dir)?;
    Ok(dir)
}

fn make_private_dir(dir: &Path) -> Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(dir, e)),
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::input(dir, "is not a directory, but jwksmith keeps its state here", "remove or rename it"));
    }
    if meta.permissions().mode() & 0o777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_is_private_and_git_ignored() {
        let keys = tempfile::tempdir().unwrap();
        let tmp = ensure(keys.path(), TMP_DIR).unwrap();
        assert_eq!(tmp, keys.path().join(".jwksmith/tmp"));
        for dir in [state_dir(keys.path()), tmp] {
            assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let ignore = fs::read_to_string(keys.path().join(".jwksmith/.gitignore")).unwrap();
        assert!(ignore.lines().any(|l| l == "*"));
        // Idempotent.
        ensure(keys.path(), TMP_DIR).unwrap();
    }
}
