//! Applying a plan to the disk: each file written to a temporary file in its own directory and
//! renamed; unchanged files left alone (their mtime stays); files the plan does not produce
//! removed. Also the atomic writer used for key files.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::layout::{OutputFile, parents};
use crate::stamp::Stamp;

/// Prefix of temporary files; they never end in `.json` or `.pem`.
pub const TEMP_PREFIX: &str = ".jwksmith-tmp-";

/// Directory under `out/` where `build` stages its temporary files.
pub const STAGING_DIR: &str = ".jwksmith-staging";

/// What a write did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// Files created or changed (relative to `out/`).
    pub written: Vec<String>,
    /// Files whose bytes were already right.
    pub unchanged: usize,
    /// Files removed because the plan no longer produces them.
    pub removed: Vec<String>,
    /// The stamp of each planned file once in place, in plan order.
    pub stamps: Vec<Stamp>,
}

/// How a path differs between the plan and the disk.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Difference {
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

/// Which existing files under `out/` a run is responsible for (may rewrite or remove).
pub trait Ownership {
    /// True when the file at this `/`-separated path (relative to `out/`) is ours to remove.
    fn owns(&self, rel: &str) -> bool;
}

/// A full build owns everything under `out/`.
pub struct All;

impl Ownership for All {
    fn owns(&self, _rel: &str) -> bool {
        true
    }
}

fn mode(private: bool) -> u32 {
    if private { 0o600 } else { 0o644 }
}

fn dir_mode(private: bool) -> u32 {
    if private { 0o700 } else { 0o755 }
}

/// tempfile's errors end with the temporary file's path (`… at path "…/.jwksmith-tmp-….tmp"`):
/// the same error without it, so that messages name only the final file.
fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.find(" at path \"") {
        Some(end) => match e.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(e.kind(), text[..end].to_string()),
        },
        None => e,
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (created 0600),
/// given `mode`, optionally synced, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<()> {
    write_atomic_via(path, path.parent().unwrap_or(Path::new(".")), bytes, mode, sync).map(|_| ())
}

/// Like [`write_atomic`], with the temporary file in `staging` (same file system as `path`).
/// An absolute `staging` spares `tempfile` resolving the working directory for each file.
/// Returns the stamp of the file in place.
pub fn write_atomic_via(path: &Path, staging: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<Stamp> {
    let dir = path.parent().unwrap_or(Path::new("."));
    failpoint(Step::Create, path);
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".tmp")
        .tempfile_in(staging)
        .map_err(|e| Error::io(path, without_temp_path(e)))?;
    // Errors name the file being written, never its temporary file.
    // Temporary files are created 0600 less the umask: the mode is set exactly (a restrictive
    // umask such as 0277 would leave a private file 0400), before any byte is written.
    if mode != 0o600 || umask().is_none_or(|mask| mask & 0o600 != 0) {
        tmp.as_file().set_permissions(fs::Permissions::from_mode(mode)).map_err(|e| Error::io(path, e))?;
    }
    failpoint(Step::Write, path);
    tmp.write_all(bytes).map_err(|e| Error::io(path, without_temp_path(e)))?;
    if sync {
        failpoint(Step::Sync, path);
        tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    }
    failpoint(Step::Rename, path);
    let file = tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    if sync {
        failpoint(Step::SyncDir, path);
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))?;
    }
    file.metadata().map(|m| Stamp::of(&m)).map_err(|e| Error::io(path, e))
}

/// Removes a file, as one step of [`failpoint`]'s count.
pub fn remove_file(path: &Path) -> Result<()> {
    failpoint(Step::Remove, path);
    fs::remove_file(path).map_err(|e| Error::io(path, e))
}

/// The environment variable of the crash tests' failpoint: `JWKSMITH_FAILPOINT=N` makes the
/// process abort (`std::process::abort`, as abrupt as a SIGKILL) right before its N-th write
/// step. Unset (or not a number), it costs one atomic load per step.
pub const FAILPOINT_ENV: &str = "JWKSMITH_FAILPOINT";

/// The write steps [`failpoint`] counts, in the order one atomic write takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Creating a temporary file.
    Create,
    /// Writing the bytes into it (its mode is already set).
    Write,
    /// Syncing it to disk (writes of `keys/`).
    Sync,
    /// Renaming it into place.
    Rename,
    /// Syncing the directory after the rename (the file is in place: a crash here is a crash
    /// just after the write).
    SyncDir,
    /// Removing a file (an unfinished key, a pruned key, a record, a leftover).
    Remove,
}

/// Counts one write step, and aborts the process before the step `JWKSMITH_FAILPOINT` names.
/// Every write of the writer and of the key store goes through here (the records of started
/// keys included: each is an atomic write, and its removal a [`Step::Remove`]).
pub fn failpoint(step: Step, path: &Path) {
    static AT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    static TAKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Some(at) = *AT.get_or_init(|| std::env::var(FAILPOINT_ENV).ok().and_then(|v| v.trim().parse().ok())) else {
        return;
    };
    let n = TAKEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    if n == at {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        eprintln!("jwksmith: {FAILPOINT_ENV}={at}: aborting before {step:?} of {name:?}");
        std::process::abort();
    }
}

/// Creates `dir` and its parents with `mode` where missing, and sets `mode` on `dir`.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<()> {
    ensure_dir_created(dir, mode).map(|_| ())
}

/// [`ensure_dir`], returning true when `dir` did not exist (so it holds nothing yet).
fn ensure_dir_created(dir: &Path, mode: u32) -> Result<bool> {
    // The usual case in a new output: the parent is there and the directory is not. The umask
    // can only clear bits; when it clears none of `mode`, the directory is made as wanted.
    if fs::DirBuilder::new().mode(mode).create(dir).is_ok() {
        if umask().is_none_or(|mask| mask & mode != 0) {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(dir, e))?;
        }
        return Ok(true);
    }
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            if meta.permissions().mode() & 0o777 != mode {
                fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(dir, e))?;
            }
            return Ok(false);
        }
        Ok(_) => {
            return Err(Error::input(dir, "is a file, but jwksmith needs a directory here", "remove or rename it"));
        }
        Err(_) => {}
    }
    fs::DirBuilder::new().recursive(true).mode(mode).create(dir).map_err(|e| Error::io(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(dir, e))?;
    Ok(true)
}

/// Gives every directory above `files` (paths relative to `out`) its mode again: 0700 under
/// `private/`, 0755 elsewhere (for files a run keeps rather than writes).
pub fn restore_dir_modes(out: &Path, files: &HashSet<&str>) -> Result<()> {
    let dirs: HashSet<&str> = files.iter().flat_map(|f| parents(f)).collect();
    dirs.par_iter()
        .try_for_each(|dir| ensure_dir(&out.join(dir), dir_mode(*dir == "private" || dir.starts_with("private/"))))
}

/// The process's umask (from `/proc/self/status`), when it can be read.
fn umask() -> Option<u32> {
    static UMASK: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        let status = fs::read_to_string("/proc/self/status").ok()?;
        let mask = status.lines().find_map(|line| line.strip_prefix("Umask:"))?;
        u32::from_str_radix(mask.trim(), 8).ok()
    })
}

/// Writes the plan under `out`, skipping unchanged files, and removes owned files it does not list.
///
/// Directories are created level by level, and files compared or written, on all cores (rayon);
/// the report lists written files in plan order. A file whose directory this run created is
/// written without first looking for an old copy.
pub fn apply(out: &Path, files: &[OutputFile], owner: &dyn Ownership) -> Result<WriteReport> {
    apply_keeping(out, files, owner, &HashSet::new(), None, || Ok(Vec::new())).map(|(report, _)| report)
}

/// [`apply`], keeping the files in `keep` (paths relative to `out`) as they are, and removing
/// stale files from `existing`, a walk of `out` made before this run, instead of walking again.
/// `late` makes more files (in `public/` or in directories `files` need) while `files` are
/// written; they are written next, and returned. The report covers `files`, then late files.
pub fn apply_keeping(
    out: &Path,
    files: &[OutputFile],
    owner: &dyn Ownership,
    keep: &HashSet<&str>,
    existing: Option<Entries>,
    late: impl FnOnce() -> Result<Vec<OutputFile>> + Send,
) -> Result<(WriteReport, Vec<OutputFile>)> {
    check_out_dir(out)?;
    ensure_dir(out, 0o755)?;
    let mut dirs: BTreeSet<(&str, bool)> = BTreeSet::from([("public", false)]);
    for file in files {
        dirs.extend(parents(&file.path).map(|dir| (dir, file.private)));
    }
    // Parents before children: one level at a time, each level in parallel.
    let mut levels: BTreeMap<usize, Vec<(&str, bool)>> = BTreeMap::new();
    for (dir, private) in dirs.iter().copied() {
        levels.entry(dir.matches('/').count()).or_default().push((dir, private));
    }
    let mut created: HashSet<&str> = HashSet::new();
    for level in levels.into_values() {
        let fresh = level
            .par_iter()
            .map(|&(dir, private)| ensure_dir_created(&out.join(dir), dir_mode(private)).map(|new| (dir, new)))
            .collect::<Result<Vec<_>>>()?;
        created.extend(fresh.into_iter().filter_map(|(dir, new)| new.then_some(dir)));
    }
    // Temporary files live outside public/ and private/: a killed build never leaves one where
    // it could be deployed. Leftovers are removed below as files the plan does not produce.
    // It is made only when there is something to write: a build that writes nothing leaves
    // `out/` itself untouched.
    let staging = out.join(STAGING_DIR);
    let staging = std::path::absolute(&staging).map_err(|e| Error::io(&staging, e))?;
    if !files.is_empty() {
        ensure_dir(&staging, 0o700)?;
    }
    let put_all = |files: &[OutputFile]| {
        files
            .par_iter()
            .map(|file| {
                let fresh_dir = file.path.rsplit_once('/').is_some_and(|(dir, _)| created.contains(dir));
                put(out, &staging, file, fresh_dir)
            })
            .collect::<Result<Vec<(bool, Stamp)>>>()
    };
    let (written, late) = rayon::join(|| put_all(files), late);
    let (mut written, late) = (written?, late?);
    if !late.is_empty() {
        ensure_dir(&staging, 0o700)?;
        written.extend(put_all(&late)?);
    }
    let mut report = WriteReport::default();
    for (file, (written, stamp)) in files.iter().chain(&late).zip(written) {
        if written {
            report.written.push(file.path.clone());
        } else {
            report.unchanged += 1;
        }
        report.stamps.push(stamp);
    }
    // Directories holding planned or kept files are not empty.
    let mut planned_dirs: HashSet<&str> = dirs.iter().map(|(dir, _)| *dir).collect();
    planned_dirs.extend(keep.iter().flat_map(|kept| parents(kept)));
    let existing = match existing {
        Some(entries) => entries,
        None => existing_entries(out, &created)?,
    };
    let wanted: HashSet<&str> =
        files.iter().chain(&late).map(|f| f.path.as_str()).chain(keep.iter().copied()).collect();
    report.removed = remove_stale(out, existing, &wanted, &planned_dirs, owner)?;
    // Staging is empty now (persisted temporary files were renamed, leftovers removed above).
    let _ = fs::remove_dir(&staging);
    Ok((report, late))
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
fn meta_if_same_bytes(path: &Path, bytes: &[u8]) -> Option<fs::Metadata> {
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

/// Fails when `out` exists but is not a directory.
pub fn check_out_dir(out: &Path) -> Result<()> {
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
pub fn existing_files(out: &Path) -> Result<Vec<String>> {
    Ok(existing_entries(out, &HashSet::new())?.files)
}

/// What a walk of `out` found, as `/`-separated relative paths in walk order (a directory
/// before what it holds).
#[derive(Default, Debug, Clone)]
pub struct Entries {
    /// Files and links.
    pub files: Vec<String>,
    /// Directories.
    pub dirs: Vec<String>,
}

/// Walks `out` (nothing when it does not exist); subdirectories are read on all cores.
pub fn walk_out(out: &Path) -> Result<Entries> {
    existing_entries(out, &HashSet::new())
}

/// Walks `out` (links not followed, siblings in file-name order, a directory before what it
/// holds), except the directories in `skip` (relative paths). Subdirectories are read on all
/// cores.
fn existing_entries(out: &Path, skip: &HashSet<&str>) -> Result<Entries> {
    if !out.is_dir() {
        return Ok(Entries::default());
    }
    walk_dir(out, "", skip)
}

/// The entries below `out/<rel>` in walk order.
fn walk_dir(out: &Path, rel: &str, skip: &HashSet<&str>) -> Result<Entries> {
    let dir = out.join(rel);
    let mut children = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| Error::io(out, e))? {
        let entry = entry.map_err(|e| Error::io(out, e))?;
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

/// Removes the owned files of `existing` (a walk of `out`) that are not `wanted`, then the owned
/// directories left empty. `planned_dirs` (relative paths) hold planned files, so they are not
/// empty.
fn remove_stale(
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
    for rel in existing.files {
        let staged =
            rel.starts_with(&format!("{STAGING_DIR}/")) || (!rel.contains('/') && rel.starts_with(TEMP_PREFIX));
        if !wanted.contains(rel.as_str()) && (staged || (output(&rel) && owner.owns(&rel))) {
            let path = out.join(&rel);
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            removed.push(rel);
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

/// Compares the plan's files under `public/` with the disk.
pub fn diff_public(out: &Path, files: &[OutputFile], owner: &dyn Ownership) -> Result<Vec<Difference>> {
    check_out_dir(out)?;
    check_out_dir(&out.join("public"))?;
    let mut diffs = Vec::new();
    let public: Vec<&OutputFile> = files.iter().filter(|f| f.path.starts_with("public/")).collect();
    for file in &public {
        match fs::read(out.join(&file.path)) {
            Ok(bytes) if bytes == file.bytes => {}
            Ok(_) => diffs.push(Difference::Changed(file.path.clone())),
            Err(_) => diffs.push(Difference::Missing(file.path.clone())),
        }
    }
    let wanted: BTreeSet<&str> = public.iter().map(|f| f.path.as_str()).collect();
    for rel in existing_files(&out.join("public"))? {
        let rel = format!("public/{rel}");
        if !wanted.contains(rel.as_str()) && owner.owns(&rel) {
            diffs.push(Difference::Extra(rel));
        }
    }
    diffs.sort();
    Ok(diffs)
}
