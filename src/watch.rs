//! `jwksmith watch`: build, then rebuild within a second of any change under `keys/` or the
//! templates, and at the next scheduled state change. Render-only: it never creates or rotates
//! keys. A bad edit prints the error and the last good `out/` stays in place.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use crate::cmd::{Context, build};
use crate::error::{Error, Result};
use crate::times::Timestamp;

/// How long the debouncer waits for a burst of saves to settle.
pub const DEBOUNCE: Duration = Duration::from_millis(75);

/// True for files editors and jwksmith write on the side: swap, backup, lock and temp files.
pub fn is_noise(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name == "4913"
        || [".swp", ".swx", ".swo", ".tmp", ".bak", ".part"].iter().any(|s| name.ends_with(s))
}

/// Builds; returns the next instant at which a key may change state (`None` after an error,
/// or when no change is scheduled).
fn rebuild(ctx: &Context, on_built: &dyn Fn()) -> Option<Timestamp> {
    match build::run(ctx, false) {
        Ok(built) => {
            on_built();
            built.next_change
        }
        Err(e) => {
            eprintln!("error: {e}\n  (still watching; the last good output is in place)");
            None
        }
    }
}

fn under(path: &Path, dir: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(path).starts_with(canon(dir)) || path.starts_with(dir)
}

/// Builds, then rebuilds on changes until the process ends. `on_built` runs after each good build.
pub fn run(ctx: &Context, on_built: &dyn Fn()) -> Result<()> {
    // An --out it may not write is refused at once (a build would refuse it every time).
    crate::outdir::check_owned(ctx)?;
    let mut ctx = ctx.clone();
    let fixed_clock = ctx.now_fixed;
    let refresh = |ctx: &mut Context| {
        if !fixed_clock {
            ctx.now = Timestamp::now();
        }
    };
    let mut next_change = rebuild(&ctx, on_built);
    let (tx, rx) = channel::<DebounceEventResult>();
    let mut debouncer =
        new_debouncer(DEBOUNCE, None, tx).map_err(|e| Error::Failed(format!("cannot watch files: {e}")))?;
    let mut watched: Vec<PathBuf> = vec![ctx.keys.clone()];
    if ctx.templates.is_dir() {
        watched.push(ctx.templates.clone());
    }
    for dir in &watched {
        debouncer
            .watch(dir, RecursiveMode::Recursive)
            .map_err(|e| Error::Failed(format!("cannot watch {}: {e}", dir.display())))?;
    }
    // A templates directory made later is seen from its parent, then watched itself.
    let mut templates_missing = !ctx.templates.is_dir();
    if templates_missing {
        let parent = ctx.templates.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        // Without it, template changes are seen at the next change under keys/: no error.
        let _ = debouncer.watch(parent, RecursiveMode::NonRecursive);
    }
    ctx.ui.report(&format!(
        "watching {} for changes (Ctrl-C to stop)",
        watched.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" and ")
    ));
    loop {
        let wait = if fixed_clock {
            Duration::from_secs(3600)
        } else {
            match next_change {
                Some(at) => Duration::from_secs((at.unix() - Timestamp::now().unix()).clamp(0, 3600) as u64 + 1),
                None => Duration::from_secs(3600),
            }
        };
        match rx.recv_timeout(wait) {
            Ok(Ok(events)) => {
                if templates_missing && ctx.templates.is_dir() {
                    templates_missing = debouncer.watch(&ctx.templates, RecursiveMode::Recursive).is_err();
                }
                let relevant: Vec<&PathBuf> = events
                    .iter()
                    .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
                    .flat_map(|e| e.event.paths.iter())
                    .filter(|p| !is_noise(p) && !under(p, &ctx.out))
                    // The parent of a missing templates directory reports its other entries too.
                    .filter(|p| under(p, &ctx.keys) || under(p, &ctx.templates))
                    .collect();
                if relevant.is_empty() {
                    continue;
                }
                for path in &relevant {
                    ctx.ui.note(&format!("changed {}", path.display()));
                }
                refresh(&mut ctx);
                next_change = rebuild(&ctx, on_built);
            }
            Ok(Err(errors)) => {
                for e in errors {
                    eprintln!("warning: file watching reported an error: {e}");
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if !fixed_clock {
                    refresh(&mut ctx);
                    next_change = rebuild(&ctx, on_built);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Error::Failed("the file watcher stopped".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
