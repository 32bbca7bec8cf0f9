//! Reading one set: its `keyset.toml` (the embedded default when it has none) and its kids into
//! a [`KeySet`], with the warnings about keys jwksmith will not publish or cannot date; and the
//! refusal of a `now` before a key was created.

use std::path::{Path, PathBuf};

use super::files::sort_files;
use super::input::read_walked;
use super::kid::{KidRead, read_kid};
use super::{KEYSET_FILE, KeyCheck, SetDir};
use crate::config::KeysetConfig;
use crate::error::{Error, Result, Shown};
use crate::model::{Key, KeySet, Unfinished};
use crate::times::Timestamp;

/// A set's `keyset.toml` (the embedded default when it has none), read and validated.
fn read_config(file: Option<&Path>) -> Result<KeysetConfig> {
    let Some(path) = file else { return Ok(KeysetConfig::default()) };
    let text = String::from_utf8(read_walked(path)?)
        .map_err(|_| Error::input(path, "keyset.toml is not UTF-8 text", "save it as UTF-8"))?;
    KeysetConfig::parse(&text, path)
}

/// A set's policy alone, without its keys: the parsed `keyset.toml` and the file it came from.
pub(crate) fn config_of(set: &SetDir) -> Result<(KeysetConfig, Option<PathBuf>)> {
    let file = set.files.iter().find(|p| p.file_name().is_some_and(|n| n == KEYSET_FILE)).cloned();
    Ok((read_config(file.as_deref())?, file))
}

/// Reads and validates one set: config, keys, metadata, pairs, and `check` on every key (the
/// self-test, see [`crate::selftest`]). Returns the set and the warnings found.
pub(crate) fn read_set(set: &SetDir, check: &KeyCheck<'_>) -> Result<(KeySet, Vec<String>)> {
    let files = sort_files(set);
    let config = read_config(files.config_file.as_deref())?;
    let mut warnings = Vec::new();
    let mut keys = Vec::new();
    let mut unfinished = Vec::new();
    let mut locked = Vec::new();
    for (kid, kid_files) in files.by_kid {
        match read_kid(&kid, &kid_files, &config, check)? {
            KidRead::Key(key) => {
                warnings.extend(undated_warning(&key));
                keys.push(*key);
            }
            KidRead::Unfinished(u) => {
                warnings.push(unfinished_warning(set, &u));
                unfinished.push(u);
            }
            KidRead::Locked(path) => locked.push(path),
            KidRead::Nothing => {}
        }
    }
    check_revoked_keys_are_not_copied(&keys)?;
    warnings.extend(super::sealed::custody_warnings(&config, &keys, &locked)?);
    let config_file = files.config_file;
    let set = KeySet { path: set.path.clone(), dir: set.dir.clone(), config, config_file, keys, unfinished };
    Ok((set, warnings))
}

/// Refuses a revoked key found again under another kid of the set (a backup
/// `r-001-backup.pem` of the revoked `r-001`): revocation is by kid, so the copy would keep the
/// revoked key in `jwks.json`. (The same key under several kids is otherwise allowed: a key
/// dropped in two PEM forms is published under both names.)
fn check_revoked_keys_are_not_copied(keys: &[Key]) -> Result<()> {
    let (revoked, published): (Vec<&Key>, Vec<&Key>) = keys.iter().partition(|k| k.meta.revoked.is_some());
    for key in published.iter().filter(|_| !revoked.is_empty()) {
        let spki = key.material.public.spki_der_ref();
        let Some(original) = revoked.iter().find(|r| r.material.public.spki_der_ref() == spki) else {
            continue;
        };
        let at = original.meta.revoked.map(|t| t.to_string()).unwrap_or_default();
        return Err(Error::input(
            &key.files[0],
            format!(
                "key `{}` is the same key as `{}`, revoked at {at} ({}): a revoked key is never published",
                key.kid(),
                original.kid(),
                Shown(&original.files[0])
            ),
            "remove the copy (or revoke it too)",
        ));
    }
    Ok(())
}

/// The warning about a key without a creation time, if it has none.
fn undated_warning(key: &Key) -> Option<String> {
    key.meta.created.is_none().then(|| {
        format!(
            "{}: key `{}` has no creation time (its createTime is 1970-01-01T00:00:00Z); run `jwksmith import {}` to give it metadata",
            Shown(&key.files[0]),
            key.kid(),
            crate::ui::shell_quoted(&key.files[0])
        )
    })
}

/// The warning about a key file without metadata: jwksmith's own interrupted key (a record says
/// so) is finished or removed by the next `rotate`; any other is left alone, and `import` adopts it.
fn unfinished_warning(set: &SetDir, u: &Unfinished) -> String {
    let depth = if set.path.is_empty() { 0 } else { set.path.split('/').count() };
    let keys = set.dir.ancestors().nth(depth).unwrap_or(&set.dir);
    // The private file when there is one: importing it writes the public file too.
    let file = u.files.iter().find(|f| f.to_string_lossy().ends_with(".key.pem")).unwrap_or(&u.files[0]);
    if crate::started::is_started(keys, &set.path, &u.kid) {
        format!(
            "{}: key `{}` is unfinished (an interrupted jwksmith run): it is not published; the next `jwksmith rotate` removes it",
            Shown(file),
            u.kid
        )
    } else {
        let set_flag = if set.path.is_empty() { String::new() } else { format!(" and `--set {}`", set.path) };
        format!(
            "{}: key `{}` has no metadata and jwksmith did not make it: it is not published, and jwksmith leaves it alone; to publish it, run `jwksmith import` on this file with `--kid {}`{set_flag}",
            Shown(file),
            u.kid,
            u.kid
        )
    }
}

/// Refuses a `now` before the creation of any key of `sets` (a runner's wrong clock, a mistyped
/// `--now`): at such an instant the key does not exist yet, a build would publish a set without
/// it and a rotation would make a second current key. The error names the newest such key's
/// metadata, its `created` time and `now`. (`status` shows such keys as `pending` instead.)
pub(crate) fn check_now_after_created<'a>(sets: impl IntoIterator<Item = &'a KeySet>, now: Timestamp) -> Result<()> {
    created_after(sets, now).map_or(Ok(()), |found| Err(found.error))
}

/// The newest key created after `now` among some sets, as [`check_now_after_created`] reports
/// it; `order` ranks it among such keys of other sets (a build that reads its sets in batches
/// reports the newest of all).
pub(crate) struct CreatedAfter {
    /// Its `created` time, its set's publish path and its kid: the newest is the greatest.
    pub(crate) order: (Timestamp, String, String),
    /// The error naming it.
    pub(crate) error: Error,
}

/// The newest key of `sets` created after `now`, if any ([`check_now_after_created`]).
pub(crate) fn created_after<'a>(sets: impl IntoIterator<Item = &'a KeySet>, now: Timestamp) -> Option<CreatedAfter> {
    let newest = sets
        .into_iter()
        .flat_map(|set| set.keys.iter().map(move |key| (set, key)))
        .filter_map(|(set, key)| key.meta.created.filter(|c| *c > now).map(|c| (c, set, key)))
        .max_by(|a, b| (a.0, &a.1.path, a.2.kid()).cmp(&(b.0, &b.1.path, b.2.kid())));
    let (created, set, key) = newest?;
    let file = key.files.iter().find(|f| f.as_os_str().as_encoded_bytes().ends_with(b".meta.json"));
    let error = Error::input(
        file.unwrap_or(&key.files[0]),
        format!(
            "key `{}` was created at {created}, after now ({now}): jwksmith does not act at a time before its keys exist",
            key.kid()
        ),
        format!(
            "check the system clock, or give a --now at or after {created}; `jwksmith status` lists such keys as pending"
        ),
    );
    Some(CreatedAfter { order: (created, set.path.clone(), key.kid().to_string()), error })
}
