//! A build of every set, incremental and in bounded memory: the record of the last build
//! ([`crate::incremental`]) decides which sets are read again and whether the site files are
//! kept; the sets are then read, planned and staged in batches (`Run::stream`), keeping of each
//! only its record and site row, and once the whole plan checks out it is committed to `out/`
//! (`Run::finish`) and recorded.

use std::collections::HashSet;
use std::path::PathBuf;

use rayon::prelude::*;

use super::{Summary, warnings};
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::incremental::{
    Cache, Choice, Previous, Record, Reuse, SetRead, SetRecord, Survey, encode_site, out_dir_stamps, trusted_dirs,
};
use crate::keydir::{CreatedAfter, SetDir, discover_stamped, stamped_reads};
use crate::layout::{Output, OutputFile, parents, set_prefix};
use crate::model::KeySet;
use crate::plan::{Owner, PlanOptions, check_collisions, check_mirrors, plan_loaded};
use crate::selftest::{SelfTested, read_set_tested};
use crate::site::{HeaderSet, Site, SiteSet};
use crate::stamp::{Nanos, Root, Stamp, now_nanos};
use crate::write::{
    All, Entries, Prepared, Staging, TEMP_PREFIX, WriteReport, check_out_dir, commit, remove_stale, restore_dir_modes,
    walk_out,
};

/// The last build's record, with the stamps on disk compared with it.
struct Last {
    record: Record,
    previous: Previous,
    survey: Survey,
}

impl Last {
    /// The record in `cache` made by this binary with these options, surveyed.
    fn read(cache: &Cache, ctx: &Context, pretty: bool) -> Option<Last> {
        let (record, previous) = cache.read(pretty)?;
        let survey = record.survey(&ctx.keys, &ctx.out);
        Some(Last { record, previous, survey })
    }

    /// The record with the sets' site rows read into it; `None` when they cannot be read (the
    /// record is then no record).
    fn with_rows(mut self) -> Option<Last> {
        self.record.attach_rows(&mut self.previous).then_some(self)
    }
}

/// The set directories and what is under `out/`: as recorded where the survey shows no
/// directory changed, else walked again.
struct Found {
    /// The stamps of `keys/`'s directories to record (`None`: one was racy).
    key_dirs: Option<Vec<(PathBuf, Stamp)>>,
    /// True when the set directories are the recorded ones.
    keys_as_recorded: bool,
    /// What is under `out/` before this build.
    existing: Entries,
    /// True when `existing` is the recorded list.
    out_as_recorded: bool,
}

/// Walks `keys/` and `out/` again unless the record shows no directory there changed. The set
/// directories are `None` when they are the recorded ones.
fn find(ctx: &Context, last: Option<&Last>, seen_at: Nanos) -> Result<(Option<Vec<SetDir>>, Found)> {
    let keys_as_recorded = last.is_some_and(|l| l.record.keys_as_recorded(&l.survey));
    let (dirs, key_dirs) = if keys_as_recorded {
        (None, last.and_then(|l| l.record.key_dirs()))
    } else {
        let (dirs, stamps) = discover_stamped(&ctx.keys)?;
        (Some(dirs), trusted_dirs(stamps, seen_at))
    };
    let recorded_out = last.and_then(|l| l.record.out_entries(&l.survey));
    let out_as_recorded = recorded_out.is_some();
    let existing = match recorded_out {
        Some(entries) => entries,
        None => walk_out(&ctx.out)?,
    };
    Ok((dirs, Found { key_dirs, keys_as_recorded, existing, out_as_recorded }))
}

/// A set read again this run.
struct Fresh {
    set: KeySet,
    /// The warnings of its load, and of its specs without a key.
    warnings: Vec<String>,
    /// Stamps of its files, taken before they were read.
    inputs: Vec<(PathBuf, Option<Stamp>)>,
}

/// One set of the build.
enum SetState {
    /// As the record has it (the root set with what it shows on the root page): its files are
    /// kept.
    Reused { record: Box<SetRecord>, site: Option<SiteSet> },
    /// Read again.
    Loaded(Fresh),
}

/// Why a set could not be made ready.
enum Problem {
    /// Its recorded site row does not decode: the record is no record.
    Undecodable,
    /// It does not load.
    Failed(Error),
}

impl SetState {
    /// Decodes a reused set's site row, or loads a set, stamping each file as it is opened,
    /// before it is read (a file changed while it is read then fails to match its stamp next
    /// time, so it is read again).
    fn make(ctx: &Context, keys: &Root, choice: Choice, out_exists: bool) -> std::result::Result<SetState, Problem> {
        let dir = match choice {
            Choice::Reuse(record) => {
                // Only the root set's row is shown by a site file (the root page).
                let site = if record.path.is_empty() { Some(record.site().ok_or(Problem::Undecodable)?) } else { None };
                return Ok(SetState::Reused { record, site });
            }
            Choice::Load(dir) => dir,
        };
        let tested = if out_exists { SelfTested::read(&ctx.out, &dir.path) } else { SelfTested::default() };
        let (read, seen) = stamped_reads(|| read_set_tested(&dir, &tested));
        let (set, mut warnings) = read.map_err(Problem::Failed)?;
        // A file the read did not open counts by its name alone: its stamp now will do.
        let stamp_of = |f: &PathBuf| seen.iter().find(|(p, _)| p == f).map(|(_, s)| *s).or_else(|| keys.stamp(f));
        let inputs = dir.files.iter().map(|f| (f.clone(), stamp_of(f))).collect();
        warnings.extend(warnings::missing_spec_warnings(&set));
        Ok(SetState::Loaded(Fresh { set, warnings, inputs }))
    }

    /// The set's warnings: those of its load (or as recorded), then its overdue rotations at
    /// `now`.
    fn warnings(&self, ctx: &Context) -> Vec<String> {
        match self {
            SetState::Reused { record, .. } => {
                record.warnings.iter().cloned().chain(record.overdue_warnings(ctx.now)).collect()
            }
            SetState::Loaded(fresh) => {
                let overdue = crate::lint::overdue_warnings(&fresh.set, ctx.now);
                fresh.warnings.iter().cloned().chain(overdue).collect()
            }
        }
    }

    /// The set's hand-dropped private key files.
    fn dropped_private(&self) -> Vec<PathBuf> {
        match self {
            SetState::Reused { record, .. } => record.dropped_private.clone(),
            SetState::Loaded(fresh) => crate::gitignore::dropped_private_keys(&fresh.set),
        }
    }
}

/// Where the site files come from in this build.
enum SiteChoice {
    /// As recorded.
    Keep(Vec<Output>),
    /// Rendered again.
    Render,
}

/// How many sets are read, planned and staged at once: what a build holds in memory of its sets'
/// keys and files, whatever the number of sets (W1's 1,000 sets with private keys: 44 MiB
/// peak at 256, 67 MiB at 1,024, the same time; enough sets a batch to keep every core busy).
const BATCH: usize = 256;

/// How many files a build puts in place at once (a cold build of 100,000 sets has 700,000).
const COMMIT_CHUNK: usize = 16 * 1024;

/// Builds every set, reusing what the last build's record proves unchanged (with `use_record`;
/// without, the record is only written).
///
/// The sets are read, planned and staged in batches of [`BATCH`] (`Streamed`), keeping of each
/// only its record (the publish paths of its files) and what it shows on the site; nothing under
/// `out/public/` or `out/private/` changes until every set has loaded and the whole plan checks
/// out (`commit`).
pub(super) fn run(ctx: &Context, pretty: bool, use_record: bool) -> Result<Summary> {
    // Stamps taken after this instant are judged racy against it (see `crate::stamp`).
    let seen_at = now_nanos();
    check_out_dir(&ctx.out)?;
    let out_exists = ctx.out.is_dir();
    let cache = Cache::locate(&ctx.keys, &ctx.out, &ctx.templates);
    let last = cache.as_ref().filter(|_| out_exists && use_record).and_then(|c| Last::read(c, ctx, pretty));
    let overrides = crate::site::read_checked(&ctx.templates)?;
    let templates = crate::site::digests(&overrides);
    if let Some(l) = &last
        && l.record.all_unchanged(&l.survey, ctx.now, &templates)
    {
        return Ok(unchanged_build(ctx, &l.record));
    }
    // Something changed: the site is rendered again or the record rewritten, with the site rows.
    let mut last = last.and_then(Last::with_rows);
    let (dirs, found) = find(ctx, last.as_ref(), seen_at)?;
    let reuse = match &mut last {
        Some(l) => l.record.reuse(&l.survey, dirs, ctx.now, &templates),
        None => Reuse::nothing(dirs.expect("without a record, keys/ is walked")),
    };
    // The pages of loaded sets render with the templates, whether or not the site files do.
    let rendering = Site::new(overrides)?;
    // An out/ without a directory (a cold build) holds no planned file and no proof of a
    // self-test: nothing there is opened to be compared or read.
    let out_holds_dirs = !found.existing.dirs.is_empty();
    let staging = Staging::new(&ctx.out, out_holds_dirs)?;
    let run = Run { ctx, pretty, seen_at, out_exists: out_exists && out_holds_dirs, templates: &rendering };
    // Staged files not committed (a failure) are removed with the staging directory.
    let built = run.stream(reuse.sets, &staging).and_then(|s| match s {
        Some(streamed) => run.finish(streamed, reuse.site, found, &staging).map(Some),
        None => Ok(None),
    });
    staging.clean();
    let Some((records, site, site_outputs, report, found)) = built? else {
        return run_without_record(ctx, pretty);
    };
    let Found { key_dirs, keys_as_recorded, out_as_recorded, .. } = found;
    let read_again = records.iter().any(|(_, fresh)| *fresh);
    let records: Vec<SetRecord> = records.into_iter().map(|(r, _)| r).collect();
    // Nothing read again, written or removed, and out/ as recorded: the record stays as it is.
    let unchanged = keys_as_recorded
        && out_as_recorded
        && !read_again
        && matches!(site, SiteChoice::Keep(_))
        && report.written_count() == 0
        && report.removed.is_empty();
    let summary = Summary {
        sets: records.len(),
        keys: records.iter().map(|r| r.keys).sum(),
        next_change: records.iter().filter_map(SetRecord::next_change).min(),
        report,
    };
    if let Some(cache) = cache.as_ref().filter(|_| !unchanged) {
        let new = NewRecord { pretty, templates, key_dirs, records, site: site_outputs };
        write_record(ctx, cache, last.as_ref(), out_as_recorded, new, &summary.report);
    }
    Ok(summary)
}

/// A build that ignores the record (a reused set's row did not decode: the record is no record).
fn run_without_record(ctx: &Context, pretty: bool) -> Result<Summary> {
    run(ctx, pretty, false)
}

/// The options of one build's stream of batches.
struct Run<'a> {
    ctx: &'a Context,
    pretty: bool,
    seen_at: Nanos,
    out_exists: bool,
    templates: &'a Site,
}

/// What the batches leave: every set's record and row, and the files staged for the commit.
#[derive(Default)]
struct Streamed {
    /// Each set's record (a loaded set's outputs without their stamps yet), and whether it was
    /// read again.
    records: Vec<(SetRecord, bool)>,
    /// What the root set shows on the root page.
    root: Option<SiteSet>,
    /// Each file to write: its set, its place among the set's outputs, private or not, and what
    /// the comparison with the disk made of it.
    pending: Vec<Vec<Pending>>,
    /// Every set's warnings, in set order (printed once every set has loaded).
    warnings: Vec<String>,
    /// The hand-dropped private keys of every set.
    dropped: Vec<PathBuf>,
    /// The newest key created after `now` among the loaded sets.
    too_new: Option<CreatedAfter>,
}

/// A file to write at the commit: its place among the records' outputs (indices kept small: a
/// cold build of 100,000 sets holds 700,000 of these).
struct Pending {
    set: u32,
    output: u16,
    private: bool,
    change: Change,
}

/// What the commit does to a file that is not on disk as planned: a [`Prepared`] but `Same`, in
/// 32 bytes rather than 56 (a `Same` holds its stamp).
enum Change {
    Mode,
    Held(Vec<u8>),
    Staged(u32),
}

impl Change {
    /// The change of `prepared`; the stamp in place when there is none to make.
    fn of(prepared: Prepared) -> std::result::Result<Change, Stamp> {
        match prepared {
            Prepared::Same(stamp) => Err(stamp),
            Prepared::Mode => Ok(Change::Mode),
            Prepared::Held(bytes) => Ok(Change::Held(bytes)),
            Prepared::Staged(number) => Ok(Change::Staged(number)),
        }
    }

    fn prepared(self) -> Prepared {
        match self {
            Change::Mode => Prepared::Mode,
            Change::Held(bytes) => Prepared::Held(bytes),
            Change::Staged(number) => Prepared::Staged(number),
        }
    }
}

/// A set's records, rows and outputs, as `finish` returns them.
type Finished = (Vec<(SetRecord, bool)>, SiteChoice, Vec<Output>, WriteReport, Found);

impl Run<'_> {
    /// Reads, plans and stages the sets, [`BATCH`] at a time; `None` when a reused set's row
    /// does not decode.
    fn stream(&self, choices: Vec<Choice>, staging: &Staging) -> Result<Option<Streamed>> {
        let mut streamed = Streamed::default();
        streamed.records.reserve_exact(choices.len());
        let mut choices = choices.into_iter();
        loop {
            let batch: Vec<Choice> = choices.by_ref().take(BATCH).collect();
            if batch.is_empty() {
                return Ok(Some(streamed));
            }
            let Some(states) = make_states(self.ctx, batch, self.out_exists)? else { return Ok(None) };
            self.add(&mut streamed, states, staging)?;
        }
    }

    /// Plans one batch of sets and stages their files; keeps their records, rows and warnings.
    fn add(&self, streamed: &mut Streamed, states: Vec<SetState>, staging: &Staging) -> Result<()> {
        let ctx = self.ctx;
        let loaded = states.iter().filter_map(|s| match s {
            SetState::Loaded(fresh) => Some(&fresh.set),
            SetState::Reused { .. } => None,
        });
        if let Some(found) = crate::keydir::created_after(loaded, ctx.now)
            && streamed.too_new.as_ref().is_none_or(|t| t.order < found.order)
        {
            streamed.too_new = Some(found);
        }
        for state in &states {
            streamed.warnings.extend(state.warnings(ctx));
            streamed.dropped.extend(state.dropped_private());
        }
        let options = PlanOptions { force_pretty: self.pretty };
        let mut planned: Vec<(SetState, Vec<OutputFile>, Option<SiteSet>)> = states
            .into_par_iter()
            .map(|state| {
                let (files, row) = match &state {
                    SetState::Loaded(fresh) => {
                        let (files, row) = plan_loaded(&fresh.set, ctx.now, options, self.templates)?;
                        (files, Some(row))
                    }
                    SetState::Reused { .. } => (Vec::new(), None),
                };
                Ok((state, files, row))
            })
            .collect::<Result<_>>()?;
        // The bytes of files held for the commit move there: only their paths are used below.
        let written: Vec<&mut OutputFile> = planned.iter_mut().flat_map(|(_, files, _)| files).collect();
        let mut prepared = staging.prepare(written)?.into_iter();
        // One vector a batch: the pending writes of a cold build are never copied to grow.
        let mut pending = Vec::new();
        for (state, files, row) in planned {
            let index = streamed.records.len();
            let outputs = |stamps: &mut dyn Iterator<Item = Stamp>| -> Vec<Output> {
                files
                    .iter()
                    .map(|f| Output { path: f.path.clone(), stamp: stamps.next().unwrap_or_default() })
                    .collect()
            };
            match state {
                SetState::Reused { record, site } => {
                    streamed.root = streamed.root.take().or(site);
                    streamed.records.push((*record, false));
                }
                SetState::Loaded(fresh) => {
                    let row = row.expect("a loaded set is planned with its row");
                    let mut stamps = Vec::with_capacity(files.len());
                    for (i, file) in files.iter().enumerate() {
                        let p = prepared.next().expect("one comparison per file");
                        match Change::of(p) {
                            Err(stamp) => stamps.push(stamp),
                            Ok(change) => {
                                stamps.push(Stamp::default());
                                let (set, output) = (index as u32, i as u16);
                                pending.push(Pending { set, output, private: file.private, change });
                            }
                        }
                    }
                    // Only the root page shows a set's row: the others' are not recorded.
                    let site = if fresh.set.path.is_empty() { encode_site(&row) } else { Vec::new() };
                    let read = SetRead { set: &fresh.set, inputs: fresh.inputs, site, warnings: fresh.warnings };
                    let record = SetRecord::new(read, self.seen_at, ctx.now, outputs(&mut stamps.into_iter()));
                    streamed.records.push((record, true));
                    if fresh.set.path.is_empty() {
                        streamed.root = Some(row);
                    }
                }
            }
        }
        pending.shrink_to_fit();
        streamed.pending.push(pending);
        Ok(())
    }

    /// Checks the whole plan (keys' creation against `now`, mirror claims, collisions), prints
    /// the warnings, plans the site files (kept as recorded with `kept_site`, else rendered), then commits: the directories, the staged files, the
    /// removal of stale files. Fails, with `out/` as it was, before the commit.
    fn finish(
        &self,
        streamed: Streamed,
        kept_site: Option<Vec<Output>>,
        mut found: Found,
        staging: &Staging,
    ) -> Result<Finished> {
        let ctx = self.ctx;
        let Streamed { mut records, root, pending, warnings, dropped, too_new } = streamed;
        if let Some(found) = too_new {
            return Err(found.error);
        }
        warnings.iter().for_each(|w| ctx.ui.warn(w));
        warnings::warn_unignored(ctx, &dropped);
        let site = match kept_site {
            Some(outputs) => SiteChoice::Keep(outputs),
            None => SiteChoice::Render,
        };
        check_mirrors(records.iter().filter_map(|(r, _)| r.mirror.as_deref()))?;
        let mut site_files: Vec<OutputFile> = match &site {
            SiteChoice::Render => self.site_files(root.as_ref(), &records)?,
            SiteChoice::Keep(_) => Vec::new(),
        };
        let kept_site = match &site {
            SiteChoice::Keep(outputs) => outputs.as_slice(),
            SiteChoice::Render => &[],
        };
        let set_files =
            records.iter().flat_map(|(r, _)| r.outputs.iter().map(|o| (o.path.as_str(), Owner::Set(&r.path))));
        let site_paths = site_files.iter().map(|f| f.path.as_str()).chain(kept_site.iter().map(|o| o.path.as_str()));
        check_collisions(set_files.chain(site_paths.map(|p| (p, Owner::Site))))?;
        let site_prepared = staging.prepare(site_files.iter_mut().collect())?;
        if !found.out_as_recorded {
            // A directory of `out/` changed, or there is no record: the directories of the files
            // not written (kept sets', and the unchanged ones of sets read again: a `cp -r` or a
            // cache restore may have left `private/<set>/` 0755) get their modes back too. The
            // files to write have no stamp yet; their directories are made with their modes.
            let unchanged = |o: &&Output| o.stamp != Stamp::default();
            let kept_sets =
                records.iter().flat_map(|(r, fresh)| r.outputs.iter().filter(move |o| !fresh || unchanged(o)));
            let kept_paths = kept_sets.chain(kept_site).map(|o| o.path.as_str());
            restore_dir_modes(&ctx.out, kept_paths)?;
        }
        // The commit: from here on, out/ changes. A chunk of files at a time: what it holds
        // besides the records stays bounded.
        // Written paths are kept only to print (`-v`) or to stamp their directories again.
        let list = ctx.ui.is_verbose() || found.out_as_recorded;
        let (mut written, mut unlisted) = (Vec::new(), 0);
        let mut pending = pending.into_iter().flatten().peekable();
        while pending.peek().is_some() {
            let (places, prepared): (Vec<(usize, usize, bool)>, Vec<Prepared>) = pending
                .by_ref()
                .take(COMMIT_CHUNK)
                .map(|p| ((p.set as usize, usize::from(p.output), p.private), p.change.prepared()))
                .unzip();
            let files: Vec<(&str, bool)> =
                places.iter().map(|&(s, o, private)| (records[s].0.outputs[o].path.as_str(), private)).collect();
            let done = commit(&ctx.out, staging, &files, prepared)?;
            drop(files);
            for (&(s, o, _), (was_written, stamp)) in places.iter().zip(done) {
                let output = &mut records[s].0.outputs[o];
                output.stamp = stamp;
                match (was_written, list) {
                    (true, true) => written.push(output.path.clone()),
                    (true, false) => unlisted += 1,
                    (false, _) => {}
                }
            }
        }
        let files: Vec<(&str, bool)> = site_files.iter().map(|f| (f.path.as_str(), f.private)).collect();
        let done = commit(&ctx.out, staging, &files, site_prepared)?;
        let mut site_outputs: Vec<Output> = kept_site.to_vec();
        for (file, (was_written, stamp)) in site_files.iter().zip(done) {
            if was_written {
                written.push(file.path.clone());
            }
            site_outputs.push(Output { path: file.path.clone(), stamp });
        }
        let total = records.iter().map(|(r, _)| r.outputs.len()).sum::<usize>() + site_outputs.len();
        let existing = std::mem::take(&mut found.existing);
        // Into an empty out/ (a fresh runner), nothing is stale: no index of every path is made.
        let removed = if nothing_removable(&existing) {
            Vec::new()
        } else {
            let wanted: HashSet<&str> =
                records.iter().flat_map(|(r, _)| &r.outputs).chain(&site_outputs).map(|o| o.path.as_str()).collect();
            let planned_dirs: HashSet<&str> = wanted.iter().flat_map(|p| parents(p)).collect();
            remove_stale(&ctx.out, existing, &wanted, &planned_dirs, &All)?
        };
        let unchanged = total - written.len() - unlisted;
        let report = WriteReport { unchanged, written, written_unlisted: unlisted, removed, stamps: Vec::new() };
        Ok((records, site, site_outputs, report, found))
    }

    /// The site files rendered: the root chain of pages from the root set's row and every other
    /// set's publish path, `_headers` from every set's files and `cache_max_age`.
    fn site_files(&self, root: Option<&SiteSet>, records: &[(SetRecord, bool)]) -> Result<Vec<OutputFile>> {
        let paths: Vec<&str> = records.iter().map(|(r, _)| r.path.as_str()).filter(|p| !p.is_empty()).collect();
        let prefixes: Vec<String> = records.iter().map(|(r, _)| set_prefix(&r.path)).collect();
        let headers: Vec<HeaderSet> = records
            .iter()
            .zip(&prefixes)
            .map(|((r, _), prefix)| HeaderSet {
                prefix,
                max_age: r.max_age,
                files: r.outputs.iter().map(|o| o.path.as_str()).collect(),
            })
            .collect();
        self.templates.files(root, &paths, &headers)
    }
}

/// True when `existing` (what was under `out/`) holds no directory and no file a build may
/// remove: only jwksmith's own files at the top (its lock).
fn nothing_removable(existing: &Entries) -> bool {
    existing.dirs.is_empty() && existing.files.iter().all(|f| !f.contains('/') && !f.starts_with(TEMP_PREFIX))
}

/// Makes every set ready on all cores: reused ones with their site rows decoded, the others
/// loaded. `None` when a reused set's row does not decode (the record is then no record).
fn make_states(ctx: &Context, choices: Vec<Choice>, out_exists: bool) -> Result<Option<Vec<SetState>>> {
    let keys_root = Root::open(&ctx.keys);
    let made = choices.into_par_iter().map(|c| SetState::make(ctx, &keys_root, c, out_exists)).collect();
    match made {
        Ok(states) => Ok(Some(states)),
        Err(Problem::Undecodable) => Ok(None),
        Err(Problem::Failed(e)) => Err(e),
    }
}

/// What the next record holds besides the directories' stamps.
struct NewRecord {
    pretty: bool,
    templates: Option<crate::site::Digests>,
    key_dirs: Option<Vec<(PathBuf, Stamp)>>,
    records: Vec<SetRecord>,
    site: Vec<Output>,
}

/// Stores the record of this build, unless it is the `last` one. When `out/`'s directories
/// were as the last record has them (`out_as_recorded`), only those above the files `report`
/// wrote or removed are stamped again.
fn write_record(
    ctx: &Context,
    cache: &Cache,
    last: Option<&Last>,
    out_as_recorded: bool,
    new: NewRecord,
    report: &WriteReport,
) {
    let out_dirs = match last {
        Some(l) if out_as_recorded => {
            let touched = report.written.iter().chain(&report.removed);
            l.record.out_dirs_after(&ctx.out, touched.map(String::as_str))
        }
        _ => {
            let paths = new.records.iter().flat_map(|r| &r.outputs).chain(&new.site).map(|o| o.path.as_str());
            out_dir_stamps(&ctx.out, paths)
        }
    };
    let NewRecord { pretty, templates, key_dirs, records, site } = new;
    if let Some(record) = Record::new(cache.dirs(), pretty, templates, key_dirs, out_dirs, records, site) {
        cache.write(&record, last.map(|l| &l.previous));
    }
}

/// A build that found every input and output as the record has them: it prints the recorded
/// warnings and reports every file unchanged. Nothing is read again, so nothing is planned:
/// the record holds the plan's files as they are.
fn unchanged_build(ctx: &Context, record: &Record) -> Summary {
    for set in record.sets() {
        set.warnings.iter().cloned().chain(set.overdue_warnings(ctx.now)).for_each(|w| ctx.ui.warn(&w));
    }
    let dropped: Vec<PathBuf> = record.sets().iter().flat_map(|s| s.dropped_private.iter().cloned()).collect();
    warnings::warn_unignored(ctx, &dropped);
    Summary {
        report: WriteReport { unchanged: record.output_count(), ..WriteReport::default() },
        sets: record.sets().len(),
        keys: record.sets().iter().map(|s| s.keys).sum(),
        next_change: record.sets().iter().filter_map(SetRecord::next_change).min(),
    }
}
