//! `jwksmith prune`: delete the files of expired and revoked keys, once no `jwks.json` and
//! nothing under `out/private/` holds them. Metadata goes first, so an interrupted prune leaves
//! an unfinished key that the next command that changes keys/ cleans up (a record says it is
//! jwksmith's), never a half-published one.

use std::path::Path;

use crate::cmd::{Context, load};
use crate::error::{Error, Result};
use crate::lifecycle::State;
use crate::model::Key;

/// Where a key still appears under `out/`, if anywhere.
fn still_published(out: &Path, key: &Key) -> Result<Option<String>> {
    let pem = key.material.pkcs8_pem();
    for rel in crate::write::existing_files(out)? {
        let path = out.join(&rel);
        if rel.ends_with("jwks.json") || rel.ends_with("/get") {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let listed = serde_json::from_slice::<serde_json::Value>(&bytes).ok().is_some_and(|v| {
                v["keys"].as_array().is_some_and(|keys| keys.iter().any(|k| k["kid"] == key.meta.kid.as_str()))
            });
            if listed {
                return Ok(Some(rel));
            }
        } else if rel.starts_with("private/") && rel.ends_with(".pem") && pem.is_some() {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            if pem.as_deref().map(str::as_bytes) == Some(bytes.as_slice()) {
                return Ok(Some(rel));
            }
        }
    }
    Ok(None)
}

/// Runs `prune`.
pub fn run(ctx: &Context) -> Result<()> {
    let (_lock, ctx) = crate::cmd::change_keys(ctx)?;
    let ctx = &ctx;
    let loaded = load(ctx)?;
    let mut pruned = 0;
    for set in &loaded.sets {
        for key in set.keys.iter().filter(|k| matches!(k.state(ctx.now), State::Expired | State::Revoked)) {
            if let Some(rel) = still_published(&ctx.out, key)? {
                ctx.ui.warn(&format!(
                    "set {}: kept {}: it is still in {}; run `jwksmith build` first",
                    set.display_path(),
                    key.kid(),
                    ctx.out.join(rel).display()
                ));
                continue;
            }
            // Under a record (an interrupted prune is finished by the next command that changes
            // keys/), in an order that never publishes the key again: managed files without their
            // metadata are an unfinished key, but a hand-dropped file without it would be a
            // current key, so that file goes first.
            let mut files = key.files.clone();
            let is_meta = |f: &std::path::PathBuf| f.to_string_lossy().ends_with(".meta.json");
            files.sort_by_key(|f| if key.hand_dropped { is_meta(f) } else { !is_meta(f) });
            crate::keystore::remove_key(&ctx.keys, &set.path, key.kid(), &files)?;
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            ctx.ui.report(&format!("set {}: pruned {} ({})", set.display_path(), key.kid(), names.join(", ")));
            pruned += 1;
        }
    }
    if pruned == 0 {
        ctx.ui.report("nothing to prune");
    } else {
        ctx.ui.report("next: `jwksmith build` drops them from jwt-keys.json");
    }
    Ok(())
}
