//! Reading `out/` back: walking it, and comparing a plan's files to write with what is there
//! (`check`, and a build into a read-only `out/`).

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rayon::prelude::*;

use super::{Ownership, STAGING_DIR, TEMP_PREFIX};
use crate::error::{Error, Result};
use crate::layout::{OutputFile, Planned, parents, written};

/// How a path differs between the plan and the disk.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Difference {
    /// The plan has it, the disk does not.
    Missing(String),
    /// Both have it with different bytes.
    Changed(String),
    /// The disk has it, the plan does not.
    Extra(String),
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Missing(p) => write!(f, "missing  {p}"),
            Difference::Changed(p) => write!(f, "changed  {p}"),
            Difference::Extra(p) => write!(f, "extra    {p}"),
        }
    }
}

/// Fails when `out` exists but is not a directory.
pub(crate) fn check_out_dir(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(Error::input(
            out,
            "is a file, but the output must be a directory",
            "remove it or pass another --out DIR",
        ));
    }
    Ok(())
}

/// Every file (and symlink) under `out`, as `/`-separated relative paths.
pub(crate) fn existing_files(out: &Path) -> Result<Vec<String>> {
    Ok(existing_entries(out, &HashSet::new())?.files)
}

/// What a walk of `out` found, as `/`-separated relative paths in walk order (a directory
/// before what it holds).
#[derive(Default, Debug, Clone)]
pub(crate) struct Entries {
    /// Files and links.
    pub(crate) files: Vec<String>,
    /// Directories.
    pub(crate) dirs: Vec<String>,
}

/// Walks `out` (nothing when it does not exist); subdirectories are read on all cores.
pub(crate) fn walk_out(out: &Path) -> Result<Entries> {
    existing_entries(out, &HashSet::new())
}

/// Walks `out` (links not followed, siblings in file-name order, a directory before what it
/// holds), except the directories in `skip` (relative paths). Subdirectories are read on all
/// cores.
pub(super) fn existing_entries(out: &Path, skip: &HashSet<&str>) -> Result<Entries> {
    if !out.is_dir() {
        return Ok(Entries::default());
    }
    walk_dir(out, "", skip)
}

/// The refusal of an `out/` that holds a git repository anywhere (a gh-pages work tree in
/// `out/public/`, say): the build would remove it with every file it does not produce.
fn git_inside(git: &Path) -> Error {
    Error::input(
        git,
        "is a git repository inside the output directory, which jwksmith owns: a build removes every file there that it does not produce",
        "move the repository out of the output directory (copy out/public/ into it after the build), or pass another --out",
    )
}

/// The entries below `out/<rel>` in walk order.
fn walk_dir(out: &Path, rel: &str, skip: &HashSet<&str>) -> Result<Entries> {
    let dir = out.join(rel);
    let mut children = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| Error::io(out, e))? {
        let entry = entry.map_err(|e| Error::io(out, e))?;
        if entry.file_name() == ".git" {
            return Err(git_inside(&dir.join(".git")));
        }
        let is_dir = entry.file_type().map_err(|e| Error::io(out, e))?.is_dir();
        children.push((entry.file_name(), is_dir));
    }
    children.sort();
    let children: Vec<(String, bool)> = children
        .into_iter()
        .map(|(name, is_dir)| {
            let name = name.to_string_lossy();
            (if rel.is_empty() { name.into_owned() } else { format!("{rel}/{name}") }, is_dir)
        })
        .filter(|(child, is_dir)| !(*is_dir && skip.contains(child.as_str())))
        .collect();
    let below = children
        .par_iter()
        .map(|(child, is_dir)| if *is_dir { walk_dir(out, child, skip) } else { Ok(Entries::default()) })
        .collect::<Result<Vec<Entries>>>()?;
    let mut found = Entries::default();
    for ((child, is_dir), below) in children.into_iter().zip(below) {
        if is_dir {
            found.dirs.push(child);
            found.dirs.extend(below.dirs);
            found.files.extend(below.files);
        } else {
            found.files.push(child);
        }
    }
    Ok(found)
}

/// How the planned `file` differs from its place under `out` (`None`: the same bytes). Missing
/// when it cannot be opened or read, changed when its bytes differ. A regular file is compared
/// by its length first, then read up to that length (no read past its end).
pub(crate) fn difference(out: &Path, file: &OutputFile) -> Option<Difference> {
    use std::io::Read as _;
    let path = out.join(&file.path);
    let missing = || Some(Difference::Missing(file.path.clone()));
    let changed = || Some(Difference::Changed(file.path.clone()));
    let Ok(opened) = fs::File::open(&path) else { return missing() };
    match opened.metadata() {
        Ok(meta) if meta.is_file() => {
            if meta.len() != file.bytes.len() as u64 {
                return changed();
            }
            // Read up to its length: `take` ends there without asking the file for its end.
            let mut got = Vec::with_capacity(file.bytes.len());
            match opened.take(meta.len()).read_to_end(&mut got) {
                Ok(_) if got == file.bytes => None,
                // Other bytes, or fewer than its length said (shrunk meanwhile).
                Ok(_) => changed(),
                Err(_) => missing(),
            }
        }
        // Not a regular file (a directory, say): read as a whole, as it always was.
        _ => match fs::read(&path) {
            Ok(bytes) if bytes == file.bytes => None,
            Ok(_) => changed(),
            Err(_) => missing(),
        },
    }
}

/// Compares the plan's files under `public/` with the disk.
pub(crate) fn diff_public(out: &Path, plan: &[Planned], owner: &dyn Ownership) -> Result<Vec<Difference>> {
    check_out_dir(out)?;
    check_out_dir(&out.join("public"))?;
    let public: Vec<&OutputFile> = written(plan).filter(|f| f.path.starts_with("public/")).collect();
    // Each file is compared with its own path on disk, on all cores: no search of the plan.
    let mut diffs: Vec<Difference> = public.par_iter().filter_map(|file| difference(out, file)).collect();
    let wanted: HashSet<&str> = public.iter().map(|f| f.path.as_str()).collect();
    for rel in existing_files(&out.join("public"))? {
        let rel = format!("public/{rel}");
        if !wanted.contains(rel.as_str()) && owner.owns(&rel) {
            diffs.push(Difference::Extra(rel));
        }
    }
    diffs.sort();
    Ok(diffs)
}

/// True when a file or directory of mode `have` is as a build leaves it with `want`, but for
/// write bits that a read-only `out/` has taken away.
fn mode_fits(have: u32, want: u32) -> bool {
    have & 0o7777 & !0o222 == want & !0o222 && have & 0o222 & !want == 0
}

/// What a build of `plan` would change in `out` (files and `dir/`s, relative to `out`): each
/// file to write that is not there with its bytes and mode (write bits aside), each directory
/// above one without its mode, and each file a build would remove (stale outputs it owns, its
/// own temporary files; nothing else in `out/`, its lock included, is ever removed).
pub(crate) fn read_only_changes(out: &Path, plan: &[Planned], owner: &dyn Ownership) -> Result<Vec<String>> {
    let mut changes: Vec<String> = Vec::new();
    let mut dirs: BTreeMap<&str, bool> = BTreeMap::new();
    for file in written(plan) {
        dirs.extend(parents(&file.path).map(|d| (d, file.private)));
        let path = out.join(&file.path);
        let want = if file.private { 0o600 } else { 0o644 };
        let same = fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && mode_fits(m.mode(), want))
            && fs::read(&path).is_ok_and(|bytes| bytes == file.bytes);
        if !same {
            changes.push(file.path.clone());
        }
    }
    for (dir, private) in &dirs {
        let want = if *private { 0o700 } else { 0o755 };
        if !fs::symlink_metadata(out.join(dir)).is_ok_and(|m| m.is_dir() && mode_fits(m.mode(), want)) {
            changes.push(format!("{dir}/"));
        }
    }
    let planned: HashSet<&str> = plan.iter().map(Planned::path).collect();
    let staging = format!("{STAGING_DIR}/");
    for rel in &walk_out(out)?.files {
        let output = rel.starts_with("public/") || rel.starts_with("private/");
        let temporary = rel.starts_with(&staging) || (!rel.contains('/') && rel.starts_with(TEMP_PREFIX));
        if !planned.contains(rel.as_str()) && (temporary || (output && owner.owns(rel))) {
            changes.push(rel.clone());
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_is_missing_or_changed_by_what_is_on_disk() {
        let out = tempfile::tempdir().unwrap();
        fs::create_dir_all(out.path().join("public/dir.json")).unwrap();
        let big: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        fs::write(out.path().join("public/big.json"), &big).unwrap();
        fs::write(out.path().join("public/short.json"), b"abc").unwrap();
        let file =
            |path: &str, bytes: &[u8]| OutputFile { path: path.to_string(), bytes: bytes.to_vec(), private: false };
        let diff = |path: &str, bytes: &[u8]| difference(out.path(), &file(path, bytes));
        assert_eq!(diff("public/big.json", &big), None);
        let mut late = big.clone();
        late[39_999] ^= 1;
        assert_eq!(diff("public/big.json", &late), Some(Difference::Changed("public/big.json".into())), "last block");
        assert_eq!(diff("public/short.json", b"abd"), Some(Difference::Changed("public/short.json".into())));
        assert_eq!(diff("public/short.json", b"abcd"), Some(Difference::Changed("public/short.json".into())));
        assert_eq!(diff("public/none.json", b"x"), Some(Difference::Missing("public/none.json".into())));
        assert_eq!(diff("public/dir.json", b"x"), Some(Difference::Missing("public/dir.json".into())));
    }
}
