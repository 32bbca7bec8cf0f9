//! Applying a plan to `out/`: each file to write staged and renamed into place; unchanged and
//! kept files left alone (their mtime stays); owned files the plan does not list removed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rayon::prelude::*;

use super::atomic::{ensure_dir, ensure_dir_created, write_atomic_via};
use super::walk::{Entries, check_out_dir, existing_entries};
use super::{STAGING_DIR, TEMP_PREFIX};
use crate::error::{Error, Result};
use crate::layout::{OutputFile, Planned, parents};
use crate::stamp::Stamp;

/// What a write did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct WriteReport {
    /// Files created or changed (relative to `out/`).
    pub(crate) written: Vec<String>,
    /// Files created or changed besides `written`, whose paths a build of every set did not
    /// keep: nothing prints or records them (a cold build of 100,000 sets writes 700,000).
    pub(crate) written_unlisted: usize,
    /// Files whose bytes were already right, and files kept.
    pub(crate) unchanged: usize,
    /// Files removed because the plan no longer produces them.
    pub(crate) removed: Vec<String>,
    /// The stamp of each planned file as it is now in place, in plan order (a kept file's as
    /// recorded).
    pub(crate) stamps: Vec<Stamp>,
}

impl WriteReport {
    /// How many files were created or changed.
    pub(crate) fn written_count(&self) -> usize {
        self.written.len() + self.written_unlisted
    }
}

/// Which existing files under `out/` a run is responsible for (may rewrite or remove).
pub(crate) trait Ownership {
    /// True when the file at this `/`-separated path (relative to `out/`) is ours to remove.
    fn owns(&self, rel: &str) -> bool;
}

/// A full build owns everything under `out/`.
pub(crate) struct All;

impl Ownership for All {
    fn owns(&self, _rel: &str) -> bool {
        true
    }
}

pub(super) fn mode(private: bool) -> u32 {
    if private { 0o600 } else { 0o644 }
}

fn dir_mode(private: bool) -> u32 {
    if private { 0o700 } else { 0o755 }
}

/// Gives every directory above `files` (paths relative to `out`) its mode again: 0700 under
/// `private/`, 0755 elsewhere (for files a run keeps rather than writes).
pub(crate) fn restore_dir_modes<'a>(out: &Path, files: impl Iterator<Item = &'a str>) -> Result<()> {
    let dirs: HashSet<&str> = files.flat_map(parents).collect();
    dirs.par_iter()
        .try_for_each(|dir| ensure_dir(&out.join(dir), dir_mode(*dir == "private" || dir.starts_with("private/"))))
}

/// Writes the plan under `out`: each file to write unless the disk already holds its bytes, each
/// kept file left as it is; then removes the owned files of `existing` (a walk of `out` made
/// before this run; walked now when `None`) that the plan does not list, and the owned
/// directories left empty.
///
/// Directories are made level by level, and files compared or written, on all cores (rayon);
/// the report lists written files in plan order. A file whose directory this run made is
/// written without first looking for an old copy.
pub(crate) fn apply(
    out: &Path,
    plan: &[Planned],
    owner: &dyn Ownership,
    existing: Option<Entries>,
) -> Result<WriteReport> {
    check_out_dir(out)?;
    ensure_dir(out, 0o755)?;
    let files: Vec<&OutputFile> = crate::layout::written(plan).collect();
    let mut dirs: BTreeSet<(&str, bool)> = BTreeSet::from([("public", false)]);
    for file in &files {
        dirs.extend(parents(&file.path).map(|dir| (dir, file.private)));
    }
    let created = make_dirs(out, &dirs)?;
    let written = put_all(out, &files, &created)?;
    let report = report_of(plan, written);
    // Directories holding planned or kept files are not empty.
    let planned_dirs: HashSet<&str> = plan.iter().flat_map(|p| parents(p.path())).collect();
    let existing = match existing {
        Some(entries) => entries,
        None => existing_entries(out, &created)?,
    };
    let wanted: HashSet<&str> = plan.iter().map(Planned::path).collect();
    let removed = remove_stale(out, existing, &wanted, &planned_dirs, owner)?;
    // Staging holds only its .gitignore now (persisted temporary files were renamed, leftovers
    // removed above).
    let staging = out.join(STAGING_DIR);
    let _ = fs::remove_file(staging.join(".gitignore"));
    let _ = fs::remove_dir(&staging);
    Ok(WriteReport { removed, ..report })
}

/// Makes the directories `dirs` (relative to `out`, with whether they are private): parents
/// before children, one level at a time, each level on all cores. Returns those it made.
pub(super) fn make_dirs<'a>(out: &Path, dirs: &BTreeSet<(&'a str, bool)>) -> Result<HashSet<&'a str>> {
    let mut levels: BTreeMap<usize, Vec<(&str, bool)>> = BTreeMap::new();
    for (dir, private) in dirs.iter().copied() {
        levels.entry(dir.matches('/').count()).or_default().push((dir, private));
    }
    let mut created: HashSet<&str> = HashSet::new();
    for level in levels.into_values() {
        let fresh = level
            .par_iter()
            .map(|&(dir, private)| {
                // `out/public` or `out/private` as a file is an entry jwksmith does not own (an
                // error); a file deeper down is a stale output, replaced by the directory.
                ensure_dir_created(&out.join(dir), dir_mode(private), dir.contains('/')).map(|new| (dir, new))
            })
            .collect::<Result<Vec<_>>>()?;
        created.extend(fresh.into_iter().filter_map(|(dir, new)| new.then_some(dir)));
    }
    Ok(created)
}

/// What the staging directory's `.gitignore` says: a temporary file a killed build leaves there
/// (it may hold a private key) is never staged by `git add out`.
const STAGING_GITIGNORE: &[u8] = b"*\n";

/// Makes the staging directory (0700) with its `.gitignore`, before any temporary file.
pub(super) fn make_staging(staging: &Path) -> Result<()> {
    ensure_dir(staging, 0o700)?;
    let ignore = staging.join(".gitignore");
    match fs::OpenOptions::new().write(true).create_new(true).open(&ignore) {
        Ok(mut file) => std::io::Write::write_all(&mut file, STAGING_GITIGNORE).map_err(|e| Error::io(&ignore, e)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(&ignore, e)),
    }
}

/// Writes `files` on all cores, each unless its bytes are there; returns for each whether it
/// was written, and its stamp once in place. Temporary files live in `out/`'s staging
/// directory, outside public/ and private/: a killed build never leaves one where it could be
/// deployed, and leftovers are removed as files the plan does not produce. It is made only when
/// there is something to write: a build that writes nothing leaves `out/` itself untouched.
fn put_all(out: &Path, files: &[&OutputFile], created: &HashSet<&str>) -> Result<Vec<(bool, Stamp)>> {
    let staging = out.join(STAGING_DIR);
    let staging = std::path::absolute(&staging).map_err(|e| Error::io(&staging, e))?;
    if !files.is_empty() {
        make_staging(&staging)?;
    }
    files
        .par_iter()
        .map(|file| {
            let fresh_dir = file.path.rsplit_once('/').is_some_and(|(dir, _)| created.contains(dir));
            put(out, &staging, file, fresh_dir)
        })
        .collect()
}

/// The report of a plan whose files to write went as `written` says (in plan order): kept files
/// count as unchanged, with the stamp the record has for them.
fn report_of(plan: &[Planned], written: Vec<(bool, Stamp)>) -> WriteReport {
    let mut report = WriteReport::default();
    let mut written = written.into_iter();
    for planned in plan {
        let stamp = match planned {
            Planned::Write(file) => {
                let Some((was_written, stamp)) = written.next() else { break };
                if was_written {
                    report.written.push(file.path.clone());
                } else {
                    report.unchanged += 1;
                }
                stamp
            }
            Planned::Keep(output) => {
                report.unchanged += 1;
                output.stamp
            }
        };
        report.stamps.push(stamp);
    }
    report
}

/// Writes one planned file through `staging` unless its bytes are already on disk (then only
/// its mode is fixed). Returns true when the file was written, and its stamp once in place.
/// `fresh_dir`: its directory was just created, so there is no old copy to compare with.
fn put(out: &Path, staging: &Path, file: &OutputFile, fresh_dir: bool) -> Result<(bool, Stamp)> {
    let path = out.join(&file.path);
    let want = mode(file.private);
    if !fresh_dir {
        if let Some(existing) = meta_if_same_bytes(&path, &file.bytes) {
            if existing.permissions().mode() & 0o777 == want {
                return Ok((false, Stamp::of(&existing)));
            }
            fs::set_permissions(&path, fs::Permissions::from_mode(want)).map_err(|e| Error::io(&path, e))?;
            let stamp = Stamp::read(&path).ok_or_else(|| Error::Failed(format!("{} vanished", path.display())))?;
            return Ok((false, stamp));
        }
        if path.is_dir() {
            fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok((true, write_atomic_via(&path, staging, &file.bytes, want, false)?))
}

/// The metadata of the file at `path` (taken before reading) when it holds exactly `bytes`;
/// `None` when it is missing, a symlink, not a file, or different. A file
/// of another length is not read; one of the same length is read a block at a time, up to the
/// first difference.
pub(super) fn meta_if_same_bytes(path: &Path, bytes: &[u8]) -> Option<fs::Metadata> {
    // A symlink in place of an output is never kept (nor its target's mode changed through it):
    // it is replaced by the file.
    let nofollow = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
    let mut file = fs::OpenOptions::new().read(true).custom_flags(nofollow).open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() != bytes.len() as u64 {
        return None;
    }
    let mut block = [0; 16 * 1024];
    for want in bytes.chunks(block.len()) {
        let got = &mut block[..want.len()];
        file.read_exact(got).ok()?;
        if got != want {
            return None;
        }
    }
    Some(meta)
}

/// Removes the owned files of `existing` (a walk of `out`) that are not `wanted`, then the owned
/// directories left empty. `planned_dirs` (relative paths) hold planned files, so they are not
/// empty.
pub(crate) fn remove_stale(
    out: &Path,
    existing: Entries,
    wanted: &HashSet<&str>,
    planned_dirs: &HashSet<&str>,
    owner: &dyn Ownership,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    // Only outputs and jwksmith's own temporary files are removed: nothing else in `out/`
    // (its lock included) is ever deleted.
    let output = |rel: &str| rel.starts_with("public/") || rel.starts_with("private/");
    // The staging directory's .gitignore goes with the directory, unreported: it is no output,
    // and a run that made it itself has removed nothing.
    let staging_ignore = format!("{STAGING_DIR}/.gitignore");
    for rel in existing.files {
        let staged =
            rel.starts_with(&format!("{STAGING_DIR}/")) || (!rel.contains('/') && rel.starts_with(TEMP_PREFIX));
        if !wanted.contains(rel.as_str()) && (staged || (output(&rel) && owner.owns(&rel))) {
            let path = out.join(&rel);
            match fs::symlink_metadata(&path) {
                // A link found where the plan needs a directory was replaced by one: nothing to remove.
                Ok(meta) if meta.is_dir() => continue,
                Ok(_) => {}
                // Gone with a directory the plan put a file in place of (`public/jwks.json/sub/f`
                // under a directory `jwks.json`): nothing left to remove.
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        || e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) =>
                {
                    continue;
                }
                Err(_) => {}
            }
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            if rel != staging_ignore {
                removed.push(rel);
            }
        }
    }
    // Reversed walk order: every directory comes after the directories inside it.
    for rel in existing.dirs.iter().rev().filter(|rel| !planned_dirs.contains(rel.as_str())) {
        let keep = rel == "public" || rel == "private";
        let staging = rel == STAGING_DIR;
        let dir = out.join(rel);
        let empty = fs::read_dir(&dir).map(|mut d| d.next().is_none()).unwrap_or(false);
        if empty && !keep && (staging || (output(rel) && owner.owns(&format!("{rel}/")))) {
            fs::remove_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        }
    }
    Ok(removed)
}
