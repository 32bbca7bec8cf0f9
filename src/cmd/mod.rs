//! The commands, each a small function over one [`Context`].

use std::path::PathBuf;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::file_limits::FileCount;
use crate::keydir::{SetDir, check_now_after_created, discover};
use crate::model::KeySet;
use crate::selftest::{SelfTested, read_set_tested, read_set_usable};
use crate::times::Timestamp;
use crate::ui::Ui;
use crate::write::Ownership;

pub mod build;
pub mod check;
pub mod import;
mod import_rules;
pub mod init;
mod init_for;
pub mod prune;
pub mod rekey;
pub mod revoke;
pub mod rotate;
pub mod status;
pub mod token;
pub mod verify;

/// Everything a command needs from the global flags.
#[derive(Clone, Debug)]
pub struct Context {
    /// `--keys DIR`.
    pub keys: PathBuf,
    /// `--out DIR`.
    pub out: PathBuf,
    /// `--templates DIR`.
    pub templates: PathBuf,
    /// `--now`, or the clock.
    pub now: Timestamp,
    /// True when `--now` was given.
    pub now_fixed: bool,
    /// `--set PATH`: publish paths (`""` is the root set); empty means every set.
    pub sets: Vec<String>,
    /// Printer.
    pub ui: Ui,
}

impl Context {
    /// A context with default flags over the given key and output directories, at the clock's now.
    pub fn new(keys: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        Context {
            keys: keys.into(),
            out: out.into(),
            templates: PathBuf::from("site-template"),
            now: Timestamp::now(),
            now_fixed: false,
            sets: Vec::new(),
            ui: Ui::default(),
        }
    }

    /// True when every set is selected (no `--set`).
    pub(crate) fn all_sets(&self) -> bool {
        self.sets.is_empty()
    }
}

/// Normalises a `--set` value: `.` and `` are the root; no leading or trailing `/`.
pub(crate) fn normalize_set(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed == "." { String::new() } else { trimmed.trim_start_matches("./").to_string() }
}

/// A `--set` value as a publish path ([`normalize_set`]), refused when it is absolute or
/// steps out of `keys/` or into a hidden directory (which no walk of `keys/` finds).
pub(crate) fn parse_set(path: &str) -> std::result::Result<String, String> {
    let normalized = normalize_set(path);
    let bad = path.starts_with('/')
        || normalized.split('/').any(|part| (part.is_empty() && !normalized.is_empty()) || part.starts_with('.'));
    if bad {
        return Err(format!(
            "`{path}` is not a publish path: give a set's path relative to the key directory, such as `tenants/acme`, or `.` for the root set"
        ));
    }
    Ok(normalized)
}

/// The start of every command that changes `keys/`: takes the lock of `keys/` for the whole
/// run (`lock::Lock::keys`; an overlapping command waits, then acts on what this one
/// leaves), then finishes what an interrupted command left there ([`crate::keystore::recover`]:
/// leftover temporary files, keys jwksmith started), before anything reads the sets. Returns the
/// lock and the context to run under.
pub fn change_keys(ctx: &Context) -> Result<(crate::lock::Lock, Context)> {
    let lock = crate::lock::Lock::keys(&ctx.keys, crate::lock::timeout()?, &ctx.ui)?;
    // The clock (unless `--now` fixed it) is read again: the wait may have been long, and the
    // keys the first run made carry its own, later, time.
    let mut ctx = ctx.clone();
    if !ctx.now_fixed {
        ctx.now = Timestamp::now();
    }
    for line in crate::keystore::recover(&ctx.keys)? {
        ctx.ui.report(&line);
    }
    Ok((lock, ctx))
}

/// The sets found under `keys/`, loaded and validated, plus every set directory found.
pub struct Loaded {
    /// Every set directory under `keys/` (selected or not).
    pub dirs: Vec<SetDir>,
    /// The selected sets, loaded.
    pub sets: Vec<KeySet>,
}

/// Discovers and loads the selected sets in parallel, self-testing every key; warnings are printed.
/// A `now` before the creation of a key of a selected set is an error
/// ([`check_now_after_created`]).
pub fn load(ctx: &Context) -> Result<Loaded> {
    let loaded = load_sets(ctx, |dir| read_set_tested(dir, &SelfTested::default()))?;
    check_now_after_created(&loaded.sets, ctx.now)?;
    Ok(loaded)
}

/// Like [`load`], but keys created after `now` are accepted (they are `pending`), and no key
/// signs ([`read_set_usable`]): for `status`, which shows them.
pub fn load_showing_pending(ctx: &Context) -> Result<Loaded> {
    load_sets(ctx, read_set_usable)
}

/// Like [`load`], but a key that the set's current `out/private/` shows was self-tested with the
/// same material, `use` and `alg` is not signed with again ([`SelfTested`]): `build`'s fast path.
pub fn load_reusing_self_tests(ctx: &Context) -> Result<Loaded> {
    let loaded = load_sets(ctx, |dir| read_set_tested(dir, &SelfTested::read(&ctx.out, &dir.path)))?;
    check_now_after_created(&loaded.sets, ctx.now)?;
    Ok(loaded)
}

fn load_sets(ctx: &Context, load_one: impl Fn(&SetDir) -> Result<(KeySet, Vec<String>)> + Sync) -> Result<Loaded> {
    let dirs = discover_selected(ctx)?;
    let selected: Vec<&SetDir> = dirs.iter().filter(|d| is_selected(ctx, d)).collect();
    let sets = load_batch(ctx, &selected, &load_one)?;
    Ok(Loaded { dirs, sets })
}

/// Like [`load_showing_pending`], but the selected sets are handed to `each` in walk order,
/// `batch` sets at a time, each batch (and its directories' file lists) dropped before the next
/// is read: a run over any number of sets holds at most `batch` loaded sets (`status`). Stops
/// at the first error, which names its file; the batches before it have been handed over.
pub(crate) fn load_showing_pending_in_batches(
    ctx: &Context,
    batch: usize,
    mut each: impl FnMut(Vec<KeySet>) -> Result<()>,
) -> Result<()> {
    let mut dirs = discover_selected(ctx)?;
    dirs.retain(|d| is_selected(ctx, d));
    dirs.reverse();
    while !dirs.is_empty() {
        let chunk: Vec<SetDir> = dirs.drain(dirs.len().saturating_sub(batch.max(1))..).rev().collect();
        let chunk: Vec<&SetDir> = chunk.iter().collect();
        each(load_batch(ctx, &chunk, &read_set_usable)?)?;
    }
    Ok(())
}

/// Every set directory under `keys/`; an error when a `--set` names none of them.
pub(crate) fn discover_selected(ctx: &Context) -> Result<Vec<SetDir>> {
    let dirs = discover(&ctx.keys)?;
    for wanted in &ctx.sets {
        if !dirs.iter().any(|d| &d.path == wanted) {
            let shown = if wanted.is_empty() { "." } else { wanted };
            return Err(Error::Usage(format!(
                "--set {shown}: no key set at {} (a set is a directory with keyset.toml or key files)",
                ctx.keys.join(wanted).display()
            )));
        }
    }
    Ok(dirs)
}

/// True when the run selects the set at `dir` (every set without `--set`).
fn is_selected(ctx: &Context, dir: &SetDir) -> bool {
    ctx.all_sets() || ctx.sets.contains(&dir.path)
}

/// Loads `dirs` on all cores, then prints their warnings in set order.
fn load_batch(
    ctx: &Context,
    dirs: &[&SetDir],
    load_one: &(impl Fn(&SetDir) -> Result<(KeySet, Vec<String>)> + Sync),
) -> Result<Vec<KeySet>> {
    let loaded: Vec<(KeySet, Vec<String>)> = dirs.par_iter().map(|d| load_one(d)).collect::<Result<_>>()?;
    let mut sets = Vec::with_capacity(loaded.len());
    for (set, warnings) in loaded {
        for w in warnings {
            ctx.ui.warn(&w);
        }
        sets.push(set);
    }
    Ok(sets)
}

impl Loaded {
    /// Warns when `out/public/` of every set (selected or not: the whole site is deployed)
    /// passes a host's limit on the files of a site ([`crate::file_limits`]).
    pub(crate) fn warn_file_count(&self, ui: &Ui) {
        warn_file_count(ui, &count_files(&self.dirs, &self.sets));
    }
}

/// The files of the site of the sets at `dirs` (in walk order), counted by the policy of the set
/// of `loaded` at that path, else by the set's `keyset.toml` (the default policy when that
/// cannot be read: its own command reports it).
pub(crate) fn count_files(dirs: &[SetDir], loaded: &[KeySet]) -> FileCount {
    let by_path: std::collections::HashMap<&str, &crate::config::KeysetConfig> =
        loaded.iter().map(|s| (s.path.as_str(), &s.config)).collect();
    let configs: Vec<Option<crate::config::KeysetConfig>> = dirs
        .par_iter()
        .map(|d| match by_path.contains_key(d.path.as_str()) {
            true => None,
            false => Some(crate::keydir::config_of(d).map(|(c, _)| c).unwrap_or_default()),
        })
        .collect();
    let mut count = FileCount::default();
    for (dir, read) in dirs.iter().zip(&configs) {
        count.add(&dir.path, read.as_ref().unwrap_or_else(|| by_path[dir.path.as_str()]));
    }
    count
}

/// Warns when a site of `count` files passes a host's limit on the files of a site (the hidden
/// test hook `JWKSMITH_FILE_LIMITS` lowers the limits).
pub(crate) fn warn_file_count(ui: &Ui, count: &FileCount) {
    let limits = crate::file_limits::limits(std::env::var("JWKSMITH_FILE_LIMITS").ok().as_deref());
    if let Some(warning) = crate::file_limits::warning(count.total(), &limits) {
        ui.warn(&warning);
    }
}

/// Ownership of a `--set` run: the selected sets' own files, not nested sets', not site files.
pub struct SetOwnership {
    selected: Vec<String>,
    others: Vec<String>,
}

impl SetOwnership {
    /// Ownership for the selected publish paths among all set directories.
    pub fn new(selected: &[String], dirs: &[SetDir]) -> Self {
        SetOwnership {
            selected: selected.to_vec(),
            others: dirs.iter().map(|d| d.path.clone()).filter(|p| !selected.contains(p)).collect(),
        }
    }
}

fn under(rel_in_area: &str, set: &str) -> bool {
    set.is_empty() || rel_in_area == set || rel_in_area.starts_with(&format!("{set}/"))
}

impl Ownership for SetOwnership {
    fn owns(&self, rel: &str) -> bool {
        let Some(inner) = rel.strip_prefix("public/").or_else(|| rel.strip_prefix("private/")) else {
            return false;
        };
        if (rel.starts_with("public/") && crate::site::is_site_file(inner))
            || inner.starts_with("api/")
            || inner.starts_with("projects/")
        {
            return false;
        }
        let best = |paths: &[String]| paths.iter().filter(|p| under(inner, p)).map(String::len).max();
        match (best(&self.selected), best(&self.others)) {
            (Some(mine), Some(theirs)) => mine >= theirs,
            (Some(_), None) => true,
            _ => false,
        }
    }
}
