//! `jwksmith init [DIR] [--for P]`: a default (or relying-party) `keys/keyset.toml`,
//! `site-template/README` and `.gitignore` lines; `--set PATH` a new set only. Never overwrites a
//! file.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd::Context;
use crate::config::DEFAULT_KEYSET_TOML;
use crate::error::{Error, Result};

pub use super::init_for::Party;

/// Lines `init` makes sure `.gitignore` has.
pub(crate) const GITIGNORE_LINES: [&str; 3] = ["*.key.pem", "out/private/", "target/"];

const TEMPLATE_README: &str = "\
Site templates for jwksmith.

A file here with the name of an embedded template replaces it: index.html (the layout of
every page), index-set.html (one set's section of its page), _headers, .nojekyll, 404.html.
Templates use minijinja (Jinja2 syntax). Delete a file to get the embedded default back.
";

/// `path` as given when absolute, else taken relative to `dir` (the directory `init` sets up).
fn resolve_in(dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { dir.join(path) }
}

fn create_new(ctx: &Context, path: &Path, text: &str) -> Result<()> {
    if path.exists() {
        ctx.ui.report(&format!("kept    {} (exists)", path.display()));
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        crate::write::make_dirs(parent).map_err(|e| Error::io(parent, e))?;
    }
    crate::write::write_atomic(path, text.as_bytes(), 0o644, true)?;
    ctx.ui.report(&format!("created {}", path.display()));
    Ok(())
}

/// The `.gitignore` text with the missing lines appended (`None` when nothing is missing).
pub(crate) fn gitignore_with_lines(existing: &str) -> Option<String> {
    let have: Vec<&str> = existing.lines().map(str::trim).collect();
    let missing: Vec<&str> = GITIGNORE_LINES.iter().copied().filter(|l| !have.contains(l)).collect();
    if missing.is_empty() {
        return None;
    }
    let mut text = existing.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for line in missing {
        text.push_str(line);
        text.push('\n');
    }
    Some(text)
}

/// Runs `init` in `dir`: `--for` picks the keyset.toml, `--set` makes new sets only.
pub fn run(ctx: &Context, dir: &Path, party: Option<Party>) -> Result<()> {
    let keyset = party.map(super::init_for::keyset_toml);
    let keyset = keyset.as_deref().unwrap_or(DEFAULT_KEYSET_TOML);
    if !ctx.all_sets() {
        return super::init_for::new_sets(ctx, &resolve_in(dir, &ctx.keys), keyset);
    }
    create_new(ctx, &resolve_in(dir, &ctx.keys).join("keyset.toml"), keyset)?;
    create_new(ctx, &resolve_in(dir, &ctx.templates).join("README"), TEMPLATE_README)?;
    let ignore = dir.join(".gitignore");
    let existing = match fs::read_to_string(&ignore) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(&ignore, e)),
    };
    if let Some(text) = gitignore_with_lines(&existing) {
        crate::write::write_atomic(&ignore, text.as_bytes(), 0o644, true)?;
        ctx.ui.report(&format!("updated {}", ignore.display()));
    }
    ctx.ui.notice("next: `jwksmith rotate` makes the first keys, `jwksmith build` writes out/");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_only_missing_lines() {
        assert_eq!(gitignore_with_lines("target/\n*.key.pem").unwrap(), "target/\n*.key.pem\nout/private/\n");
        assert_eq!(gitignore_with_lines("*.key.pem\nout/private/\ntarget/\n"), None);
    }
}
