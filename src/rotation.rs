//! Rotation decisions as pure functions: given a set and `now`, which keys to create and which
//! existing keys get new times. `cmd::rotate` generates and writes what this decides.

use crate::config::KeySpec;
use crate::lifecycle::{State, Times};
use crate::model::{Key, KeySet};
use crate::times::Timestamp;

/// Why rotate runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `rotate`: schedule a next key for every spec that has none.
    Always,
    /// `rotate --if-due`: only where a spec needs it (no key, or the current key is old enough).
    IfDue,
    /// `rotate --immediate`: make a new (or the waiting next) key current now.
    Immediate,
}

/// One change rotate makes to a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Generate a key for `spec`, created at now and activating at `activates`.
    Create {
        /// The spec.
        spec: String,
        /// When it becomes current (now for a bootstrap or `--immediate`).
        activates: Timestamp,
    },
    /// Give an existing key new lifecycle times.
    Retime {
        /// The key.
        kid: String,
        /// Its new times.
        times: Times,
    },
}

/// What rotation decides for one set.
pub fn decide(set: &KeySet, specs: &[&KeySpec], now: Timestamp, mode: Mode) -> Vec<Action> {
    let set_is_empty = !set.keys.iter().any(|k| k.state(now).is_active());
    specs.iter().flat_map(|spec| decide_spec(set, spec, now, mode, set_is_empty)).collect()
}

fn start_of(key: &Key) -> Timestamp {
    let t = key.meta.times();
    t.activates.or(t.created).unwrap_or(Timestamp::EPOCH)
}

fn newest<'a>(keys: impl Iterator<Item = &'a Key>) -> Option<&'a Key> {
    keys.max_by_key(|k| (start_of(k), k.meta.kid.clone()))
}

fn decide_spec(set: &KeySet, spec: &KeySpec, now: Timestamp, mode: Mode, set_is_empty: bool) -> Vec<Action> {
    let r = set.config.rotation;
    let of_spec = || set.keys_of_spec(&spec.spec);
    let current = newest(of_spec().filter(|k| k.state(now) == State::Current));
    let next = newest(of_spec().filter(|k| k.state(now) == State::Next));
    let retire = |key: &Key, at: Timestamp| Action::Retime {
        kid: key.meta.kid.clone(),
        times: Times { retires: Some(at), expires: Some(at.plus(r.verify_for)), ..key.meta.times() },
    };
    let create = |activates: Timestamp| Action::Create { spec: spec.spec.clone(), activates };
    match (current, next) {
        (None, None) => {
            let activates = if set_is_empty || mode == Mode::Immediate { now } else { now.plus(r.publish_ahead) };
            vec![create(activates)]
        }
        (None, Some(n)) => match mode {
            Mode::Immediate => vec![Action::Retime {
                kid: n.meta.kid.clone(),
                times: Times { activates: Some(now), ..n.meta.times() },
            }],
            _ => vec![],
        },
        (Some(c), Some(n)) => match mode {
            Mode::Immediate => vec![
                retire(c, now),
                Action::Retime { kid: n.meta.kid.clone(), times: Times { activates: Some(now), ..n.meta.times() } },
            ],
            // Repair after a crash between writing the next key and retiming the current one.
            _ if c.meta.retires != n.meta.activates => vec![retire(c, n.meta.activates.unwrap_or(now))],
            _ => vec![],
        },
        (Some(c), None) => {
            let due_at = start_of(c).plus(r.rotate_every).minus(r.publish_ahead);
            let due = now >= due_at || c.meta.retires.is_some();
            match mode {
                Mode::Immediate => vec![retire(c, now), create(now)],
                Mode::IfDue if !due => vec![],
                _ => {
                    let planned = c.meta.retires.unwrap_or(start_of(c).plus(r.rotate_every));
                    let activates = planned.max(now.plus(r.publish_ahead));
                    vec![create(activates), retire(c, activates)]
                }
            }
        }
    }
}

/// When each spec of a set next needs `rotate --if-due` (for `check` and `status`), if known.
pub(crate) fn due_at(set: &KeySet, spec: &KeySpec, now: Timestamp) -> Option<Timestamp> {
    let r = set.config.rotation;
    let of_spec = || set.keys_of_spec(&spec.spec);
    if newest(of_spec().filter(|k| k.state(now) == State::Next)).is_some() {
        return None;
    }
    match newest(of_spec().filter(|k| k.state(now) == State::Current)) {
        Some(c) => Some(start_of(c).plus(r.rotate_every).minus(r.publish_ahead)),
        None => Some(now),
    }
}

/// The coming rotation of a spec whose current key has no next key waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Coming {
    /// The spec.
    pub spec: String,
    /// Its current key.
    pub kid: String,
    /// When the key reaches `rotate_every − publish_ahead` (its age counts from `activates`):
    /// `rotate --if-due` makes the next key then.
    pub at: Timestamp,
    /// When it reaches `rotate_every`: past this instant the rotation is overdue.
    pub overdue_at: Timestamp,
}

impl Coming {
    /// True when the current key is older than `rotate_every` at `now`.
    pub(crate) fn is_overdue(&self, now: Timestamp) -> bool {
        now > self.overdue_at
    }
}

/// The coming rotation of every spec of a set that has a current key and no next key, in spec
/// order. Constant while no key of the set changes state.
pub(crate) fn coming(set: &KeySet, now: Timestamp) -> Vec<Coming> {
    let r = set.config.rotation;
    set.config
        .keys
        .iter()
        .filter(|spec| newest(set.keys_of_spec(&spec.spec).filter(|k| k.state(now) == State::Next)).is_none())
        .filter_map(|spec| {
            let current = newest(set.keys_of_spec(&spec.spec).filter(|k| k.state(now) == State::Current))?;
            let overdue_at = start_of(current).plus(r.rotate_every);
            Some(Coming {
                spec: spec.spec.clone(),
                kid: current.meta.kid.clone(),
                at: overdue_at.minus(r.publish_ahead),
                overdue_at,
            })
        })
        .collect()
}

/// The first time (by field name, with its value) that `action` would write and that cannot be
/// written ([`Timestamp::is_writable`]): a rotation near the year 9999 schedules times past it.
pub(crate) fn unwritable_time(action: &Action, now: Timestamp) -> Option<(&'static str, Timestamp)> {
    let fields = match action {
        Action::Create { activates, .. } => [
            ("created", Some(now)),
            ("activates", Some(*activates)),
            ("retires", None),
            ("expires", None),
            ("revoked", None),
        ],
        Action::Retime { times, .. } => [
            ("created", times.created),
            ("activates", times.activates),
            ("retires", times.retires),
            ("expires", times.expires),
            ("revoked", times.revoked),
        ],
    };
    fields.into_iter().find_map(|(name, t)| t.filter(|t| !t.is_writable()).map(|t| (name, t)))
}
