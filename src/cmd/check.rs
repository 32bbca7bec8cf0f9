//! `jwksmith check`: fail when `out/public/` differs from what `build` would write; warn about
//! rotations due soon and client pitfalls.

use crate::cmd::build::{ownership, plan, warn_missing_specs};
use crate::cmd::{Context, load};
use crate::error::{Error, Result};
use crate::model::KeySet;
use crate::plan::published_keys;
use crate::rotation::due_at;
use crate::write::diff_public;

/// Runs the check; `strict` turns warnings into failure.
pub fn run(ctx: &Context, strict: bool) -> Result<()> {
    let loaded = load(ctx)?;
    warn_missing_specs(ctx, &loaded.sets);
    let files = plan(ctx, &loaded, false)?;
    let diffs = diff_public(&ctx.out, &files, ownership(ctx, &loaded).as_ref())?;
    let warnings = lint(ctx, &loaded.sets);
    for w in &warnings {
        ctx.ui.warn(w);
    }
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
    if strict && !warnings.is_empty() {
        return Err(Error::Failed(format!(
            "check --strict: {} warning{}",
            warnings.len(),
            crate::cmd::build::plural(warnings.len())
        )));
    }
    ctx.ui.report(&format!("{} is up to date", ctx.out.join("public").display()));
    Ok(())
}

/// Rotation and client-pitfall warnings for the selected sets.
pub fn lint(ctx: &Context, sets: &[KeySet]) -> Vec<String> {
    let mut out = Vec::new();
    for set in sets {
        let name = set.display_path();
        let r = set.config.rotation;
        for spec in &set.config.keys {
            if let Some(at) = due_at(set, spec, ctx.now)
                && set.keys_of_spec(&spec.spec).next().is_some()
                && at <= ctx.now.plus(r.publish_ahead)
            {
                out.push(format!(
                    "set {name}: spec `{}` is due for rotation at {at}; run `jwksmith rotate --if-due`",
                    spec.spec
                ));
            }
        }
        let published = published_keys(set, ctx.now);
        if let Some(first) = published.first()
            && first.meta.key_use != crate::jose::Use::Sig
            && published.iter().any(|k| k.meta.key_use == crate::jose::Use::Sig)
        {
            out.push(format!(
                "set {name}: the first key of jwks.json is not a signing key; clients that read only keys[0] will fail"
            ));
        }
        if !published.is_empty() && !published.iter().any(|k| k.meta.key_use == crate::jose::Use::Sig) {
            out.push(format!("set {name}: jwks.json has no signing key"));
        }
        if r.verify_for < r.cache_max_age {
            out.push(format!(
                "set {name}: verify_for ({}) is shorter than cache_max_age ({}); tokens may fail to verify after a rotation",
                r.verify_for, r.cache_max_age
            ));
        }
    }
    out
}
