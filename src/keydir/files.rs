//! The files of a set by name: what each is (private, public, certificate, metadata,
//! hand-dropped key) and which kid it belongs to.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{KEYSET_FILE, SetDir};

/// What a file in a set is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Private,
    Public,
    Cert,
    Meta,
    HandDropped,
    /// `<kid>.key.age`: the private key, age-encrypted.
    Sealed,
    /// `<name>.pem.age`: a hand-dropped key, age-encrypted.
    HandSealed,
}

fn classify(name: &str) -> Option<(FileKind, &str)> {
    let rules = [
        (".key.pem", FileKind::Private),
        (".key.age", FileKind::Sealed),
        (".pem.age", FileKind::HandSealed),
        (".pub.pem", FileKind::Public),
        (".crt.pem", FileKind::Cert),
        (".meta.json", FileKind::Meta),
        (".pem", FileKind::HandDropped),
    ];
    rules.into_iter().find_map(|(suffix, kind)| {
        let stem = name.strip_suffix(suffix)?;
        (!stem.is_empty()).then_some((kind, stem))
    })
}

/// True for the files a walk of `keys/` keeps: `keyset.toml` and key files.
pub(super) fn is_relevant(name: &str) -> bool {
    name == KEYSET_FILE || classify(name).is_some()
}

/// Files of one kid, by kind.
#[derive(Default, Debug)]
pub(super) struct KidFiles {
    pub(super) private: Option<PathBuf>,
    pub(super) public: Option<PathBuf>,
    pub(super) cert: Option<PathBuf>,
    pub(super) meta: Option<PathBuf>,
    pub(super) hand_dropped: Option<PathBuf>,
    pub(super) sealed: Option<PathBuf>,
    pub(super) hand_sealed: Option<PathBuf>,
}

impl KidFiles {
    /// Every file of the kid, in the order private (plaintext, then encrypted), public,
    /// certificate, metadata, hand-dropped (plaintext, then encrypted).
    pub(super) fn all(&self) -> Vec<PathBuf> {
        [&self.private, &self.sealed, &self.public, &self.cert, &self.meta, &self.hand_dropped, &self.hand_sealed]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

/// A set's files sorted out: its `keyset.toml` and the files of each kid, by kid.
pub(super) struct SortedFiles {
    pub(super) config_file: Option<PathBuf>,
    pub(super) by_kid: BTreeMap<String, KidFiles>,
}

/// Sorts a set's files by kid and kind.
pub(super) fn sort_files(set: &SetDir) -> SortedFiles {
    let mut sorted = SortedFiles { config_file: None, by_kid: BTreeMap::new() };
    for path in &set.files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name == KEYSET_FILE {
            sorted.config_file = Some(path.clone());
            continue;
        }
        let Some((kind, kid)) = classify(name) else { continue };
        let slot = sorted.by_kid.entry(kid.to_string()).or_default();
        let field = match kind {
            FileKind::Private => &mut slot.private,
            FileKind::Public => &mut slot.public,
            FileKind::Cert => &mut slot.cert,
            FileKind::Meta => &mut slot.meta,
            FileKind::HandDropped => &mut slot.hand_dropped,
            FileKind::Sealed => &mut slot.sealed,
            FileKind::HandSealed => &mut slot.hand_sealed,
        };
        *field = Some(path.clone());
    }
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_classify() {
        assert_eq!(classify("rsa-sig-001.key.pem"), Some((FileKind::Private, "rsa-sig-001")));
        assert_eq!(classify("a.pub.pem"), Some((FileKind::Public, "a")));
        assert_eq!(classify("a.meta.json"), Some((FileKind::Meta, "a")));
        assert_eq!(classify("legacy.pem"), Some((FileKind::HandDropped, "legacy")));
        assert_eq!(classify("a.key.age"), Some((FileKind::Sealed, "a")));
        assert_eq!(classify("legacy.pem.age"), Some((FileKind::HandSealed, "legacy")));
        assert_eq!(classify("notes.txt"), None);
        assert_eq!(classify(".pem"), None);
    }
}
