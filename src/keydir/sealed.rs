//! Reading age-encrypted key files (`<kid>.key.age`, `<name>.pem.age`) with the identities of
//! the run: the plaintext stays in memory. A file that is not an age file, or that opens to
//! anything but one private PEM key, is an error naming it, whatever the identity.

use std::path::{Path, PathBuf};

use super::input::read_walked;
use crate::config::KeysetConfig;
use crate::custody::{Opened, identities, open};
use crate::error::{Error, Result, Shown};
use crate::key::{KeyMaterial, parse_pem};
use crate::model::Key;

/// The private key in an age-encrypted file; `None` when no identity of the run opens it.
pub(super) fn read_sealed(path: &Path) -> Result<Option<KeyMaterial>> {
    let bytes = read_walked(path)?;
    let fix = "restore it from git, or delete it and its key's files and run `jwksmith rotate`";
    let plain = match open(&bytes, identities()?) {
        Ok(Opened::Plain(plain)) => plain,
        Ok(Opened::Sealed) => return Ok(None),
        Err(problem) => return Err(Error::input(path, problem, fix)),
    };
    let not_a_key =
        || Error::input(path, "decrypts to something other than one private PEM key (PKCS#8, PKCS#1 or SEC1)", fix);
    let material = parse_pem(&plain).map_err(|_| not_a_key())?;
    if material.secret.is_none() {
        return Err(not_a_key());
    }
    Ok(Some(material))
}

/// The warnings of a set's custody: hand-dropped `.pem.age` files no identity opens (`locked`),
/// an identity that opens none of the set's encrypted keys, and plaintext private keys in a
/// set with recipients.
pub(super) fn custody_warnings(config: &KeysetConfig, keys: &[Key], locked: &[PathBuf]) -> Result<Vec<String>> {
    let mut warnings: Vec<String> = locked
        .iter()
        .map(|path| {
            format!(
                "{}: an age-encrypted key that no identity of this run opens cannot be published (it has no public file); with its identity in JWKSMITH_AGE_IDENTITY, run `jwksmith import {}` to turn it into managed files",
                Shown(path),
                crate::ui::shell_quoted(path)
            )
        })
        .collect();
    let is_age = |f: &&PathBuf| f.to_string_lossy().ends_with(".age");
    let sealed_keys: Vec<&Key> = keys.iter().filter(|k| k.files.iter().any(|f| is_age(&f))).collect();
    let opened = sealed_keys.iter().any(|k| k.has_private());
    if identities()?.any() && !opened && (!sealed_keys.is_empty() || !locked.is_empty()) {
        let files: Vec<String> = sealed_keys
            .iter()
            .flat_map(|k| k.files.iter().filter(is_age))
            .chain(locked)
            .map(|f| Shown(f).to_string())
            .collect();
        warnings.push(format!(
            "no age identity given (JWKSMITH_AGE_IDENTITY, JWKSMITH_AGE_IDENTITY_FILE) opens any encrypted key of this set: {}; they are published without their private part",
            files.join(", ")
        ));
    }
    if !config.recipients.is_empty() {
        for key in keys.iter().filter(|k| k.has_private()) {
            let plain = key.files.iter().find(|f| {
                let name = f.to_string_lossy();
                name.ends_with(".key.pem") || (key.hand_dropped && name.ends_with(".pem"))
            });
            if let Some(file) = plain {
                warnings.push(format!(
                    "{}: a plaintext private key in a set with recipients; run `jwksmith rekey` to encrypt it (it becomes {}.key.age)",
                    Shown(file),
                    key.kid()
                ));
            }
        }
    }
    Ok(warnings)
}
