//! `jwksmith check`: fail when `out/public/` differs from what `build` would write (saying so
//! when only a scheduled state change since the last build explains it); warn about rotations
//! due soon or overdue, client pitfalls ([`crate::lint`]) and hand-dropped private keys that git
//! would commit; `--strict` fails on any warning.
//!
//! A check of every set (without `--url`) reads, plans, compares and lints the sets in batches
//! (`Compared`), holding of each set only the paths of its files: its memory does not grow with
//! the keys and bytes of the site. A check of selected sets, or of a deployed site, plans its
//! sets at once (`Selection`).

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use crate::cmd::build::{
    Selection, missing_spec_warnings, plural, warn_missing_specs, warn_unignored, warn_unignored_keys,
};
use crate::cmd::{Context, load_reusing_self_tests, warn_file_count};
use crate::error::{Error, Result};
use crate::file_limits::FileCount;
use crate::keydir::{CreatedAfter, SetDir, created_after, discover};
use crate::layout::{OutputFile, set_prefix, written};
use crate::lifecycle::State;
use crate::lint::lint_set;
use crate::model::KeySet;
use crate::plan::{MirrorClaim, Owner, PlanOptions, check_collisions, check_mirrors, plan, plan_loaded};
use crate::selftest::{SelfTested, read_set_tested};
use crate::site::{HeaderSet, Site, SiteSet};
use crate::times::Timestamp;
use crate::write::{Difference, check_out_dir, diff_public, difference, existing_files};

/// How many of the latest scheduled state changes a stale `check` looks behind.
const LOOK_BEHIND: usize = 8;

/// When `out/public/` is exactly what a build before one of the latest scheduled state changes
/// (a key's `activates`, `retires` or `expires` since the last key was created) wrote, the
/// first change since: when, which key, and what it became.
fn scheduled_change(ctx: &Context, selection: &Selection) -> Option<(Timestamp, String, State)> {
    let keys = || selection.loaded.sets.iter().flat_map(|s| &s.keys);
    let newest_created = keys().filter_map(|k| k.meta.created).max();
    let mut changes: Vec<(Timestamp, String, State)> = keys()
        .flat_map(|k| {
            let changes = k.meta.times().changes_until(ctx.now);
            changes
                .filter(move |(at, _)| newest_created.is_none_or(|c| *at > c))
                .map(|(at, state)| (at, k.kid().to_string(), state))
        })
        .collect();
    changes.sort();
    changes.dedup();
    let inputs = selection.inputs(false);
    for (i, (at, _, _)) in changes.iter().enumerate().rev().take(LOOK_BEHIND) {
        let before = Timestamp::from_unix(at.unix() - 1);
        // A plan or comparison that fails here only means the answer is not this instant.
        let same = plan(&inputs, before)
            .and_then(|plan| diff_public(&ctx.out, &plan.files, selection.ownership()))
            .is_ok_and(|diffs| diffs.is_empty());
        if same {
            return Some(changes[i].clone());
        }
    }
    None
}

/// Runs the check; `strict` turns warnings into failure; `url`: also check the site deployed
/// there ([`crate::deployed`]).
pub fn run(ctx: &Context, strict: bool, url: Option<&str>) -> Result<()> {
    // Under --strict the warnings are the failures: printed even with -q.
    let strict_ctx = strict.then(|| Context { ui: ctx.ui.failing_on_warnings(), ..ctx.clone() });
    let ctx = strict_ctx.as_ref().unwrap_or(ctx);
    if url.is_none() && ctx.all_sets() {
        return run_batched(ctx, strict);
    }
    let loaded = load_reusing_self_tests(ctx)?;
    warn_missing_specs(ctx, &loaded.sets);
    warn_unignored_keys(ctx, &loaded.sets);
    let selection = Selection::read(ctx, loaded)?;
    let plan = plan(&selection.inputs(false), ctx.now)?;
    let diffs = diff_public(&ctx.out, &plan.files, selection.ownership())?;
    let sets = &selection.loaded.sets;
    // Linted on all cores, printed in set order.
    let lints: Vec<Vec<String>> = sets
        .par_iter()
        .zip(&plan.sets)
        .map(|(set, part)| lint_set(set, &planned_jwks(set, written(&plan.files[part.files.clone()])), ctx.now))
        .collect();
    for (set, warnings) in sets.iter().zip(lints) {
        warnings.iter().for_each(|w| ctx.ui.warn(w));
        if let Some(notice) = crate::issuer::serve_notice(set) {
            ctx.ui.notice(&notice);
        }
    }
    let files: Vec<&OutputFile> = plan.written().collect();
    crate::header_rules::warnings(&files).iter().for_each(|w| ctx.ui.warn(w));
    selection.loaded.warn_file_count(&ctx.ui);
    let deployed = url.map(|u| crate::deployed::run(&ctx.ui, u, sets, &files)).transpose()?.flatten();
    let warnings = ctx.ui.warnings();
    if !diffs.is_empty() {
        for d in &diffs {
            ctx.ui.data(&format!("{d}\n"));
        }
        return Err(stale(ctx, diffs.len(), scheduled_change(ctx, &selection)));
    }
    if let Some(failed) = deployed {
        return Err(failed);
    }
    verdict(ctx, strict, warnings)
}

/// The failure of a stale `out/public/` (`count` files differ), saying so when only the
/// scheduled state change `explained` explains it.
fn stale(ctx: &Context, count: usize, explained: Option<(Timestamp, String, State)>) -> Error {
    if let Some((at, kid, state)) = explained {
        return Error::Failed(format!(
            "{} is stale only because a key's scheduled state change has arrived since the last build ({kid} became {state} at {at}): {count} file{} differ; run jwksmith build and commit the result",
            ctx.out.join("public").display(),
            plural(count)
        ));
    }
    Error::Failed(format!(
        "{} is stale: {count} file{} differ from what `jwksmith build` would write; run `jwksmith build` and commit the result",
        ctx.out.join("public").display(),
        plural(count)
    ))
}

/// The end of a check that found `out/public/` fresh: `--strict` fails on `warnings`.
fn verdict(ctx: &Context, strict: bool, warnings: usize) -> Result<()> {
    if strict && warnings > 0 {
        return Err(Error::Failed(format!("check --strict: {warnings} warning{}", plural(warnings))));
    }
    let scope = if ctx.all_sets() { "" } else { " for the selected sets" };
    ctx.ui.report(&format!("{} is up to date{scope}", ctx.out.join("public").display()));
    Ok(())
}
/// How many sets `check` of every set reads, plans and compares at once: what it holds in memory
/// of its sets' keys and files, whatever the number of sets.
const BATCH: usize = 1024;

/// A line `check` prints about a set, in set order.
enum Line {
    Warning(String),
    Notice(String),
}

/// What the batches of a check of every set found, kept until every set has been read: per set
/// only the paths of its files (and what it shows on the site), never its keys or bytes.
#[derive(Default)]
struct Compared {
    /// Each set: its publish path, the `cache_max_age` of its files, and their paths (relative
    /// to `out/`).
    sets: Vec<(String, i64, Vec<String>)>,
    /// What the root set shows on the root page.
    root: Option<SiteSet>,
    /// The mirror claims, in set order.
    claims: Vec<MirrorClaim>,
    /// The public files that differ from the plan (missing or changed).
    diffs: Vec<Difference>,
    /// Warnings of the loads, in set order.
    loads: Vec<String>,
    /// Warnings about specs without a key.
    missing: Vec<String>,
    /// Lints and notices, in set order.
    lines: Vec<Line>,
    /// Hand-dropped private keys.
    dropped: Vec<PathBuf>,
    /// The newest key created after `now`.
    too_new: Option<CreatedAfter>,
    /// The latest scheduled state changes at or before `now` ([`LOOK_BEHIND`] of them), and
    /// the newest creation time of any key.
    changes: BTreeSet<(Timestamp, String, State)>,
    newest_created: Option<Timestamp>,
    /// The files of the site, counted set by set.
    count: FileCount,
}

/// Loads one batch of set directories on all cores, reusing the self-tests `out/private/` proves.
fn load_batch(ctx: &Context, dirs: &[SetDir]) -> Result<Vec<(KeySet, Vec<String>)>> {
    dirs.par_iter().map(|d| read_set_tested(d, &SelfTested::read(&ctx.out, &d.path))).collect()
}

/// Each set of `sets` planned at `at` (its page included): its files and what it shows on the
/// site, on all cores.
fn plan_batch(sets: &[KeySet], at: Timestamp, templates: &Site) -> Result<Vec<(Vec<OutputFile>, SiteSet)>> {
    sets.par_iter().map(|set| plan_loaded(set, at, PlanOptions::default(), templates)).collect()
}

/// The public files of `files` that are not on disk with these bytes, compared on all cores.
fn compare(out: &Path, files: &[&OutputFile]) -> Vec<Difference> {
    files.par_iter().filter(|f| f.path.starts_with("public/")).filter_map(|file| difference(out, file)).collect()
}

impl Compared {
    /// Reads, plans and compares one batch of sets.
    fn add(&mut self, ctx: &Context, templates: &Site, loaded: Vec<(KeySet, Vec<String>)>) -> Result<()> {
        let sets: Vec<KeySet> = loaded
            .into_iter()
            .map(|(set, warnings)| {
                self.loads.extend(warnings);
                set
            })
            .collect();
        if let Some(found) = created_after(&sets, ctx.now)
            && self.too_new.as_ref().is_none_or(|t| t.order < found.order)
        {
            self.too_new = Some(found);
        }
        self.note_changes(&sets, ctx.now);
        let planned = plan_batch(&sets, ctx.now, templates)?;
        let written: Vec<&OutputFile> = planned.iter().flat_map(|(files, _)| files).collect();
        self.diffs.extend(compare(&ctx.out, &written));
        let lints: Vec<Vec<String>> = sets
            .par_iter()
            .zip(&planned)
            .map(|(set, (files, _))| lint_set(set, &planned_jwks(set, files), ctx.now))
            .collect();
        for ((set, (files, row)), lints) in sets.iter().zip(planned).zip(lints) {
            self.missing.extend(missing_spec_warnings(set));
            self.dropped.extend(crate::gitignore::dropped_private_keys(set));
            self.lines.extend(lints.into_iter().map(Line::Warning));
            self.lines.extend(crate::issuer::serve_notice(set).map(Line::Notice));
            self.claims.extend(MirrorClaim::of(set));
            self.count.add(&set.path, &set.config);
            let max_age = set.config.rotation.cache_max_age.secs();
            self.sets.push((set.path.clone(), max_age, files.into_iter().map(|f| f.path).collect()));
            if set.path.is_empty() {
                self.root = Some(row);
            }
        }
        Ok(())
    }

    /// Keeps the latest scheduled state changes of `sets`' keys at or before `now` (after the
    /// newest key's creation: earlier ones cannot explain a stale out/).
    fn note_changes(&mut self, sets: &[KeySet], now: Timestamp) {
        let keys = || sets.iter().flat_map(|s| &s.keys);
        self.newest_created = self.newest_created.max(keys().filter_map(|k| k.meta.created).max());
        for k in keys() {
            for (at, state) in k.meta.times().changes_until(now) {
                self.changes.insert((at, k.kid().to_string(), state));
            }
        }
        let newest = self.newest_created;
        self.changes.retain(|(at, _, _)| newest.is_none_or(|c| *at > c));
        while self.changes.len() > LOOK_BEHIND {
            self.changes.pop_first();
        }
    }
}

/// The `jwks.json` among a set's own planned `files`, parsed (`null` when there is none): the
/// cost per set does not grow with the number of sets.
fn planned_jwks<'a>(set: &KeySet, files: impl IntoIterator<Item = &'a OutputFile>) -> Value {
    let path = format!("public/{}jwks.json", set_prefix(&set.path));
    let file = files.into_iter().find(|f| f.path == path);
    file.and_then(|f| serde_json::from_slice(&f.bytes).ok()).unwrap_or_default()
}

/// `check` of every set, in batches: each batch is read, planned, compared and linted, then
/// dropped; the site files are planned from what every set showed, and the files of
/// `out/public/` the plan does not have are found by one walk.
fn run_batched(ctx: &Context, strict: bool) -> Result<()> {
    check_out_dir(&ctx.out)?;
    check_out_dir(&ctx.out.join("public"))?;
    // out/public/ is walked (for the files the plan does not have) while the single-threaded
    // walk of keys/ runs; an error of its walk is reported where it always was, after the sets.
    let (dirs, public) = rayon::join(|| discover(&ctx.keys), || existing_files(&ctx.out.join("public")));
    let dirs = dirs?;
    let site = crate::site::load(&ctx.templates)?;
    let mut found = Compared::default();
    for batch in dirs.chunks(BATCH) {
        let loaded = load_batch(ctx, batch)?;
        found.add(ctx, &site, loaded)?;
    }
    found.loads.iter().for_each(|w| ctx.ui.warn(w));
    if let Some(too_new) = found.too_new.take() {
        return Err(too_new.error);
    }
    found.missing.iter().for_each(|w| ctx.ui.warn(w));
    warn_unignored(ctx, &found.dropped);
    check_mirrors(&found.claims)?;
    let site_files = site_files(&site, &found)?;
    let set_files = found.sets.iter().flat_map(|(path, _, files)| files.iter().map(|f| (f.as_str(), Owner::Set(path))));
    check_collisions(set_files.chain(site_files.iter().map(|f| (f.path.as_str(), Owner::Site))))?;
    found.diffs.extend(compare(&ctx.out, &site_files.iter().collect::<Vec<_>>()));
    found.diffs.extend(extra_files(public?, &found, &site_files));
    for line in &found.lines {
        match line {
            Line::Warning(w) => ctx.ui.warn(w),
            Line::Notice(n) => ctx.ui.notice(n),
        }
    }
    crate::header_rules::warnings(&site_files.iter().collect::<Vec<_>>()).iter().for_each(|w| ctx.ui.warn(w));
    warn_file_count(&ctx.ui, &found.count);
    let warnings = ctx.ui.warnings();
    let mut diffs = found.diffs;
    if !diffs.is_empty() {
        diffs.sort();
        for d in &diffs {
            ctx.ui.data(&format!("{d}\n"));
        }
        let changes: Vec<(Timestamp, String, State)> = found.changes.into_iter().collect();
        let explained = changes
            .into_iter()
            .rev()
            .find(|(at, _, _)| fresh_at(ctx, &dirs, &site, Timestamp::from_unix(at.unix() - 1)));
        return Err(stale(ctx, diffs.len(), explained));
    }
    verdict(ctx, strict, warnings)
}

/// The site files planned from the root set's row, the sets' publish paths and their files.
fn site_files(site: &Site, found: &Compared) -> Result<Vec<OutputFile>> {
    let paths: Vec<&str> = found.sets.iter().map(|(p, _, _)| p.as_str()).filter(|p| !p.is_empty()).collect();
    let prefixes: Vec<String> = found.sets.iter().map(|(p, _, _)| set_prefix(p)).collect();
    let headers: Vec<HeaderSet> = found
        .sets
        .iter()
        .zip(&prefixes)
        .map(|((_, max_age, files), prefix)| HeaderSet {
            prefix,
            max_age: *max_age,
            files: files.iter().map(String::as_str).collect(),
        })
        .collect();
    site.files(found.root.as_ref(), &paths, &headers)
}

/// The files of `existing` (what is under `out/public/`) that the plan does not have.
fn extra_files(existing: Vec<String>, found: &Compared, site_files: &[OutputFile]) -> Vec<Difference> {
    let planned = found.sets.iter().flat_map(|(_, _, files)| files).map(String::as_str);
    let wanted: HashSet<&str> = planned.chain(site_files.iter().map(|f| f.path.as_str())).collect();
    existing
        .into_iter()
        .map(|rel| format!("public/{rel}"))
        .filter(|rel| !wanted.contains(rel.as_str()))
        .map(Difference::Extra)
        .collect()
}

/// True when `out/public/` is exactly what a build at `at` writes: the sets read, planned and
/// compared again in batches, stopping at the first difference. A set that fails to load or
/// plan only means the answer is not this instant.
fn fresh_at(ctx: &Context, dirs: &[SetDir], site: &Site, at: Timestamp) -> bool {
    let mut found = Compared::default();
    let at_ctx = Context { now: at, ..ctx.clone() };
    for batch in dirs.chunks(BATCH) {
        let added = load_batch(ctx, batch).and_then(|loaded| found.add(&at_ctx, site, loaded));
        if added.is_err() || !found.diffs.is_empty() {
            return false;
        }
        found.lines.clear();
    }
    let Ok(site_files) = site_files(site, &found) else { return false };
    compare(&ctx.out, &site_files.iter().collect::<Vec<_>>()).is_empty()
        && existing_files(&ctx.out.join("public"))
            .is_ok_and(|existing| extra_files(existing, &found, &site_files).is_empty())
}
