//! `jwksmith prune`: delete the files of expired and revoked keys, once no `jwks.json` and
//! nothing under `out/private/` holds them. Metadata goes first, so an interrupted prune leaves
//! an unfinished key that the next `rotate` cleans up, never a half-published one.

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
    // Held for the whole run, and keys/ loaded only once it is held: an overlapping command
    // waits, then acts on what this one leaves.
    let (_lock, ctx) = crate::lock::lock_keys(ctx)?;
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
            let mut files = key.files.clone();
            files.sort_by_key(|f| !f.to_string_lossy().ends_with(".meta.json"));
            for file in &files {
                std::fs::remove_file(file).map_err(|e| Error::io(file, e))?;
            }
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
