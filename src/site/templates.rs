//! Reading the template overrides from the templates directory: the site's only I/O.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

use super::{Site, TEMPLATES};

/// A template of the templates directory that replaces an embedded default.
pub(crate) struct Override {
    /// The template's name.
    pub(crate) name: &'static str,
    /// Its text, or why it could not be read (reported in template order by [`super::Site::new`]).
    pub(crate) text: Result<String>,
    /// The file.
    pub(crate) path: PathBuf,
}

/// The overrides in `dir`, in template order: anything at a template's path is read (a FIFO,
/// socket, device or huge file is an error naming it); only a path where nothing is leaves the
/// embedded default.
pub(crate) fn read(dir: &Path) -> Vec<Override> {
    TEMPLATES
        .iter()
        .map(|(name, _)| (*name, dir.join(name)))
        .filter(|(_, path)| std::fs::symlink_metadata(path).is_ok())
        .map(|(name, path)| {
            let text = crate::keydir::read_input(&path).and_then(|bytes| {
                String::from_utf8(bytes)
                    .map_err(|_| Error::input(&path, "template is not UTF-8 text", "save it as UTF-8"))
            });
            Override { name, text, path }
        })
        .collect()
}

/// The site with the overrides in `dir` ([`read`], [`Site::new`]). A missing `dir` means no
/// overrides; one that is not a directory, or holds a FIFO, socket or device (or a link to
/// one) under any name, is an error naming it.
pub(crate) fn load(dir: &Path) -> Result<Site> {
    check_dir(dir)?;
    Site::new(read(dir))
}

fn check_dir(dir: &Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(dir) else { return Ok(()) };
    if !meta.is_dir() {
        return Err(Error::input(
            dir,
            "is not a directory: the templates directory holds template overrides",
            "pass a directory with --templates DIR, or remove it to use the embedded templates",
        ));
    }
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.flatten() {
        let path = entry.path();
        if let Some(kind) = std::fs::metadata(&path).ok().and_then(|m| crate::keydir::special_kind(m.file_type())) {
            return Err(crate::keydir::not_regular(&path, kind));
        }
    }
    Ok(())
}
