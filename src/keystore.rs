//! Writing a key's files into its set directory in crash-safe order, and recovering from a
//! crash in the middle.
//!
//! A new key is written as: a record that jwksmith started it (in `keys/.jwksmith/started/`),
//! the private key (exactly 0600, in a 0700 directory), the public key, the certificate, the
//! metadata last as the commit point, then the record is removed. Every temporary file goes
//! through `keys/.jwksmith/tmp/` (0700, git-ignored), so a crash never leaves private key
//! material where `git add keys` would stage it. [`recover`], run by every command that changes
//! `keys/` before it reads the set, removes the leftovers there, and completes or removes the
//! keys whose record is still there. A key file without metadata and without a record is not
//! jwksmith's: it is reported and left alone.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::key::{KeyMaterial, parse_pem};
use crate::keystate::{self, STARTED_DIR, TMP_DIR, state_dir};
use crate::meta::Meta;
use crate::started::{is_started, record_path};
use crate::write::{ensure_dir, remove_file, write_atomic_via};

/// The files of a new key, ready to write.
pub(crate) struct NewKey<'a> {
    /// The key directory (`--keys`): its `.jwksmith/` holds the record and the temporary files.
    pub keys: &'a Path,
    /// The set's publish path (`""` for the root set).
    pub set: &'a str,
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
    /// A hand-dropped `<kid>.pem` in the set directory that this key adopts: removed once the
    /// key is written.
    pub adopts: Option<&'a Path>,
    /// The set's age recipients: when any, the private key is written only as `<kid>.key.age`.
    pub recipients: &'a [String],
}

/// What a record says jwksmith was doing to a key.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Op {
    /// Writing a new key (`rotate`, `revoke`'s replacement, `import`).
    Create,
    /// Deleting a key's files (`prune`).
    Remove,
    /// Making the first keys of an empty set (`rotate`): they are all current at once, also
    /// those that the next `rotate` makes after a crash. Kept by [`recover`] for `rotate`.
    Bootstrap,
}

/// A record of a key jwksmith started and has not finished: `keys/.jwksmith/started/<hash>.json`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
struct Record {
    op: Op,
    /// Publish path of the set.
    set: String,
    kid: String,
    /// The key's files that jwksmith writes (or removes, in this order): names in the set directory.
    files: Vec<String>,
    /// The hand-dropped file an import adopts (removed after the metadata is written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adopts: Option<String>,
}

fn write_record(keys: &Path, record: &Record) -> Result<PathBuf> {
    keystate::ensure(keys, STARTED_DIR)?;
    let tmp = keystate::ensure(keys, TMP_DIR)?;
    let path = record_path(keys, &record.set, &record.kid);
    let bytes = serde_json::to_vec(record).expect("a record serializes");
    write_atomic_via(&path, &tmp, &bytes, 0o600, true)?;
    Ok(path)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Refuses to write `path` over a file that holds another key (or over any certificate or
/// metadata): a file jwksmith did not make is never replaced. A file that holds this very key
/// (an `import` of a hand-placed `<kid>.key.pem`, or its matching `<kid>.pub.pem`) may be.
fn check_target(path: &Path, kid: &str, material: &KeyMaterial, key_file: bool) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let same_key = key_file
        && meta.is_file()
        && std::fs::read(path)
            .ok()
            .and_then(|bytes| parse_pem(&bytes).ok())
            .is_some_and(|theirs| theirs.public.thumbprint() == material.public.thumbprint());
    if same_key {
        return Ok(());
    }
    Err(Error::input(
        path,
        format!("holds another key than the new key `{kid}`, and jwksmith never replaces a file it did not make"),
        "move it out of the key directory, or give the new key another kid (`jwksmith import --kid NAME`)",
    ))
}

/// Writes the key's files; returns their paths. Metadata is written last; the record of the
/// key is written before its first file and removed after its metadata (and after the adopted
/// hand-dropped file is removed).
pub(crate) fn write_new_key(key: &NewKey) -> Result<Vec<PathBuf>> {
    let kid = &key.meta.kid;
    check_writable(key.dir, key.meta)?;
    let private = private_file(key)?;
    let mut files: Vec<(PathBuf, Vec<u8>, u32)> = Vec::new();
    if let Some(file) = &private {
        files.push(file.clone());
    }
    files.push((key.dir.join(format!("{kid}.pub.pem")), key.material.public.spki_pem().into_bytes(), 0o644));
    if let Some(cert) = key.cert_pem {
        files.push((key.dir.join(format!("{kid}.crt.pem")), cert.as_bytes().to_vec(), 0o644));
    }
    for (i, (path, _, _)) in files.iter().enumerate() {
        let is_key_file = i == 0 || (i == 1 && private.is_some());
        check_target(path, kid, key.material, is_key_file)?;
    }
    let meta_path = key.dir.join(format!("{kid}.meta.json"));
    check_target(&meta_path, kid, key.material, false)?;
    // A file already in place holds this very key (an import of a hand-placed file): it is not
    // jwksmith's to remove after a crash, so the record does not name it.
    let record = Record {
        op: Op::Create,
        set: key.set.to_string(),
        kid: kid.clone(),
        files: files
            .iter()
            .filter(|(path, _, _)| path.symlink_metadata().is_err())
            .map(|(path, _, _)| file_name(path))
            .collect(),
        adopts: key.adopts.map(file_name),
    };
    // The set directory first (it may be new, `keys/` too): the state directory lives in `keys/`.
    if private.is_some() {
        ensure_dir(key.dir, 0o700)?;
    } else if !key.dir.is_dir() {
        std::fs::create_dir_all(key.dir).map_err(|e| Error::io(key.dir, e))?;
    }
    let record_file = write_record(key.keys, &record)?;
    let tmp = keystate::ensure(key.keys, TMP_DIR)?;
    let mut written = Vec::new();
    for (path, bytes, mode) in files {
        write_atomic_via(&path, &tmp, &bytes, mode, true)?;
        written.push(path);
    }
    write_atomic_via(&meta_path, &tmp, &key.meta.to_json(key.pretty), 0o644, true)?;
    written.push(meta_path);
    if let Some(adopted) = key.adopts {
        remove_file(adopted)?;
    }
    remove_file(&record_file)?;
    Ok(written)
}

/// The private file of a new key, when it has a secret: `<kid>.key.pem` (0600), or with
/// recipients `<kid>.key.age`, encrypted in memory (no plaintext file, not even a temporary one).
fn private_file(key: &NewKey) -> Result<Option<(PathBuf, Vec<u8>, u32)>> {
    let kid = &key.meta.kid;
    let Some(pem) = key.material.pkcs8_pem() else { return Ok(None) };
    if key.recipients.is_empty() {
        return Ok(Some((key.dir.join(format!("{kid}.key.pem")), pem.into_bytes(), 0o600)));
    }
    let path = key.dir.join(format!("{kid}.key.age"));
    let sealed =
        crate::custody::Recipients::parse(key.recipients).and_then(|r| r.encrypt(pem.as_bytes())).map_err(|p| {
            Error::input(
                &path,
                format!("not written: cannot encrypt to the set's recipients: {p}"),
                "check `recipients` in keyset.toml",
            )
        })?;
    Ok(Some((path, sealed, 0o600)))
}

/// Writes (or replaces) `<kid>.meta.json` atomically, its temporary file in `keys/.jwksmith/tmp/`.
pub(crate) fn write_meta(keys: &Path, dir: &Path, meta: &Meta, pretty: bool) -> Result<PathBuf> {
    check_writable(dir, meta)?;
    let tmp = keystate::ensure(keys, TMP_DIR)?;
    let path = dir.join(format!("{}.meta.json", meta.kid));
    write_atomic_via(&path, &tmp, &meta.to_json(pretty), 0o644, true)?;
    Ok(path)
}

/// Deletes a key's files (`prune`) under a record, so that an interrupted run is finished by the
/// next command that changes `keys/`. `files` are removed in the order given.
pub(crate) fn remove_key(keys: &Path, set: &str, kid: &str, files: &[PathBuf]) -> Result<()> {
    let record = Record {
        op: Op::Remove,
        set: set.to_string(),
        kid: kid.to_string(),
        files: files.iter().map(|f| file_name(f)).collect(),
        adopts: None,
    };
    let record_file = write_record(keys, &record)?;
    for file in files {
        remove_file(file)?;
    }
    remove_file(&record_file)
}

/// Records that `rotate` is making the first keys of the set at `set` (before its first write).
pub(crate) fn begin_bootstrap(keys: &Path, set: &str) -> Result<()> {
    let record =
        Record { op: Op::Bootstrap, set: set.to_string(), kid: String::new(), files: Vec::new(), adopts: None };
    write_record(keys, &record).map(|_| ())
}

/// True when a `rotate` that was making the first keys of the set at `set` did not finish: the
/// next one makes the missing specs' keys current at once too.
pub(crate) fn is_bootstrapping(keys: &Path, set: &str) -> bool {
    is_started(keys, set, "")
}

/// Removes the record of [`begin_bootstrap`], if any (after every key of the set is written).
pub(crate) fn end_bootstrap(keys: &Path, set: &str) -> Result<()> {
    let path = record_path(keys, set, "");
    if path.is_file() { remove_file(&path) } else { Ok(()) }
}

/// Makes `keys/` whole again after an interrupted command: removes every leftover temporary
/// file in `keys/.jwksmith/tmp/`, and completes or removes each key a record says jwksmith
/// started. Touches nothing else (a key file without a record is not jwksmith's). Returns a line
/// per key it finished or removed. Runs under the lock of the commands that change `keys/`.
pub(crate) fn recover(keys: &Path) -> Result<Vec<String>> {
    let state = state_dir(keys);
    let mut lines = Vec::new();
    let tmp = state.join(TMP_DIR);
    for entry in entries(&tmp)? {
        remove_file(&entry)?;
    }
    // The temporary file of the state directory's own `.gitignore` (never private).
    for entry in entries(&state)? {
        if file_name(&entry).starts_with(crate::write::TEMP_PREFIX) {
            remove_file(&entry)?;
        }
    }
    for record_file in entries(&state.join(STARTED_DIR))? {
        let record = std::fs::read(&record_file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Record>(&bytes).ok())
            .filter(is_sound);
        if record.as_ref().is_some_and(|r| r.op == Op::Bootstrap) {
            continue; // for `rotate` (see [`is_bootstrapping`])
        }
        if let Some(record) = record {
            lines.extend(finish_record(keys, &record)?);
        }
        remove_file(&record_file)?;
    }
    Ok(lines)
}

/// Completes or undoes what a sound record says an interrupted command was doing; returns what
/// to tell the user.
fn finish_record(keys: &Path, record: &Record) -> Result<Option<String>> {
    let dir = if record.set.is_empty() { keys.to_path_buf() } else { keys.join(&record.set) };
    let shown = if record.set.is_empty() { "." } else { record.set.as_str() };
    let kid = &record.kid;
    let remove_present = || -> Result<usize> {
        let present: Vec<PathBuf> =
            record.files.iter().map(|f| dir.join(f)).filter(|f| f.symlink_metadata().is_ok()).collect();
        for file in &present {
            remove_file(file)?;
        }
        Ok(present.len())
    };
    let line = match record.op {
        Op::Create if dir.join(format!("{kid}.meta.json")).is_file() => {
            // Interrupted after the metadata: the key is whole; the import it came from
            // still has to let go of the hand-dropped file it adopted.
            match record.adopts.as_ref().map(|a| dir.join(a)).filter(|a| a.exists()) {
                Some(adopted) => {
                    remove_file(&adopted)?;
                    Some(format!("set {shown}: finished the interrupted import of {kid}"))
                }
                None => None,
            }
        }
        Op::Create => match remove_present()? {
            0 => None,
            n => Some(format!(
                "set {shown}: removed unfinished key {kid} (an interrupted run had written {n} of its files)"
            )),
        },
        Op::Bootstrap => None,
        Op::Remove => match remove_present()? {
            0 => None,
            _ => Some(format!("set {shown}: finished the interrupted prune of {kid}")),
        },
    };
    Ok(line)
}

/// A record that names a set inside `keys/` and plain file names in it (anything else is
/// ignored: jwksmith never wrote it).
fn is_sound(record: &Record) -> bool {
    let plain = |name: &str| !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0']);
    let set_ok = record.set.is_empty() || record.set.split('/').all(|part| plain(part) && !part.starts_with('.'));
    let kid_ok = if record.op == Op::Bootstrap { record.kid.is_empty() } else { plain(&record.kid) };
    set_ok && kid_ok && record.files.iter().chain(&record.adopts).all(|f| plain(f))
}

/// The entries of `dir` (none when it does not exist), sorted.
fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut found = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if entry.file_type().map_err(|e| Error::io(entry.path(), e))?.is_dir() {
            continue;
        }
        found.push(entry.path());
    }
    found.sort();
    Ok(found)
}

/// Refuses metadata that would not load again ([`Meta::check_writable`]); commands check their
/// times before they write, so this is the last guard.
fn check_writable(dir: &Path, meta: &Meta) -> Result<()> {
    meta.check_writable().map_err(|problem| {
        Error::input(
            dir.join(format!("{}.meta.json", meta.kid)),
            format!("not written: {problem}"),
            "nothing of this key was written; give another --now",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec_key() -> KeyMaterial {
        let spec = crate::config::KeySpec::defaults().into_iter().find(|s| s.spec == "ec256-sig").unwrap();
        crate::generate::generate(&spec).unwrap().material
    }

    #[test]
    fn records_name_each_kid_of_each_set_apart() {
        let keys = Path::new("/k");
        assert_ne!(record_path(keys, "", "a"), record_path(keys, "a", ""));
        assert_eq!(record_path(keys, "t", "a"), record_path(keys, "t", "a"));
    }

    #[test]
    fn a_record_leaving_the_key_directory_is_not_sound() {
        let record = |set: &str, files: &[&str]| Record {
            op: Op::Create,
            set: set.into(),
            kid: "k".into(),
            files: files.iter().map(|f| f.to_string()).collect(),
            adopts: None,
        };
        assert!(is_sound(&record("tenants/acme", &["k.key.pem"])));
        assert!(!is_sound(&record("../x", &["k.key.pem"])));
        assert!(!is_sound(&record("", &["../k.key.pem"])));
        assert!(!is_sound(&record("/etc", &["k.key.pem"])));
    }

    #[test]
    fn recover_removes_started_keys_only() {
        let keys = tempfile::tempdir().unwrap();
        let material = ec_key();
        let record = Record {
            op: Op::Create,
            set: String::new(),
            kid: "ec-001".into(),
            files: vec!["ec-001.key.pem".into(), "ec-001.pub.pem".into()],
            adopts: None,
        };
        write_record(keys.path(), &record).unwrap();
        std::fs::write(keys.path().join("ec-001.key.pem"), material.pkcs8_pem().unwrap()).unwrap();
        std::fs::write(keys.path().join("legacy.key.pem"), material.pkcs8_pem().unwrap()).unwrap();
        std::fs::write(keys.path().join(".jwksmith/tmp/.jwksmith-tmp-x.tmp"), b"left over").unwrap();
        let lines = recover(keys.path()).unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(!keys.path().join("ec-001.key.pem").exists());
        assert!(keys.path().join("legacy.key.pem").exists(), "a key without a record is left alone");
        assert!(!is_started(keys.path(), "", "ec-001"));
        assert_eq!(std::fs::read_dir(keys.path().join(".jwksmith/tmp")).unwrap().count(), 0);
        assert!(recover(keys.path()).unwrap().is_empty());
    }
}
