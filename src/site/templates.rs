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

/// The site with the overrides in `dir` ([`read`], [`Site::new`]).
pub(crate) fn load(dir: &Path) -> Result<Site> {
    Site::new(read(dir))
}
