//! Exclusive locks between jwksmith processes, so that overlapping runs (two cron jobs, two CI
//! jobs, a `watch` and a hand-run `build`) act one after the other.
//!
//! The commands that change `keys/` hold `Lock::keys` (`keys/.jwksmith/lock`) for their whole
//! run, and `build` holds `Lock::out` (`out/.jwksmith-lock`). A lock is `flock(2)` on an open
//! file (std's [`File::lock`]): the kernel releases it when the process ends, however it ends,
//! so a killed run never leaves a stale lock. A second process waits for it (up to 60 s, or
//! `TIMEOUT_VAR`, read by `timeout`), then fails naming the lock file. Each command loads what it acts on only
//! once it holds the lock, so it acts on what the first one left.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::keystate;
use crate::outdir;
use crate::ui::Ui;

/// Environment variable that sets how long a command waits for a lock (a duration such as
/// `60s`, `500ms` or `5m`; `0s` tries once).
pub(crate) const TIMEOUT_VAR: &str = "JWKSMITH_LOCK_TIMEOUT";

/// How long a command waits for a lock when [`TIMEOUT_VAR`] is not set.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A held lock, released when dropped. A lock that needs none (a directory where nothing can
/// be written, or a key directory that does not exist yet) holds no file.
#[must_use = "the lock is released when this is dropped"]
#[derive(Debug)]
pub struct Lock {
    file: Option<File>,
    /// The lock file, and the directories this lock made to hold it (outermost first): a run
    /// that leaves them holding nothing else removes them again, so a failed `build` into a
    /// missing `out/` leaves no `out/` behind.
    made: Option<(PathBuf, Vec<PathBuf>)>,
}

impl Lock {
    /// The lock of the commands that change `keys/` (`keys/.jwksmith/lock`). None is taken when
    /// `keys/` does not exist (the command then reports it, or makes it), or cannot be written.
    /// Waits up to `timeout` for another holder, telling `ui` once.
    pub(crate) fn keys(keys: &Path, timeout: Duration, ui: &Ui) -> Result<Lock> {
        if !keys.is_dir() {
            return Ok(Lock::none());
        }
        let state = match keystate::make(keys) {
            Ok(state) => state,
            // Nothing can be written in keys/: the lock file is used if it is there.
            Err(Error::Io { source, .. }) if not_writable(&source) => match keystate::state_dir(keys) {
                state if state.is_dir() => state,
                _ => return Ok(Lock::none()),
            },
            Err(e) => return Err(e),
        };
        let lock = acquire(&state.join(keystate::LOCK_FILE), timeout, ui, Vec::new())?;
        // Held now: the `.gitignore` that keeps the lock and all else here unstaged.
        match keystate::ensure(keys, "") {
            Ok(_) => {}
            Err(Error::Io { source, .. }) if not_writable(&source) => {}
            Err(e) => return Err(e),
        }
        Ok(lock)
    }

    /// The lock of `build` on `out/` (`out/.jwksmith-lock`), making `out/` when it is missing.
    /// None is taken when `out/` cannot be written: a build that has something to write then
    /// fails on its first write, and one that has nothing to write needs no lock. Waits up to
    /// `timeout` for another holder, telling `ui` once.
    pub(crate) fn out(out: &Path, timeout: Duration, ui: &Ui) -> Result<Lock> {
        let made = match crate::write::make_dirs(out) {
            Ok(made) => made,
            Err(e) if not_writable(&e) => return Ok(Lock::none()),
            Err(e) => return Err(Error::io(out, e)),
        };
        acquire(&out.join(outdir::LOCK_FILE), timeout, ui, made)
    }

    fn none() -> Lock {
        Lock { file: None, made: None }
    }

    /// True when a lock file is held (false where none is needed).
    pub fn is_held(&self) -> bool {
        self.file.is_some()
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Still holding the lock: a process waiting on this file finds it gone once it gets the
        // lock, and starts again (see `acquire`).
        let Some((file, dirs)) = self.made.take() else { return };
        let Some(dir) = dirs.last() else { return };
        let only_the_lock = fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .map(|e| e.map(|e| e.file_name()))
                .collect::<std::io::Result<Vec<_>>>()
                .is_ok_and(|names| names.len() == 1 && names[0] == *file.file_name().unwrap_or_default())
        });
        if only_the_lock && fs::remove_file(&file).is_ok() {
            for made in dirs.iter().rev() {
                if fs::remove_dir(made).is_err() {
                    break;
                }
            }
        }
    }
}

/// The wait [`TIMEOUT_VAR`] asks for, or [`DEFAULT_TIMEOUT`].
pub(crate) fn timeout() -> Result<Duration> {
    let Some(value) = std::env::var_os(TIMEOUT_VAR) else { return Ok(DEFAULT_TIMEOUT) };
    let text = value.to_string_lossy();
    humantime::parse_duration(text.trim()).map_err(|_| {
        Error::Usage(format!(
            "{TIMEOUT_VAR}={text}: not a duration; give how long to wait for another jwksmith, such as 60s or 5m"
        ))
    })
}

/// True for errors that mean "nothing can be written here".
fn not_writable(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem)
}

/// Opens the lock file for locking: made (0600) when missing; opened read-only when it cannot
/// be written (`flock` needs no write access). `None`: it is missing and cannot be made.
fn open(path: &Path) -> Result<Option<File>> {
    match OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if not_writable(&e) => match File::open(path) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == ErrorKind::NotFound || not_writable(&e) => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        },
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Locks `path`, waiting up to `timeout`.
fn acquire(path: &Path, timeout: Duration, ui: &Ui, mut made: Vec<PathBuf>) -> Result<Lock> {
    let deadline = Instant::now() + timeout;
    let mut told = false;
    let mut pause = Duration::from_millis(10);
    loop {
        let Some(file) = open(path)? else { return Ok(Lock::none()) };
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::input(
                    path,
                    format!(
                        "another jwksmith holds this lock and is still running (waited {})",
                        humantime::format_duration(timeout)
                    ),
                    format!("run the command again once the other one has finished ({TIMEOUT_VAR} sets the wait)"),
                ));
            }
            if !told {
                told = true;
                ui.warn(&format!("waiting for another jwksmith to finish: it holds {}", path.display()));
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(200));
        }
        // The lock is ours if the file is still the one at `path`: a build that made `out/`
        // and failed removes its lock file before it lets go (see `Drop`).
        let same = match (file.metadata(), fs::metadata(path)) {
            (Ok(held), Ok(now)) => held.dev() == now.dev() && held.ino() == now.ino(),
            _ => false,
        };
        if same {
            let made = if made.is_empty() { None } else { Some((path.to_path_buf(), made)) };
            return Ok(Lock { file: Some(file), made });
        }
        if let Some(dir) = path.parent() {
            made.extend(crate::write::make_dirs(dir).map_err(|e| Error::io(dir, e))?);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> Ui {
        Ui::new(crate::ui::Verbosity::Quiet)
    }

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let first = Lock::out(&out, DEFAULT_TIMEOUT, &quiet()).unwrap();
        assert!(first.is_held());
        let lock_file = out.join(outdir::LOCK_FILE);
        // Another open file description of the same file: flock excludes it even in-process.
        let other = File::open(&lock_file).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        let err = acquire(&lock_file, Duration::from_millis(50), &quiet(), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("another jwksmith"), "{err}");
        drop(first);
        other.try_lock().unwrap();
    }

    #[test]
    fn a_lock_on_a_made_out_dir_removes_it_when_nothing_else_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b/out");
        drop(Lock::out(&out, DEFAULT_TIMEOUT, &quiet()).unwrap());
        assert!(!dir.path().join("a").exists(), "made directories removed again");
        let lock = Lock::out(&out, DEFAULT_TIMEOUT, &quiet()).unwrap();
        fs::write(out.join("kept"), "x").unwrap();
        drop(lock);
        assert!(out.join(outdir::LOCK_FILE).is_file(), "out/ with outputs keeps its lock file");
    }

    #[test]
    fn a_waiter_whose_lock_file_was_removed_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let first = Lock::out(&out, DEFAULT_TIMEOUT, &quiet()).unwrap();
        let lock_file = out.join(outdir::LOCK_FILE);
        let waiter = std::thread::spawn({
            let lock_file = lock_file.clone();
            move || acquire(&lock_file, Duration::from_secs(10), &quiet(), Vec::new())
        });
        std::thread::sleep(Duration::from_millis(100));
        drop(first);
        let second = waiter.join().unwrap().unwrap();
        let held = second.file.as_ref().unwrap().metadata().unwrap();
        let at_path = fs::metadata(&lock_file).unwrap();
        assert_eq!((held.dev(), held.ino()), (at_path.dev(), at_path.ino()), "holds the file at the path");
    }

    #[test]
    fn no_lock_is_needed_where_nothing_can_be_written() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!Lock::keys(&dir.path().join("missing"), DEFAULT_TIMEOUT, &quiet()).unwrap().is_held());
        assert!(!dir.path().join("missing").exists());

        // A read-only out/ (root ignores mode bits: chattr +i makes it immutable).
        let out = dir.path().join("out");
        let first = Lock::out(&out, DEFAULT_TIMEOUT, &quiet()).unwrap();
        fs::write(out.join("kept"), "x").unwrap();
        drop(first);
        let chattr = |flag: &str, path: &Path| {
            std::process::Command::new("chattr").args(["-R", flag]).arg(path).status().is_ok_and(|s| s.success())
        };
        if !chattr("+i", &out) {
            assert!(std::env::var_os("CI").is_none(), "CI's temp dir must support chattr +i");
            eprintln!("skipped: chattr +i is not supported here");
            return;
        }
        // With its lock file: locked through a read-only descriptor. Without: no lock.
        let with_file = Lock::out(&out, DEFAULT_TIMEOUT, &quiet()).map(|l| l.is_held());
        chattr("-i", &out);
        fs::remove_file(out.join(outdir::LOCK_FILE)).unwrap();
        chattr("+i", &out);
        let without_file = Lock::out(&out, DEFAULT_TIMEOUT, &quiet()).map(|l| l.is_held());
        let keys = Lock::keys(&out, DEFAULT_TIMEOUT, &quiet()).map(|l| l.is_held());
        chattr("-i", &out);
        assert!(with_file.unwrap(), "locked through a read-only descriptor");
        assert!(!without_file.unwrap(), "no lock where none can be made");
        assert!(!keys.unwrap(), "no key lock where none can be made");
    }
}
