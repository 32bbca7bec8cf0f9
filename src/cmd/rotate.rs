//! `jwksmith rotate`: bootstrap empty sets, schedule next keys, promote and retire by the
//! timings. Decisions come from [`crate::rotation`]; this module generates and writes.

use rayon::prelude::*;

use crate::cmd::{Context, load};
use crate::config::{KeySpec, KidStrategy, Rotation};
use crate::error::{Error, Result};
use crate::generate::{Generated, generate, self_signed_cert};
use crate::keystore::{self, NewKey, write_meta, write_new_key};
use crate::lifecycle::Times;
use crate::meta::Meta;
use crate::model::KeySet;
use crate::rotation::{Action, Mode, decide, unwritable_time};
use crate::times::Timestamp;

/// Flags of `rotate`.
#[derive(Clone, Debug, Default)]
pub struct RotateOptions {
    /// `--if-due`.
    pub if_due: bool,
    /// `--immediate`.
    pub immediate: bool,
    /// `--spec S`.
    pub spec: Option<String>,
}

/// The actions decided for one set.
pub(crate) struct Planned<'a> {
    /// The set.
    pub set: &'a KeySet,
    /// What to do to it.
    pub actions: Vec<Action>,
}

/// Runs `rotate`.
pub fn run(ctx: &Context, opts: &RotateOptions) -> Result<()> {
    let (_lock, ctx) = crate::cmd::change_keys(ctx)?;
    let ctx = &ctx;
    let loaded = load(ctx)?;
    let mode = if opts.immediate {
        Mode::Immediate
    } else if opts.if_due {
        Mode::IfDue
    } else {
        Mode::Always
    };
    if let Some(spec) = &opts.spec
        && !loaded.sets.iter().any(|s| s.config.spec(spec).is_some())
    {
        return Err(Error::Usage(format!("--spec {spec}: no selected set has a [[key]] spec named `{spec}`")));
    }
    let planned: Vec<Planned> = loaded
        .sets
        .iter()
        .map(|set| {
            let specs: Vec<&KeySpec> =
                set.config.keys.iter().filter(|k| opts.spec.as_ref().is_none_or(|s| &k.spec == s)).collect();
            let mut actions = decide(set, &specs, ctx.now, mode);
            if keystore::is_bootstrapping(&ctx.keys, &set.path) {
                finish_bootstrap(set, &mut actions, ctx.now);
            }
            Planned { set, actions }
        })
        .collect();
    let count: usize = planned.iter().map(|p| p.actions.len()).sum();
    if count == 0 {
        end_bootstraps(ctx, &loaded.sets)?;
        ctx.ui.notice("nothing is due: every spec has a current key that is not yet due for rotation");
        return Ok(());
    }
    execute(ctx, &planned, opts.immediate)?;
    end_bootstraps(ctx, &loaded.sets)?;
    ctx.ui.notice("next: `jwksmith build` publishes the new schedule");
    Ok(())
}

/// After a crash in the bootstrap of a set (its first keys, all current at once), the specs
/// still without a key are made current at once too, as the bootstrap would have.
fn finish_bootstrap(set: &KeySet, actions: &mut [Action], now: Timestamp) {
    for action in actions {
        if let Action::Create { spec, activates } = action
            && set.keys_of_spec(spec).next().is_none()
        {
            *activates = now;
        }
    }
}

fn end_bootstraps(ctx: &Context, sets: &[KeySet]) -> Result<()> {
    sets.iter().try_for_each(|set| keystore::end_bootstrap(&ctx.keys, &set.path))
}

/// A line `rotate` prints about a set, once every set is written (in set order).
enum Line {
    /// A key made: the only lines on stdout, one a key.
    Report(String),
    Warn(String),
    /// What else changed (a key's times): on stderr, as a notice.
    Notice(String),
}

/// Generates the keys the actions create and writes every change, on all cores: each set is
/// written as soon as its keys are ready, while other sets' keys are still being generated.
pub(crate) fn execute(ctx: &Context, planned: &[Planned], immediate: bool) -> Result<()> {
    check_writable(ctx, planned)?;
    let total = planned.iter().map(|p| creates(p).count()).sum();
    let bar = progress_bar(ctx, total);
    let done: Vec<Result<Vec<Line>>> = planned
        .par_iter()
        .map(|p| {
            let wanted: Vec<(&str, Timestamp, &KeySpec)> = creates(p).collect();
            let keys: Vec<Generated> = wanted
                .par_iter()
                .map(|(_, _, spec)| {
                    let key = generate(spec);
                    bar.inc(1);
                    key
                })
                .collect::<std::result::Result<_, String>>()
                .map_err(|e| Error::Failed(format!("rotate: {e}")))?;
            let fresh = wanted.into_iter().zip(keys).map(|((spec, activates, _), key)| (spec, activates, key));
            apply_set(ctx, p, fresh.collect(), immediate)
        })
        .collect();
    bar.finish_and_clear();
    let mut first_error = None;
    for result in done {
        match result {
            Ok(lines) => {
                for line in lines {
                    match line {
                        Line::Report(text) => ctx.ui.report(&text),
                        Line::Warn(text) => ctx.ui.warn(&text),
                        Line::Notice(text) => ctx.ui.notice(&text),
                    }
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Refuses, before anything is generated or written, actions whose times would pass
/// 9999-12-31T23:59:59Z: jwksmith never writes a meta.json that it would then reject.
fn check_writable(ctx: &Context, planned: &[Planned]) -> Result<()> {
    for p in planned {
        for action in &p.actions {
            let Some((field, _)) = unwritable_time(action, ctx.now) else { continue };
            let spec = match action {
                Action::Create { spec, .. } => Some(spec.as_str()),
                Action::Retime { kid, .. } => p.set.key(kid).and_then(|k| k.meta.spec.as_deref()),
            };
            let what = match (action, spec) {
                (Action::Create { .. }, Some(spec)) => format!("a new key of spec `{spec}`"),
                (Action::Retime { kid, .. }, Some(spec)) => format!("key `{kid}` of spec `{spec}`"),
                (Action::Retime { kid, .. }, None) => format!("key `{kid}`"),
                (Action::Create { .. }, None) => "a new key".to_string(),
            };
            let file = p.set.config_file.clone().unwrap_or_else(|| p.set.dir.clone());
            return Err(Error::input(
                file,
                format!(
                    "at {} the rotation timings would give {what} an `{field}` time past {}: jwksmith writes only times of the years 1 to 9999",
                    ctx.now,
                    Timestamp::MAX
                ),
                "give an earlier --now (or correct the system clock); nothing was changed",
            ));
        }
    }
    Ok(())
}

/// The keys a set's actions create: spec name, activation time, spec.
fn creates<'a>(p: &'a Planned) -> impl Iterator<Item = (&'a str, Timestamp, &'a KeySpec)> {
    p.actions.iter().filter_map(|a| match a {
        Action::Create { spec, activates } => p.set.config.spec(spec).map(|s| (spec.as_str(), *activates, s)),
        Action::Retime { .. } => None,
    })
}

/// A progress bar on a terminal for long generations; hidden with `-q` or when stderr is not a TTY.
fn progress_bar(ctx: &Context, len: usize) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if ctx.ui.is_quiet() || len < 8 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    let style = indicatif::ProgressStyle::with_template("generating keys {bar:30} {pos}/{len} ({per_sec}, {eta} left)")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// The kid a new key of `spec` gets in `set` (after `taken` kids already used in this run).
pub(crate) fn new_kid(set: &KeySet, spec: &str, key: &Generated, taken: &[String]) -> String {
    match set.config.kid {
        KidStrategy::Thumbprint => key.material.public.thumbprint(),
        KidStrategy::SpkiSha256 => key.material.public.spki_sha256(),
        KidStrategy::Sequence => {
            let prefix = format!("{spec}-");
            // Unfinished kids are taken too: a hand-placed `<spec>-001.pub.pem` is never replaced.
            let used = set.keys.iter().map(|k| k.meta.kid.clone());
            let used = used.chain(set.unfinished.iter().map(|u| u.kid.clone())).chain(taken.iter().cloned());
            let highest =
                used.filter_map(|kid| kid.strip_prefix(&prefix).and_then(|n| n.parse::<u32>().ok())).max().unwrap_or(0);
            format!("{prefix}{:03}", highest + 1)
        }
    }
}

/// Writes one set's new keys and changed metadata, in the order of its actions (so that a crash
/// between two writes leaves what the order was chosen for: `--immediate` retires the current
/// key before it makes the new one, never two current keys); returns what to print about it.
fn apply_set(
    ctx: &Context,
    p: &Planned,
    fresh: Vec<(&str, Timestamp, Generated)>,
    immediate: bool,
) -> Result<Vec<Line>> {
    let set = p.set;
    let mut lines = Vec::new();
    let mut taken = Vec::new();
    // The first keys of an empty set: recorded, so that a crash between two of them still
    // leaves every spec a current key after the next `rotate`.
    let bootstrap = !set.keys.iter().any(|k| k.state(ctx.now).is_active())
        && p.actions.iter().any(|a| matches!(a, Action::Create { activates, .. } if *activates <= ctx.now));
    if bootstrap {
        keystore::begin_bootstrap(&ctx.keys, &set.path)?;
    }
    let mut fresh = fresh.into_iter();
    for action in &p.actions {
        match action {
            Action::Create { .. } => {
                let Some((spec, activates, key)) = fresh.next() else { continue };
                let kid = new_kid(set, spec, &key, &taken);
                write_created(ctx, set, spec, activates, &key, &kid)?;
                lines.extend(created_lines(ctx, set, &kid, activates, immediate));
                taken.push(kid);
            }
            Action::Retime { kid, times } => {
                let Some(key) = set.key(kid) else { continue };
                let mut meta = key.meta.clone();
                meta.set_times(*times);
                write_meta(&ctx.keys, &set.dir, &meta, set.config.pretty)?;
                lines.extend(retimed_lines(set, kid, &key.meta.times(), times, immediate));
            }
        }
    }
    Ok(lines)
}

/// What `rotate` says about a key it created.
fn created_lines(ctx: &Context, set: &KeySet, kid: &str, activates: Timestamp, immediate: bool) -> Vec<Line> {
    let name = set.display_path();
    let mut lines = vec![if activates <= ctx.now {
        Line::Report(format!("set {name}: created {kid} (current now)"))
    } else {
        Line::Report(format!("set {name}: created {kid} (published now, signs from {activates})"))
    }];
    if immediate && !set.keys.is_empty() {
        lines.push(Line::Warn(format!(
            "set {name}: {kid} signs at once; clients holding a cached jwks.json (up to {}) may not know it yet",
            set.config.rotation.cache_max_age
        )));
    }
    lines
}

/// What `rotate` says about a key whose times it changed from `before` to `times`.
fn retimed_lines(set: &KeySet, kid: &str, before: &Times, times: &Times, immediate: bool) -> Vec<Line> {
    let (name, r) = (set.display_path(), set.config.rotation);
    let mut lines = Vec::new();
    if times.retires != before.retires
        && let Some(at) = times.retires
    {
        lines.push(Line::Notice(format!(
            "set {name}: {kid} retires at {at}, leaves jwks.json at {}",
            times.expires.unwrap_or(at)
        )));
    }
    if times.activates != before.activates
        && let Some(at) = times.activates
    {
        lines.push(Line::Notice(format!("set {name}: {kid} becomes current at {at}")));
        if immediate {
            lines.push(Line::Warn(immediate_warning(name, kid, before, at, r)));
        }
    }
    lines
}

/// The warning of `--immediate` about `kid`, current from `at` instead of `before.activates`:
/// whether it has been published for `publish_ahead` already (a next key made long enough ago)
/// or not (a key made now, or recently).
fn immediate_warning(name: &str, kid: &str, before: &Times, at: Timestamp, r: Rotation) -> String {
    match before.created.filter(|created| created.plus(r.publish_ahead) <= at) {
        Some(created) => format!(
            "set {name}: {kid} signs at once, ahead of its scheduled activation{}; it has been published since {created}, longer than publish_ahead ({})",
            before.activates.map(|a| format!(" at {a}")).unwrap_or_default(),
            r.publish_ahead
        ),
        None => format!(
            "set {name}: {kid} signs at once, before it was published for publish_ahead ({}); clients holding a cached jwks.json (up to {}) may not know it yet",
            r.publish_ahead, r.cache_max_age
        ),
    }
}

/// Writes a generated key of `spec` as `kid`, created now and current from `activates`; returns
/// its metadata.
pub(crate) fn write_created(
    ctx: &Context,
    set: &KeySet,
    spec: &str,
    activates: Timestamp,
    key: &Generated,
    kid: &str,
) -> Result<Meta> {
    let r = set.config.rotation;
    let spec_def = set.config.spec(spec).expect("spec exists");
    let meta = Meta {
        kid: kid.to_string(),
        id: uuid::Uuid::new_v4().to_string(),
        label: Some(kid.to_string()),
        spec: Some(spec.to_string()),
        key_use: spec_def.key_use,
        alg: spec_def.alg,
        created: Some(ctx.now),
        activates: Some(activates),
        retires: None,
        expires: None,
        revoked: None,
    };
    let cert = if set.config.x5c {
        let until = activates.plus(r.rotate_every).plus(r.publish_ahead).plus(r.verify_for).plus(r.rotate_every);
        // X.509 has no time after 9999 either; 9999-12-31T23:59:59Z means "no expiry" (RFC 5280).
        let until = until.min(Timestamp::MAX);
        Some(self_signed_cert(key, kid, ctx.now, until).map_err(|e| Error::Failed(format!("rotate: {e}")))?)
    } else {
        None
    };
    write_new_key(&NewKey {
        keys: &ctx.keys,
        set: &set.path,
        dir: &set.dir,
        material: &key.material,
        cert_pem: cert.as_deref(),
        meta: &meta,
        pretty: set.config.pretty,
        adopts: None,
        recipients: &set.config.recipients,
    })?;
    Ok(meta)
}
