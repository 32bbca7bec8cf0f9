//! `jwksmith check`: fail when `out/public/` differs from what `build` would write (saying so
//! when only a scheduled state change since the last build explains it); warn about rotations
//! due soon or overdue, client pitfalls ([`crate::lint`]) and hand-dropped private keys that git
//! would commit; `--strict` fails on any warning.

use rayon::prelude::*;
use serde_json::Value;

use crate::cmd::build::{Selection, plural, warn_missing_specs, warn_unignored_keys};
use crate::cmd::{Context, load_reusing_self_tests};
use crate::error::{Error, Result};
use crate::layout::{OutputFile, set_prefix, written};
use crate::lifecycle::State;
use crate::lint::lint_set;
use crate::model::KeySet;
use crate::plan::{Plan, PlannedSet, plan};
use crate::times::Timestamp;
use crate::write::diff_public;

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
            let t = k.meta.times();
            [t.activates, t.retires, t.expires]
                .into_iter()
                .flatten()
                .filter(move |at| *at <= ctx.now && newest_created.is_none_or(|c| *at > c))
                .map(move |at| (at, k.kid().to_string(), t.state_at(at)))
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

/// The `jwks.json` that `plan` writes for `set`, parsed (`null` when there is none), looked up
/// among the set's own files (`part`, its range of the plan): the cost per set does not grow
/// with the number of sets.
fn planned_jwks(plan: &Plan, set: &KeySet, part: &PlannedSet) -> Value {
    let path = format!("public/{}jwks.json", set_prefix(&set.path));
    let file = written(&plan.files[part.files.clone()]).find(|f| f.path == path);
    file.and_then(|f| serde_json::from_slice(&f.bytes).ok()).unwrap_or_default()
}

/// Runs the check; `strict` turns warnings into failure; `url`: also check the site deployed
/// there ([`crate::deployed`]).
pub fn run(ctx: &Context, strict: bool, url: Option<&str>) -> Result<()> {
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
        .map(|(set, part)| lint_set(set, &planned_jwks(&plan, set, part), ctx.now))
        .collect();
    for (set, warnings) in sets.iter().zip(lints) {
        warnings.iter().for_each(|w| ctx.ui.warn(w));
        if let Some(notice) = crate::issuer::serve_notice(set) {
            ctx.ui.notice(&notice);
        }
    }
    let files: Vec<&OutputFile> = plan.written().collect();
    crate::header_rules::warnings(&files).iter().for_each(|w| ctx.ui.warn(w));
    let deployed = url.map(|u| crate::deployed::run(&ctx.ui, u, sets, &files)).transpose()?.flatten();
    let warnings = ctx.ui.warnings();
    if !diffs.is_empty() {
        for d in &diffs {
            ctx.ui.data(&format!("{d}\n"));
        }
        if let Some((at, kid, state)) = scheduled_change(ctx, &selection) {
            return Err(Error::Failed(format!(
                "{} is stale only because a key's scheduled state change has arrived since the last build ({kid} became {state} at {at}): {} file{} differ; run jwksmith build and commit the result",
                ctx.out.join("public").display(),
                diffs.len(),
                plural(diffs.len())
            )));
        }
        return Err(Error::Failed(format!(
            "{} is stale: {} file{} differ from what `jwksmith build` would write; run `jwksmith build` and commit the result",
            ctx.out.join("public").display(),
            diffs.len(),
            plural(diffs.len())
        )));
    }
    if let Some(failed) = deployed {
        return Err(failed);
    }
    if strict && warnings > 0 {
        return Err(Error::Failed(format!("check --strict: {warnings} warning{}", plural(warnings))));
    }
    ctx.ui.report(&format!("{} is up to date", ctx.out.join("public").display()));
    Ok(())
}
