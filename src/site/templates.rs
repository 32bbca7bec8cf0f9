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
/// one) or a file over 1 MiB under any name, is an error naming it.
pub(crate) fn load(dir: &Path) -> Result<Site> {
    Site::new(read_checked(dir)?)
}

/// The overrides in `dir` ([`read`]) once `dir` checks out as for [`load`].
pub(crate) fn read_checked(dir: &Path) -> Result<Vec<Override>> {
    check_dir(dir)?;
    Ok(read(dir))
}

/// What a build's record keeps of the templates: for each template, in template order, a
/// digest of its override's text (`None`: the embedded default).
pub(crate) type Digests = Vec<Option<[u8; 16]>>;

/// The [`Digests`] of `overrides`, taken from the very texts the site renders with (stamps of
/// a template saved just before a build would prove nothing: the next build would render every
/// page again). `None` when one could not be read: the build fails naming it.
pub(crate) fn digests(overrides: &[Override]) -> Option<Digests> {
    TEMPLATES
        .iter()
        .map(|(name, _)| match overrides.iter().find(|o| o.name == *name) {
            Some(o) => o.text.as_ref().ok().map(|text| Some(crate::stamp::digest(text.as_bytes()))),
            None => Some(None),
        })
        .collect()
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
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if let Some(kind) = crate::keydir::special_kind(meta.file_type()) {
            return Err(crate::keydir::not_regular(&path, kind));
        }
        crate::keydir::check_size(&path, meta.len())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests_in(dir: &Path) -> Option<Digests> {
        digests(&read_checked(dir).unwrap())
    }

    #[test]
    fn digests_follow_the_texts_not_the_stamps() {
        let dir = tempfile::tempdir().unwrap();
        let none = digests_in(dir.path()).unwrap();
        assert_eq!(none, vec![None; TEMPLATES.len()], "no override: every template its default");

        let page = dir.path().join("index.html");
        std::fs::write(&page, "<h1>Custom</h1>").unwrap();
        let custom = digests_in(dir.path()).unwrap();
        assert!(custom[0].is_some() && custom[1..].iter().all(Option::is_none), "{custom:?}");
        // Read again at once (a stamp would be racy): the same text, the same digest.
        assert_eq!(digests_in(dir.path()).unwrap(), custom);
        // The same length and, within a clock tick, the same stamp: another digest.
        std::fs::write(&page, "<h1>Kustom</h1>").unwrap();
        assert_ne!(digests_in(dir.path()).unwrap(), custom);
        std::fs::write(&page, "<h1>Custom</h1>").unwrap();
        assert_eq!(digests_in(dir.path()).unwrap(), custom, "the text restored");

        // Unreadable as a template (not UTF-8): no digests, and the build fails naming it.
        std::fs::write(dir.path().join("404.html"), [0xff, 0xfe]).unwrap();
        assert_eq!(digests_in(dir.path()), None);
    }
}
