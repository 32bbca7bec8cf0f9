//! `jwksmith revoke KID`: revoked now, gone from `jwks.json` at once; a revoked current key is
//! replaced by the waiting next key of its spec, or by a new key, current at once.

use crate::cmd::rotate::{Planned, execute};
use crate::cmd::{Context, load};
use crate::error::{Error, Result};
use crate::lifecycle::{State, Times};
use crate::model::KeySet;
use crate::rotation::Action;

/// What revoking a key in a set does (pure).
pub fn decide(set: &KeySet, kid: &str, now: crate::times::Timestamp) -> Vec<Action> {
    let Some(key) = set.key(kid) else { return Vec::new() };
    let mut actions =
        vec![Action::Retime { kid: kid.to_string(), times: Times { revoked: Some(now), ..key.meta.times() } }];
    if key.state(now) != State::Current {
        return actions;
    }
    let Some(spec) = key.meta.spec.as_deref().filter(|s| set.config.spec(s).is_some()) else {
        return actions;
    };
    let waiting = set
        .keys_of_spec(spec)
        .filter(|k| k.state(now) == State::Next)
        .max_by_key(|k| (k.meta.activates, k.meta.kid.clone()));
    match waiting {
        Some(next) => actions.push(Action::Retime {
            kid: next.meta.kid.clone(),
            times: Times { activates: Some(now), ..next.meta.times() },
        }),
        None => actions.push(Action::Create { spec: spec.to_string(), activates: now }),
    }
    actions
}

/// Runs `revoke KID`.
pub fn run(ctx: &Context, kid: &str) -> Result<()> {
    // Held for the whole run, and keys/ loaded only once it is held: an overlapping command
    // waits, then acts on what this one leaves.
    let (_lock, ctx) = crate::lock::lock_keys(ctx)?;
    let ctx = &ctx;
    let loaded = load(ctx)?;
    let holders: Vec<&KeySet> = loaded.sets.iter().filter(|s| s.key(kid).is_some()).collect();
    let set = match holders.as_slice() {
        [] => {
            return Err(Error::Failed(format!(
                "no key `{kid}` in {}; `jwksmith status` lists the kids",
                if ctx.all_sets() { "any set".to_string() } else { "the selected sets".to_string() }
            )));
        }
        [one] => *one,
        many => {
            let paths: Vec<&str> = many.iter().map(|s| s.display_path()).collect();
            return Err(Error::Usage(format!(
                "kid `{kid}` exists in several sets ({}); name one with --set",
                paths.join(", ")
            )));
        }
    };
    let key = set.key(kid).expect("holder has the key");
    if let Some(at) = key.meta.revoked.filter(|t| *t <= ctx.now) {
        ctx.ui.report(&format!("set {}: {kid} was already revoked at {at}", set.display_path()));
        return Ok(());
    }
    if key.hand_dropped && key.files.iter().all(|f| !f.to_string_lossy().ends_with(".meta.json")) {
        return Err(Error::input(
            &key.files[0],
            format!("`{kid}` is a hand-dropped key without metadata, so it cannot record a revocation"),
            format!("run `jwksmith import {}` first, or delete the file", key.files[0].display()),
        ));
    }
    let was_current = key.state(ctx.now) == State::Current;
    let actions = decide(set, kid, ctx.now);
    execute(ctx, &[Planned { set, actions }], false)?;
    ctx.ui.report(&format!("set {}: revoked {kid} at {}", set.display_path(), ctx.now));
    if was_current && key.meta.spec.is_some() {
        ctx.ui.warn(&format!(
            "set {}: the replacement key signs at once; clients holding a cached jwks.json (up to {}) may not know it yet",
            set.display_path(),
            set.config.rotation.cache_max_age
        ));
    }
    ctx.ui.report("next: `jwksmith build` removes it from jwks.json");
    Ok(())
}
