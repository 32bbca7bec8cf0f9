//! `jwksmith check`: fail when `out/public/` differs from what `build` would write; warn about
//! rotations due soon and client pitfalls ([`crate::lint`]); `--strict` fails on any warning.

use crate::cmd::build::{ownership, plan, warn_missing_specs};
use crate::cmd::{Context, load};
use crate::error::{Error, Result};
use crate::lint::lint_set;
use crate::plan::set_prefix;
use crate::write::diff_public;

/// Runs the check; `strict` turns warnings into failure.
pub fn run(ctx: &Context, strict: bool) -> Result<()> {
    let loaded = load(ctx)?;
    warn_missing_specs(ctx, &loaded.sets);
    let files = plan(ctx, &loaded, false)?;
    let diffs = diff_public(&ctx.out, &files, ownership(ctx, &loaded).as_ref())?;
    for set in &loaded.sets {
        let path = format!("public/{}jwks.json", set_prefix(&set.path));
        let planned = files.iter().find(|f| f.path == path).map(|f| serde_json::from_slice(&f.bytes));
        let jwks = planned.and_then(Result::ok).unwrap_or_default();
        for w in lint_set(set, &jwks, ctx.now) {
            ctx.ui.warn(&w);
        }
    }
    let warnings = ctx.ui.warnings();
    if !diffs.is_empty() {
        for d in &diffs {
            ctx.ui.data(&format!("{d}\n"));
        }
        return Err(Error::Failed(format!(
            "{} is stale: {} file{} differ from what `jwksmith build` would write; run `jwksmith build` and commit the result",
            ctx.out.join("public").display(),
            diffs.len(),
            crate::cmd::build::plural(diffs.len())
        )));
    }
    if strict && warnings > 0 {
        return Err(Error::Failed(format!(
            "check --strict: {warnings} warning{}",
            crate::cmd::build::plural(warnings)
        )));
    }
    ctx.ui.report(&format!("{} is up to date", ctx.out.join("public").display()));
    Ok(())
}
