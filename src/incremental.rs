//! Incremental builds: a record of what the last full `build` read and wrote, so the next one
//! reloads only the sets whose files changed, and reads and writes nothing when none did.
//!
//! The record lives in the user's cache directory (`$JWKSMITH_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/jwksmith`, else `~/.cache/jwksmith`; `JWKSMITH_CACHE_DIR=off` turns it
//! off), one file per `keys`/`out`/templates triple, never under `out/`: outputs stay
//! deterministic. It holds no key material: file and directory stamps ([`Stamp`]), what each
//! set shows on the site, and its warnings.
//!
//! A set is reused, not reloaded, only when all of these hold; otherwise it is built as if the
//! record did not exist. The same `jwksmith` binary and `--pretty`; the same files in the set's
//! directory with the same stamps, none racy when read (a file saved just before a build is
//! read again next time); `now` in the span where no key of the set changes state; every
//! output the set had on disk with the stamp the build left it with. The directories of
//! `keys/` and `out/` are not read again while their stamps show no file added, removed or
//! renamed. A missing, unreadable or foreign record is no record.
//!
//! The record file is checksummed ([`Cache::read`]): a record that is damaged, truncated, made
//! longer, or made for other directories or another jwksmith is ignored before it is decoded,
//! and a build without a record is a full build. A record can make a build faster, never
//! different.
//!
//! A build first reads the stamps of everything the record names, on all cores, each by a
//! short lookup from `keys/` or `out/` opened once ([`Record::survey`]). When all match, it is
//! done: nothing else is read, planned or written. The record file holds the record, then the
//! sets' site rows, which only a build that renders the site again reads.
//!
//! What stamps cannot see: a file of `out/` rewritten in place with the same size within the
//! file system's clock tick (milliseconds) after the build wrote it, by another program while
//! the build ran. `jwksmith check` compares bytes and always catches it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::keydir::SetDir;
use crate::layout::OutputFile;
use crate::layout::parents;
use crate::model::KeySet;
use crate::plan::MirrorClaim;
use crate::site::{SiteSet, TEMPLATES};
use crate::stamp::{Nanos, Root, Stamp, digest};
use crate::times::Timestamp;
use crate::write::Entries;

/// Version of the record's format; a record of another version is ignored.
const FORMAT: u32 = 3;

/// The first bytes of a record file (with [`FORMAT`] in them).
const MAGIC: &[u8; 8] = b"jwksrec3";

/// The fixed start of a record file: [`MAGIC`], the lengths of the record and of the site rows
/// (little-endian u64), then the SHA-256 of each.
const HEADER_LEN: usize = 8 + 8 + 8 + 32 + 32;

/// SHA-256 of `bytes`.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

/// Environment variable naming the cache directory (`off` turns incremental builds off).
pub const CACHE_DIR_ENV: &str = "JWKSMITH_CACHE_DIR";

/// The record of the last full build of one `keys`/`out`/templates triple.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    format: u32,
    /// The jwksmith version that made it.
    version: String,
    binary: Stamp,
    /// `keys/`, `out/` and the templates directory, absolute, that it was made for.
    dirs: Vec<PathBuf>,
    pretty: bool,
    /// Stamps of the template overrides (`None`: absent); `None` when one was racy.
    templates: Option<Vec<Option<Stamp>>>,
    /// Every directory of `keys/` the walk read; `None` when one was racy.
    key_dirs: Option<Vec<(PathBuf, Stamp)>>,
    /// Every directory under `out/` (and `out/` itself), parents first.
    out_dirs: Vec<(String, Stamp)>,
    /// Every set, by publish path.
    sets: Vec<SetRecord>,
    /// `index.html`, `_headers`, `.nojekyll`, `404.html`.
    site: Vec<Output>,
}

/// What a build read and wrote for one set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetRecord {
    /// Publish path.
    pub path: String,
    dir: PathBuf,
    /// Its files, by name in `dir`.
    inputs: Vec<(String, Stamp)>,
    /// False when an input was racy when read: the set is reloaded next time.
    trusted: bool,
    /// The outputs hold for `now` in `[valid_from, valid_until)` (Unix seconds).
    valid_from: Option<i64>,
    valid_until: Option<i64>,
    /// What the set shows on the site ([`SiteSet`] encoded, decoded only when the site is
    /// rendered again). Kept apart from the rest of the record, which a build with nothing to
    /// do reads alone ([`Cache::read`], [`Record::attach_rows`]).
    #[serde(skip)]
    site: Vec<u8>,
    /// Its `api_mirrors` claim.
    pub mirror: Option<MirrorClaim>,
    /// Warnings its load printed.
    pub warnings: Vec<String>,
    /// The overdue-rotation warning of each spec with a coming rotation, and the instant (Unix
    /// seconds) past which it is printed: these depend on `now`, not only on the files.
    overdue: Vec<(i64, String)>,
    /// Its hand-dropped private key files, which git is asked about at every build (whether it
    /// ignores them depends on files outside the set).
    pub dropped_private: Vec<PathBuf>,
    /// Number of keys.
    pub keys: usize,
    /// Its output files.
    pub outputs: Vec<Output>,
}

/// An output file as the build left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Path relative to `out/`.
    pub path: String,
    stamp: Stamp,
}

impl Output {
    /// The file's size when the build left it.
    pub fn size(&self) -> u64 {
        self.stamp.size()
    }
}

/// Records of the files of a plan with the stamps `apply` reported, in plan order.
pub fn outputs_of(files: &[OutputFile], stamps: &[Stamp]) -> Vec<Output> {
    files.iter().zip(stamps).map(|(f, s)| Output { path: f.path.clone(), stamp: *s }).collect()
}

/// The stamps of the template overrides in `dir` (`None` when one is racy).
pub fn template_stamps(dir: &Path, seen_at: Nanos) -> Option<Vec<Option<Stamp>>> {
    let stamps: Vec<Option<Stamp>> = TEMPLATES.iter().map(|(name, _)| Stamp::read(&dir.join(name))).collect();
    (!stamps.iter().flatten().any(|s| s.is_racy(seen_at))).then_some(stamps)
}

/// Directory stamps to record: `None` when one is missing or racy (the walk is made again).
pub fn trusted_dirs(dirs: Vec<(PathBuf, Option<Stamp>)>, seen_at: Nanos) -> Option<Vec<(PathBuf, Stamp)>> {
    dirs.into_iter().map(|(p, s)| s.filter(|s| !s.is_racy(seen_at)).map(|s| (p, s))).collect()
}

/// The stamps of every directory holding an output (and `out/`, `public/`, `private/`),
/// parents first.
pub fn out_dir_stamps<'a>(out: &Path, outputs: impl Iterator<Item = &'a str>) -> Vec<(String, Stamp)> {
    let mut dirs: BTreeSet<&str> = ["", "public", "private"].into_iter().collect();
    dirs.extend(outputs.flat_map(parents));
    let dirs: Vec<&str> = dirs.into_iter().collect();
    dirs.par_iter().filter_map(|d| Stamp::read(&out.join(d)).map(|s| (d.to_string(), s))).collect()
}

/// A [`SiteSet`] as the record keeps it.
pub fn encode_site(site: &SiteSet) -> Vec<u8> {
    postcard::to_stdvec(site).unwrap_or_default()
}

/// The span `[from, until)` of instants around `now` in which none of `times` is crossed, so
/// no state that depends only on them changes (Unix seconds; `None`: unbounded).
fn validity(times: impl Iterator<Item = Timestamp>, now: Timestamp) -> (Option<i64>, Option<i64>) {
    let (mut from, mut until) = (None::<Timestamp>, None::<Timestamp>);
    for t in times {
        if t <= now {
            from = from.max(Some(t));
        } else {
            until = Some(until.map_or(t, |u| u.min(t)));
        }
    }
    (from.map(Timestamp::unix), until.map(Timestamp::unix))
}

/// A set read in full by this build, with the stamps of its files taken before they were read.
pub struct Loaded<'a> {
    /// The set.
    pub set: &'a KeySet,
    /// Stamps of its files (`None`: could not be taken).
    pub inputs: Vec<(PathBuf, Option<Stamp>)>,
    /// What it shows on the site ([`encode_site`]).
    pub site: Vec<u8>,
    /// Warnings its load printed.
    pub warnings: Vec<String>,
}

impl SetRecord {
    /// The record of a set this build loaded and wrote; `outputs` are its files once in place.
    pub fn new(loaded: Loaded, seen_at: Nanos, now: Timestamp, outputs: Vec<Output>) -> SetRecord {
        let Loaded { set, inputs, site, warnings } = loaded;
        let trusted = inputs.iter().all(|(_, s)| s.is_some_and(|s| !s.is_racy(seen_at)));
        let (valid_from, valid_until) = validity(set.keys.iter().flat_map(|k| k.meta.times().all()).flatten(), now);
        SetRecord {
            path: set.path.clone(),
            dir: set.dir.clone(),
            // A file without a name cannot be stamped again: the set is then not reused.
            inputs: inputs.into_iter().filter_map(|(p, s)| Some((p.file_name()?.to_str()?.to_string(), s?))).collect(),
            trusted,
            valid_from,
            valid_until,
            site,
            mirror: MirrorClaim::of(set),
            warnings,
            overdue: crate::rotation::coming(set, now)
                .iter()
                .map(|c| {
                    let every = set.config.rotation.rotate_every;
                    (c.overdue_at.unix(), crate::lint::overdue_warning(set.display_path(), c, every))
                })
                .collect(),
            dropped_private: crate::gitignore::dropped_private_keys(set),
            keys: set.keys.len(),
            outputs,
        }
    }

    /// The set's overdue-rotation warnings at `now` (within the span the record covers).
    pub fn overdue_warnings(&self, now: Timestamp) -> impl Iterator<Item = &String> {
        self.overdue.iter().filter(move |(at, _)| now.unix() > *at).map(|(_, w)| w)
    }

    /// What the set shows on the site, or `None` if the record cannot be decoded.
    pub fn site(&self) -> Option<SiteSet> {
        postcard::from_bytes(&self.site).ok()
    }

    /// The next instant after the build's `now` at which a key of the set may change state.
    pub fn next_change(&self) -> Option<Timestamp> {
        self.valid_until.map(Timestamp::from_unix)
    }

    fn covers(&self, now: Timestamp) -> bool {
        self.valid_from.is_none_or(|t| t <= now.unix()) && self.valid_until.is_none_or(|t| now.unix() < t)
    }

    /// True when the set can be reused at `now` for `dir`, whose files the survey found with
    /// the recorded stamps (`same`).
    fn reusable(&self, dir: &SetDir, now: Timestamp, same: bool) -> bool {
        same && self.trusted
            && self.covers(now)
            && self.dir == dir.dir
            && self.inputs.len() == dir.files.len()
            && self.inputs.iter().zip(&dir.files).all(|((name, _), file)| {
                file.parent() == Some(dir.dir.as_path()) && file.file_name().and_then(|f| f.to_str()) == Some(name)
            })
    }
}

/// The stamps on disk compared with a record's, read on all cores, each from `keys/` or `out/`
/// opened once ([`Root`]).
#[derive(Debug)]
pub struct Survey {
    /// Every recorded directory of `keys/` has its stamp (false when none was recorded).
    keys_same: bool,
    /// Every recorded directory of `out/` has its stamp.
    out_same: bool,
    /// For each recorded set: every input and output has its stamp.
    sets_same: Vec<bool>,
    /// Every site file has its stamp.
    site_same: bool,
}

/// What the record lets a build skip.
#[derive(Debug, Default)]
pub struct Reuse {
    /// For each set directory (in order), its record when the set can be reused.
    pub sets: Vec<Option<SetRecord>>,
    /// The site files, when they can be kept (no set changed, same templates).
    pub site: Option<Vec<Output>>,
}

impl Record {
    /// A record of a build (of every set) with these options.
    pub fn new(
        cache: &Cache,
        pretty: bool,
        templates: Option<Vec<Option<Stamp>>>,
        key_dirs: Option<Vec<(PathBuf, Stamp)>>,
        out_dirs: Vec<(String, Stamp)>,
        sets: Vec<SetRecord>,
        site: Vec<Output>,
    ) -> Option<Record> {
        Some(Record {
            format: FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
            binary: binary_stamp()?,
            dirs: cache.dirs.clone(),
            pretty,
            templates,
            key_dirs,
            out_dirs,
            sets,
            site,
        })
    }

    /// Reads the stamps of every recorded file and directory, and compares them with the
    /// recorded ones.
    pub fn survey(&self, keys: &Path, out: &Path) -> Survey {
        let (keys_root, out_root) = (Root::open(keys), Root::open(out));
        let dir_same = |(path, stamp): &(PathBuf, Stamp)| keys_root.stamp(path).as_ref() == Some(stamp);
        let output_same = |o: &Output| out_root.stamp_under(&o.path) == Some(o.stamp);
        let set_same = |s: &SetRecord| {
            s.inputs.iter().all(|(name, stamp)| keys_root.stamp(&s.dir.join(name)).as_ref() == Some(stamp))
                && s.outputs.iter().all(output_same)
        };
        let ((sets_same, site_same), (keys_same, out_same)) = rayon::join(
            || rayon::join(|| self.sets.par_iter().map(set_same).collect(), || self.site.iter().all(output_same)),
            || {
                rayon::join(
                    || self.key_dirs.as_ref().is_some_and(|dirs| dirs.par_iter().all(dir_same)),
                    || self.out_dirs.par_iter().all(|(rel, stamp)| out_root.stamp_under(rel).as_ref() == Some(stamp)),
                )
            },
        );
        Survey { keys_same, out_same, sets_same, site_same }
    }

    /// True when the survey found everything as recorded and the record holds for `now` and
    /// these templates: a build has nothing to read, write or remove.
    pub fn all_unchanged(&self, survey: &Survey, now: Timestamp, templates: &Option<Vec<Option<Stamp>>>) -> bool {
        survey.keys_same
            && survey.out_same
            && survey.site_same
            && survey.sets_same.iter().all(|same| *same)
            && self.sets.iter().all(|s| s.trusted && s.covers(now))
            && templates.is_some()
            && templates == &self.templates
    }

    /// The recorded sets.
    pub fn sets(&self) -> &[SetRecord] {
        &self.sets
    }

    /// How many files the recorded build left in `out/`.
    pub fn output_count(&self) -> usize {
        self.sets.iter().map(|s| s.outputs.len()).sum::<usize>() + self.site.len()
    }

    /// The set directories as recorded, when no directory of `keys/` changed since (so a walk
    /// would find the same sets and files).
    pub fn set_dirs(&self, survey: &Survey) -> Option<Vec<SetDir>> {
        survey.keys_same.then(|| {
            self.sets
                .iter()
                .map(|s| SetDir {
                    path: s.path.clone(),
                    dir: s.dir.clone(),
                    files: s.inputs.iter().map(|(name, _)| s.dir.join(name)).collect(),
                })
                .collect()
        })
    }

    /// The size of `index.html` as the last build wrote it.
    pub fn index_size(&self) -> Option<u64> {
        self.site.iter().find(|o| o.path == "public/index.html").map(Output::size)
    }

    /// The recorded key-directory stamps (to carry into the next record).
    pub fn key_dirs(&self) -> Option<Vec<(PathBuf, Stamp)>> {
        self.key_dirs.clone()
    }

    /// What is under `out/` as recorded, when no directory there changed since (so a walk would
    /// find exactly the recorded files). Reusing it, the build writes nothing new.
    pub fn out_entries(&self, survey: &Survey) -> Option<Entries> {
        survey.out_same.then(|| Entries {
            files: self.sets.iter().flat_map(|s| &s.outputs).chain(&self.site).map(|o| o.path.clone()).collect(),
            dirs: self.out_dirs.iter().map(|(rel, _)| rel.clone()).filter(|rel| !rel.is_empty()).collect(),
        })
    }

    /// The recorded `out/` directory stamps, taken again for `out/` and every directory above
    /// a `touched` file (written or removed since): the others did not change.
    pub fn out_dirs_after<'a>(&self, out: &Path, touched: impl Iterator<Item = &'a str>) -> Vec<(String, Stamp)> {
        let mut again: BTreeSet<&str> = BTreeSet::from([""]);
        again.extend(touched.flat_map(parents));
        let mut dirs: BTreeMap<String, Stamp> =
            self.out_dirs.iter().filter(|(rel, _)| !again.contains(rel.as_str())).cloned().collect();
        dirs.extend(again.into_iter().filter_map(|rel| Stamp::read(&out.join(rel)).map(|s| (rel.to_string(), s))));
        dirs.into_iter().collect()
    }

    /// Decides which sets of `dirs` can be reused at `now`, and whether the site files can,
    /// from what `survey` found; the reusable sets' records are moved out of the record.
    pub fn reuse(
        &mut self,
        survey: &Survey,
        dirs: &[SetDir],
        now: Timestamp,
        templates: &Option<Vec<Option<Stamp>>>,
    ) -> Reuse {
        let same_sets = self.sets.len() == dirs.len() && self.sets.iter().zip(dirs).all(|(r, d)| r.path == d.path);
        let index: HashMap<&str, usize> = self.sets.iter().enumerate().map(|(i, r)| (r.path.as_str(), i)).collect();
        let chosen: Vec<Option<usize>> = dirs
            .iter()
            .map(|d| {
                let i = *index.get(d.path.as_str())?;
                self.sets[i].reusable(d, now, survey.sets_same[i]).then_some(i)
            })
            .collect();
        let mut slots: Vec<Option<SetRecord>> = std::mem::take(&mut self.sets).into_iter().map(Some).collect();
        let sets: Vec<Option<SetRecord>> = chosen.into_iter().map(|i| i.and_then(|i| slots[i].take())).collect();
        let site_kept = same_sets
            && sets.iter().all(Option::is_some)
            && templates.is_some()
            && templates == &self.templates
            && survey.site_same;
        Reuse { sets, site: site_kept.then(|| self.site.clone()) }
    }

    /// Reads the sets' site rows, kept after the rest of the record, into the sets; false when
    /// they cannot be read, do not match their checksum or do not decode (the record is then
    /// no record).
    pub fn attach_rows(&mut self, previous: &mut Previous) -> bool {
        let Some(rows) = previous.rows() else { return false };
        let Ok(rows) = postcard::from_bytes::<Vec<&serde_bytes::Bytes>>(rows) else { return false };
        if rows.len() != self.sets.len() {
            return false;
        }
        for (set, row) in self.sets.iter_mut().zip(rows) {
            set.site = row.to_vec();
        }
        true
    }

    /// True when the record was made by this binary, for these directories, with these options.
    fn fits(&self, cache: &Cache, pretty: bool) -> bool {
        self.format == FORMAT
            && self.version == env!("CARGO_PKG_VERSION")
            && self.dirs == cache.dirs
            && self.pretty == pretty
            && binary_stamp() == Some(self.binary)
    }
}

/// The stamp of the running executable: a rebuilt or upgraded jwksmith ignores old records.
fn binary_stamp() -> Option<Stamp> {
    std::env::current_exe().ok().and_then(|p| Stamp::read(&p))
}

/// Where the record of one `keys`/`out`/templates triple is kept.
#[derive(Debug, Clone)]
pub struct Cache {
    file: PathBuf,
    /// `keys/`, `out/` and the templates directory, absolute.
    dirs: Vec<PathBuf>,
}

impl Cache {
    /// The cache file for these directories, or `None` when caching is off or there is no
    /// cache directory.
    pub fn locate(keys: &Path, out: &Path, templates: &Path) -> Option<Cache> {
        let dir = match std::env::var_os(CACHE_DIR_ENV) {
            Some(v) if v == "off" || v.is_empty() => return None,
            Some(v) => PathBuf::from(v),
            None => match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
                Some(v) => PathBuf::from(v).join("jwksmith"),
                None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache/jwksmith"),
            },
        };
        let dirs: Vec<PathBuf> =
            [keys, out, templates].iter().map(std::path::absolute).collect::<Result<_, _>>().ok()?;
        let mut id = Vec::new();
        for path in &dirs {
            id.extend_from_slice(path.as_os_str().as_encoded_bytes());
            id.push(0);
        }
        let name: String = digest(&id).iter().map(|b| format!("{b:02x}")).collect();
        Some(Cache { file: dir.join(format!("build-{name}")), dirs })
    }

    /// The record, if there is one made by this binary for these directories with these options,
    /// without the sets' site rows (a build with nothing to do needs no more;
    /// [`Record::attach_rows`] reads them). A file of another length than its header says, or
    /// whose record does not match its checksum, is no record: nothing of it is decoded.
    pub fn read(&self, pretty: bool) -> Option<(Record, Previous)> {
        let mut file = std::fs::File::open(&self.file).ok()?;
        let mut header = [0; HEADER_LEN];
        file.read_exact(&mut header).ok()?;
        if &header[..8] != MAGIC {
            return None;
        }
        let length = |at: usize| usize::try_from(u64::from_le_bytes(header[at..at + 8].try_into().ok()?)).ok();
        let (head_len, rows_len) = (length(8)?, length(16)?);
        let size = file.metadata().ok()?.len();
        let expected = HEADER_LEN.checked_add(head_len)?.checked_add(rows_len)?;
        if u64::try_from(expected).ok()? != size {
            return None;
        }
        let mut head = vec![0; head_len];
        file.read_exact(&mut head).ok()?;
        if sha256(&head) != header[24..56] {
            return None;
        }
        let record: Record = postcard::from_bytes(&head).ok()?;
        let rows_sum: [u8; 32] = header[56..88].try_into().ok()?;
        record.fits(self, pretty).then_some((record, Previous { head, file, rows_len, rows_sum, rows: None }))
    }

    /// Stores the record (0600, in a 0700 directory) unless it is the `previous` one. A cache
    /// that cannot be written is no error: the next build is a full one.
    pub fn write(&self, record: &Record, previous: Option<&Previous>) {
        let rows: Vec<&serde_bytes::Bytes> = record.sets.iter().map(|s| serde_bytes::Bytes::new(&s.site)).collect();
        let (Ok(head), Ok(rows)) = (postcard::to_stdvec(record), postcard::to_stdvec(&rows)) else { return };
        if previous.is_some_and(|p| p.head == head && p.rows.as_ref() == Some(&rows)) {
            return;
        }
        let mut bytes = Vec::with_capacity(HEADER_LEN + head.len() + rows.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(head.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&(rows.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&sha256(&head));
        bytes.extend_from_slice(&sha256(&rows));
        bytes.extend_from_slice(&head);
        bytes.extend_from_slice(&rows);
        let Some(dir) = self.file.parent() else { return };
        // A missing directory is made 0700; an existing one is left as it is.
        if std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).is_ok() {
            let _ = crate::write::write_atomic(&self.file, &bytes, 0o600, false);
        }
    }
}

/// The record file a build read: the bytes of its record, and the file, open, for the site rows
/// after it (read only when needed, from the same file even if another build replaced it).
#[derive(Debug)]
pub struct Previous {
    head: Vec<u8>,
    file: std::fs::File,
    /// The length and SHA-256 of the site rows, as the file's header gives them.
    rows_len: usize,
    rows_sum: [u8; 32],
    rows: Option<Vec<u8>>,
}

impl Previous {
    /// The encoded site rows, read on first use; `None` when they are not as the header says.
    fn rows(&mut self) -> Option<&[u8]> {
        if self.rows.is_none() {
            let mut rows = vec![0; self.rows_len];
            self.file.read_exact(&mut rows).ok()?;
            if sha256(&rows) != self.rows_sum {
                return None;
            }
            self.rows = Some(rows);
        }
        self.rows.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_unix(secs)
    }

    #[test]
    fn validity_is_the_span_between_the_nearest_times() {
        let times = [t(100), t(300), t(200), t(500)];
        assert_eq!(validity(times.into_iter(), t(250)), (Some(200), Some(300)));
        assert_eq!(validity(times.into_iter(), t(300)), (Some(300), Some(500)), "a time reached is behind");
        assert_eq!(validity(times.into_iter(), t(50)), (None, Some(100)));
        assert_eq!(validity(times.into_iter(), t(900)), (Some(500), None));
        assert_eq!(validity(std::iter::empty(), t(900)), (None, None));
    }

    #[test]
    fn a_racy_or_missing_directory_stamp_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let stamp = Stamp::read(dir.path());
        let now = crate::stamp::now_nanos();
        assert_eq!(trusted_dirs(vec![(dir.path().to_path_buf(), stamp)], now), None, "just made");
        let later = now + 10 * crate::stamp::RACY_MARGIN;
        assert!(trusted_dirs(vec![(dir.path().to_path_buf(), stamp)], later).is_some());
        assert_eq!(trusted_dirs(vec![(dir.path().join("gone"), None)], later), None);
    }

    #[test]
    fn out_dir_stamps_cover_every_parent_once_parents_first() {
        let out = tempfile::tempdir().unwrap();
        for d in ["public/a/.well-known", "private/a"] {
            std::fs::create_dir_all(out.path().join(d)).unwrap();
        }
        let paths =
            ["public/a/jwks.json", "public/a/.well-known/jwks.json", "private/a/jwks.json", "public/index.html"];
        let dirs: Vec<String> = out_dir_stamps(out.path(), paths.into_iter()).into_iter().map(|(d, _)| d).collect();
        assert_eq!(dirs, ["", "private", "private/a", "public", "public/a", "public/a/.well-known"]);
    }

    #[test]
    fn the_cache_file_depends_on_all_three_directories_and_off_turns_it_off() {
        let a = Cache::locate(Path::new("keys"), Path::new("out"), Path::new("t"));
        let b = Cache::locate(Path::new("keys"), Path::new("out2"), Path::new("t"));
        if let (Some(a), Some(b)) = (a, b) {
            assert_ne!(a.file, b.file);
        }
    }

    #[test]
    fn a_record_is_read_back_only_whole_and_for_its_own_directories() {
        let cache_dir = tempfile::tempdir().unwrap();
        let at = |keys: &str| Cache {
            file: cache_dir.path().join(format!("build-{keys}")),
            dirs: vec![PathBuf::from(format!("/p/{keys}")), PathBuf::from("/p/out"), PathBuf::from("/p/t")],
        };
        let (a, b) = (at("keys"), at("other"));
        let record = Record::new(&a, false, None, None, Vec::new(), Vec::new(), Vec::new()).unwrap();
        a.write(&record, None);
        assert_eq!(a.read(false).map(|(r, _)| r), Some(record.clone()));
        assert!(a.read(true).is_none(), "made without --pretty");
        std::fs::copy(&a.file, &b.file).unwrap();
        assert!(b.read(false).is_none(), "made for another key directory");
        let bytes = std::fs::read(&a.file).unwrap();
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x20;
            std::fs::write(&a.file, &damaged).unwrap();
            // The site rows are checked when they are read.
            assert!(a.read(false).is_none_or(|(_, mut p)| p.rows().is_none()), "byte {at} changed");
        }
    }
}
