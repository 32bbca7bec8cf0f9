//! File stamps: what `stat` says about a file (device, inode, size, mode, change times), so an
//! incremental build can tell an untouched file from a changed one without reading it.
//!
//! File systems keep change times at a clock tick (a few milliseconds), so a file changed twice
//! within one tick can keep its stamp. Like git's index, a stamp taken within `RACY_MARGIN` of
//! the file's own change time is *racy*: it proves nothing, and the contents must be checked.
//!
//! On Linux a `Root` reads stamps with `statx` relative to a directory opened once; elsewhere
//! (and with the `portable` feature, which CI uses to test this path on Linux) by whole path
//! through std. Both give the same stamps.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Nanoseconds since the Unix epoch.
pub(crate) type Nanos = i128;

/// How close to its change time a stamp must have been taken to be racy. Far above the coarsest
/// tick of a local file system's clock (10 ms).
pub(crate) const RACY_MARGIN: Nanos = 100_000_000;

/// The identity and change stamp of a file, as `stat` reports it (links followed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    /// Nanoseconds since the Unix epoch, saturated to what an `i64` holds (1678 to 2262): 48
    /// bytes a stamp, as the record holds hundreds of thousands of them.
    mtime: i64,
    ctime: i64,
    mode: u32,
}

/// `secs` and `nsec` as nanoseconds since the Unix epoch, saturated (see [`Stamp`]).
fn stamp_nanos(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

impl Stamp {
    /// The stamp of already-read metadata.
    pub(crate) fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mode: meta.mode(),
            mtime: stamp_nanos(meta.mtime(), meta.mtime_nsec()),
            ctime: stamp_nanos(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The stamp of the file at `path`, or `None` when it cannot be read.
    pub(crate) fn read(path: &Path) -> Option<Stamp> {
        std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
    }

    /// A digest of these stamps, in order: equal digests mean equal stamps (SHA-256, cut to 16
    /// bytes). A record keeps one for a set's inputs instead of a stamp a file.
    pub(crate) fn digest<'a>(stamps: impl IntoIterator<Item = &'a Stamp>) -> [u8; 16] {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        for s in stamps {
            for field in [s.dev, s.ino, s.size] {
                context.update(&field.to_le_bytes());
            }
            context.update(&s.mtime.to_le_bytes());
            context.update(&s.ctime.to_le_bytes());
            context.update(&s.mode.to_le_bytes());
        }
        let mut out = [0; 16];
        out.copy_from_slice(&context.finish().as_ref()[..16]);
        out
    }

    /// True when this stamp, taken at `seen_at`, does not prove the file unchanged since: it was
    /// changed within [`RACY_MARGIN`] before (or, by its times, after), or its file system keeps
    /// no times.
    pub(crate) fn is_racy(&self, seen_at: Nanos) -> bool {
        self.ctime <= 0 || self.mtime <= 0 || Nanos::from(self.ctime.max(self.mtime)) > seen_at - RACY_MARGIN
    }
}

/// A directory under which many paths are stamped: on Linux it is opened once (`O_PATH`) and
/// each path is looked up from it, a few path components each instead of the whole path.
/// Thousands of stamps are read per build, and the lookup is most of what a `statx` costs.
#[derive(Debug)]
pub(crate) struct Root {
    dir: PathBuf,
    at: Option<at::Dir>,
}

impl Root {
    /// Opens `dir` (when it cannot be opened, stamps are read by their whole path).
    pub(crate) fn open(dir: &Path) -> Root {
        Root { dir: dir.to_path_buf(), at: at::Dir::open(dir) }
    }

    /// The stamp of `path`: the root's path joined with more (read from the root), or any other
    /// path (read as it is).
    pub(crate) fn stamp(&self, path: &Path) -> Option<Stamp> {
        match path.strip_prefix(&self.dir) {
            Ok(rel) if self.at.is_some() => self.stamp_under(rel),
            _ => Stamp::read(path),
        }
    }

    /// The stamp of `rel`, relative to the root (`""`: the root itself).
    pub(crate) fn stamp_under(&self, rel: impl AsRef<Path>) -> Option<Stamp> {
        let rel = rel.as_ref();
        match &self.at {
            Some(dir) => dir.stamp(rel),
            None => Stamp::read(&self.dir.join(rel)),
        }
    }
}

/// Stamps read relative to an open directory with `statx` (Linux).
#[cfg(all(target_os = "linux", not(feature = "portable")))]
mod at {
    use std::os::fd::OwnedFd;
    use std::path::Path;

    use rustix::fs::{AtFlags, Mode, OFlags, Statx, StatxFlags, StatxTimestamp};

    use super::{Stamp, stamp_nanos};

    #[derive(Debug)]
    pub(super) struct Dir(OwnedFd);

    impl Dir {
        pub(super) fn open(dir: &Path) -> Option<Dir> {
            // An empty path is the working directory, as `Path::join` treats it.
            let at = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
            rustix::fs::open(at, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok().map(Dir)
        }

        pub(super) fn stamp(&self, rel: &Path) -> Option<Stamp> {
            let flags = if rel.as_os_str().is_empty() { AtFlags::EMPTY_PATH } else { AtFlags::empty() };
            rustix::fs::statx(&self.0, rel, flags, StatxFlags::BASIC_STATS).ok().map(|s| of_statx(&s))
        }
    }

    /// The stamp `statx` reports, made exactly as [`Stamp::of`] makes it from std's metadata
    /// (which std reads with `statx` too).
    fn of_statx(st: &Statx) -> Stamp {
        let nanos = |t: StatxTimestamp| stamp_nanos(t.tv_sec, i64::from(t.tv_nsec));
        Stamp {
            dev: rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            size: st.stx_size,
            mode: u32::from(st.stx_mode),
            mtime: nanos(st.stx_mtime),
            ctime: nanos(st.stx_ctime),
        }
    }
}

/// Stamps read by whole path through std (every other Unix, or `--features portable`).
#[cfg(not(all(target_os = "linux", not(feature = "portable"))))]
mod at {
    use std::path::{Path, PathBuf};

    use super::Stamp;

    #[derive(Debug)]
    pub(super) struct Dir(PathBuf);

    impl Dir {
        pub(super) fn open(dir: &Path) -> Option<Dir> {
            std::fs::metadata(dir).ok().filter(|m| m.is_dir()).map(|_| Dir(dir.to_path_buf()))
        }

        pub(super) fn stamp(&self, rel: &Path) -> Option<Stamp> {
            Stamp::read(&self.0.join(rel))
        }
    }
}

/// The clock, in nanoseconds since the Unix epoch.
pub(crate) fn now_nanos() -> Nanos {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as Nanos).unwrap_or(0)
}

/// A short digest of file contents: the first 16 bytes of their SHA-256.
pub(crate) fn digest(bytes: &[u8]) -> [u8; 16] {
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
    fn stamps_read_from_a_root_equal_those_of_std() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let file = sub.join("a");
        std::fs::write(&file, b"a").unwrap();
        let root = Root::open(dir.path());
        for path in [dir.path(), &sub, &file] {
            assert!(Stamp::read(path).is_some());
            assert_eq!(root.stamp(path), Stamp::read(path), "{}", path.display());
            let rel = path.strip_prefix(dir.path()).unwrap();
            assert_eq!(root.stamp_under(rel), Stamp::read(path), "{}", rel.display());
        }
        assert_eq!(root.stamp(&sub.join("missing")), None);
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(root.stamp(elsewhere.path()), Stamp::read(elsewhere.path()), "a path outside the root");
        let gone = Root::open(&dir.path().join("gone"));
        assert_eq!(gone.stamp_under("sub/a"), None);
        std::fs::create_dir(dir.path().join("gone")).unwrap();
        assert!(gone.stamp_under("").is_some(), "a root that could not be opened reads by whole path");
    }

    #[test]
    fn digests_differ_with_contents() {
        assert_eq!(digest(b"a"), digest(b"a"));
        assert_ne!(digest(b"a"), digest(b"b"));
    }
}
