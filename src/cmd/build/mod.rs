//! `jwksmith build`: write `out/public/` and `out/private/` from `keys/` and the templates.
//!
//! Every build loads, plans with the one planner (`crate::plan::plan`) and writes the plan
//! (`crate::write::apply`). A build of every set is incremental (`all`): the record of the
//! last build decides which sets are read again, and nothing is written when nothing changed.
//! A `--set` build plans the selected sets with every other file of `out/` left as it is
//! (`Selection`); a build into a read-only `out/` only compares (`read_only`). The output
//! is the same bytes whichever way.

mod all;
mod read_only;
mod selection;
mod warnings;

use std::path::Path;

pub(crate) use selection::Selection;
use warnings::warn_overdue;
pub(crate) use warnings::{missing_spec_warnings, warn_missing_specs, warn_unignored, warn_unignored_keys};

use crate::cmd::{Context, Loaded, load_reusing_self_tests};
use crate::error::Result;
use crate::plan::{Plan, plan};
use crate::times::Timestamp;
use crate::write::{WriteReport, apply};

/// What a build found out (what it wrote is printed).
#[derive(Debug, Clone)]
pub struct Built {
    /// The next instant at which a key of a built set may change state (`watch` rebuilds then).
    pub next_change: Option<Timestamp>,
}

/// What a build did, with how many sets and keys it built.
struct Summary {
    report: WriteReport,
    sets: usize,
    keys: usize,
    next_change: Option<Timestamp>,
}

impl Summary {
    /// The summary of a build of the sets `loaded` at `now`.
    fn of_loaded(loaded: &Loaded, now: Timestamp, report: WriteReport) -> Summary {
        let keys = || loaded.sets.iter().flat_map(|s| s.keys.iter());
        Summary {
            report,
            sets: loaded.sets.len(),
            keys: keys().count(),
            next_change: keys().filter_map(|k| k.meta.times().next_change(now).map(|(t, _)| t)).min(),
        }
    }
}

/// Loads, plans and writes. Nothing is written unless every set loads and plans.
pub fn run(ctx: &Context, pretty: bool) -> Result<Built> {
    crate::outdir::check_owned(&ctx.out, &ctx.keys, &ctx.templates)?;
    // Held until written: a second build waits, then finds out/ as this one left it.
    let _lock = crate::lock::Lock::out(&ctx.out, crate::lock::timeout()?, &ctx.ui)?;
    let Summary { report, sets, keys, next_change } = if let Some(why) = read_only(&ctx.out) {
        read_only::run(ctx, pretty, &why)?
    } else if ctx.all_sets() {
        all::run(ctx, pretty, true)?
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
        report.written_count(),
        plural(report.written_count()),
        report.unchanged,
        report.removed.len()
    ));
    Ok(Built { next_change })
}

/// A `--set` build: the selected sets, loaded in full; other sets' files and the site files
/// are left as they are.
fn run_selected(ctx: &Context, pretty: bool) -> Result<Summary> {
    let (selection, plan) = load_and_plan(ctx, pretty)?;
    let report = apply(&ctx.out, &plan.files, selection.ownership(), None)?;
    Ok(Summary::of_loaded(&selection.loaded, ctx.now, report))
}

/// The selected sets loaded in full, with a build's warnings about them, and their plan (a
/// `--set` build, a build into a read-only `out/`).
fn load_and_plan(ctx: &Context, pretty: bool) -> Result<(Selection, Plan)> {
    let loaded = load_reusing_self_tests(ctx)?;
    warn_missing_specs(ctx, &loaded.sets);
    warn_overdue(ctx, &loaded.sets);
    warn_unignored_keys(ctx, &loaded.sets);
    let selection = Selection::read(ctx, loaded)?;
    let plan = plan(&selection.inputs(pretty), ctx.now)?;
    Ok((selection, plan))
}

/// Why `out/` cannot be written, when it exists and cannot (a read-only mount, `chmod a-w`,
/// `chattr +i`).
fn read_only(out: &Path) -> Option<std::io::Error> {
    match rustix::fs::access(out, rustix::fs::Access::WRITE_OK) {
        Err(e) if out.is_dir() => Some(e.into()),
        _ => None,
    }
}

/// `s` when `n` is not one.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
