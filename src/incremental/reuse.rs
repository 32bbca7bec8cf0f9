//! What the record lets a build skip: the stamps on disk compared with the record's
//! ([`Survey`]), and for each set whether it is read again or kept ([`Choice`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::record::{Record, SetRecord};
use crate::keydir::SetDir;
use crate::layout::{Output, parents};
use crate::site::Digests;
use crate::stamp::{Nanos, Root, Stamp};
use crate::times::Timestamp;
use crate::write::Entries;

/// Directory stamps to record: `None` when one is missing or racy (the walk is made again).
pub(crate) fn trusted_dirs(dirs: Vec<(PathBuf, Option<Stamp>)>, seen_at: Nanos) -> Option<Vec<(PathBuf, Stamp)>> {
    dirs.into_iter().map(|(p, s)| s.filter(|s| !s.is_racy(seen_at)).map(|s| (p, s))).collect()
}

/// The stamps of every directory holding an output (and `out/`, `public/`, `private/`),
/// parents first, each looked up from `out/` opened once.
pub(crate) fn out_dir_stamps<'a>(out: &Path, outputs: impl Iterator<Item = &'a str>) -> Vec<(String, Stamp)> {
    let mut dirs: BTreeSet<&str> = ["", "public", "private"].into_iter().collect();
    dirs.extend(outputs.flat_map(parents));
    let dirs: Vec<&str> = dirs.into_iter().collect();
    let root = Root::open(out);
    dirs.par_iter().filter_map(|d| root.stamp_under(d).map(|s| (d.to_string(), s))).collect()
}

/// The stamps on disk compared with a record's, read on all cores, each from `keys/` or `out/`
/// opened once ([`Root`]).
#[derive(Debug)]
pub(crate) struct Survey {
    /// Every recorded directory of `keys/` has its stamp (false when none was recorded).
    keys_same: bool,
    /// Every recorded directory of `out/` has its stamp.
    out_same: bool,
    /// For each recorded set: every input and output has its stamp.
    sets_same: Vec<bool>,
    /// Every site file has its stamp.
    site_same: bool,
}

/// Whether a set is read again.
#[derive(Debug)]
pub(crate) enum Choice {
    /// Its files, inputs and outputs, are as recorded, and the record holds at `now`.
    Reuse(Box<SetRecord>),
    /// It is read again (changed, or not in the record).
    Load(SetDir),
}

/// What the record lets a build skip.
#[derive(Debug)]
pub(crate) struct Reuse {
    /// For each set directory, in order.
    pub(crate) sets: Vec<Choice>,
    /// The site files, when they can be kept (no set changed, same templates).
    pub(crate) site: Option<Vec<Output>>,
}

impl Reuse {
    /// Every set read again: a build without a record.
    pub(crate) fn nothing(dirs: Vec<SetDir>) -> Reuse {
        Reuse { sets: dirs.into_iter().map(Choice::Load).collect(), site: None }
    }
}

impl Record {
    /// Reads the stamps of every recorded file and directory, and compares them with the
    /// recorded ones.
    pub(crate) fn survey(&self, keys: &Path, out: &Path) -> Survey {
        let (keys_root, out_root) = (Root::open(keys), Root::open(out));
        let dir_same = |(path, stamp): &(PathBuf, Stamp)| keys_root.stamp(path).as_ref() == Some(stamp);
        let output_same = |o: &Output| out_root.stamp_under(&o.path) == Some(o.stamp);
        let set_same = |s: &SetRecord| {
            let stamps: Option<Vec<Stamp>> = s.input_names().map(|name| keys_root.stamp(&s.dir.join(name))).collect();
            stamps.is_some_and(|stamps| stamps.len() == s.input_count && Stamp::digest(&stamps) == s.input_digest)
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
    pub(crate) fn all_unchanged(&self, survey: &Survey, now: Timestamp, templates: &Option<Digests>) -> bool {
        survey.keys_same
            && survey.out_same
            && survey.site_same
            && survey.sets_same.iter().all(|same| *same)
            && self.sets.iter().all(|s| s.trusted && s.covers(now))
            && templates.is_some()
            && templates == &self.templates
    }

    /// True when no directory of `keys/` changed since the record (so a walk would find the
    /// recorded sets and files).
    pub(crate) fn keys_as_recorded(&self, survey: &Survey) -> bool {
        survey.keys_same
    }

    /// What is under `out/` as recorded, when no directory there changed since (so a walk would
    /// find exactly the recorded files). Reusing it, the build writes nothing new.
    pub(crate) fn out_entries(&self, survey: &Survey) -> Option<Entries> {
        survey.out_same.then(|| Entries {
            files: self.sets.iter().flat_map(|s| &s.outputs).chain(&self.site).map(|o| o.path.clone()).collect(),
            dirs: self.out_dirs.iter().map(|(rel, _)| rel.clone()).filter(|rel| !rel.is_empty()).collect(),
        })
    }

    /// The recorded `out/` directory stamps, taken again for `out/` and every directory above
    /// a `touched` file (written or removed since): the others did not change.
    pub(crate) fn out_dirs_after<'a>(
        &self,
        out: &Path,
        touched: impl Iterator<Item = &'a str>,
    ) -> Vec<(String, Stamp)> {
        let mut again: BTreeSet<&str> = BTreeSet::from([""]);
        again.extend(touched.flat_map(parents));
        let mut dirs: BTreeMap<String, Stamp> =
            self.out_dirs.iter().filter(|(rel, _)| !again.contains(rel.as_str())).cloned().collect();
        dirs.extend(again.into_iter().filter_map(|rel| Stamp::read(&out.join(rel)).map(|s| (rel.to_string(), s))));
        dirs.into_iter().collect()
    }

    /// Decides which sets of `dirs` (`None`: the recorded ones, no directory of `keys/` having
    /// changed) can be reused at `now`, and whether the site files can, from what `survey`
    /// found; the reusable sets' records are moved out of the record.
    pub(crate) fn reuse(
        &mut self,
        survey: &Survey,
        dirs: Option<Vec<SetDir>>,
        now: Timestamp,
        templates: &Option<Digests>,
    ) -> Reuse {
        // Every set's page renders with the templates: other templates, no set is kept.
        let same_templates = templates.is_some() && templates == &self.templates;
        let Some(dirs) = dirs else { return self.reuse_recorded(survey, now, same_templates) };
        let same_sets = self.sets.len() == dirs.len() && self.sets.iter().zip(&dirs).all(|(r, d)| r.path == d.path);
        let index: HashMap<&str, usize> = self.sets.iter().enumerate().map(|(i, r)| (r.path.as_str(), i)).collect();
        let chosen: Vec<Option<usize>> = dirs
            .iter()
            .map(|d| {
                let i = *index.get(d.path.as_str())?;
                (same_templates && self.sets[i].reusable(d, now, survey.sets_same[i])).then_some(i)
            })
            .collect();
        let mut slots: Vec<Option<SetRecord>> = std::mem::take(&mut self.sets).into_iter().map(Some).collect();
        let sets: Vec<Choice> = chosen
            .into_iter()
            .zip(dirs)
            .map(|(i, dir)| match i.and_then(|i| slots[i].take()) {
                Some(record) => Choice::Reuse(Box::new(record)),
                None => Choice::Load(dir),
            })
            .collect();
        self.reuse_site(survey, same_sets && same_templates, sets)
    }

    /// [`Record::reuse`] of the recorded sets: a set read again gets its directory from the
    /// record, and only it (100,000 sets' paths of every file would take 160 MB).
    fn reuse_recorded(&mut self, survey: &Survey, now: Timestamp, same_templates: bool) -> Reuse {
        let sets: Vec<Choice> = std::mem::take(&mut self.sets)
            .into_iter()
            .zip(&survey.sets_same)
            .map(|(record, same)| {
                if same_templates && record.reusable_as_recorded(now, *same) {
                    Choice::Reuse(Box::new(record))
                } else {
                    Choice::Load(record.set_dir())
                }
            })
            .collect();
        self.reuse_site(survey, same_templates, sets)
    }

    /// The choices with the site files kept when the sets and templates are the same
    /// (`same`), every set is reused and the site files are as recorded.
    fn reuse_site(&self, survey: &Survey, same: bool, sets: Vec<Choice>) -> Reuse {
        let site_kept = same && sets.iter().all(|c| matches!(c, Choice::Reuse(_))) && survey.site_same;
        Reuse { sets, site: site_kept.then(|| self.site.clone()) }
    }
}

impl SetRecord {
    /// The set's directory as recorded. Each path is made at its exact length (`join` leaves
    /// room to grow: twice the memory over 900,000 files).
    fn set_dir(&self) -> SetDir {
        let dir = self.dir.as_os_str().len();
        let file = |name: &str| {
            let mut path = PathBuf::with_capacity(dir + 1 + name.len());
            path.push(&self.dir);
            path.push(name);
            path
        };
        let files = self.input_names().map(file).collect();
        SetDir { path: self.path.clone(), dir: self.dir.clone(), files }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
