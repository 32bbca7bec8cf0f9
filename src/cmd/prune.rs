//! `jwksmith prune`: delete the files of expired and revoked keys, once their own set's
//! `jwks.json` and `out/private/` files no longer hold them (a key of the same kid in another set
//! does not count). Metadata goes first, so an interrupted prune leaves an unfinished key that
//! the next command that changes keys/ cleans up (a record says it is jwksmith's), never a
//! half-published one.

use std::path::Path;

use crate::cmd::{Context, load};
use crate::error::{Error, Result};
use crate::layout::set_prefix;
use crate::lifecycle::State;
use crate::model::{Key, KeySet};

/// The files of `set`'s own outputs that can list a key: its `jwks.json` (and the copies at
/// `.well-known/` and its API mirror) and its `out/private/` files, not a nested set's.
fn own_files(out: &Path, set: &KeySet) -> Result<Vec<String>> {
    let prefix = set_prefix(&set.path);
    let mut files = vec![
        format!("public/{prefix}jwks.json"),
        format!("public/{prefix}.well-known/jwks.json"),
        format!("private/{prefix}jwks.json"),
    ];
    if set.config.api_mirrors {
        files.push(format!("public/api/{}/service/jwks/get", set.config.service_id));
    }
    let private = out.join(format!("private/{prefix}"));
    match std::fs::read_dir(&private) {
        Ok(entries) => {
            let mut pems = Vec::new();
            for entry in entries {
                let name = entry.map_err(|e| Error::io(&private, e))?.file_name();
                let name = name.to_string_lossy();
                if name.ends_with(".pem") {
                    pems.push(format!("private/{prefix}{name}"));
                }
            }
            pems.sort();
            files.extend(pems);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&private, e)),
    }
    Ok(files)
}

/// Where a key of `set` still appears among the set's own outputs under `out/`, if anywhere.
fn still_published(out: &Path, set: &KeySet, key: &Key) -> Result<Option<String>> {
    let pem = key.material.pkcs8_pem();
    for rel in own_files(out, set)? {
        let path = out.join(&rel);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&path, e)),
        };
        if rel.ends_with(".pem") {
            if pem.as_deref().map(str::as_bytes) == Some(bytes.as_slice()) {
                return Ok(Some(rel));
            }
            continue;
        }
        let listed = serde_json::from_slice::<serde_json::Value>(&bytes).ok().is_some_and(|v| {
            v["keys"].as_array().is_some_and(|keys| keys.iter().any(|k| k["kid"] == key.meta.kid.as_str()))
        });
        if listed {
            return Ok(Some(rel));
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
            if let Some(rel) = still_published(&ctx.out, set, key)? {
                ctx.ui.warn(&format!(
                    "set {}: kept {}: it is still in {}; run `jwksmith build` first",
                    set.display_path(),
                    key.kid(),
                    crate::error::Shown(&ctx.out.join(rel))
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
        ctx.ui.notice("next: `jwksmith build` drops them from jwt-keys.json");
    }
    Ok(())
}
