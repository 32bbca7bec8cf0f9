//! Writing a key's files into its set directory in crash-safe order: private key (0600, in a
//! 0700 directory), public key, certificate, and the metadata last as the commit point.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::key::KeyMaterial;
use crate::meta::Meta;
use crate::write::{ensure_dir, write_atomic};

/// The files of a new key, ready to write.
pub struct NewKey<'a> {
    /// Set directory.
    pub dir: &'a Path,
    /// Key material (the private file is written when the secret is present).
    pub material: &'a KeyMaterial,
    /// Certificate PEM, when `x5c` is on.
    pub cert_pem: Option<&'a str>,
    /// Metadata (its kid names the files).
    pub meta: &'a Meta,
    /// Indent the metadata.
    pub pretty: bool,
}

/// Writes the key's files; returns their paths. Metadata is written last.
pub fn write_new_key(key: &NewKey) -> Result<Vec<PathBuf>> {
    let kid = &key.meta.kid;
    let mut written = Vec::new();
    if let Some(pem) = key.material.pkcs8_pem() {
        ensure_dir(key.dir, 0o700)?;
        let path = key.dir.join(format!("{kid}.key.pem"));
        write_atomic(&path, pem.as_bytes(), 0o600, true)?;
        written.push(path);
    } else if !key.dir.is_dir() {
        std::fs::create_dir_all(key.dir).map_err(|e| Error::io(key.dir, e))?;
    }
    let path = key.dir.join(format!("{kid}.pub.pem"));
    write_atomic(&path, key.material.public.spki_pem().as_bytes(), 0o644, true)?;
    written.push(path);
    if let Some(cert) = key.cert_pem {
        let path = key.dir.join(format!("{kid}.crt.pem"));
        write_atomic(&path, cert.as_bytes(), 0o644, true)?;
        written.push(path);
    }
    written.push(write_meta(key.dir, key.meta, key.pretty)?);
    Ok(written)
}

/// Writes (or replaces) `<kid>.meta.json` atomically.
pub fn write_meta(dir: &Path, meta: &Meta, pretty: bool) -> Result<PathBuf> {
    let path = dir.join(format!("{}.meta.json", meta.kid));
    write_atomic(&path, &meta.to_json(pretty), 0o644, true)?;
    Ok(path)
}
