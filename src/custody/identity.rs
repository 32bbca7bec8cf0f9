//! The age identities of this run, from `JWKSMITH_AGE_IDENTITY` (identity text:
//! `AGE-SECRET-KEY-1…` lines) and `JWKSMITH_AGE_IDENTITY_FILE` (an age identity file or an
//! unencrypted OpenSSH private key), read once; and the opening of an age file with them.
//! No message here ever holds an identity.

use std::io::Read;
use std::sync::OnceLock;

use age::armor::ArmoredReader;

use crate::error::{Error, Result};

/// The variable holding identity text.
pub(crate) const IDENTITY_VAR: &str = "JWKSMITH_AGE_IDENTITY";
/// The variable holding the path of an identity file.
pub(crate) const IDENTITY_FILE_VAR: &str = "JWKSMITH_AGE_IDENTITY_FILE";

/// Every identity given to this run (none without the variables).
#[derive(Default)]
pub(crate) struct Identities {
    list: Vec<Box<dyn age::Identity + Send + Sync>>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identities({} given)", self.list.len())
    }
}

impl Identities {
    /// True when any identity was given.
    pub(crate) fn any(&self) -> bool {
        !self.list.is_empty()
    }

    /// Identities from age identity text.
    pub(crate) fn parse_text(text: &str) -> std::result::Result<Identities, String> {
        let file = age::IdentityFile::from_buffer(text.as_bytes())
            .map_err(|_| "is not age identity text (`AGE-SECRET-KEY-1…` lines)".to_string())?;
        let list = file.into_identities().map_err(|_| "holds an identity jwksmith cannot use".to_string())?;
        if list.is_empty() {
            return Err("holds no identity (`AGE-SECRET-KEY-1…` line)".into());
        }
        Ok(Identities { list })
    }

    /// Identities from the bytes of an identity file: age identities, or one OpenSSH key.
    fn parse_file(bytes: &[u8]) -> std::result::Result<Identities, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "is not a text identity file".to_string())?;
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
            return match age::ssh::Identity::from_buffer(text.as_bytes(), None) {
                Ok(age::ssh::Identity::Unencrypted(key)) => {
                    Ok(Identities { list: vec![Box::new(age::ssh::Identity::Unencrypted(key))] })
                }
                Ok(age::ssh::Identity::Encrypted(_)) => {
                    Err("is a passphrase-protected OpenSSH key; jwksmith runs unattended and needs an unencrypted one"
                        .into())
                }
                _ => Err("is an OpenSSH key of a type age does not support (use ssh-ed25519 or ssh-rsa)".into()),
            };
        }
        Identities::parse_text(text)
    }
}

fn load() -> Result<Identities> {
    let mut all = Identities::default();
    if let Some(text) = std::env::var_os(IDENTITY_VAR).filter(|v| !v.is_empty()) {
        let text = text.into_string().map_err(|_| bad_var(IDENTITY_VAR, "is not UTF-8 text"))?;
        let ids = Identities::parse_text(&text).map_err(|p| bad_var(IDENTITY_VAR, &p))?;
        all.list.extend(ids.list);
    }
    if let Some(path) = std::env::var_os(IDENTITY_FILE_VAR).filter(|v| !v.is_empty()) {
        let path = std::path::PathBuf::from(path);
        let bytes = crate::keydir::read_input(&path)?;
        let ids = Identities::parse_file(&bytes).map_err(|p| {
            Error::input(
                &path,
                format!("{IDENTITY_FILE_VAR} names this file, which {p}"),
                "give an age identity file (`age-keygen -o FILE`) or an unencrypted ssh-ed25519/ssh-rsa private key",
            )
        })?;
        all.list.extend(ids.list);
    }
    Ok(all)
}

fn bad_var(var: &str, problem: &str) -> Error {
    Error::Failed(format!(
        "the environment variable {var} {problem}; set it to the contents of an age identity file (`age-keygen` output), or unset it"
    ))
}

/// The identities of this run, read from the environment the first time they are asked for.
pub(crate) fn identities() -> Result<&'static Identities> {
    static IDS: OnceLock<Identities> = OnceLock::new();
    if let Some(ids) = IDS.get() {
        return Ok(ids);
    }
    let ids = load()?;
    Ok(IDS.get_or_init(|| ids))
}

/// What opening an age file gave.
pub(crate) enum Opened {
    /// The plaintext: an identity matched.
    Plain(Vec<u8>),
    /// No identity given matches (or none was given).
    Sealed,
}

/// Opens an age file (armored or binary) with `ids`. An error (the problem) when the bytes are
/// not an age file, or when a matching identity finds them damaged.
pub(crate) fn open(bytes: &[u8], ids: &Identities) -> std::result::Result<Opened, String> {
    let decryptor =
        age::Decryptor::new(ArmoredReader::new(bytes)).map_err(|e| format!("is not an age-encrypted file ({e})"))?;
    if decryptor.is_scrypt() {
        return Err(
            "is encrypted with a passphrase; jwksmith runs unattended and reads only files encrypted to recipients"
                .into(),
        );
    }
    if !ids.any() {
        return Ok(Opened::Sealed);
    }
    let mut reader = match decryptor.decrypt(ids.list.iter().map(|i| i.as_ref() as &dyn age::Identity)) {
        Ok(reader) => reader,
        Err(age::DecryptError::NoMatchingKeys) => return Ok(Opened::Sealed),
        Err(e) => return Err(format!("cannot be decrypted ({e})")),
    };
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain).map_err(|e| format!("is damaged: its encrypted content does not decrypt ({e})"))?;
    Ok(Opened::Plain(plain))
}
