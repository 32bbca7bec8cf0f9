//! `jwksmith build`: write `out/public/` and `out/private/` from `keys/` and the templates.

use rayon::prelude::*;

use crate::cmd::{Context, Loaded, SetOwnership, load_reusing_self_tests};
use crate::error::Result;
use crate::model::KeySet;
use crate::plan::{OutputFile, PlanOptions, check_mirrors, plan_set};
use crate::site::{SetOutput, Site};
use crate::write::{All, Ownership, WriteReport, apply};

/// The complete plan for the selected sets (site files only when every set is selected).
pub fn plan(ctx: &Context, loaded: &Loaded, pretty: bool) -> Result<Vec<OutputFile>> {
    let sets: Vec<&KeySet> = loaded.sets.iter().collect();
    check_mirrors(&sets)?;
    let options = PlanOptions { force_pretty: pretty };
    let site = if ctx.all_sets() { Some(Site::load(&ctx.templates)?) } else { None };
    // index.html (one template render, on one core) is made while the sets are planned.
    let (outputs, index) = rayon::join(
        || sets.par_iter().map(|s| SetOutput { set: s, files: plan_set(s, ctx.now, options) }).collect::<Vec<_>>(),
        || site.as_ref().map(|site| site.index(&sets, ctx.now)).transpose(),
    );
    let mut site_files: Vec<OutputFile> = index?.into_iter().collect();
    if let Some(site) = &site {
        site_files.extend(site.support_files(&outputs)?);
    }
    let mut files: Vec<OutputFile> = outputs.into_iter().flat_map(|o| o.files).collect();
    files.extend(site_files);
    Ok(files)
}

/// Which existing files this run may rewrite or remove.
pub fn ownership(ctx: &Context, loaded: &Loaded) -> Box<dyn Ownership> {
    if ctx.all_sets() { Box::new(All) } else { Box::new(SetOwnership::new(&ctx.sets, &loaded.dirs)) }
}

/// Warns about specs that have no key yet.
pub fn warn_missing_specs(ctx: &Context, sets: &[KeySet]) {
    for set in sets {
        for spec in &set.config.keys {
            if set.keys_of_spec(&spec.spec).next().is_none() {
                ctx.ui.warn(&format!(
                    "set {}: spec `{}` has no key yet; run `jwksmith rotate` to create one",
                    set.display_path(),
                    spec.spec
                ));
            }
        }
    }
}

/// Loads, plans and writes. Nothing is written unless every set loads and plans.
pub fn run(ctx: &Context, pretty: bool) -> Result<WriteReport> {
    let loaded = load_reusing_self_tests(ctx)?;
    warn_missing_specs(ctx, &loaded.sets);
    let files = plan(ctx, &loaded, pretty)?;
    let report = apply(&ctx.out, &files, ownership(ctx, &loaded).as_ref())?;
    for path in &report.written {
        ctx.ui.note(&format!("wrote   {path}"));
    }
    for path in &report.removed {
        ctx.ui.note(&format!("removed {path}"));
    }
    let keys: usize = loaded.sets.iter().map(|s| s.keys.len()).sum();
    ctx.ui.report(&format!(
        "built {} set{}, {keys} key{}: {} file{} written, {} unchanged, {} removed",
        loaded.sets.len(),
        plural(loaded.sets.len()),
        plural(keys),
        report.written.len(),
        plural(report.written.len()),
        report.unchanged,
        report.removed.len()
    ));
    Ok(report)
}

/// `s` when `n` is not one.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
