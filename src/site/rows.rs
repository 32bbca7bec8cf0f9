//! What each set shows on the site ([`SiteSet`]: its row of `index.html`, its timeline and the
//! `Cache-Control` of its files), made from the model at an instant. Pure; the record of
//! incremental builds keeps these rows for the sets it does not read again.

use serde::{Deserialize, Serialize};

use crate::layout::set_prefix;
use crate::model::{Key, KeySet};
use crate::times::Timestamp;

/// What a set contributes to the site files: its row of `index.html` and the `Cache-Control`
/// of its public files. Kept by incremental builds for the sets they do not reload.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct SiteSet {
    /// Its publish path (`""` for the root set).
    pub(crate) path: String,
    display_path: String,
    pub(super) prefix: String,
    issuer: String,
    keys: Vec<SiteKey>,
    timeline: Option<Timeline>,
    /// `Cache-Control: max-age` of the set's files, in seconds.
    pub(super) max_age: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct SiteKey {
    kid: String,
    state: String,
    alg: String,
    #[serde(rename = "use")]
    key_use: String,
    r#type: String,
    thumbprint: String,
    spki_sha256: String,
    created: Option<String>,
    activates: Option<String>,
    retires: Option<String>,
    expires: Option<String>,
    revoked: Option<String>,
}

/// One row of the timeline: x positions in a 1000-wide SVG.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Bar {
    kid: String,
    state: String,
    y: i64,
    published_x: i64,
    published_w: i64,
    signing_x: i64,
    signing_w: i64,
    open: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Timeline {
    height: i64,
    bars: Vec<Bar>,
    start: String,
    end: String,
}

/// What `set` shows on the site at `now` (fingerprints included).
pub(crate) fn site_set(set: &KeySet, now: Timestamp) -> SiteSet {
    let shown = |t: Option<Timestamp>| t.map(|t| t.to_string());
    let mut keys: Vec<&Key> = set.keys.iter().filter(|k| k.state(now).is_listed()).collect();
    keys.sort_by_key(|k| {
        (k.state(now).publish_rank(), set.config.spec_rank(k.meta.spec.as_deref()), k.meta.kid.clone())
    });
    SiteSet {
        path: set.path.clone(),
        display_path: set.display_path().to_string(),
        prefix: set_prefix(&set.path),
        issuer: set.config.issuer.clone(),
        max_age: set.config.rotation.cache_max_age.secs(),
        timeline: timeline(set, &keys, now),
        keys: keys
            .into_iter()
            .map(|k| SiteKey {
                kid: k.meta.kid.clone(),
                state: k.state(now).name().to_string(),
                alg: k.meta.alg.name().to_string(),
                key_use: k.meta.key_use.name().to_string(),
                r#type: k.material.public.describe(),
                thumbprint: k.material.public.thumbprint(),
                spki_sha256: k.material.public.spki_sha256(),
                created: shown(k.meta.created),
                activates: shown(k.meta.activates),
                retires: shown(k.meta.retires),
                expires: shown(k.meta.expires),
                revoked: shown(k.meta.revoked),
            })
            .collect(),
    }
}

/// Lays out a rotation timeline from the keys' own times (never from `now`, so the page
/// changes only when a key's state does). Keys without times are left out.
fn timeline(set: &KeySet, keys: &[&Key], now: Timestamp) -> Option<Timeline> {
    let timed: Vec<&Key> = keys.iter().copied().filter(|k| k.meta.created.or(k.meta.activates).is_some()).collect();
    let start = timed.iter().filter_map(|k| k.meta.created.or(k.meta.activates)).min()?;
    let r = set.config.rotation;
    let mut end = timed
        .iter()
        .flat_map(|k| [k.meta.activates, k.meta.retires, k.meta.expires, k.meta.revoked])
        .flatten()
        .max()
        .unwrap_or(start);
    let latest_start = timed.iter().filter_map(|k| k.meta.activates.or(k.meta.created)).max().unwrap_or(start);
    end = end.max(latest_start.plus(r.rotate_every));
    let span = (end.unix() - start.unix()).max(1);
    // i128: a span of any length (timings are capped, times are not) scales without overflow.
    let x = |t: Timestamp| 160 + (i128::from((t.unix() - start.unix()).clamp(0, span)) * 820 / i128::from(span)) as i64;
    let bars = timed
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let m = &k.meta;
            let born = m.created.or(m.activates).unwrap_or(start);
            let gone = m.revoked.or(m.expires);
            let signs_from = m.activates.or(m.created).unwrap_or(start);
            let signs_until = m.revoked.or(m.retires).unwrap_or(end).max(signs_from);
            Bar {
                kid: m.kid.clone(),
                state: k.state(now).name().to_string(),
                y: 10 + 22 * i as i64,
                published_x: x(born),
                published_w: (x(gone.unwrap_or(end)) - x(born)).max(2),
                signing_x: x(signs_from),
                signing_w: (x(signs_until) - x(signs_from)).max(0),
                open: gone.is_none(),
            }
        })
        .collect::<Vec<_>>();
    Some(Timeline {
        height: 36 + 22 * bars.len() as i64,
        bars,
        start: start.to_string()[..10].to_string(),
        end: end.to_string()[..10].to_string(),
    })
}
