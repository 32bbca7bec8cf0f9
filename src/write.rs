//! Applying a plan to the disk: each file written to a temporary file in its own directory and
//! renamed; unchanged files left alone (their mtime stays); files the plan does not produce
//! removed. Also the atomic writer used for key files.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::plan::OutputFile;

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

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (created 0600),
/// given `mode`, optionally synced, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<()> {
    write_atomic_via(path, path.parent().unwrap_or(Path::new(".")), bytes, mode, sync)
}

/// Like [`write_atomic`], with the temporary file in `staging` (same file system as `path`).
pub fn write_atomic_via(path: &Path, staging: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".tmp")
        .tempfile_in(staging)
        .map_err(|e| Error::io(staging, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    if sync {
        tmp.as_file().sync_all().map_err(|e| Error::io(tmp.path(), e))?;
    }
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode)).map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    if sync {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

/// Creates `dir` and its parents with `mode` where missing, and sets `mode` on `dir`.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<()> {
    if dir.is_dir() {
        let current = fs::metadata(dir).map_err(|e| Error::io(dir, e))?.permissions().mode() & 0o777;
        if current != mode {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(dir, e))?;
        }
        return Ok(());
    }
    if dir.exists() {
        return Err(Error::input(dir, "is a file, but jwksmith needs a directory here", "remove or rename it"));
    }
    fs::DirBuilder::new().recursive(true).mode(mode).create(dir).map_err(|e| Error::io(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(dir, e))
}

/// Writes the plan under `out`, skipping unchanged files, and removes owned files it does not list.
pub fn apply(out: &Path, files: &[OutputFile], owner: &dyn Ownership) -> Result<WriteReport> {
    let mut report = WriteReport::default();
    if out.exists() && !out.is_dir() {
        return Err(Error::input(
            out,
            "is a file, but the output must be a directory",
            "remove it or pass another --out DIR",
        ));
    }
    ensure_dir(out, 0o755)?;
    let mut dirs: BTreeSet<(PathBuf, bool)> = BTreeSet::new();
    for file in files {
        let path = out.join(&file.path);
        let mut dir = path.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == out {
                break;
            }
            dirs.insert((d.clone(), file.private));
            dir = d.parent().map(Path::to_path_buf);
        }
    }
    for (dir, private) in &dirs {
        ensure_dir(dir, dir_mode(*private))?;
    }
    // Temporary files live outside public/ and private/: a killed build never leaves one where
    // it could be deployed. Leftovers are removed below as files the plan does not produce.
    let staging = out.join(STAGING_DIR);
    ensure_dir(&staging, 0o700)?;
    for file in files {
        let path = out.join(&file.path);
        match fs::read(&path) {
            Ok(existing) if existing == file.bytes => {
                fix_mode(&path, mode(file.private))?;
                report.unchanged += 1;
            }
            _ => {
                if path.is_dir() {
                    fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
                }
                write_atomic_via(&path, &staging, &file.bytes, mode(file.private), false)?;
                report.written.push(file.path.clone());
            }
        }
    }
    report.removed = remove_stale(out, files, owner)?;
    Ok(report)
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

fn fix_mode(path: &Path, want: u32) -> Result<()> {
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.permissions().mode() & 0o777 != want {
        fs::set_permissions(path, fs::Permissions::from_mode(want)).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// Every file (and symlink) under `out`, as `/`-separated relative paths.
pub fn existing_files(out: &Path) -> Result<Vec<String>> {
    if !out.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(out).follow_links(false).sort_by_file_name() {
        let entry = entry
            .map_err(|e| Error::io(out, e.into_io_error().unwrap_or_else(|| std::io::Error::other("walk failed"))))?;
        if entry.file_type().is_dir() {
            continue;
        }
        found.push(rel_path(out, entry.path()));
    }
    Ok(found)
}

fn rel_path(out: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(out).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

fn remove_stale(out: &Path, files: &[OutputFile], owner: &dyn Ownership) -> Result<Vec<String>> {
    let wanted: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let mut removed = Vec::new();
    for rel in existing_files(out)? {
        let staged = rel.starts_with(&format!("{STAGING_DIR}/"));
        if !wanted.contains(rel.as_str()) && (staged || owner.owns(&rel)) {
            let path = out.join(&rel);
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            removed.push(rel);
        }
    }
    remove_empty_dirs(out, owner)?;
    Ok(removed)
}

fn remove_empty_dirs(out: &Path, owner: &dyn Ownership) -> Result<()> {
    let dirs: Vec<PathBuf> = walkdir::WalkDir::new(out)
        .min_depth(1)
        .contents_first(true)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_dir())
        .map(|e| e.into_path())
        .collect();
    for dir in dirs {
        let rel = rel_path(out, &dir);
        let keep = rel == "public" || rel == "private";
        let staging = rel == STAGING_DIR;
        let empty = fs::read_dir(&dir).map(|mut d| d.next().is_none()).unwrap_or(false);
        if empty && !keep && (staging || owner.owns(&format!("{rel}/"))) {
            fs::remove_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        }
    }
    Ok(())
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
