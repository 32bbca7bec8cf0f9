//! The record of the last full build of one `keys`/`out`/templates triple: its format, and the
//! record of one set ([`SetRecord`]) made from what a build read and wrote.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::keydir::SetDir;
use crate::layout::Output;
use crate::model::KeySet;
use crate::plan::MirrorClaim;
use crate::site::SiteSet;
use crate::stamp::{Nanos, Stamp};
use crate::times::Timestamp;

/// Version of the record's format; a record of another version is ignored.
pub(super) const FORMAT: u32 = 7;

/// The record of the last full build of one `keys`/`out`/templates triple.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(super) format: u32,
    /// The jwksmith version that made it.
    pub(super) version: String,
    pub(super) binary: Stamp,
    /// `keys/`, `out/` and the templates directory, absolute, that it was made for.
    pub(super) dirs: Vec<PathBuf>,
    pub(super) pretty: bool,
    /// Digests of the template overrides' texts (`crate::site::digests`); `None` when one
    /// could not be read.
    pub(super) templates: Option<crate::site::Digests>,
    /// Every directory of `keys/` the walk read; `None` when one was racy.
    pub(super) key_dirs: Option<Vec<(PathBuf, Stamp)>>,
    /// Every directory under `out/` (and `out/` itself), parents first.
    pub(super) out_dirs: Vec<(String, Stamp)>,
    /// Every set, by publish path.
    pub(super) sets: Vec<SetRecord>,
    /// The site-wide files: the root chain of pages, `_headers`, `.nojekyll`, `404.html`.
    pub(super) site: Vec<Output>,
}

/// What a build read and wrote for one set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SetRecord {
    /// Publish path.
    pub(crate) path: String,
    pub(super) dir: PathBuf,
    /// Its files, by name in `dir`, joined by `/` (which no file name holds): one string a set.
    pub(super) input_names: String,
    /// How many files it has, and the digest of their stamps in the order of `input_names`
    /// ([`Stamp::digest`]).
    pub(super) input_count: usize,
    pub(super) input_digest: [u8; 16],
    /// False when an input was racy when read: the set is reloaded next time.
    pub(super) trusted: bool,
    /// The outputs hold for `now` in `[valid_from, valid_until)` (Unix seconds).
    pub(super) valid_from: Option<i64>,
    pub(super) valid_until: Option<i64>,
    /// What the root set shows on the root page ([`SiteSet`] encoded, decoded only when the
    /// site is rendered again); empty for every other set, whose row only its own page shows. Kept apart from the rest of the record, which a build with nothing to
    /// do reads alone ([`Cache::read`], [`Record::attach_rows`]).
    #[serde(skip)]
    pub(super) site: Vec<u8>,
    /// Its `api_mirrors` claim (boxed: few sets have one).
    pub(crate) mirror: Option<Box<MirrorClaim>>,
    /// Warnings its load printed.
    pub(crate) warnings: Vec<String>,
    /// Each spec with a coming rotation, whose overdue-rotation warning is printed past its
    /// instant: these depend on `now`, not only on the files. Worded only when printed.
    pub(super) overdue: Vec<Overdue>,
    /// The specs' and kids' names of `overdue`, one after the other (one string a set).
    pub(super) overdue_names: String,
    /// The set's `rotate_every`, in seconds (named in the overdue warnings).
    pub(super) rotate_every: i64,
    /// Its hand-dropped private key files, which git is asked about at every build (whether it
    /// ignores them depends on files outside the set).
    pub(crate) dropped_private: Vec<PathBuf>,
    /// Number of keys.
    pub(crate) keys: usize,
    /// The `cache_max_age` of its files, in seconds (for `_headers`).
    pub(crate) max_age: i64,
    /// Its output files.
    pub(crate) outputs: Vec<Output>,
}

/// A spec's coming rotation as the record keeps it ([`crate::rotation::Coming`] without `at`):
/// its names are in the set's `overdue_names`, by length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Overdue {
    /// When the rotation becomes overdue (Unix seconds).
    at: i64,
    /// The lengths of the spec's name and of its current key's kid.
    spec_len: u32,
    kid_len: u32,
}

/// A [`SiteSet`] as the record keeps it.
pub(crate) fn encode_site(site: &SiteSet) -> Vec<u8> {
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
pub(crate) struct SetRead<'a> {
    /// The set.
    pub(crate) set: &'a KeySet,
    /// Stamps of its files (`None`: could not be taken).
    pub(crate) inputs: Vec<(PathBuf, Option<Stamp>)>,
    /// What it shows on the site ([`encode_site`]).
    pub(crate) site: Vec<u8>,
    /// Warnings its load printed.
    pub(crate) warnings: Vec<String>,
}

impl SetRecord {
    /// The record of a set this build loaded and wrote; `outputs` are its files once in place.
    pub(crate) fn new(read: SetRead, seen_at: Nanos, now: Timestamp, outputs: Vec<Output>) -> SetRecord {
        let SetRead { set, inputs, site, warnings } = read;
        let trusted = inputs.iter().all(|(_, s)| s.is_some_and(|s| !s.is_racy(seen_at)));
        // A file without a name cannot be stamped again: the set is then not reused.
        let named: Vec<(&str, Stamp)> =
            inputs.iter().filter_map(|(p, s)| Some((p.file_name()?.to_str()?, (*s)?))).collect();
        let trusted = trusted && named.len() == inputs.len();
        let coming = crate::rotation::coming(set, now);
        let (valid_from, valid_until) = validity(set.keys.iter().flat_map(|k| k.meta.times().all()).flatten(), now);
        SetRecord {
            path: set.path.clone(),
            dir: set.dir.clone(),
            input_names: named.iter().map(|(name, _)| *name).collect::<Vec<_>>().join("/"),
            input_count: named.len(),
            input_digest: Stamp::digest(named.iter().map(|(_, stamp)| stamp)),
            trusted,
            valid_from,
            valid_until,
            site,
            mirror: MirrorClaim::of(set).map(Box::new),
            warnings,
            overdue: coming
                .iter()
                .map(|c| Overdue {
                    at: c.overdue_at.unix(),
                    spec_len: c.spec.len() as u32,
                    kid_len: c.kid.len() as u32,
                })
                .collect(),
            overdue_names: coming.iter().flat_map(|c| [c.spec.as_str(), c.kid.as_str()]).collect(),
            rotate_every: set.config.rotation.rotate_every.secs(),
            dropped_private: crate::gitignore::dropped_private_keys(set),
            keys: set.keys.len(),
            max_age: set.config.rotation.cache_max_age.secs(),
            outputs,
        }
    }

    /// The set's overdue-rotation warnings at `now` (within the span the record covers), worded
    /// as a build that read the set words them ([`crate::lint::overdue_warning`]).
    pub(crate) fn overdue_warnings(&self, now: Timestamp) -> impl Iterator<Item = String> {
        let name = if self.path.is_empty() { "." } else { &self.path };
        let every = crate::times::Span::from_secs(self.rotate_every);
        let mut names = self.overdue_names.as_str();
        let mut take = move |len: u32| {
            let (name, rest) = names.split_at_checked(len as usize).unwrap_or((names, ""));
            names = rest;
            name.to_string()
        };
        let named: Vec<(i64, String, String)> =
            self.overdue.iter().map(|o| (o.at, take(o.spec_len), take(o.kid_len))).collect();
        named.into_iter().filter(move |(at, _, _)| now.unix() > *at).map(move |(at, spec, kid)| {
            let at = Timestamp::from_unix(at);
            let coming = crate::rotation::Coming { spec, kid, at, overdue_at: at };
            crate::lint::overdue_warning(name, &coming, every)
        })
    }

    /// The names of its files in its directory.
    pub(crate) fn input_names(&self) -> impl Iterator<Item = &str> {
        self.input_names.split('/').filter(|n| !n.is_empty())
    }

    /// What the set shows on the site, or `None` if the record cannot be decoded.
    pub(crate) fn site(&self) -> Option<SiteSet> {
        postcard::from_bytes(&self.site).ok()
    }

    /// The next instant after the build's `now` at which a key of the set may change state.
    pub(crate) fn next_change(&self) -> Option<Timestamp> {
        self.valid_until.map(Timestamp::from_unix)
    }

    /// True when the record holds at `now`.
    pub(super) fn covers(&self, now: Timestamp) -> bool {
        // A set with age-encrypted keys is never kept: its private outputs depend on the
        // identity in the environment, which the record does not see.
        if self.input_names().any(|name| name.ends_with(".age")) {
            return false;
        }
        self.valid_from.is_none_or(|t| t <= now.unix()) && self.valid_until.is_none_or(|t| now.unix() < t)
    }

    /// True when the set, whose files the survey found with the recorded stamps (`same`), can
    /// be reused at `now` as the record has its directory.
    pub(super) fn reusable_as_recorded(&self, now: Timestamp, same: bool) -> bool {
        same && self.trusted && self.covers(now)
    }

    /// True when the set can be reused at `now` for `dir`, whose files the survey found with
    /// the recorded stamps (`same`).
    pub(super) fn reusable(&self, dir: &SetDir, now: Timestamp, same: bool) -> bool {
        self.reusable_as_recorded(now, same)
            && self.dir == dir.dir
            && self.input_count == dir.files.len()
            && self.input_names().zip(&dir.files).all(|(name, file)| {
                file.parent() == Some(dir.dir.as_path()) && file.file_name().and_then(|f| f.to_str()) == Some(name)
            })
    }
}

impl Record {
    /// A record of a build (of every set) into these directories (`keys/`, `out/`, the
    /// templates, absolute) with these options.
    pub(crate) fn new(
        dirs: &[PathBuf],
        pretty: bool,
        templates: Option<crate::site::Digests>,
        key_dirs: Option<Vec<(PathBuf, Stamp)>>,
        out_dirs: Vec<(String, Stamp)>,
        sets: Vec<SetRecord>,
        site: Vec<Output>,
    ) -> Option<Record> {
        Some(Record {
            format: FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
            binary: binary_stamp()?,
            dirs: dirs.to_vec(),
            pretty,
            templates,
            key_dirs,
            out_dirs,
            sets,
            site,
        })
    }

    /// The recorded sets.
    pub(crate) fn sets(&self) -> &[SetRecord] {
        &self.sets
    }

    /// How many files the recorded build left in `out/`.
    pub(crate) fn output_count(&self) -> usize {
        self.sets.iter().map(|s| s.outputs.len()).sum::<usize>() + self.site.len()
    }

    /// The recorded key-directory stamps (to carry into the next record).
    pub(crate) fn key_dirs(&self) -> Option<Vec<(PathBuf, Stamp)>> {
        self.key_dirs.clone()
    }
}

/// The stamp of the running executable: a rebuilt or upgraded jwksmith ignores old records.
pub(super) fn binary_stamp() -> Option<Stamp> {
    std::env::current_exe().ok().and_then(|p| Stamp::read(&p))
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
}
