//! `jwksmith watch`: build, then rebuild within a second of any change under `keys/` or the
//! templates, and at the next scheduled state change. Render-only: it never creates or rotates
//! keys. A bad edit prints the error and the last good `out/` stays in place.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, DebouncedEvent, new_debouncer};

use crate::cmd::{Context, build};
use crate::error::{Error, Result};
use crate::times::Timestamp;

/// How long the debouncer waits for a burst of saves to settle.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(50);

/// True for files editors and jwksmith write on the side: swap, backup, lock and temp files.
pub(crate) fn is_noise(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name == "4913"
        || [".swp", ".swx", ".swo", ".tmp", ".bak", ".part"].iter().any(|s| name.ends_with(s))
}

/// Builds; returns the next instant at which a key may change state (`None` after an error,
/// or when no change is scheduled). An error is printed as main prints one, and watching goes on.
fn rebuild(ctx: &Context) -> Option<Timestamp> {
    match build::run(ctx, false) {
        Ok(built) => built.next_change,
        Err(e) => {
            ctx.ui.error(&e);
            ctx.ui.always("  (still watching; the last good output is in place)");
            None
        }
    }
}

/// True when `path` is `dir` or inside it, as named or once both are resolved.
fn is_inside(path: &Path, dir: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(path).starts_with(canon(dir)) || path.starts_with(dir)
}

/// True for a path inside a hidden directory under `dir` (such as `keys/.jwksmith/`, where
/// jwksmith keeps its locks and temporary files): no walk of `keys/` reads those.
fn in_hidden_dir(path: &Path, dir: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let parent = path.parent().map(canon).unwrap_or_default();
    parent.strip_prefix(canon(dir)).is_ok_and(|rel| rel.iter().any(|part| part.as_encoded_bytes().starts_with(b".")))
}

/// A directory `watch` follows (`keys/`, the templates): watched recursively while it exists, and
/// watched again when it is replaced — moved away and recreated, or removed and restored — since
/// a watch stays with the directory it was put on, wherever that goes.
struct Tree {
    /// As given (`--keys`, `--templates`).
    path: PathBuf,
    /// Absolute, as notify names it in events.
    abs: PathBuf,
    /// Device and inode of the directory being watched; `None` while none is.
    id: Option<(u64, u64)>,
}

impl Tree {
    fn new(path: &Path) -> Self {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        Tree { path: path.to_path_buf(), abs, id: dir_id(path) }
    }

    /// Where the directory's return shows.
    fn parent(&self) -> Option<&Path> {
        self.abs.parent()
    }

    /// Puts the watch on the directory now at `path` when an event names the directory itself
    /// (made, removed, moved; seen from its parent) or another one is there (an inode number
    /// can be reused at once, hence both). True when the watch moved.
    fn follow<W: notify::Watcher, C: notify_debouncer_full::FileIdCache>(
        &mut self,
        debouncer: &mut notify_debouncer_full::Debouncer<W, C>,
        events: &[DebouncedEvent],
    ) -> bool {
        let named = events
            .iter()
            .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
            .any(|e| e.event.paths.contains(&self.abs));
        let now = dir_id(&self.path);
        if !named && now == self.id {
            return false;
        }
        // notify may have dropped the old watch already (when it saw the directory go).
        let _ = debouncer.unwatch(&self.path);
        // A directory that cannot be watched yet is tried again at the next event.
        self.id = now.filter(|_| debouncer.watch(&self.path, RecursiveMode::Recursive).is_ok());
        true
    }
}

/// The device and inode of the directory at `path`.
fn dir_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().filter(|m| m.is_dir()).map(|m| (m.dev(), m.ino()))
}

/// The debouncer `watch` uses.
type Debouncer = notify_debouncer_full::Debouncer<notify::RecommendedWatcher, notify_debouncer_full::RecommendedCache>;

/// The watches on `keys/`, the templates and their parents, and the channel their events come on.
struct Watches {
    debouncer: Debouncer,
    events: Receiver<DebounceEventResult>,
    trees: [Tree; 2],
}

impl Watches {
    /// Watches `keys/` and the templates (those that exist), and their parents.
    fn start(ctx: &Context) -> Result<Self> {
        let (tx, events) = channel::<DebounceEventResult>();
        let mut debouncer =
            new_debouncer(DEBOUNCE, None, tx).map_err(|e| Error::Failed(format!("cannot watch files: {e}")))?;
        let trees = [Tree::new(&ctx.keys), Tree::new(&ctx.templates)];
        for tree in trees.iter().filter(|t| t.id.is_some()) {
            debouncer
                .watch(&tree.path, RecursiveMode::Recursive)
                .map_err(|e| Error::Failed(format!("cannot watch {}: {e}", tree.path.display())))?;
        }
        // The parents show a directory made later, or made again after it was moved away or
        // removed. Without them, such a directory is seen at the next change of the other one:
        // no error.
        let mut parents: Vec<&Path> = trees.iter().filter_map(Tree::parent).collect();
        parents.dedup();
        for parent in parents {
            let _ = debouncer.watch(parent, RecursiveMode::NonRecursive);
        }
        Ok(Watches { debouncer, events, trees })
    }

    /// The directories watched, as the user named them: `keys and site-template`.
    fn watched(&self) -> String {
        let paths: Vec<String> =
            self.trees.iter().filter(|t| t.id.is_some()).map(|t| t.path.display().to_string()).collect();
        paths.join(" and ")
    }

    /// Follows the trees that `events` show replaced, and says whether they call for a rebuild:
    /// a replaced tree, or a change under `keys/` or the templates that is not noise, not in
    /// `out/` and not in a hidden directory of `keys/`. Notes (`-v`) what it saw.
    fn call_for_rebuild(&mut self, ctx: &Context, events: &[DebouncedEvent]) -> bool {
        let mut replaced = false;
        for tree in &mut self.trees {
            if tree.follow(&mut self.debouncer, events) {
                let path = tree.path.display();
                ctx.ui.note(&match tree.id {
                    Some(_) => format!("watching {path} (a new directory)"),
                    None => format!("{path} is gone; watching for it to come back"),
                });
                replaced = true;
            }
        }
        let relevant: Vec<&PathBuf> = events
            .iter()
            .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
            .flat_map(|e| e.event.paths.iter())
            .filter(|p| !is_noise(p) && !is_inside(p, &ctx.out) && !in_hidden_dir(p, &ctx.keys))
            // The parents report their other entries too.
            .filter(|p| is_inside(p, &ctx.keys) || is_inside(p, &ctx.templates))
            .collect();
        for path in &relevant {
            ctx.ui.note(&format!("changed {}", path.display()));
        }
        replaced || !relevant.is_empty()
    }
}

/// How long to wait for events: until just after the next scheduled state change, at most an
/// hour (and always an hour on a `--now` clock, which no schedule moves).
fn wait(ctx: &Context, next_change: Option<Timestamp>) -> Duration {
    match next_change.filter(|_| !ctx.now_fixed) {
        Some(at) => Duration::from_secs((at.unix() - Timestamp::now().unix()).clamp(0, 3600) as u64 + 1),
        None => Duration::from_secs(3600),
    }
}

/// What every build of a watch would refuse, refused before it starts (`serve` too, before it
/// listens): an `--out` it may not write, and a `--set` that names no set (a usage error, as for
/// `build`) when there is a keys/ to look in (a missing one is waited for).
pub(crate) fn refuse_at_once(ctx: &Context) -> Result<()> {
    crate::outdir::check_owned(&ctx.out, &ctx.keys, &ctx.templates)?;
    if !ctx.all_sets() && ctx.keys.is_dir() {
        crate::cmd::discover_selected(ctx)?;
    }
    Ok(())
}

/// Builds, then rebuilds on changes, and at scheduled state changes, until the process ends.
pub fn run(ctx: &Context) -> Result<()> {
    refuse_at_once(ctx)?;
    let mut ctx = ctx.clone();
    // Watching starts before the first build: a change saved while it runs is not missed.
    let mut watches = Watches::start(&ctx)?;
    let mut next_change = rebuild(&ctx);
    ctx.ui.report(&format!("watching {} for changes (Ctrl-C to stop)", watches.watched()));
    loop {
        let again = match watches.events.recv_timeout(wait(&ctx, next_change)) {
            Ok(Ok(events)) => watches.call_for_rebuild(&ctx, &events),
            Ok(Err(errors)) => {
                for e in errors {
                    // Printed even with `-q`, as it always was.
                    ctx.ui.always(&format!("warning: file watching reported an error: {e}"));
                }
                false
            }
            Err(RecvTimeoutError::Timeout) => !ctx.now_fixed,
            Err(RecvTimeoutError::Disconnected) => return Err(Error::Failed("the file watcher stopped".into())),
        };
        if again {
            if !ctx.now_fixed {
                ctx.now = Timestamp::now();
            }
            next_change = rebuild(&ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_directories_under_keys_are_not_watched() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::create_dir_all(keys.join(".jwksmith/tmp")).unwrap();
        std::fs::create_dir_all(keys.join("tenants/acme")).unwrap();
        for hidden in [".jwksmith/lock", ".jwksmith/tmp/x", ".jwksmith/gone/y"] {
            assert!(in_hidden_dir(&keys.join(hidden), &keys), "{hidden}");
        }
        for seen in ["keyset.toml", "tenants/acme/a.pem", ".hidden-file-is-noise-elsewhere", "tenants"] {
            assert!(!in_hidden_dir(&keys.join(seen), &keys), "{seen}");
        }
        assert!(!in_hidden_dir(&dir.path().join(".git/x"), &keys), "outside keys/");
    }

    #[test]
    fn editor_files_are_noise() {
        for name in [".rsa.pem.swp", "keyset.toml~", "#keyset.toml#", "4913", ".jwksmith-tmp-x.tmp"] {
            assert!(is_noise(Path::new(name)), "{name}");
        }
        for name in ["keyset.toml", "rsa-sig-001.pub.pem", "index.html"] {
            assert!(!is_noise(Path::new(name)), "{name}");
        }
    }
}
