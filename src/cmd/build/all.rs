//! A build of every set, incremental: the record of the last build ([`crate::incremental`])
//! decides which sets are read again and whether the site files are kept; every set, read or
//! kept, then goes through the one planner, and the plan is written and recorded.

use std::path::PathBuf;

use rayon::prelude::*;

use super::{Summary, warn_overdue, warnings};
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::incremental::{
    Cache, Choice, Previous, Record, Reuse, SetRead, SetRecord, Survey, encode_site, out_dir_stamps, template_stamps,
    trusted_dirs,
};
use crate::keydir::{SetDir, discover_stamped};
use crate::layout::Output;
use crate::model::KeySet;
use crate::plan::{Inputs, KeptSet, Plan, PlanOptions, Planned, PlannedSet, SetSource, SiteSource, plan};
use crate::selftest::{SelfTested, read_set_tested};
use crate::site::{Site, SiteSet};
use crate::stamp::{Nanos, Root, Stamp, now_nanos};
use crate::write::{All, Entries, WriteReport, apply, check_out_dir, restore_dir_modes, walk_out};

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

/// Walks `keys/` and `out/` again unless the record shows no directory there changed.
fn find(ctx: &Context, last: Option<&Last>, seen_at: Nanos) -> Result<(Vec<SetDir>, Found)> {
    let recorded_dirs = last.and_then(|l| l.record.set_dirs(&l.survey));
    let keys_as_recorded = recorded_dirs.is_some();
    let (dirs, key_dirs) = match recorded_dirs {
        Some(dirs) => (dirs, last.and_then(|l| l.record.key_dirs())),
        None => {
            let (dirs, stamps) = discover_stamped(&ctx.keys)?;
            (dirs, trusted_dirs(stamps, seen_at))
        }
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
    /// As the record has it, with what it shows on the site: its files are kept.
    Reused { record: Box<SetRecord>, site: SiteSet },
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
    /// Decodes a reused set's site row, or loads a set, stamping its files first (a file
    /// changed while it is read then fails to match its stamp next time, so it is read again).
    fn make(ctx: &Context, keys: &Root, choice: Choice, out_exists: bool) -> std::result::Result<SetState, Problem> {
        let dir = match choice {
            Choice::Reuse(record) => {
                let site = record.site().ok_or(Problem::Undecodable)?;
                return Ok(SetState::Reused { record, site });
            }
            Choice::Load(dir) => dir,
        };
        let inputs = dir.files.iter().map(|f| (f.clone(), keys.stamp(f))).collect();
        let tested = if out_exists { SelfTested::read(&ctx.out, &dir.path) } else { SelfTested::default() };
        let (set, mut warnings) = read_set_tested(&dir, &tested).map_err(Problem::Failed)?;
        warnings.extend(warnings::missing_spec_warnings(&set));
        Ok(SetState::Loaded(Fresh { set, warnings, inputs }))
    }

    /// The set as the planner takes it.
    fn source(&self) -> SetSource<'_> {
        match self {
            SetState::Reused { record, site } => SetSource::Kept(KeptSet {
                path: &record.path,
                outputs: &record.outputs,
                mirror: record.mirror.as_ref(),
                site,
            }),
            SetState::Loaded(fresh) => SetSource::Loaded(&fresh.set),
        }
    }

    /// Prints the set's warnings: those of its load (or as recorded), then its overdue
    /// rotations at `now`.
    fn warn(&self, ctx: &Context) {
        match self {
            SetState::Reused { record, .. } => {
                record.warnings.iter().chain(record.overdue_warnings(ctx.now)).for_each(|w| ctx.ui.warn(w));
            }
            SetState::Loaded(fresh) => {
                fresh.warnings.iter().for_each(|w| ctx.ui.warn(w));
                warn_overdue(ctx, std::slice::from_ref(&fresh.set));
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

    /// The set's record after the build: a reused one as it was, a loaded one with its files
    /// (`planned` in `plan`) as they are now in place (`stamps`, in plan order).
    fn into_record(
        self,
        planned: &PlannedSet,
        plan: &Plan,
        stamps: &[Stamp],
        seen_at: Nanos,
        ctx: &Context,
    ) -> SetRecord {
        match self {
            SetState::Reused { record, .. } => *record,
            SetState::Loaded(fresh) => {
                let site = planned.site.as_ref().map(encode_site).unwrap_or_default();
                let read = SetRead { set: &fresh.set, inputs: fresh.inputs, site, warnings: fresh.warnings };
                SetRecord::new(read, seen_at, ctx.now, outputs(plan, stamps, planned.files.clone()))
            }
        }
    }
}

/// The files `range` of `plan` as they are now in place, given the `stamps` of every file.
fn outputs(plan: &Plan, stamps: &[Stamp], range: std::ops::Range<usize>) -> Vec<Output> {
    let files = plan.files[range.clone()].iter();
    files.zip(&stamps[range]).map(|(f, stamp)| Output { path: f.path().to_string(), stamp: *stamp }).collect()
}

/// Where the site files come from in this build.
enum SiteChoice {
    /// As recorded.
    Keep(Vec<Output>),
    /// Rendered again.
    Render,
}

/// Builds every set, reusing what the last build's record proves unchanged (with `use_record`;
/// without, the record is only written).
pub(super) fn run(ctx: &Context, pretty: bool, use_record: bool) -> Result<Summary> {
    // Stamps taken after this instant are judged racy against it (see `crate::stamp`).
    let seen_at = now_nanos();
    check_out_dir(&ctx.out)?;
    let out_exists = ctx.out.is_dir();
    let cache = Cache::locate(&ctx.keys, &ctx.out, &ctx.templates);
    let last = cache.as_ref().filter(|_| out_exists && use_record).and_then(|c| Last::read(c, ctx, pretty));
    let templates = template_stamps(&ctx.templates, seen_at);
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
        None => Reuse::nothing(dirs),
    };
    let Some(states) = make_states(ctx, reuse.sets, out_exists)? else {
        return run(ctx, pretty, false);
    };
    warn(ctx, &states)?;
    let site = match reuse.site {
        Some(outputs) => SiteChoice::Keep(outputs),
        None => SiteChoice::Render,
    };
    // The pages of loaded sets render with the templates, whether or not the site files do.
    let rendering = crate::site::load(&ctx.templates)?;
    let Found { key_dirs, keys_as_recorded, existing, out_as_recorded } = found;
    let (plan, report) = plan_and_write(ctx, pretty, &states, (&rendering, &site), existing, out_as_recorded)?;
    let read_again = states.iter().any(|s| matches!(s, SetState::Loaded(_)));
    let records: Vec<SetRecord> = states
        .into_iter()
        .zip(&plan.sets)
        .map(|(s, p)| s.into_record(p, &plan, &report.stamps, seen_at, ctx))
        .collect();
    let site_outputs = outputs(&plan, &report.stamps, plan.site_start()..plan.files.len());
    // Nothing read again, written or removed, and out/ as recorded: the record stays as it is.
    let unchanged = keys_as_recorded
        && out_as_recorded
        && !read_again
        && matches!(site, SiteChoice::Keep(_))
        && report.written.is_empty()
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

/// Checks `now` against the loaded sets' keys, then prints every set's warnings in set order,
/// then those about hand-dropped private keys.
fn warn(ctx: &Context, states: &[SetState]) -> Result<()> {
    // A reused set's record holds only for instants at or after its keys' creation.
    let loaded = states.iter().filter_map(|s| match s {
        SetState::Loaded(fresh) => Some(&fresh.set),
        SetState::Reused { .. } => None,
    });
    crate::keydir::check_now_after_created(loaded, ctx.now)?;
    states.iter().for_each(|s| s.warn(ctx));
    warnings::warn_unignored(ctx, &states.iter().flat_map(SetState::dropped_private).collect::<Vec<_>>());
    Ok(())
}

/// What the next record holds besides the directories' stamps.
struct NewRecord {
    pretty: bool,
    templates: Option<Vec<Option<Stamp>>>,
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

/// Plans the sets and the site (with the templates), and writes the plan; `existing` is what is
/// under `out/` (`out_as_recorded`: as the record has it).
fn plan_and_write(
    ctx: &Context,
    pretty: bool,
    states: &[SetState],
    (templates, site): (&Site, &SiteChoice),
    existing: Entries,
    out_as_recorded: bool,
) -> Result<(Plan, WriteReport)> {
    let inputs = Inputs {
        sets: states.iter().map(SetState::source).collect(),
        templates,
        site: match site {
            SiteChoice::Keep(outputs) => SiteSource::Kept(outputs),
            SiteChoice::Render => SiteSource::Render,
        },
        untouched: &[],
        options: PlanOptions { force_pretty: pretty },
    };
    let plan = plan(&inputs, ctx.now)?;
    if !out_as_recorded {
        // A directory of `out/` changed: the kept files' directories get their modes back too.
        let kept = plan.files.iter().filter(|f| matches!(f, Planned::Keep(_))).map(Planned::path);
        restore_dir_modes(&ctx.out, kept)?;
    }
    let report = apply(&ctx.out, &plan.files, &All, Some(existing))?;
    Ok((plan, report))
}

/// A build that found every input and output as the record has them: it prints the recorded
/// warnings and reports every file unchanged. Nothing is read again, so nothing is planned:
/// the record holds the plan's files as they are.
fn unchanged_build(ctx: &Context, record: &Record) -> Summary {
    for set in record.sets() {
        set.warnings.iter().chain(set.overdue_warnings(ctx.now)).for_each(|w| ctx.ui.warn(w));
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
