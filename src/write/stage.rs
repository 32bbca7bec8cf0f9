//! Writing a plan in two steps, for a build that plans its sets in batches and must still change
//! nothing when a later batch fails: [`Staging::prepare`] compares a batch's files with the disk
//! and keeps each one that differs, its bytes in memory up to [`HELD_BYTES`] in all, beyond that
//! in a temporary file of `out/`'s staging directory (touching nothing under `public/` or
//! `private/`); once everything is planned, [`commit`] makes the directories, puts the files in
//! place and fixes modes. [`Staging::clean`] then removes whatever was not committed (a failed
//! run) and the staging directory. A failed build whose files to write fit in memory (every
//! incremental build, any build of a few thousand sets) leaves `out/` exactly as it was; a
//! larger one may leave only the staging directory's coming and going in `out/`'s mtime.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use rayon::prelude::*;

use super::apply::{make_dirs, make_staging, meta_if_same_bytes, mode};
use super::atomic::{ensure_dir, put_staged, stage, write_atomic_via};
use super::{STAGING_DIR, TEMP_PREFIX};
use crate::error::{Error, Result};
use crate::layout::{OutputFile, parents};
use crate::stamp::Stamp;

/// One planned file to write, compared with the disk.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// The disk holds its bytes with its mode: nothing to do.
    Same(Stamp),
    /// The disk holds its bytes with another mode: the mode is set at commit.
    Mode,
    /// Missing or different: its bytes, held in memory until the commit.
    Held(Vec<u8>),
    /// Missing or different: its bytes wait in the staging directory's temporary file of this
    /// number ([`Staging::file`]).
    Staged(u32),
}

/// The staging directory of one run, made on first use.
#[derive(Debug)]
pub(crate) struct Staging {
    out: PathBuf,
    /// Absolute: `tempfile` then resolves no working directory per file.
    dir: PathBuf,
    made: OnceLock<Result<(), String>>,
    /// The number of the next temporary file.
    next: AtomicU32,
    /// What this run's temporary files are named with: `.jwksmith-tmp-<pid>-`.
    prefix: String,
    /// The bytes held in memory so far.
    held: AtomicUsize,
    /// False when `out/` held no directory when the run walked it (under the lock of `out/`):
    /// no planned file can be there, so none is opened to be compared.
    compare: bool,
}

/// How many bytes of files to write a run holds in memory before it stages them on disk.
pub(crate) const HELD_BYTES: usize = 16 << 20;

impl Staging {
    /// The staging directory of `out` (nothing is made yet). `compare`: whether `out/` may
    /// hold planned files (false when a walk of it found no directory: a cold build then opens
    /// no output to compare it).
    pub(crate) fn new(out: &Path, compare: bool) -> Result<Staging> {
        let dir = out.join(STAGING_DIR);
        let dir = std::path::absolute(&dir).map_err(|e| Error::io(&dir, e))?;
        let prefix = format!("{TEMP_PREFIX}{}-", std::process::id());
        let (next, held) = (AtomicU32::new(0), AtomicUsize::new(0));
        Ok(Staging { out: out.to_path_buf(), dir, made: OnceLock::new(), next, prefix, held, compare })
    }

    /// The temporary file of this number. Numbered, not named at random: a plan of hundreds of
    /// thousands of files keeps a number per staged file, not a path.
    fn file(&self, number: u32) -> PathBuf {
        self.dir.join(format!("{}{number}.tmp", self.prefix))
    }

    /// Makes `out/` (when missing) and the staging directory with its `.gitignore`, once.
    fn make(&self) -> Result<()> {
        let made = self.made.get_or_init(|| {
            ensure_dir(&self.out, 0o755).and_then(|()| make_staging(&self.dir)).map_err(|e| e.to_string())
        });
        made.clone().map_err(Error::Failed)
    }

    /// Compares each of `files` with the disk, on all cores, staging those that differ. The
    /// bytes of a file it holds in memory are taken from it (moved, not copied): afterwards
    /// only the paths of `files` are whole.
    pub(crate) fn prepare(&self, files: Vec<&mut OutputFile>) -> Result<Vec<Prepared>> {
        files.into_par_iter().map(|file| self.prepare_one(file)).collect()
    }

    fn prepare_one(&self, file: &mut OutputFile) -> Result<Prepared> {
        let path = self.out.join(&file.path);
        let want = mode(file.private);
        if let Some(existing) = self.compare.then(|| meta_if_same_bytes(&path, &file.bytes)).flatten() {
            return Ok(if existing.permissions().mode() & 0o777 == want {
                Prepared::Same(Stamp::of(&existing))
            } else {
                Prepared::Mode
            });
        }
        let len = file.bytes.len();
        if self.held.fetch_add(len, Ordering::Relaxed) + len <= HELD_BYTES {
            let mut bytes = std::mem::take(&mut file.bytes);
            // What is held is what the budget counts (a shrink in place, not a copy).
            bytes.shrink_to_fit();
            return Ok(Prepared::Held(bytes));
        }
        self.held.fetch_sub(len, Ordering::Relaxed);
        self.make()?;
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        stage(&path, &self.file(number), &file.bytes, want)?;
        Ok(Prepared::Staged(number))
    }

    /// Removes this run's temporary files that were not committed (a failed run), then the
    /// staging directory when this run made it and it holds nothing else.
    pub(crate) fn clean(&self) {
        if self.made.get().is_some() {
            if let Ok(entries) = fs::read_dir(&self.dir) {
                let ours = entries.flatten().filter(|e| e.file_name().to_string_lossy().starts_with(&self.prefix));
                ours.for_each(|e| drop(fs::remove_file(e.path())));
            }
            let _ = fs::remove_file(self.dir.join(".gitignore"));
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

/// Puts prepared files in place: `files` (path relative to `out/`, private or not) with what
/// [`Staging::prepare`] made of each, in the same order. Makes the missing directories above
/// them (parents first, each level on all cores), writes the held files atomically, renames the
/// staged ones and fixes modes, on all cores. Returns for each file whether it was written, and its stamp in place.
pub(crate) fn commit(
    out: &Path,
    staging: &Staging,
    files: &[(&str, bool)],
    prepared: Vec<Prepared>,
) -> Result<Vec<(bool, Stamp)>> {
    let mut dirs: BTreeSet<(&str, bool)> = BTreeSet::from([("public", false)]);
    for ((path, private), p) in files.iter().zip(&prepared) {
        if !matches!(p, Prepared::Same(_)) {
            dirs.extend(parents(path).map(|dir| (dir, *private)));
        }
    }
    let created = make_dirs(out, &dirs)?;
    // In a directory this run made there is nothing, so no directory to clear at a file's place.
    let in_new_dir = |rel: &str| rel.rsplit_once('/').is_some_and(|(dir, _)| created.contains(dir));
    let clear = |rel: &str, path: &Path| -> Result<()> {
        if !in_new_dir(rel) && fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
            fs::remove_dir_all(path).map_err(|e| Error::io(path, e))?;
        }
        Ok(())
    };
    let jobs: Vec<(&(&str, bool), Prepared)> = files.iter().zip(prepared).collect();
    jobs.into_par_iter()
        .map(|(&(rel, private), prepared)| {
            let path = out.join(rel);
            match prepared {
                Prepared::Same(stamp) => Ok((false, stamp)),
                Prepared::Mode => {
                    fs::set_permissions(&path, fs::Permissions::from_mode(mode(private)))
                        .map_err(|e| Error::io(&path, e))?;
                    let stamp =
                        Stamp::read(&path).ok_or_else(|| Error::Failed(format!("{} vanished", path.display())))?;
                    Ok((false, stamp))
                }
                Prepared::Held(bytes) => {
                    staging.make()?;
                    clear(rel, &path)?;
                    Ok((true, write_atomic_via(&path, &staging.dir, &bytes, mode(private), false)?))
                }
                Prepared::Staged(number) => {
                    clear(rel, &path)?;
                    Ok((true, put_staged(&staging.file(number), &path)?))
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, bytes: &[u8], private: bool) -> OutputFile {
        OutputFile { path: path.to_string(), bytes: bytes.to_vec(), private }
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut found: Vec<String> = walkdir::WalkDir::new(dir)
            .min_depth(1)
            .into_iter()
            .map(|e| e.unwrap().path().strip_prefix(dir).unwrap().to_string_lossy().into_owned())
            .collect();
        found.sort();
        found
    }

    #[test]
    fn staged_files_change_nothing_until_committed_and_vanish_when_cleaned() {
        let out = tempfile::tempdir().unwrap();
        fs::create_dir_all(out.path().join("public/a")).unwrap();
        fs::write(out.path().join("public/a/jwks.json"), b"old").unwrap();
        let before = listing(out.path());
        let mut files = [file("public/a/jwks.json", b"new", false), file("private/a/jwks.json", b"secret", true)];
        let staging = Staging::new(out.path(), true).unwrap();
        staging.held.store(HELD_BYTES, Ordering::Relaxed);
        let prepared = staging.prepare(files.iter_mut().collect()).unwrap();
        assert!(prepared.iter().all(|p| matches!(p, Prepared::Staged(_))), "past the budget: staged on disk");
        assert_eq!(fs::read(out.path().join("public/a/jwks.json")).unwrap(), b"old");
        drop(prepared);
        staging.clean();
        assert_eq!(listing(out.path()), before, "staged files not committed leave nothing behind");
    }

    #[test]
    fn commit_puts_files_in_place_with_their_modes_and_keeps_the_same_bytes() {
        let out = tempfile::tempdir().unwrap();
        fs::create_dir_all(out.path().join("public")).unwrap();
        fs::write(out.path().join("public/same.json"), b"same").unwrap();
        fs::set_permissions(out.path().join("public/same.json"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(out.path().join("public/mode.json"), b"mode").unwrap();
        fs::set_permissions(out.path().join("public/mode.json"), fs::Permissions::from_mode(0o666)).unwrap();
        let mut files = [
            file("public/same.json", b"same", false),
            file("public/mode.json", b"mode", false),
            file("private/x/jwks.json", b"secret", true),
            file("public/x/jwks.json", b"staged", false),
        ];
        let staging = Staging::new(out.path(), true).unwrap();
        let mut prepared = staging.prepare(files[..3].iter_mut().collect()).unwrap();
        assert!(matches!(prepared[0], Prepared::Same(_)) && matches!(prepared[1], Prepared::Mode));
        assert!(matches!(prepared[2], Prepared::Held(_)) && !out.path().join(STAGING_DIR).exists(), "held in memory");
        staging.held.store(HELD_BYTES, Ordering::Relaxed);
        prepared.extend(staging.prepare(vec![&mut files[3]]).unwrap());
        assert!(matches!(prepared[3], Prepared::Staged(_)));
        let places: Vec<(&str, bool)> = files.iter().map(|f| (f.path.as_str(), f.private)).collect();
        let done = commit(out.path(), &staging, &places, prepared).unwrap();
        staging.clean();
        assert_eq!(done.iter().map(|(w, _)| *w).collect::<Vec<_>>(), [false, false, true, true]);
        assert_eq!(fs::read(out.path().join("public/x/jwks.json")).unwrap(), b"staged");
        let mode = |rel: &str| fs::metadata(out.path().join(rel)).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode("public/mode.json"), mode("private/x/jwks.json"), mode("private/x")), (0o644, 0o600, 0o700));
        assert_eq!(fs::read(out.path().join("private/x/jwks.json")).unwrap(), b"secret");
        assert_eq!(done[2].1, Stamp::read(&out.path().join("private/x/jwks.json")).unwrap());
        assert!(!out.path().join(STAGING_DIR).exists());
    }
}
