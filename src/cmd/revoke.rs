//! `jwksmith revoke KID`: revoked now, gone from `jwks.json` at once; a revoked current key is
//! replaced by the waiting next key of its spec, or by a new key, current at once; a revoked
//! next key leaves the current key signing (its retirement called off) until the next rotation.
//!
//! Crash-safe in three writes, each one file renamed into place: the successor first (a new key
//! is written as a *next* key, so the revoked key stays the only current one), then the
//! revocation, then the successor's promotion. A crash at any instant leaves the spec with at
//! most one current key and the key either not yet revoked or revoked; a retry finishes the job
//! with the same successor (never a third key).

use crate::cmd::rotate::{new_kid, write_created};
use crate::cmd::{Context, load};
use crate::error::{Error, Result};
use crate::generate::generate;
use crate::keystore::write_meta;
use crate::lifecycle::{State, Times};
use crate::meta::Meta;
use crate::model::KeySet;
use crate::times::{Span, Timestamp};

/// The newest key of `spec` that is next at `now`.
fn waiting_next<'a>(set: &'a KeySet, spec: &'a str, now: Timestamp) -> Option<&'a Meta> {
    set.keys_of_spec(spec)
        .filter(|k| k.state(now) == State::Next)
        .max_by_key(|k| (k.meta.activates, k.meta.kid.clone()))
        .map(|k| &k.meta)
}

fn promoted(meta: &Meta, now: Timestamp) -> Times {
    Times { activates: Some(now), ..meta.times() }
}

/// Runs `revoke KID`.
pub fn run(ctx: &Context, kid: &str) -> Result<()> {
    let (_lock, ctx) = crate::cmd::change_keys(ctx)?;
    let ctx = &ctx;
    let loaded = load(ctx)?;
    let set = holder(ctx, &loaded.sets, kid)?;
    let key = set.key(kid).expect("holder has the key");
    let name = set.display_path();
    let spec = key.meta.spec.as_deref().filter(|s| set.config.spec(s).is_some());
    if let Some(at) = key.meta.revoked.filter(|t| *t <= ctx.now) {
        return finish_revoked(ctx, set, kid, spec, at);
    }
    if key.hand_dropped && key.files.iter().all(|f| !f.to_string_lossy().ends_with(".meta.json")) {
        return Err(Error::input(
            &key.files[0],
            format!("`{kid}` is a hand-dropped key without metadata, so it cannot record a revocation"),
            format!("run `jwksmith import {}` first, or delete the file", crate::ui::shell_quoted(&key.files[0])),
        ));
    }
    let replaced = spec.filter(|_| key.state(ctx.now) == State::Current);
    // 1. The successor, as a next key: the revoked key is still the spec's only current key.
    let successor = replaced.map(|spec| successor_of(ctx, set, spec)).transpose()?;
    // 2. The revocation: now the spec has no current key.
    let mut revoked = key.meta.clone();
    revoked.set_times(Times { revoked: Some(ctx.now), ..key.meta.times() });
    write_meta(&ctx.keys, &set.dir, &revoked, set.config.pretty)?;
    ctx.ui.report(&format!("set {name}: revoked {kid} at {}", ctx.now));
    // 3. The promotion: the successor is the one current key.
    if let Some(successor) = successor {
        promote(ctx, set, &successor)?;
        warn_signs_at_once(ctx, set);
    }
    // Or, for a revoked next key, the current key it was to replace keeps signing.
    if let Some(spec) = spec.filter(|_| replaced.is_none()) {
        keep_signing(ctx, set, spec, kid)?;
    }
    ctx.ui.notice("next: `jwksmith build` removes it from jwks.json");
    Ok(())
}

/// The current key of `spec` that was to retire when the key `revoked` (a next key, revoked
/// now) took over, with no other key left to: its retirement is called off, so the spec never
/// goes without a signing key; `rotate --if-due` schedules its successor as usual.
fn keep_signing(ctx: &Context, set: &KeySet, spec: &str, revoked: &str) -> Result<()> {
    let now = ctx.now;
    let handover = set.key(revoked).and_then(|k| k.meta.activates);
    let others = || set.keys_of_spec(spec).filter(|k| k.kid() != revoked);
    let retiring = |k: &&crate::model::Key| {
        k.state(now) == State::Current && k.meta.retires.is_some() && k.meta.retires == handover
    };
    let Some(current) = others().find(retiring) else {
        return Ok(());
    };
    if others().any(|k| k.state(now) == State::Next) {
        return Ok(());
    }
    let mut meta = current.meta.clone();
    meta.set_times(Times { retires: None, expires: None, ..current.meta.times() });
    write_meta(&ctx.keys, &set.dir, &meta, set.config.pretty)?;
    ctx.ui.notice(&format!(
        "set {}: {} keeps signing: no key of spec `{spec}` is left to take over from it; run `jwksmith rotate --if-due`",
        set.display_path(),
        meta.kid
    ));
    Ok(())
}

/// The one selected set that holds `kid`.
fn holder<'a>(ctx: &Context, sets: &'a [KeySet], kid: &str) -> Result<&'a KeySet> {
    let holders: Vec<&KeySet> = sets.iter().filter(|s| s.key(kid).is_some()).collect();
    match holders.as_slice() {
        [] => Err(Error::Failed(format!(
            "no key `{kid}` in {}; `jwksmith status` lists the kids",
            if ctx.all_sets() { "any set".to_string() } else { "the selected sets".to_string() }
        ))),
        [one] => Ok(*one),
        many => {
            let paths: Vec<&str> = many.iter().map(|s| s.display_path()).collect();
            Err(Error::Usage(format!("kid `{kid}` exists in several sets ({}); name one with --set", paths.join(", "))))
        }
    }
}

/// A key revoked already, at `at`: a revoke interrupted after the revocation left its spec
/// without a current key, so its successor is made current now; otherwise nothing to do.
fn finish_revoked(ctx: &Context, set: &KeySet, kid: &str, spec: Option<&str>, at: Timestamp) -> Result<()> {
    let name = set.display_path();
    let orphaned = spec.filter(|s| !set.keys_of_spec(s).any(|k| k.state(ctx.now) == State::Current));
    let Some(spec) = orphaned else {
        ctx.ui.report(&format!("set {name}: {kid} was already revoked at {at}"));
        // A revoke of a next key interrupted before the current key's retirement was called off.
        return spec.map_or(Ok(()), |spec| keep_signing(ctx, set, spec, kid));
    };
    let successor = successor_of(ctx, set, spec)?;
    promote(ctx, set, &successor)?;
    ctx.ui.report(&format!(
        "set {name}: {kid} was already revoked at {at}; {} is now current in its place",
        successor.kid
    ));
    warn_signs_at_once(ctx, set);
    Ok(())
}

/// The key that takes over from a revoked current key of `spec`: the waiting next key, or a
/// new one.
fn successor_of(ctx: &Context, set: &KeySet, spec: &str) -> Result<Meta> {
    match waiting_next(set, spec, ctx.now) {
        Some(next) => Ok(next.clone()),
        None => create_next(ctx, set, spec),
    }
}

/// Generates and writes a new key of `spec` that is next (not yet current) at now.
fn create_next(ctx: &Context, set: &KeySet, spec: &str) -> Result<Meta> {
    let spec_def = set.config.spec(spec).expect("spec exists");
    let key = generate(spec_def).map_err(|e| Error::Failed(format!("revoke: {e}")))?;
    let kid = new_kid(set, spec, &key, &[]);
    // Any instant after now will do, as the next write makes it current: publish_ahead is the
    // time a crash right here leaves it waiting (like an ordinary `rotate`).
    // Never past 9999-12-31T23:59:59Z, the last time jwksmith can write (at that very instant
    // the successor is current at once).
    let activates = ctx.now.plus(set.config.rotation.publish_ahead.max(Span::from_secs(1))).min(Timestamp::MAX);
    let meta = write_created(ctx, set, spec, activates, &key, &kid)?;
    ctx.ui.report(&format!("set {}: created {kid}", set.display_path()));
    Ok(meta)
}

/// Makes `successor` current now.
fn promote(ctx: &Context, set: &KeySet, successor: &Meta) -> Result<()> {
    let mut meta = successor.clone();
    meta.set_times(promoted(successor, ctx.now));
    write_meta(&ctx.keys, &set.dir, &meta, set.config.pretty)?;
    ctx.ui.report(&format!("set {}: {} becomes current at {}", set.display_path(), meta.kid, ctx.now));
    Ok(())
}

fn warn_signs_at_once(ctx: &Context, set: &KeySet) {
    ctx.ui.warn(&format!(
        "set {}: the replacement key signs at once; clients holding a cached jwks.json (up to {}) may not know it yet",
        set.display_path(),
        set.config.rotation.cache_max_age
    ));
}
