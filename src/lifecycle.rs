//! The key lifecycle: a key's state at `now` follows from its times alone (SPEC §3).

use std::fmt;

use serde::Serialize;

use crate::times::Timestamp;

/// A key's state at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    /// Published ahead: in `jwks.json`, not yet signing.
    Next,
    /// The signing key.
    Current,
    /// Retired: still published so tokens it signed verify.
    Previous,
    /// Past its expiry: no longer published, listed inactive until pruned.
    Expired,
    /// Revoked: gone from `jwks.json` at once, listed inactive until pruned.
    Revoked,
    /// Created after `now`: does not exist yet at that instant.
    Pending,
}

impl State {
    /// The lowercase name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            State::Next => "next",
            State::Current => "current",
            State::Previous => "previous",
            State::Expired => "expired",
            State::Revoked => "revoked",
            State::Pending => "pending",
        }
    }

    /// True when the key is in `jwks.json` (and `active` in `jwt-keys.json`).
    pub(crate) fn is_active(self) -> bool {
        matches!(self, State::Next | State::Current | State::Previous)
    }

    /// True when the key appears in `jwt-keys.json` at all.
    pub(crate) fn is_listed(self) -> bool {
        self != State::Pending
    }

    /// Order in `jwks.json`: current, next, previous.
    pub(crate) fn publish_rank(self) -> u8 {
        match self {
            State::Current => 0,
            State::Next => 1,
            State::Previous => 2,
            _ => 3,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The lifecycle times of a key, as in its `meta.json`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Times {
    /// When the key was made (`None`: unknown, treated as always existing).
    pub created: Option<Timestamp>,
    /// When it starts signing (`None`: from creation).
    pub activates: Option<Timestamp>,
    /// When it stops signing.
    pub retires: Option<Timestamp>,
    /// When it leaves `jwks.json`.
    pub expires: Option<Timestamp>,
    /// When it was revoked.
    pub revoked: Option<Timestamp>,
}

impl Times {
    /// The state at `now`.
    pub(crate) fn state_at(&self, now: Timestamp) -> State {
        let reached = |t: Option<Timestamp>| t.is_some_and(|t| t <= now);
        if reached(self.revoked) {
            State::Revoked
        } else if reached(self.expires) {
            State::Expired
        } else if self.created.is_some_and(|c| c > now) {
            State::Pending
        } else if reached(self.retires) {
            State::Previous
        } else if self.activates.is_some_and(|a| a > now) {
            State::Next
        } else {
            State::Current
        }
    }

    /// `createTime` of `jwt-keys.json`: the creation time, or the Unix epoch when unknown.
    pub(crate) fn create_time(&self) -> Timestamp {
        self.created.unwrap_or(Timestamp::EPOCH)
    }

    /// `updateTime`: the latest state change at or before `now`, never before `createTime`. A
    /// time that changes nothing (a key's `retires` after it was revoked) is not a change.
    pub(crate) fn update_time(&self, now: Timestamp) -> Timestamp {
        self.changes_until(now).map(|(t, _)| t).fold(self.create_time(), Timestamp::max)
    }

    /// True when the state at `t` differs from the state a second before (times are whole
    /// seconds).
    fn changes_at(&self, t: Timestamp) -> bool {
        self.state_at(t) != self.state_at(Timestamp::from_unix(t.unix() - 1))
    }

    /// The instants at or before `now` at which the state changed (a scheduled revocation
    /// included), each with the state it began.
    pub(crate) fn changes_until(self, now: Timestamp) -> impl Iterator<Item = (Timestamp, State)> {
        let changed = move |t: &Timestamp| *t <= now && self.changes_at(*t);
        self.all().into_iter().flatten().filter(changed).map(move |t| (t, self.state_at(t)))
    }

    /// The first instant after `now` at which the state changes, and the state it becomes.
    pub(crate) fn next_change(&self, now: Timestamp) -> Option<(Timestamp, State)> {
        let here = self.state_at(now);
        let mut candidates: Vec<Timestamp> = self.all().into_iter().flatten().filter(|t| *t > now).collect();
        candidates.sort();
        candidates.into_iter().map(|t| (t, self.state_at(t))).find(|(_, s)| *s != here)
    }

    /// Checks `created ≤ activates ≤ retires ≤ expires`; the error names the fields.
    pub fn check_order(&self) -> Result<(), String> {
        let named = [
            ("created", self.created),
            ("activates", self.activates),
            ("retires", self.retires),
            ("expires", self.expires),
        ];
        let set: Vec<(&str, Timestamp)> = named.iter().filter_map(|(n, t)| t.map(|t| (*n, t))).collect();
        for pair in set.windows(2) {
            let ((a, ta), (b, tb)) = (pair[0], pair[1]);
            if ta > tb {
                return Err(format!("times are out of order: {a} ({ta}) is after {b} ({tb})"));
            }
        }
        if let (Some(c), Some(r)) = (self.created, self.revoked)
            && r < c
        {
            return Err(format!("times are out of order: revoked ({r}) is before created ({c})"));
        }
        Ok(())
    }

    /// Every time that is set: the only instants at which the state can change.
    pub(crate) fn all(&self) -> [Option<Timestamp>; 5] {
        [self.created, self.activates, self.retires, self.expires, self.revoked]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn sample() -> Times {
        Times {
            created: Some(t("2026-01-01T00:00:00Z")),
            activates: Some(t("2026-01-15T00:00:00Z")),
            retires: Some(t("2026-04-15T00:00:00Z")),
            expires: Some(t("2026-04-29T00:00:00Z")),
            revoked: None,
        }
    }

    #[test]
    fn states_follow_times() {
        let k = sample();
        assert_eq!(k.state_at(t("2025-12-31T23:59:59Z")), State::Pending);
        assert_eq!(k.state_at(t("2026-01-01T00:00:00Z")), State::Next);
        assert_eq!(k.state_at(t("2026-01-15T00:00:00Z")), State::Current);
        assert_eq!(k.state_at(t("2026-04-15T00:00:00Z")), State::Previous);
        assert_eq!(k.state_at(t("2026-04-29T00:00:00Z")), State::Expired);
        let revoked = Times { revoked: Some(t("2026-02-01T00:00:00Z")), ..k };
        assert_eq!(revoked.state_at(t("2026-02-01T00:00:00Z")), State::Revoked);
        assert_eq!(Times::default().state_at(t("1999-01-01T00:00:00Z")), State::Current);
    }

    #[test]
    fn update_time_is_latest_change_not_before_create() {
        let k = sample();
        assert_eq!(k.update_time(t("2026-02-01T00:00:00Z")), t("2026-01-15T00:00:00Z"));
        assert_eq!(Times::default().update_time(t("2026-02-01T00:00:00Z")), Timestamp::EPOCH);
    }

    #[test]
    fn update_time_of_a_revoked_key_stays_at_its_revocation() {
        let revoked = Times { revoked: Some(t("2026-01-20T00:00:00Z")), ..sample() };
        let at_revocation = t("2026-01-20T00:00:00Z");
        for now in ["2026-01-20T00:00:00Z", "2026-04-15T00:00:00Z", "2026-05-01T00:00:00Z", "2030-01-01T00:00:00Z"] {
            assert_eq!(revoked.update_time(t(now)), at_revocation, "at {now}: its later times change nothing");
        }
        let expired = sample();
        assert_eq!(expired.update_time(t("2030-01-01T00:00:00Z")), expired.expires.unwrap());
    }

    #[test]
    fn changes_until_lists_a_scheduled_revocation_and_nothing_after_it() {
        let revoked = Times { revoked: Some(t("2026-02-01T00:00:00Z")), ..sample() };
        let changes: Vec<(Timestamp, State)> = revoked.changes_until(t("2030-01-01T00:00:00Z")).collect();
        let want = [
            (t("2026-01-01T00:00:00Z"), State::Next),
            (t("2026-01-15T00:00:00Z"), State::Current),
            (t("2026-02-01T00:00:00Z"), State::Revoked),
        ];
        assert_eq!(changes, want, "its retires and expires change nothing once revoked");
        assert_eq!(revoked.changes_until(t("2026-01-14T00:00:00Z")).count(), 1, "only what has arrived");
    }

    #[test]
    fn next_change_finds_the_next_state() {
        let k = sample();
        assert_eq!(k.next_change(t("2026-02-01T00:00:00Z")), Some((t("2026-04-15T00:00:00Z"), State::Previous)));
        assert_eq!(k.next_change(t("2026-05-01T00:00:00Z")), None);
    }

    #[test]
    fn order_is_checked() {
        let bad = Times { retires: Some(t("2025-01-01T00:00:00Z")), ..sample() };
        assert!(bad.check_order().unwrap_err().contains("retires"));
        assert!(sample().check_order().is_ok());
    }
}
