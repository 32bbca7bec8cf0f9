//! `--out` is a directory jwksmith owns: `build` removes what it did not write there (under
//! `public/` and `private/`), so it refuses an `--out` that is, contains or lies inside the key
//! directory or the templates directory, that holds `.git`, or that holds anything but
//! `public/`, `private/` and jwksmith's own files. An empty or missing `out/` is fine.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::write::{STAGING_DIR, TEMP_PREFIX, check_out_dir};

/// The lock file of `build`, among jwksmith's own files in `out/` (see `lock`).
pub(crate) const LOCK_FILE: &str = ".jwksmith-lock";

/// What a refused `--out` is told to do.
const FIX: &str = "pass another --out, such as out";

/// True for the names jwksmith may find at the top of `out/`: its outputs, its lock, its
/// staging directory and its temporary files.
pub(crate) fn is_own_entry(name: &str) -> bool {
    ["public", "private", LOCK_FILE, STAGING_DIR].contains(&name) || name.starts_with(TEMP_PREFIX)
}

/// Fails, naming `out`, unless it is a directory jwksmith owns (or missing): not the key
/// directory `keys` or the templates directory `templates`, nor inside or around either. Reads
/// only.
pub(crate) fn check_owned(out: &Path, keys: &Path, templates: &Path) -> Result<()> {
    check_out_dir(out)?;
    check_apart(out, keys, templates)?;
    if out.is_dir() { check_entries(out) } else { Ok(()) }
}

/// Fails unless `out` is neither the key directory nor the templates directory, nor inside
/// or around either.
fn check_apart(out: &Path, keys: &Path, templates: &Path) -> Result<()> {
    let resolved = resolve(out).map_err(|e| Error::io(out, e))?;
    for (dir, what) in [(keys, "key directory"), (templates, "templates directory")] {
        let Ok(other) = resolve(dir) else { continue };
        let relation = if resolved == other {
            format!("is the {what} itself")
        } else if resolved.starts_with(&other) {
            format!("lies inside the {what} {}", dir.display())
        } else if other.starts_with(&resolved) && dir.exists() {
            format!("contains the {what} {}", dir.display())
        } else {
            continue;
        };
        return Err(Error::input(
            out,
            format!(
                "{relation}; --out must be a directory of jwksmith's own, since build removes the files it did not write there"
            ),
            FIX,
        ));
    }
    Ok(())
}

/// Fails unless the directory `out` holds only jwksmith's own entries, and no `.git`.
fn check_entries(out: &Path) -> Result<()> {
    let mut strays = Vec::new();
    for entry in std::fs::read_dir(out).map_err(|e| Error::io(out, e))? {
        let entry = entry.map_err(|e| Error::io(out, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == ".git" {
            return Err(Error::input(
                out,
                "holds .git: --out must be a directory of jwksmith's own, not a repository",
                FIX,
            ));
        }
        if !is_own_entry(&name) {
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            strays.push(if is_dir { format!("{name}/") } else { name });
        }
    }
    if strays.is_empty() {
        return Ok(());
    }
    strays.sort();
    let shown = if strays.len() > 3 {
        format!("{} and {} more", strays[..3].join(", "), strays.len() - 3)
    } else {
        strays.join(", ")
    };
    let them = if strays.len() == 1 { "it" } else { "them" };
    Err(Error::input(
        out,
        format!(
            "holds {shown}, which jwksmith did not write; --out must hold only public/, private/ and jwksmith's own files"
        ),
        format!("move {them} elsewhere, or pass another --out"),
    ))
}

/// True when `path` is `dir` or lies inside it, symlinks resolved ([`resolve`]); false when
/// either cannot be resolved.
pub(crate) fn is_inside(path: &Path, dir: &Path) -> bool {
    matches!((resolve(path), resolve(dir)), (Ok(path), Ok(dir)) if path.starts_with(&dir))
}

/// `path` made absolute with every symlink resolved: each existing ancestor canonicalized in
/// turn, and the rest (which does not exist yet) taken as written, `.` and `..` applied.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let mut resolved = PathBuf::new();
    for part in std::path::absolute(path)?.components() {
        match part {
            Component::Prefix(_) | Component::RootDir => resolved.push(part),
            Component::CurDir => {}
            // `resolved` holds no symlink: its parent is the real one.
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => {
                resolved.push(name);
                if let Ok(real) = resolved.canonicalize() {
                    resolved = real;
                }
            }
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_paths_resolve_through_their_existing_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::os::unix::fs::symlink(&real, real.join("link")).unwrap();
        assert_eq!(resolve(&real.join("link/a/b")).unwrap(), real.join("a/b"));
        assert_eq!(resolve(&real.join("link/a/../c")).unwrap(), real.join("c"));
        assert_eq!(resolve(&real.join("link")).unwrap(), real);
    }

    #[test]
    fn own_entries() {
        for name in ["public", "private", ".jwksmith-lock", ".jwksmith-staging", ".jwksmith-tmp-x1.tmp"] {
            assert!(is_own_entry(name), "{name}");
        }
        for name in [".git", "index.html", "Public", ".jwksmith", "keys"] {
            assert!(!is_own_entry(name), "{name}");
        }
    }
}
