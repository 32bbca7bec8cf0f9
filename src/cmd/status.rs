//! `jwksmith status`: every key of every set with its state and times, the next event and the
//! rotations due (a warning for each overdue one).

use std::io::Write as _;

use rayon::prelude::*;
use serde::Serialize;

use crate::cmd::{Context, count_files, load_showing_pending_in_batches, warn_file_count};
use crate::error::{OneLine, Result};
use crate::file_limits::FileCount;
use crate::model::KeySet;
use crate::times::Timestamp;

/// One key row of `status --json`.
#[derive(Serialize)]
pub(crate) struct KeyRow {
    kid: String,
    spec: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<&'static str>,
    alg: Option<&'static str>,
    state: &'static str,
    created: Option<Timestamp>,
    activates: Option<Timestamp>,
    retires: Option<Timestamp>,
    expires: Option<Timestamp>,
    revoked: Option<Timestamp>,
    private: bool,
    /// The private part is age-encrypted (`.key.age`), whether or not an identity opened it.
    encrypted: bool,
}

/// The next state change of a set.
#[derive(Serialize)]
pub(crate) struct NextEvent {
    at: Timestamp,
    kid: String,
    becomes: &'static str,
}

/// A spec whose rotation is due within `publish_ahead`, or overdue.
#[derive(Serialize)]
pub(crate) struct Due {
    spec: String,
    /// When its current key reaches `rotate_every − publish_ahead` (`rotate --if-due` acts).
    at: Timestamp,
    /// True once the current key is older than `rotate_every`.
    overdue: bool,
}

/// One set of `status --json`.
#[derive(Serialize)]
pub(crate) struct SetRow {
    path: String,
    keys: Vec<KeyRow>,
    next_event: Option<NextEvent>,
    due: Vec<Due>,
}

/// The document `status --json` prints.
#[derive(Serialize)]
pub(crate) struct Status {
    sets: Vec<SetRow>,
}

/// Sets loaded at a time. A loaded set holds its keys' material and encodings (kilobytes a key);
/// its rows are a few hundred bytes a key, so a run over 100,000 sets stays within tens of MiB
/// of rows plus one batch.
const BATCH: usize = 1024;

fn set_row(set: &KeySet, now: Timestamp) -> SetRow {
    let mut keys: Vec<KeyRow> = set
        .keys
        .iter()
        .map(|k| KeyRow {
            kid: k.meta.kid.clone(),
            spec: k.meta.spec.clone(),
            key_use: Some(k.meta.key_use.name()),
            alg: Some(k.meta.alg.name()),
            state: k.state(now).name(),
            created: k.meta.created,
            activates: k.meta.activates,
            retires: k.meta.retires,
            expires: k.meta.expires,
            revoked: k.meta.revoked,
            private: k.has_private(),
            encrypted: crate::custody::is_sealed(&k.files),
        })
        .collect();
    keys.extend(set.unfinished.iter().map(|u| KeyRow {
        kid: u.kid.clone(),
        spec: None,
        key_use: None,
        alg: None,
        state: "unfinished",
        created: None,
        activates: None,
        retires: None,
        expires: None,
        revoked: None,
        private: u.private,
        encrypted: crate::custody::is_sealed(&u.files),
    }));
    let next_event = set
        .keys
        .iter()
        .filter_map(|k| k.meta.times().next_change(now).map(|(at, state)| (at, k.meta.kid.clone(), state)))
        .min()
        .map(|(at, kid, state)| NextEvent { at, kid, becomes: state.name() });
    let ahead = set.config.rotation.publish_ahead;
    let coming = crate::rotation::coming(set, now);
    // In spec order: a spec whose current key comes due, and one with no key to sign at all
    // (nor a next one), which `rotate --if-due` acts on now, as the table says.
    let due = set
        .config
        .keys
        .iter()
        .filter_map(|spec| match coming.iter().find(|c| c.spec == spec.spec) {
            Some(c) => (c.at <= now.plus(ahead) || c.is_overdue(now)).then(|| Due {
                overdue: c.is_overdue(now),
                spec: c.spec.clone(),
                at: c.at,
            }),
            None => (crate::rotation::due_at(set, spec, now) == Some(now)).then(|| Due {
                overdue: false,
                spec: spec.spec.clone(),
                at: now,
            }),
        })
        .collect();
    SetRow { path: set.display_path().to_string(), keys, next_event, due }
}

/// Prints the table (or `--json`). The sets are read in batches ([`BATCH`]) and only their rows
/// kept; nothing is printed on stdout until every set has loaded, so a bad input leaves stdout
/// empty; the JSON is then written to stdout as it is serialised, never held whole.
pub fn run(ctx: &Context, json: bool) -> Result<()> {
    let mut rows = Vec::new();
    let mut timelines = String::new();
    let mut count = FileCount::default();
    load_showing_pending_in_batches(ctx, BATCH, |sets| {
        sets.iter().for_each(|s| count.add(&s.path, &s.config));
        for warning in sets.iter().flat_map(|s| crate::lint::overdue_warnings(s, ctx.now)) {
            ctx.ui.warn(&warning);
        }
        rows.par_extend(sets.par_iter().map(|s| set_row(s, ctx.now)));
        if !json {
            timelines.push_str(&timeline(&sets, ctx.now));
        }
        Ok(())
    })?;
    if !ctx.all_sets() {
        // The whole site is deployed, selected sets or not.
        count = count_files(&crate::keydir::discover(&ctx.keys)?, &[]);
    }
    warn_file_count(&ctx.ui, &count);
    let status = Status { sets: rows };
    if json {
        // The writer drops what a closed stdout refuses, so only a bug could fail here.
        let mut out = ctx.ui.data_writer();
        serde_json::to_writer_pretty(&mut out, &status).expect("JSON of plain data serialises");
        let _ = out.write_all(b"\n").and_then(|()| out.flush());
    } else {
        ctx.ui.data(&table(&status));
        ctx.ui.data(&format!("\ntimeline:\n{timelines}"));
    }
    Ok(())
}

/// The rotation timeline of each spec of `sets`, a line each (control characters escaped): its
/// current key, the next change, when rotation is due.
fn timeline(sets: &[KeySet], now: Timestamp) -> String {
    let mut out = String::new();
    for set in sets {
        for spec in &set.config.keys {
            let current = crate::plan::current_of_spec(set, &spec.spec, now).map(|k| k.kid().to_string());
            let next = set
                .keys_of_spec(&spec.spec)
                .filter_map(|k| k.meta.times().next_change(now).map(|(at, state)| (at, k.kid().to_string(), state)))
                .min();
            let mut line =
                format!("  {} {}: current {}", set.display_path(), spec.spec, current.as_deref().unwrap_or("none"));
            match next {
                Some((at, kid, state)) => line.push_str(&format!("; {kid} becomes {state} at {at}")),
                None => line.push_str("; no scheduled change"),
            }
            match crate::rotation::due_at(set, spec, now) {
                Some(at) if at <= now => line.push_str("; rotation due now (`jwksmith rotate --if-due`)"),
                Some(at) => line.push_str(&format!("; next rotation due {at}")),
                None => {}
            }
            out.push_str(&format!("{}\n", OneLine(&line)));
        }
        for key in set.keys.iter().filter(|k| k.meta.spec.is_none()) {
            let line = format!("  {} {}: {} (no spec, not rotated)", set.display_path(), key.kid(), key.state(now));
            out.push_str(&format!("{}\n", OneLine(&line)));
        }
    }
    out
}

fn table(status: &Status) -> String {
    let dash = |t: &Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
    let mut rows = vec![
        ["SET", "KID", "SPEC", "STATE", "CREATED", "ACTIVATES", "RETIRES", "EXPIRES", "PRIVATE"]
            .map(String::from)
            .to_vec(),
    ];
    for set in &status.sets {
        for k in &set.keys {
            // Kids, paths and specs come from file names: their control characters are escaped.
            rows.push(vec![
                OneLine(&set.path).to_string(),
                OneLine(&k.kid).to_string(),
                k.spec.as_deref().map_or_else(|| "-".into(), |s| OneLine(s).to_string()),
                k.state.to_string(),
                dash(&k.created),
                dash(&k.activates),
                dash(&k.retires),
                dash(&k.expires),
                if k.private { "yes" } else { "no" }.into(),
            ]);
        }
    }
    let widths: Vec<usize> = (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
