//! age custody of private keys (SPEC §2.1): a set's `recipients`, the encryption of a key's
//! PKCS#8 PEM to them as an ASCII-armored age file (`<kid>.key.age`), and the identities that
//! open such files again (`identity.rs`).
//!
//! Every file jwksmith encrypts carries, besides one stanza per recipient, one stanza of its
//! own, `-> jwksmith-recipients <digest>`: the SHA-256 of the sorted recipient keys. age
//! implementations skip stanzas they do not know, and `rekey` reads the digest to find the
//! files whose recipients differ from the set's, without an identity.

use std::io::Write;
use std::str::FromStr;

use age::armor::{ArmoredWriter, Format};
use age_core::format::{FileKey, Stanza};
use base64::Engine;

mod identity;

#[cfg(test)]
use identity::Identities;
pub(crate) use identity::{Opened, identities, open};

/// The stanza tag of the recipients digest.
const DIGEST_TAG: &str = "jwksmith-recipients";

/// One parsed recipient of a set.
enum Parsed {
    X25519(age::x25519::Recipient),
    Ssh(Box<age::ssh::Recipient>),
}

/// A set's parsed recipients, with the digest that names the list.
pub(crate) struct Recipients {
    parsed: Vec<Parsed>,
    digest: String,
}

/// The key of a recipient without its comment: `age1…`, or `ssh-ed25519 AAAA…`.
fn canonical(text: &str) -> String {
    let text = text.trim();
    if text.starts_with("ssh-") { text.split_whitespace().take(2).collect::<Vec<_>>().join(" ") } else { text.into() }
}

/// Parses one recipient; the problem says what a recipient looks like.
pub(crate) fn check_recipient(text: &str) -> Result<(), String> {
    parse_one(text).map(|_| ())
}

fn parse_one(text: &str) -> Result<Parsed, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "`{text}` is not an age recipient: give an age X25519 key (`age1…`, from `age-keygen -y`) or an OpenSSH public key (`ssh-ed25519 …`, `ssh-rsa …`)"
        )
    };
    if text.starts_with("age1") {
        age::x25519::Recipient::from_str(text).map(Parsed::X25519).map_err(|_| bad())
    } else if text.starts_with("ssh-") {
        age::ssh::Recipient::from_str(text).map(|r| Parsed::Ssh(Box::new(r))).map_err(|_| bad())
    } else {
        Err(bad())
    }
}

impl Recipients {
    /// The recipients of a set (validated when its keyset.toml was read).
    pub(crate) fn parse(list: &[String]) -> Result<Recipients, String> {
        let parsed = list.iter().map(|r| parse_one(r)).collect::<Result<Vec<_>, _>>()?;
        Ok(Recipients { parsed, digest: digest(list) })
    }

    /// The digest of the recipient list that a file encrypted to it carries.
    pub(crate) fn digest(&self) -> &str {
        &self.digest
    }

    /// Encrypts `plaintext` to every recipient: an ASCII-armored age file.
    pub(crate) fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, String> {
        let marker = Marker(self.digest.clone());
        let mut list: Vec<&dyn age::Recipient> = self
            .parsed
            .iter()
            .map(|p| match p {
                Parsed::X25519(r) => r as &dyn age::Recipient,
                Parsed::Ssh(r) => r.as_ref() as &dyn age::Recipient,
            })
            .collect();
        list.push(&marker);
        let encryptor = age::Encryptor::with_recipients(list.into_iter()).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let armored = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(|e| e.to_string())?;
        let mut writer = encryptor.wrap_output(armored).map_err(|e| e.to_string())?;
        writer.write_all(plaintext).map_err(|e| e.to_string())?;
        writer.finish().and_then(|armor| armor.finish()).map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// The digest of a recipient list: SHA-256 of the sorted keys (comments dropped), base64url.
fn digest(list: &[String]) -> String {
    let mut keys: Vec<String> = list.iter().map(|r| canonical(r)).collect();
    keys.sort();
    keys.dedup();
    let hash = ring::digest::digest(&ring::digest::SHA256, keys.join("\n").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_ref())
}

/// The stanza that records the recipients digest: it wraps no key.
struct Marker(String);

impl age::Recipient for Marker {
    fn wrap_file_key(
        &self,
        _file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, std::collections::HashSet<String>), age::EncryptError> {
        let stanza = Stanza { tag: DIGEST_TAG.into(), args: vec![self.0.clone()], body: Vec::new() };
        Ok((vec![stanza], Default::default()))
    }
}

/// The recipients digest an age file carries (`None` for a file jwksmith did not encrypt, or
/// not an age file). Reads only the header, which is not secret.
pub(crate) fn recorded_digest(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let header = if text.trim_start().starts_with("-----BEGIN AGE ENCRYPTED FILE-----") {
        let body: String = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("-----")).collect();
        let raw = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
        String::from_utf8_lossy(&raw).into_owned()
    } else {
        text.to_string()
    };
    let prefix = format!("-> {DIGEST_TAG} ");
    header.lines().take_while(|l| !l.starts_with("---")).find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
}

/// True when the private part among a key's files is age-encrypted (a `<kid>.key.age` or
/// `<name>.pem.age`, and no plaintext `<kid>.key.pem` beside it).
pub(crate) fn is_sealed(files: &[std::path::PathBuf]) -> bool {
    let ends = |suffix: &str| files.iter().any(|f| f.as_os_str().as_encoded_bytes().ends_with(suffix.as_bytes()));
    (ends(".key.age") || ends(".pem.age")) && !ends(".key.pem")
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[test]
    fn encrypts_to_recipients_and_records_their_digest() {
        let id = age::x25519::Identity::generate();
        let list = vec![id.to_public().to_string()];
        let recipients = Recipients::parse(&list).unwrap();
        let file = recipients.encrypt(b"secret pem").unwrap();
        assert!(file.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
        assert_eq!(recorded_digest(&file).as_deref(), Some(recipients.digest()));
        let ids = Identities::parse_text(id.to_string().expose_secret()).unwrap();
        match open(&file, &ids) {
            Ok(Opened::Plain(p)) => assert_eq!(p, b"secret pem"),
            _ => panic!("not opened"),
        }
        assert!(matches!(open(&file, &Identities::default()), Ok(Opened::Sealed)));
        assert!(open(b"not age", &ids).is_err());
    }

    #[test]
    fn the_digest_ignores_order_and_comments() {
        let a = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB6o2NHxAOhgdwCxYHzkLZMImcbFU9A9wkiSzcHqjXFS me@host";
        let b = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        assert_eq!(digest(&[a.into(), b.into()]), digest(&[b.into(), canonical(a)]));
        assert_ne!(digest(&[a.into()]), digest(&[b.into()]));
        assert!(check_recipient(b).is_ok());
        assert!(check_recipient("age1nope").is_err());
    }
}
