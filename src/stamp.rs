//! File stamps: what `stat` says about a file (device, inode, size, mode, change times), so an
//! incremental build can tell an untouched file from a changed one without reading it.
//!
//! File systems keep change times at a clock tick (a few milliseconds), so a file changed twice
//! within one tick can keep its stamp. Like git's index, a stamp taken within [`RACY_MARGIN`] of
//! the file's own change time is *racy*: it proves nothing, and the contents must be checked.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
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

    /// The stamp of the file at `path`, or `None` when it cannot be read.
    pub fn read(path: &Path) -> Option<Stamp> {
        std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
    }

    /// True when this stamp, taken at `seen_at`, does not prove the file unchanged since: it was
    /// changed within [`RACY_MARGIN`] before (or, by its times, after), or its file system keeps
    /// no times.
    pub fn is_racy(&self, seen_at: Nanos) -> bool {
        self.ctime <= 0 || self.mtime <= 0 || self.ctime.max(self.mtime) > seen_at - RACY_MARGIN
    }
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
    fn digests_differ_with_contents() {
        assert_eq!(digest(b"a"), digest(b"a"));
        assert_ne!(digest(b"a"), digest(b"b"));
    }
}
