//! Finding the sets under `keys/`: a walk (walkdir, hidden entries skipped, no symlinks out of
//! `keys/`) that groups the files that matter by the directory they are in, and stamps every
//! directory it reads.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::SetDir;
use super::files::is_relevant;
use super::input::{check_size, is_symlink_loop, not_regular, special_kind, symlink_loop};
use crate::config::is_path_segment;
use crate::error::{Error, Result};
use crate::stamp::Stamp;

/// Directories with their stamps (`None`: could not be taken).
pub(crate) type DirStamps = Vec<(PathBuf, Option<Stamp>)>;

/// Finds every set under `root`, sorted by publish path. Symlinks may point only inside `root`.
pub fn discover(root: &Path) -> Result<Vec<SetDir>> {
    let mut walk = Walk::new(root, false)?;
    walk.read(root, None)?;
    Ok(walk.sets.into_values().collect())
}

/// [`discover`], also returning every directory it read with its stamp, taken before the
/// directory was read (`None` when it could not be taken).
pub(crate) fn discover_stamped(root: &Path) -> Result<(Vec<SetDir>, DirStamps)> {
    let mut walk = Walk::new(root, true)?;
    walk.read(root, None)?;
    Ok((walk.sets.into_values().collect(), walk.dirs))
}

/// The set at publish path `path` (`""`: the root set) exactly as [`discover`] finds it, reading
/// only its own directory: `None` when that directory is not a set (it holds no `keyset.toml`
/// or key file), or is one no walk reaches (a hidden segment, a directory on the way that is a
/// symlink, which the walk does not follow). For serve's local issuer, which looks up one set per
/// request.
pub(crate) fn discover_set(root: &Path, path: &str) -> Result<Option<SetDir>> {
    let mut walk = Walk::new(root, false)?;
    let mut dir = root.to_path_buf();
    for segment in path.split('/').filter(|_| !path.is_empty()) {
        if segment.is_empty() || segment.starts_with('.') {
            return Ok(None);
        }
        dir.push(segment);
        if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            return Ok(None);
        }
    }
    walk.read(&dir, Some(1))?;
    Ok(walk.sets.remove(path))
}

fn check_root(root: &Path) -> Result<()> {
    if root.exists() && !root.is_dir() {
        return Err(Error::input(root, "is a file, not a key directory", "pass the directory with --keys DIR"));
    }
    if !root.is_dir() {
        return Err(Error::input(
            root,
            "key directory not found",
            "run `jwksmith init` to create it, then `jwksmith rotate` to make the first keys (or pass --keys DIR)",
        ));
    }
    Ok(())
}

/// The state of a walk of `keys/`.
struct Walk<'a> {
    root: &'a Path,
    canonical_root: PathBuf,
    sets: BTreeMap<String, SetDir>,
    /// Whether the directories are stamped (`dirs`): only a build records them.
    stamp: bool,
    dirs: DirStamps,
    /// The publish path of the directory of the previous file: most files share it.
    last: Option<(PathBuf, String)>,
}

impl<'a> Walk<'a> {
    /// A walk of the key directory `root`, which must exist; `stamp`: stamp every directory.
    fn new(root: &'a Path, stamp: bool) -> Result<Self> {
        check_root(root)?;
        let canonical_root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
        Ok(Walk { root, canonical_root, sets: BTreeMap::new(), stamp, dirs: Vec::new(), last: None })
    }

    /// Visits `start` (`root` or a directory under it) and what lies under it, `max_depth`
    /// levels down at most (`None`: all). Hidden entries are skipped, links not followed.
    fn read(&mut self, start: &Path, max_depth: Option<usize>) -> Result<()> {
        // Siblings' paths are their parent's path plus their names, so ordering them by path is
        // ordering them by file name (`sort_by_file_name`), without splitting paths into components.
        let walker = walkdir::WalkDir::new(start)
            .follow_links(false)
            .max_depth(max_depth.unwrap_or(usize::MAX))
            .sort_by(|a, b| a.path().as_os_str().cmp(b.path().as_os_str()))
            .into_iter();
        let walker = walker.filter_entry(|e| e.depth() == 0 || !e.file_name().as_encoded_bytes().starts_with(b"."));
        for entry in walker {
            let entry = entry.map_err(|e| {
                let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| self.root.to_path_buf());
                Error::io(&path, e.into_io_error().unwrap_or_else(|| std::io::Error::other("cannot walk directory")))
            })?;
            self.visit(&entry)?;
        }
        Ok(())
    }

    fn visit(&mut self, entry: &walkdir::DirEntry) -> Result<()> {
        let path = entry.path();
        let name = entry.file_name().to_str().ok_or_else(|| {
            Error::input(path, "file name is not valid UTF-8", "rename it with letters, digits, `-`, `_` and `.`")
        })?;
        if entry.file_type().is_dir() {
            // Yielded before its entries are read: the stamp comes first.
            if self.stamp {
                self.dirs.push((path.to_path_buf(), Stamp::read(path)));
            }
            return Ok(());
        }
        if !is_relevant(name) {
            // Never read, but a FIFO, socket or device (or a link to one), or a file over 1 MiB,
            // is an error wherever it is. A link to a directory is not followed.
            let meta = match entry.path_is_symlink() {
                true => fs::metadata(path).ok(),
                false => entry.metadata().ok(),
            };
            return match meta {
                Some(m) if m.is_dir() => Ok(()),
                Some(m) => match special_kind(m.file_type()) {
                    Some(kind) => Err(not_regular(path, kind)),
                    None => check_size(path, m.len()),
                },
                None => Ok(()),
            };
        }
        if entry.path_is_symlink() {
            if !symlink_is_inside(path, &self.canonical_root)? {
                return Ok(());
            }
        } else if let Some(kind) = special_kind(entry.file_type()) {
            return Err(not_regular(path, kind));
        }
        let dir = path.parent().unwrap_or(self.root);
        let publish = self.publish_path_of(dir)?;
        self.sets
            .entry(publish.clone())
            .or_insert_with(|| SetDir { path: publish, dir: dir.to_path_buf(), files: Vec::new() })
            .files
            .push(path.to_path_buf());
        Ok(())
    }

    fn publish_path_of(&mut self, dir: &Path) -> Result<String> {
        match &self.last {
            Some((last_dir, publish)) if last_dir.as_os_str() == dir.as_os_str() => Ok(publish.clone()),
            _ => {
                let publish = publish_path(self.root, dir)?;
                self.last = Some((dir.to_path_buf(), publish.clone()));
                Ok(publish)
            }
        }
    }
}

/// True for a link to a regular file inside `root`; false for a link to a directory; error
/// otherwise (a link to nothing, a loop, a link out of `root`, a link to a FIFO, socket or device).
fn symlink_is_inside(path: &Path, root: &Path) -> Result<bool> {
    let target = fs::canonicalize(path).map_err(|e| {
        if is_symlink_loop(&e) {
            symlink_loop(path)
        } else {
            Error::input(path, "symlink points to nothing", "remove the link or restore its target")
        }
    })?;
    if !target.starts_with(root) {
        return Err(Error::input(
            path,
            "symlink points outside the key directory; jwksmith does not follow links out of keys/",
            "copy the file into keys/ or remove the link",
        ));
    }
    let file_type = fs::metadata(&target).map_err(|e| Error::io(path, e))?.file_type();
    match special_kind(file_type) {
        None => Ok(true),
        Some(_) if file_type.is_dir() => Ok(false),
        Some(kind) => Err(not_regular(path, &format!("a symlink to {kind}"))),
    }
}

fn publish_path(root: &Path, dir: &Path) -> Result<String> {
    let rel = dir.strip_prefix(root).unwrap_or(Path::new(""));
    let mut parts = Vec::new();
    for part in rel.components() {
        let text = part.as_os_str().to_str().unwrap_or("");
        if !is_path_segment(text) {
            return Err(Error::input(
                dir,
                format!("directory name `{}` cannot be a publish path segment", part.as_os_str().to_string_lossy()),
                "rename the directory with letters, digits, `-`, `_` and `.`",
            ));
        }
        parts.push(text);
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_set_is_found_as_the_whole_walk_finds_it() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        for file in
            ["keyset.toml", "a.pem", "tenants/acme/keyset.toml", "tenants/acme/k.pub.pem", "tenants/acme/x/b.pem"]
        {
            fs::create_dir_all(keys.join(file).parent().unwrap()).unwrap();
            fs::write(keys.join(file), "x").unwrap();
        }
        fs::create_dir_all(keys.join("empty/.hidden")).unwrap();
        fs::write(keys.join("empty/.hidden/keyset.toml"), "x").unwrap();
        fs::write(keys.join("tenants/acme/notes.txt"), "x").unwrap();
        let all = discover(&keys).unwrap();
        for path in ["", "tenants/acme", "tenants/acme/x"] {
            let one = discover_set(&keys, path).unwrap().unwrap_or_else(|| panic!("{path:?} is a set"));
            let walked = all.iter().find(|s| s.path == path).unwrap();
            assert_eq!((&one.path, &one.dir, &one.files), (&walked.path, &walked.dir, &walked.files), "{path:?}");
        }
        for path in ["tenants", "empty", "empty/.hidden", "nope", "tenants//acme", "tenants/../tenants/acme"] {
            assert!(discover_set(&keys, path).unwrap().is_none(), "{path:?} is no set of the walk");
            assert!(all.iter().all(|s| s.path != path), "{path:?}");
        }
    }
}
