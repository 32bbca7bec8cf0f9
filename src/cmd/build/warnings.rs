//! The warnings a build and `check` print about the loaded sets: specs without a key, overdue
//! rotations, hand-dropped private keys that git would commit.

use std::path::PathBuf;

use crate::cmd::Context;
use crate::model::KeySet;

/// The warnings for specs of `set` that have no key yet.
pub(crate) fn missing_spec_warnings(set: &KeySet) -> Vec<String> {
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
pub(crate) fn warn_missing_specs(ctx: &Context, sets: &[KeySet]) {
    for warning in sets.iter().flat_map(missing_spec_warnings) {
        ctx.ui.warn(&warning);
    }
}

/// Warns about the hand-dropped private keys of `sets` that git would commit.
pub(crate) fn warn_unignored_keys(ctx: &Context, sets: &[KeySet]) {
    let files: Vec<PathBuf> = sets.iter().flat_map(crate::gitignore::dropped_private_keys).collect();
    warn_unignored(ctx, &files);
}

/// Warns about those of these hand-dropped private keys that git would commit.
pub(crate) fn warn_unignored(ctx: &Context, files: &[PathBuf]) {
    for warning in crate::gitignore::warnings(files) {
        ctx.ui.warn(&warning);
    }
}

/// Warns about rotations that are overdue.
pub(crate) fn warn_overdue(ctx: &Context, sets: &[KeySet]) {
    for warning in sets.iter().flat_map(|s| crate::lint::overdue_warnings(s, ctx.now)) {
        ctx.ui.warn(&warning);
    }
}
