//! Reading the files of one kid into a [`Key`]: the key material (the private and public files
//! must agree), its metadata (given, or defaulted for a hand-dropped key) and its certificate.

use std::path::{Path, PathBuf};

use super::KeyCheck;
use super::files::KidFiles;
use super::input::read_walked;
use super::sealed::read_sealed;
use crate::config::KeysetConfig;
use crate::error::{Error, Result, Shown};
use crate::jose::{Use, default_alg};
use crate::key::{KeyMaterial, parse_pem};
use crate::meta::{self, Meta};
use crate::model::{Key, Unfinished};

/// What the files of one kid make.
pub(super) enum KidRead {
    /// A finished key.
    Key(Box<Key>),
    /// Key files without metadata.
    Unfinished(Unfinished),
    /// A hand-dropped `<name>.pem.age` that no identity of the run opens: it has no public
    /// file, so there is nothing to publish.
    Locked(PathBuf),
    /// Nothing to read (no key file and no metadata).
    Nothing,
}

/// Reads the files of `kid`, validating the key and running `check` on it.
pub(super) fn read_kid(kid: &str, files: &KidFiles, config: &KeysetConfig, check: &KeyCheck<'_>) -> Result<KidRead> {
    let managed = files.private.as_ref().or(files.sealed.as_ref()).or(files.public.as_ref());
    let hand = files.hand_dropped.as_ref().or(files.hand_sealed.as_ref());
    let twice = match (&files.hand_dropped, &files.hand_sealed) {
        (Some(plain), Some(sealed)) => Some((plain, sealed)),
        _ => hand.zip(managed),
    };
    if let Some((hand, other)) = twice {
        return Err(Error::input(
            hand,
            format!("kid `{kid}` is defined twice (also by {})", Shown(other)),
            "kids must be unique in a set: remove one of the two files",
        ));
    }
    if files.meta.is_none() && hand.is_none() {
        if managed.is_some() || files.cert.is_some() {
            let private = files.private.is_some() || files.sealed.is_some();
            return Ok(KidRead::Unfinished(Unfinished { kid: kid.to_string(), files: files.all(), private }));
        }
        return Ok(KidRead::Nothing);
    }
    let Some(key_file) = hand.or(managed) else {
        let meta = files.meta.as_ref().expect("meta present");
        return Err(Error::input(
            meta,
            format!("metadata of kid `{kid}` has no key file beside it ({kid}.pub.pem or {kid}.key.pem)"),
            "restore the key files, or delete the metadata if the key is gone",
        ));
    };
    let material = match &files.hand_sealed {
        Some(path) => match read_sealed(path)? {
            Some(material) => material,
            None => return Ok(KidRead::Locked(path.clone())),
        },
        None => read_material(kid, files)?,
    };
    read_key(kid, files, key_file, material, config, check).map(|key| KidRead::Key(Box::new(key)))
}

fn read_key(
    kid: &str,
    files: &KidFiles,
    key_file: &Path,
    material: KeyMaterial,
    config: &KeysetConfig,
    check: &KeyCheck<'_>,
) -> Result<Key> {
    let meta = match &files.meta {
        Some(path) => read_meta(path, kid, &material)?,
        None => default_meta(kid, &material),
    };
    if let Err(problem) = check(&material, &meta) {
        let file = files.private.as_deref().or(files.sealed.as_deref()).unwrap_or(key_file);
        return Err(Error::input(file, problem, "replace the key pair; `jwksmith rotate` makes a new one"));
    }
    let cert_der = match &files.cert {
        Some(path) if config.x5c => Some(read_cert(path, &material)?),
        _ => None,
    };
    Ok(Key { meta, material, cert_der, files: files.all(), hand_dropped: hand_of(files) })
}

fn hand_of(files: &KidFiles) -> bool {
    files.hand_dropped.is_some() || files.hand_sealed.is_some()
}

fn parse_file(path: &Path, bytes: &[u8]) -> Result<KeyMaterial> {
    parse_pem(bytes)
        .map_err(|p| Error::input(path, p, "replace it with a valid PEM key (PKCS#8, PKCS#1, SEC1 or SPKI)"))
}

fn read_and_parse(path: &PathBuf) -> Result<(&PathBuf, KeyMaterial)> {
    Ok((path, parse_file(path, &read_walked(path)?)?))
}

/// The key material of a kid: its hand-dropped file, or its private and public files, which
/// must hold what their names say and the same public key.
fn read_material(kid: &str, files: &KidFiles) -> Result<KeyMaterial> {
    if let Some(path) = &files.hand_dropped {
        return parse_file(path, &read_walked(path)?);
    }
    let private = match (&files.private, &files.sealed) {
        (Some(path), _) => Some(read_and_parse(path)?),
        (None, Some(path)) => read_sealed(path)?.map(|m| (path, m)),
        (None, None) => None,
    };
    if let (None, Some(sealed), None) = (&private, &files.sealed, &files.public) {
        return Err(Error::input(
            sealed,
            format!(
                "no age identity of this run opens it, and kid `{kid}` has no public file ({kid}.pub.pem) to publish instead"
            ),
            "set JWKSMITH_AGE_IDENTITY (or JWKSMITH_AGE_IDENTITY_FILE) to an identity of the set's recipients, or restore the public file",
        ));
    }
    let public = match (&private, &files.public) {
        // The usual pair: `rotate` wrote the public file as the SPKI PEM of the private key's
        // public part. Those exact bytes parse to that public part, so they are not parsed again.
        (Some((_, pm)), Some(path)) if pm.secret.is_some() => {
            let bytes = read_walked(path)?;
            let same = bytes == pm.public.spki_pem_ref().as_bytes();
            Some((path, if same { pm.public_only() } else { parse_file(path, &bytes)? }))
        }
        (_, public) => public.as_ref().map(read_and_parse).transpose()?,
    };
    check_halves(kid, private.as_ref(), public.as_ref())?;
    match (private, public) {
        (Some((_, pm)), _) => Ok(pm),
        (None, Some((_, pubm))) => Ok(pubm),
        (None, None) => unreachable!("caller checked a key file exists, and a sealed one has a public file"),
    }
}

/// The private file holds a private key, the public file only a public key, and both the same.
fn check_halves(
    kid: &str,
    private: Option<&(&PathBuf, KeyMaterial)>,
    public: Option<&(&PathBuf, KeyMaterial)>,
) -> Result<()> {
    if let Some((path, m)) = private
        && m.secret.is_none()
    {
        return Err(Error::input(
            path,
            "holds a public key, but `.key.pem` files hold the private key",
            format!("rename it to {kid}.pub.pem"),
        ));
    }
    if let Some((path, m)) = public
        && m.secret.is_some()
    {
        return Err(Error::input(
            path,
            "holds a private key, but `.pub.pem` files are committed and published: it must hold only the public key",
            format!("move it to {kid}.key.pem and write the public key with `openssl pkey -pubout`"),
        ));
    }
    if let (Some((ppath, pm)), Some((_, pubm))) = (private, public)
        && pm.public != pubm.public
    {
        return Err(Error::input(
            ppath,
            format!(
                "its public key is not the one in {kid}.pub.pem: the private and public files of kid `{kid}` do not match"
            ),
            "restore the matching pair, or delete both and run `jwksmith rotate`",
        ));
    }
    Ok(())
}

fn read_meta(path: &Path, kid: &str, material: &KeyMaterial) -> Result<Meta> {
    let fix = "fix the metadata, or delete it and run `jwksmith import` on the key";
    let meta = meta::parse(&read_walked(path)?).map_err(|p| Error::input(path, p, fix))?;
    if meta.kid != kid {
        return Err(Error::input(
            path,
            format!("metadata says kid `{}` but the file is named for kid `{kid}`", meta.kid),
            "make the kid match the file name",
        ));
    }
    if let Err(problem) = meta::check_id(&meta.id) {
        let fix = match uuid::Uuid::parse_str(&meta.id) {
            Ok(uuid) => format!("write the id as `{}` (the same UUID in canonical form)", uuid.hyphenated()),
            Err(_) => fix.to_string(),
        };
        return Err(Error::input(path, problem, fix));
    }
    meta.alg
        .check_fits(material.public.kty(), material.public.curve(), meta.key_use)
        .map_err(|p| Error::input(path, format!("{p} (the key is {})", material.public.describe()), fix))?;
    meta.times().check_order().map_err(|p| Error::input(path, p, fix))?;
    Ok(meta)
}

/// Metadata of a hand-dropped key without a meta file: sig, default alg, always current.
fn default_meta(kid: &str, material: &KeyMaterial) -> Meta {
    let public = &material.public;
    Meta {
        kid: kid.to_string(),
        id: Meta::default_id(public.thumbprint_ref()),
        label: None,
        spec: None,
        key_use: Use::Sig,
        alg: default_alg(public.kty(), public.curve(), Use::Sig),
        created: None,
        activates: None,
        retires: None,
        expires: None,
        revoked: None,
    }
}

fn read_cert(path: &Path, material: &KeyMaterial) -> Result<Vec<u8>> {
    let bytes = read_walked(path)?;
    let block = pem::parse(&bytes).ok().filter(|b| b.tag() == "CERTIFICATE").ok_or_else(|| {
        Error::input(path, "not a PEM certificate", "delete it; `jwksmith rotate` writes certificates for new keys")
    })?;
    let der = block.into_contents();
    let spki = material.public.spki_der_ref();
    if !der.windows(spki.len()).any(|w| w == spki) {
        return Err(Error::input(
            path,
            "the certificate is for a different key",
            "delete it or restore the matching certificate",
        ));
    }
    Ok(der)
}
