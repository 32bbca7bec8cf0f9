//! Writing one file atomically: a temporary file (its mode set before any byte goes in),
//! optionally synced, renamed into place; directories made with their modes; the crash tests'
//! failpoint that every write step passes.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::TEMP_PREFIX;
use crate::error::{Error, Result};
use crate::stamp::Stamp;

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
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<()> {
    write_atomic_via(path, path.parent().unwrap_or(Path::new(".")), bytes, mode, sync).map(|_| ())
}

/// Like [`write_atomic`], with the temporary file in `staging` (same file system as `path`).
/// An absolute `staging` spares `tempfile` resolving the working directory for each file.
/// Returns the stamp of the file in place.
pub(crate) fn write_atomic_via(path: &Path, staging: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<Stamp> {
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

/// The first half of [`write_atomic_via`]: `bytes` in the new temporary file `tmp` (of a
/// staging directory on the file system of `path`), given `mode`, not yet in place: nothing at
/// `path` changes. [`put_staged`] renames it over `path`. `path` names the errors.
pub(crate) fn stage(path: &Path, tmp: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    failpoint(Step::Create, path);
    // Created 0600 less the umask, and never over an existing file.
    let mut file =
        fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(tmp).map_err(|e| Error::io(path, e))?;
    if mode != 0o600 || umask().is_none_or(|mask| mask & 0o600 != 0) {
        file.set_permissions(fs::Permissions::from_mode(mode)).map_err(|e| Error::io(path, e))?;
    }
    failpoint(Step::Write, path);
    file.write_all(bytes).map_err(|e| Error::io(path, e))
}

/// The second half of [`write_atomic_via`]: the file [`stage`] made at `tmp` renamed over
/// `path`. Returns its stamp in place.
pub(crate) fn put_staged(tmp: &Path, path: &Path) -> Result<Stamp> {
    failpoint(Step::Rename, path);
    fs::rename(tmp, path).map_err(|e| Error::io(path, e))?;
    Stamp::read(path).ok_or_else(|| Error::Failed(format!("{} vanished", path.display())))
}

/// Removes a file, as one step of [`failpoint`]'s count.
pub(crate) fn remove_file(path: &Path) -> Result<()> {
    failpoint(Step::Remove, path);
    fs::remove_file(path).map_err(|e| Error::io(path, e))
}

/// The environment variable of the crash tests' failpoint: `JWKSMITH_FAILPOINT=N` makes the
/// process abort (`std::process::abort`, as abrupt as a SIGKILL) right before its N-th write
/// step. Unset (or not a number), it costs one atomic load per step.
pub(crate) const FAILPOINT_ENV: &str = "JWKSMITH_FAILPOINT";

/// The write steps [`failpoint`] counts, in the order one atomic write takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
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
fn failpoint(step: Step, path: &Path) {
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
pub(crate) fn ensure_dir(dir: &Path, mode: u32) -> Result<()> {
    ensure_dir_created(dir, mode, false).map(|_| ())
}

/// [`ensure_dir`], returning true when `dir` did not exist (so it holds nothing yet). A file in
/// its place is an error, or, with `replace_file` (a directory inside `out/public/` or
/// `out/private/`, where such a file is a stale output), removed for the directory.
pub(super) fn ensure_dir_created(dir: &Path, mode: u32, replace_file: bool) -> Result<bool> {
    // The usual case in a new output: the parent is there and the directory is not. The umask
    // can only clear bits; when it clears none of `mode`, the directory is made as wanted.
    if fs::DirBuilder::new().mode(mode).create(dir).is_ok() {
        if umask().is_none_or(|mask| mask & mode != 0) {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(dir, e))?;
        }
        return Ok(true);
    }
    match fs::symlink_metadata(dir) {
        // A link where a directory belongs is replaced, never followed: through it, files would
        // land wherever it points (keys/ included).
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::remove_file(dir).map_err(|e| Error::io(dir, e))?;
            fs::DirBuilder::new().mode(mode).create(dir).map_err(|e| Error::io(dir, e))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(dir, e))?;
            return Ok(true);
        }
        Ok(meta) if meta.is_dir() => {
            if meta.permissions().mode() & 0o777 != mode {
                fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(dir, e))?;
            }
            return Ok(false);
        }
        Ok(_) if replace_file => {
            fs::remove_file(dir).map_err(|e| Error::io(dir, e))?;
            fs::DirBuilder::new().mode(mode).create(dir).map_err(|e| Error::io(dir, e))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(dir, e))?;
            return Ok(true);
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

/// Creates `dir` and its missing parents, each exactly 0755 whatever the umask; returns the
/// directories it made, outermost first (existing ones keep their modes).
pub(crate) fn make_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut at = dir;
    loop {
        match fs::symlink_metadata(at) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(at.to_path_buf()),
            Err(e) => return Err(e),
        }
        match at.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => at = parent,
            _ => break,
        }
    }
    let mut made = Vec::new();
    for dir in missing.into_iter().rev() {
        match fs::create_dir(&dir) {
            Ok(()) => {
                // A umask of 0277 would leave it unwritable.
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
                made.push(dir);
            }
            // Made meanwhile by another run: not ours to remove.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(made)
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
