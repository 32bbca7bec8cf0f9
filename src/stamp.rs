//! File stamps: what `stat` says about a file (device, inode, size, mode, change times), so an
//! incremental build can tell an untouched file from a changed one without reading it.
//!
//! File systems keep change times at a clock tick (a few milliseconds), so a file changed twice
//! within one tick can keep its stamp. Like git's index, a stamp taken within [`RACY_MARGIN`] of
//! the file's own change time is *racy*: it proves nothing, and the contents must be checked.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, Statx, StatxFlags, StatxTimestamp};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Nanoseconds since the Unix epoch.
pub type Nanos = i128;

/// How close to its change time a stamp must have been taken to be racy. Far above the coarsest
/// tick of a local file system's clock (10 ms).
pub const RACY_MARGIN: Nanos = 100_000_000;

/// The identity and change stamp of a file, as `stat` reports it (links followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    mtime: Nanos,
    ctime: Nanos,
}

impl Stamp {
    /// The stamp of already-read metadata.
    pub fn of(meta: &Metadata) -> Stamp {
        let nanos = |secs: i64, nsec: i64| Nanos::from(secs) * 1_000_000_000 + Nanos::from(nsec);
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mode: meta.mode(),
            mtime: nanos(meta.mtime(), meta.mtime_nsec()),
            ctime: nanos(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The stamp `statx` reports, made exactly as [`Stamp::of`] makes it from std's metadata
    /// (which std reads with `statx` too).
    fn of_statx(st: &Statx) -> Stamp {
        let nanos = |t: StatxTimestamp| Nanos::from(t.tv_sec) * 1_000_000_000 + Nanos::from(t.tv_nsec);
        Stamp {
            dev: rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            size: st.stx_size,
            mode: u32::from(st.stx_mode),
            mtime: nanos(st.stx_mtime),
            ctime: nanos(st.stx_ctime),
        }
    }

    /// The stamp of the file at `path`, or `None` when it cannot be read.
    pub fn read(path: &Path) -> Option<Stamp> {
        std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True when this stamp, taken at `seen_at`, does not prove the file unchanged since: it was
    /// changed within [`RACY_MARGIN`] before (or, by its times, after), or its file system keeps
    /// no times.
    pub fn is_racy(&self, seen_at: Nanos) -> bool {
        self.ctime <= 0 || self.mtime <= 0 || self.ctime.max(self.mtime) > seen_at - RACY_MARGIN
    }
}

/// The stamps of a directory and of the files `names` in it, read through one handle on the
/// directory: one path lookup for the directory, then one short lookup per file, instead of a
/// full lookup per file. `None` for what cannot be read (everything, when the directory cannot
/// be opened).
pub fn read_in_dir<'a>(dir: &Path, names: impl Iterator<Item = &'a OsStr>) -> (Option<Stamp>, Vec<Option<Stamp>>) {
    const WHAT: StatxFlags = StatxFlags::BASIC_STATS;
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    // An empty `dir` is the current directory, as `Path::join` treats it.
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let Ok(fd) = rustix::fs::open(dir, flags, Mode::empty()) else {
        return (None, names.map(|_| None).collect());
    };
    let own = rustix::fs::statx(&fd, "", AtFlags::EMPTY_PATH, WHAT).ok();
    let files = names.map(|n| rustix::fs::statx(&fd, n, AtFlags::empty(), WHAT).ok().map(|s| Stamp::of_statx(&s)));
    (own.map(|s| Stamp::of_statx(&s)), files.collect())
}

/// The stamps of `paths`, in order; paths in the same directory (next to each other) are read
/// through one handle on it ([`read_in_dir`]).
pub fn read_all(paths: &[PathBuf]) -> Vec<Option<Stamp>> {
    let mut stamps = Vec::with_capacity(paths.len());
    for group in paths.chunk_by(|a, b| a.parent() == b.parent()) {
        let names: Option<Vec<&OsStr>> = group.iter().map(|p| p.file_name()).collect();
        match (group[0].parent(), names) {
            (Some(dir), Some(names)) if group.len() > 1 => stamps.extend(read_in_dir(dir, names.into_iter()).1),
            _ => stamps.extend(group.iter().map(|p| Stamp::read(p))),
        }
    }
    stamps
}

/// The clock, in nanoseconds since the Unix epoch.
pub fn now_nanos() -> Nanos {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as Nanos).unwrap_or(0)
}

/// A short digest of file contents: the first 16 bytes of their SHA-256.
pub fn digest(bytes: &[u8]) -> [u8; 16] {
    let full = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut short = [0; 16];
    short.copy_from_slice(&full.as_ref()[..16]);
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_file_is_racy_and_an_old_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let stamp = Stamp::read(&path).unwrap();
        assert!(stamp.is_racy(now_nanos()), "just written");
        assert!(!stamp.is_racy(now_nanos() + 10 * RACY_MARGIN), "seen long after its change");
    }

    #[test]
    fn a_rewrite_with_another_size_or_inode_changes_the_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let before = Stamp::read(&path).unwrap();
        std::fs::write(&path, b"three").unwrap();
        assert_ne!(Stamp::read(&path), Some(before));
        let other = dir.path().join("g");
        std::fs::write(&other, b"three").unwrap();
        let replaced = Stamp::read(&path).unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_ne!(Stamp::read(&path), Some(replaced), "a file renamed over it is another inode");
        assert_eq!(Stamp::read(&dir.path().join("missing")), None);
    }

    #[test]
    fn stamps_read_through_a_directory_handle_equal_those_of_std() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let files: Vec<PathBuf> = ["a", "b", "c"].iter().map(|n| sub.join(n)).collect();
        for f in &files {
            std::fs::write(f, f.to_str().unwrap()).unwrap();
        }
        let std_stamps: Vec<Option<Stamp>> = files.iter().map(|f| Stamp::read(f)).collect();
        assert!(std_stamps.iter().all(Option::is_some));
        let (own, in_dir) = read_in_dir(&sub, files.iter().map(|f| f.file_name().unwrap()));
        assert_eq!(own, Stamp::read(&sub));
        assert_eq!(in_dir, std_stamps);
        let mut mixed = files.clone();
        mixed.push(dir.path().join("missing"));
        mixed.push(sub.join("missing"));
        let mut expected = std_stamps.clone();
        expected.extend([None, None]);
        assert_eq!(read_all(&mixed), expected);
        assert_eq!(read_in_dir(&dir.path().join("gone"), files.iter().map(|f| f.file_name().unwrap())).1, [None; 3]);
    }

    #[test]
    fn digests_differ_with_contents() {
        assert_eq!(digest(b"a"), digest(b"a"));
        assert_ne!(digest(b"a"), digest(b"b"));
    }
}
