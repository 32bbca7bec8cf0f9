//! `jwksmith build`: write `out/public/` and `out/private/` from `keys/` and the templates.
//!
//! A build of every set is incremental ([`crate::incremental`]): sets whose files are as the
//! last build recorded them are not read again, and nothing is written when nothing changed.
//! The output is the same bytes either way.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cmd::{Context, Loaded, SetOwnership, load_reusing_self_tests};
use crate::error::Result;
use crate::incremental::{
    Cache, Loaded as LoadedSet, Record, Reuse, SetRecord, encode_site, out_dir_stamps, outputs_of, template_stamps,
    trusted_dirs,
};
use crate::keydir::{SetDir, discover_stamped, load_set_with};
use crate::layout::OutputFile;
use crate::model::KeySet;
use crate::plan::{MirrorClaim, PlanOptions, check_collisions, check_mirrors, owner, plan_set};
use crate::selftest::SelfTested;
use crate::site::{SITE_FILES, Site, SiteSet, site_set};
use crate::stamp::{Root, Stamp, now_nanos};
use crate::times::Timestamp;
use crate::write::{All, Ownership, WriteReport, apply, apply_keeping, check_out_dir, walk_out};

/// What a build did.
#[derive(Debug, Clone)]
pub struct Built {
    /// Files written, unchanged and removed.
    pub report: WriteReport,
    /// The next instant at which a key of a built set may change state (`watch` rebuilds then).
    pub next_change: Option<Timestamp>,
}

/// The complete plan for the selected sets (site files only when every set is selected).
pub fn plan(ctx: &Context, loaded: &Loaded, pretty: bool) -> Result<Vec<OutputFile>> {
    let mut claims: Vec<MirrorClaim> = loaded.sets.iter().filter_map(MirrorClaim::of).collect();
    // Sets a `--set` build does not load keep their mirror paths: they count too.
    let unloaded = loaded.dirs.iter().filter(|d| !loaded.sets.iter().any(|s| s.path == d.path));
    for dir in unloaded {
        claims.extend(MirrorClaim::of_dir(dir)?);
    }
    check_mirrors(&claims)?;
    let options = PlanOptions { force_pretty: pretty };
    let planned: Vec<(Vec<OutputFile>, SiteSet)> =
        loaded.sets.par_iter().map(|s| (plan_set(s, ctx.now, options), site_set(s, ctx.now))).collect();
    let site_files = if ctx.all_sets() {
        let pairs: Vec<(&SiteSet, &[OutputFile])> = planned.iter().map(|(f, s)| (s, f.as_slice())).collect();
        Site::load(&ctx.templates)?.files(&pairs)?
    } else {
        Vec::new()
    };
    let owners: Vec<String> = loaded.sets.iter().map(|s| owner(&s.path)).collect();
    let set_files = planned.iter().zip(&owners).flat_map(|((f, _), o)| f.iter().map(|f| (f.path.as_str(), o.as_str())));
    // A `--set` build keeps the other sets' files: the planned ones must not collide with them.
    let kept = if ctx.all_sets() || !ctx.out.is_dir() {
        Vec::new()
    } else {
        let owned = ownership(ctx, loaded);
        crate::write::existing_files(&ctx.out)?.into_iter().filter(|f| !owned.owns(f)).collect()
    };
    let kept_files = kept.iter().map(|f| (f.as_str(), "a set this build does not select"));
    check_collisions(set_files.chain(site_files.iter().map(|f| (f.path.as_str(), "the site"))).chain(kept_files))?;
    let mut files: Vec<OutputFile> = planned.into_iter().flat_map(|(f, _)| f).collect();
    files.extend(site_files);
    Ok(files)
}

/// Which existing files this run may rewrite or remove.
pub fn ownership(ctx: &Context, loaded: &Loaded) -> Box<dyn Ownership> {
    if ctx.all_sets() { Box::new(All) } else { Box::new(SetOwnership::new(&ctx.sets, &loaded.dirs)) }
}

/// The warnings for specs of `set` that have no key yet.
pub fn missing_spec_warnings(set: &KeySet) -> Vec<String> {
    set.config
        .keys
        .iter()
        .filter(|spec| set.keys_of_spec(&spec.spec).next().is_none())
        .map(|spec| {
            format!(
                "set {}: spec `{}` has no key yet; run `jwksmith rotate` to create one",
                set.display_path(),
                spec.spec
            )
        })
        .collect()
}

/// Warns about specs that have no key yet.
pub fn warn_missing_specs(ctx: &Context, sets: &[KeySet]) {
    for warning in sets.iter().flat_map(missing_spec_warnings) {
        ctx.ui.warn(&warning);
    }
}

/// Warns about the hand-dropped private keys of `sets` that git would commit.
pub fn warn_unignored_keys(ctx: &Context, sets: &[KeySet]) {
    let files: Vec<PathBuf> = sets.iter().flat_map(crate::gitignore::dropped_private_keys).collect();
    for warning in crate::gitignore::warnings(&files) {
        ctx.ui.warn(&warning);
    }
}

/// Warns about rotations that are overdue.
fn warn_overdue(ctx: &Context, sets: &[KeySet]) {
    for warning in sets.iter().flat_map(|s| crate::lint::overdue_warnings(s, ctx.now)) {
        ctx.ui.warn(&warning);
    }
}

/// Loads, plans and writes. Nothing is written unless every set loads and plans.
pub fn run(ctx: &Context, pretty: bool) -> Result<Built> {
    crate::outdir::check_owned(ctx)?;
    // Held until written: a second build waits, then finds out/ as this one left it.
    let _lock = crate::lock::Lock::out(&ctx.out, &ctx.ui)?;
    let (report, sets, keys, next_change) = if let Some(why) = read_only(&ctx.out) {
        run_read_only(ctx, pretty, &why)?
    } else if ctx.all_sets() {
        run_all(ctx, pretty, true)?
    } else {
        run_selected(ctx, pretty)?
    };
    for path in &report.written {
        ctx.ui.note(&format!("wrote   {path}"));
    }
    for path in &report.removed {
        ctx.ui.note(&format!("removed {path}"));
    }
    ctx.ui.report(&format!(
        "built {sets} set{}, {keys} key{}: {} file{} written, {} unchanged, {} removed",
        plural(sets),
        plural(keys),
        report.written.len(),
        plural(report.written.len()),
        report.unchanged,
        report.removed.len()
    ));
    Ok(Built { report, next_change })
}

/// Report, sets built, keys, next state change.
type Summary = (WriteReport, usize, usize, Option<Timestamp>);

/// A `--set` build: the selected sets, loaded in full; other sets' files and the site files
/// are left as they are.
fn run_selected(ctx: &Context, pretty: bool) -> Result<Summary> {
    let loaded = load_reusing_self_tests(ctx)?;
    warn_missing_specs(ctx, &loaded.sets);
    warn_overdue(ctx, &loaded.sets);
    warn_unignored_keys(ctx, &loaded.sets);
    let files = plan(ctx, &loaded, pretty)?;
    let report = apply(&ctx.out, &files, ownership(ctx, &loaded).as_ref())?;
    let keys = loaded.sets.iter().map(|s| s.keys.len()).sum();
    let next_change = loaded
        .sets
        .iter()
        .flat_map(|s| s.keys.iter())
        .filter_map(|k| k.meta.times().next_change(ctx.now).map(|(t, _)| t))
        .min();
    Ok((report, loaded.sets.len(), keys, next_change))
}

/// Why `out/` cannot be written, when it exists and cannot (a read-only mount, `chmod a-w`,
/// `chattr +i`).
fn read_only(out: &Path) -> Option<std::io::Error> {
    match rustix::fs::access(out, rustix::fs::Access::WRITE_OK) {
        Err(e) if out.is_dir() => Some(e.into()),
        _ => None,
    }
}

/// True when a file or directory of mode `have` is as a build leaves it with `want`, but for
/// write bits that a read-only `out/` has taken away.
fn mode_fits(have: u32, want: u32) -> bool {
    have & 0o7777 & !0o222 == want & !0o222 && have & 0o222 & !want == 0
}

/// A build into a read-only `out/` (`why` it is one): it succeeds, writing nothing, when `out/`
/// already holds exactly what the build would write (modes may lack write bits); otherwise it
/// fails naming `out/` and the first files it would change.
fn run_read_only(ctx: &Context, pretty: bool, why: &std::io::Error) -> Result<Summary> {
    let loaded = load_reusing_self_tests(ctx)?;
    warn_missing_specs(ctx, &loaded.sets);
    warn_overdue(ctx, &loaded.sets);
    warn_unignored_keys(ctx, &loaded.sets);
    let files = plan(ctx, &loaded, pretty)?;
    let owned = ownership(ctx, &loaded);
    let mut changes: Vec<String> = Vec::new();
    let mut dirs: BTreeMap<&str, bool> = BTreeMap::new();
    for file in &files {
        dirs.extend(crate::layout::parents(&file.path).map(|d| (d, file.private)));
        let path = ctx.out.join(&file.path);
        let want = if file.private { 0o600 } else { 0o644 };
        let same = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && mode_fits(m.mode(), want))
            && std::fs::read(&path).is_ok_and(|bytes| bytes == file.bytes);
        if !same {
            changes.push(file.path.clone());
        }
    }
    for (dir, private) in &dirs {
        let want = if *private { 0o700 } else { 0o755 };
        if !std::fs::symlink_metadata(ctx.out.join(dir)).is_ok_and(|m| m.is_dir() && mode_fits(m.mode(), want)) {
            changes.push(format!("{dir}/"));
        }
    }
    let planned: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let existing = walk_out(&ctx.out)?;
    // What a build would remove: stale outputs it owns and its own temporary files (as
    // `write::apply` decides; nothing else in out/, its lock included, is ever removed).
    let staging = format!("{}/", crate::write::STAGING_DIR);
    for rel in &existing.files {
        let output = rel.starts_with("public/") || rel.starts_with("private/");
        let temporary = rel.starts_with(&staging) || (!rel.contains('/') && rel.starts_with(crate::write::TEMP_PREFIX));
        if !planned.contains(rel.as_str()) && (temporary || (output && owned.owns(rel))) {
            changes.push(rel.clone());
        }
    }
    if !changes.is_empty() {
        let shown: Vec<&str> = changes.iter().take(3).map(String::as_str).collect();
        let more = if changes.len() > shown.len() { ", …" } else { "" };
        return Err(crate::error::Error::input(
            &ctx.out,
            format!(
                "cannot be written ({why}), and the build would change {} file{} there: {}{more}",
                changes.len(),
                plural(changes.len()),
                shown.join(", ")
            ),
            "make it writable (`chmod -R u+w`), or pass another --out DIR",
        ));
    }
    let report = WriteReport { unchanged: files.len(), ..WriteReport::default() };
    let keys = loaded.sets.iter().map(|s| s.keys.len()).sum();
    let next_change = loaded
        .sets
        .iter()
        .flat_map(|s| s.keys.iter())
        .filter_map(|k| k.meta.times().next_change(ctx.now).map(|(t, _)| t))
        .min();
    Ok((report, loaded.sets.len(), keys, next_change))
}

/// A set read in full this run, planned.
struct Fresh {
    set: KeySet,
    warnings: Vec<String>,
    /// Stamps of its files, taken before they were read.
    inputs: Vec<(PathBuf, Option<Stamp>)>,
    files: Vec<OutputFile>,
    /// How many files its plan holds (`files` is moved out to be written).
    file_count: usize,
    site: SiteSet,
    /// `site` as the record keeps it.
    site_encoded: Vec<u8>,
}

/// Loads and plans one set, stamping its files first (a file changed while it is read then
/// fails to match its stamp next time, so it is read again).
fn load_fresh(ctx: &Context, keys: &Root, dir: &SetDir, options: PlanOptions, out_exists: bool) -> Result<Fresh> {
    let inputs = dir.files.iter().map(|f| (f.clone(), keys.stamp(f))).collect();
    let tested = if out_exists { SelfTested::read(&ctx.out, &dir.path) } else { SelfTested::default() };
    let (set, mut warnings) = load_set_with(dir, &tested)?;
    warnings.extend(missing_spec_warnings(&set));
    let files = plan_set(&set, ctx.now, options);
    let site = site_set(&set, ctx.now);
    let site_encoded = encode_site(&site);
    Ok(Fresh { set, warnings, inputs, file_count: files.len(), files, site, site_encoded })
}

/// A build of every set, reusing what the last build's record proves unchanged (with
/// `use_record`; without, the record is only written).
fn run_all(ctx: &Context, pretty: bool, use_record: bool) -> Result<Summary> {
    // Stamps taken after this instant are judged racy against it (see `crate::stamp`).
    let seen_at = now_nanos();
    check_out_dir(&ctx.out)?;
    let out_exists = ctx.out.is_dir();
    let cache = Cache::locate(&ctx.keys, &ctx.out, &ctx.templates);
    let (mut record, mut previous) =
        match cache.as_ref().filter(|_| out_exists && use_record).and_then(|c| c.read(pretty)) {
            Some((record, previous)) => (Some(record), Some(previous)),
            None => (None, None),
        };
    let mut survey = record.as_ref().map(|r| r.survey(&ctx.keys, &ctx.out));
    let templates = template_stamps(&ctx.templates, seen_at);
    if let (Some(r), Some(s)) = (&record, &survey)
        && r.all_unchanged(s, ctx.now, &templates)
    {
        return Ok(unchanged_build(ctx, r));
    }
    // Something changed: the site is rendered again or the record rewritten, with the site rows.
    if let (Some(r), Some(p)) = (&mut record, &mut previous)
        && !r.attach_rows(p)
    {
        (record, previous, survey) = (None, None, None);
    }
    let recorded = record.as_ref().zip(survey.as_ref());
    let recorded_dirs = recorded.and_then(|(r, s)| r.set_dirs(s));
    let keys_as_recorded = recorded_dirs.is_some();
    let (dirs, key_dirs) = match recorded_dirs {
        Some(dirs) => (dirs, None),
        None => {
            let (dirs, stamps) = discover_stamped(&ctx.keys)?;
            (dirs, trusted_dirs(stamps, seen_at))
        }
    };
    let recorded_out = recorded.and_then(|(r, s)| r.out_entries(s));
    let out_as_recorded = recorded_out.is_some();
    let existing = match recorded_out {
        Some(entries) => entries,
        None => walk_out(&ctx.out)?,
    };
    let index_size = record.as_ref().and_then(Record::index_size);
    let reuse = match (&mut record, &survey) {
        (Some(r), Some(survey)) => r.reuse(survey, &dirs, ctx.now, &templates),
        _ => Reuse { sets: vec![None; dirs.len()], site: None },
    };
    // The reused sets' site rows, decoded before anything is written: a row that does not
    // decode makes the record no record, and the build a full one.
    let decoded: Vec<Option<SiteSet>> = if reuse.site.is_some() {
        Vec::new()
    } else {
        match reuse.sets.par_iter().map(|r| r.as_ref().map(|r| r.site().ok_or(())).transpose()).collect() {
            Ok(decoded) => decoded,
            Err(()) => return run_all(ctx, pretty, false),
        }
    };

    let options = PlanOptions { force_pretty: pretty };
    let keys_root = Root::open(&ctx.keys);
    let mut fresh: Vec<Option<Fresh>> =
        dirs.par_iter()
            .zip(&reuse.sets)
            .map(|(dir, reused)| {
                if reused.is_some() {
                    Ok(None)
                } else {
                    load_fresh(ctx, &keys_root, dir, options, out_exists).map(Some)
                }
            })
            .collect::<Result<_>>()?;
    // A reused set's record holds only for instants at or after its keys' creation.
    crate::keydir::check_now_after_created(fresh.iter().flatten().map(|f| &f.set), ctx.now)?;
    for (reused, fresh) in reuse.sets.iter().zip(&fresh) {
        let warnings = reused.as_ref().map(|r| &r.warnings).or(fresh.as_ref().map(|f| &f.warnings));
        for w in warnings.into_iter().flatten() {
            ctx.ui.warn(w);
        }
        match (reused, fresh) {
            (Some(r), _) => r.overdue_warnings(ctx.now).for_each(|w| ctx.ui.warn(w)),
            (None, Some(f)) => warn_overdue(ctx, std::slice::from_ref(&f.set)),
            (None, None) => {}
        }
    }
    let dropped: Vec<PathBuf> = reuse
        .sets
        .iter()
        .zip(&fresh)
        .flat_map(|(r, f)| match (r, f) {
            (Some(r), _) => r.dropped_private.clone(),
            (None, Some(f)) => crate::gitignore::dropped_private_keys(&f.set),
            (None, None) => Vec::new(),
        })
        .collect();
    crate::gitignore::warnings(&dropped).iter().for_each(|w| ctx.ui.warn(w));
    let claims: Vec<MirrorClaim> = reuse
        .sets
        .iter()
        .zip(&fresh)
        .filter_map(|(r, f)| match (r, f) {
            (Some(r), _) => r.mirror.clone(),
            (None, f) => f.as_ref().and_then(|f| MirrorClaim::of(&f.set)),
        })
        .collect();
    check_mirrors(&claims)?;

    let keep: HashSet<&str> = reuse
        .sets
        .iter()
        .flatten()
        .flat_map(|r| &r.outputs)
        .chain(reuse.site.iter().flatten())
        .map(|o| o.path.as_str())
        .collect();
    let kept = keep.len();
    if !out_as_recorded {
        // A directory of `out/` changed: the kept files' directories get their modes back too.
        crate::write::restore_dir_modes(&ctx.out, &keep)?;
    }
    let mut files: Vec<OutputFile> = Vec::new();
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::with_capacity(fresh.len());
    for f in fresh.iter_mut() {
        let start = files.len();
        files.extend(f.as_mut().map(|f| std::mem::take(&mut f.files)).unwrap_or_default());
        ranges.push(start..files.len());
    }
    let owners: Vec<String> = dirs.iter().map(|d| owner(&d.path)).collect();
    let outputs = reuse.sets.iter().zip(&ranges).zip(&owners).flat_map(|((r, range), o)| {
        let paths: Vec<&str> = match r {
            Some(r) => r.outputs.iter().map(|x| x.path.as_str()).collect(),
            None => files[range.clone()].iter().map(|f| f.path.as_str()).collect(),
        };
        paths.into_iter().map(move |p| (p, o.as_str()))
    });
    check_collisions(outputs.chain(SITE_FILES.iter().map(|p| (*p, "the site"))))?;
    // The templates are read before anything is written (a bad one leaves out/ untouched);
    // the site files are rendered while the sets' files are written.
    let site = match &reuse.site {
        Some(_) => None,
        None => Some(Site::load(&ctx.templates)?),
    };
    let render = || match &site {
        None => Ok(Vec::new()),
        Some(site) => site_files(site, &reuse.sets, &decoded, &fresh, &files, &ranges, index_size),
    };
    let (mut report, site_files) = apply_keeping(&ctx.out, &files, &All, &keep, Some(existing), render)?;
    report.unchanged += kept;
    files.extend(site_files);

    // The new record: reused sets as they were, loaded sets with their files as now on disk.
    let mut outputs = outputs_of(&files, &report.stamps).into_iter();
    let records: Vec<SetRecord> = reuse
        .sets
        .into_iter()
        .zip(&fresh)
        .map(|(reused, fresh)| match (reused, fresh) {
            (Some(r), _) => r,
            (None, Some(f)) => {
                let loaded = LoadedSet {
                    set: &f.set,
                    inputs: f.inputs.clone(),
                    site: f.site_encoded.clone(),
                    warnings: f.warnings.clone(),
                };
                SetRecord::new(loaded, seen_at, ctx.now, outputs.by_ref().take(f.file_count).collect())
            }
            (None, None) => unreachable!("every set is reused or loaded"),
        })
        .collect();
    let site_kept = reuse.site.is_some();
    let site_outputs: Vec<_> = reuse.site.unwrap_or_else(|| outputs.collect());
    let keys = records.iter().map(|r| r.keys).sum();
    let next_change = records.iter().filter_map(SetRecord::next_change).min();
    let sets = records.len();
    // Nothing read again, written or removed, and out/ as recorded: the record stays as it is.
    let unchanged = keys_as_recorded
        && out_as_recorded
        && fresh.iter().all(Option::is_none)
        && site_kept
        && report.written.is_empty()
        && report.removed.is_empty();
    if let Some(cache) = cache.as_ref().filter(|_| !unchanged) {
        let key_dirs = if keys_as_recorded { record.as_ref().and_then(Record::key_dirs) } else { key_dirs };
        let out_dirs = match &record {
            Some(r) if out_as_recorded => {
                r.out_dirs_after(&ctx.out, report.written.iter().chain(&report.removed).map(String::as_str))
            }
            _ => {
                let paths = records.iter().flat_map(|r| &r.outputs).chain(&site_outputs).map(|o| o.path.as_str());
                out_dir_stamps(&ctx.out, paths)
            }
        };
        if let Some(new) = Record::new(cache, pretty, templates, key_dirs, out_dirs, records, site_outputs) {
            cache.write(&new, previous.as_ref());
        }
    }
    Ok((report, sets, keys, next_change))
}

/// A build that found every input and output as the record has them: it prints the recorded
/// warnings and reports every file unchanged.
fn unchanged_build(ctx: &Context, record: &Record) -> Summary {
    for set in record.sets() {
        set.warnings.iter().chain(set.overdue_warnings(ctx.now)).for_each(|w| ctx.ui.warn(w));
    }
    let dropped: Vec<PathBuf> = record.sets().iter().flat_map(|s| s.dropped_private.iter().cloned()).collect();
    crate::gitignore::warnings(&dropped).iter().for_each(|w| ctx.ui.warn(w));
    let report = WriteReport { unchanged: record.output_count(), ..WriteReport::default() };
    let keys = record.sets().iter().map(|s| s.keys).sum();
    let next_change = record.sets().iter().filter_map(SetRecord::next_change).min();
    (report, record.sets().len(), keys, next_change)
}

/// `index.html`, `_headers`, `.nojekyll` and `404.html` for every set, reused or loaded (in set order);
/// the files of the loaded set `i` are `files[ranges[i]]`.
fn site_files(
    site: &Site,
    reused: &[Option<SetRecord>],
    decoded: &[Option<SiteSet>],
    fresh: &[Option<Fresh>],
    files: &[OutputFile],
    ranges: &[std::ops::Range<usize>],
    index_size: Option<u64>,
) -> Result<Vec<OutputFile>> {
    let shown: Vec<(&SiteSet, Vec<&str>)> = reused
        .iter()
        .zip(decoded)
        .zip(fresh.iter().zip(ranges))
        .map(|((r, d), (f, range))| match (r, d, f) {
            (Some(r), Some(site), _) => (site, r.outputs.iter().map(|o| o.path.as_str()).collect()),
            (_, _, Some(f)) => (&f.site, files[range.clone()].iter().map(|o| o.path.as_str()).collect()),
            _ => unreachable!("every set is reused or loaded"),
        })
        .collect();
    let sets: Vec<&SiteSet> = shown.iter().map(|(s, _)| *s).collect();
    let (index, support) = rayon::join(
        || site.sections(&sets).and_then(|sections| site.index(&sets, sections, index_size)),
        || site.support_files(shown.iter().map(|(s, paths)| (*s, paths.iter().copied()))),
    );
    let mut files = vec![index?];
    files.extend(support?);
    Ok(files)
}

/// `s` when `n` is not one.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
