//! Reading `keys/`: find the sets (walkdir, no symlinks out of `keys/`), then read each set's
//! `keyset.toml`, key files and metadata into the model, validating every key. Every input file
//! (templates and `import`'s FILE too) is read by [`read_input`]: regular files of at most 1 MiB.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::config::{KeysetConfig, is_path_segment};
use crate::error::{Error, Result, Shown};
use crate::jose::Use;
use crate::jose::default_alg;
use crate::key::{KeyMaterial, parse_pem};
use crate::meta::{self, Meta};
use crate::model::{Key, KeySet, Unfinished};
use crate::selftest::{SelfTested, self_test};
use crate::stamp::Stamp;
use crate::times::Timestamp;

/// Name of a set's policy file.
pub const KEYSET_FILE: &str = "keyset.toml";

/// A directory under `keys/` that is a set, with the files that matter in it.
#[derive(Debug, Clone)]
pub struct SetDir {
    /// Publish path (`""` for the root set).
    pub path: String,
    /// The directory.
    pub dir: PathBuf,
    /// Its `keyset.toml`, `*.pem` and `*.meta.json` files, sorted.
    pub files: Vec<PathBuf>,
}

/// What a file in a set is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Private,
    Public,
    Cert,
    Meta,
    HandDropped,
}

fn classify(name: &str) -> Option<(FileKind, &str)> {
    let rules = [
        (".key.pem", FileKind::Private),
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

fn is_relevant(name: &str) -> bool {
    name == KEYSET_FILE || classify(name).is_some()
}

/// Directories with their stamps (`None`: could not be taken).
pub type DirStamps = Vec<(PathBuf, Option<Stamp>)>;

/// Finds every set under `root`, sorted by publish path. Symlinks may point only inside `root`.
pub fn discover(root: &Path) -> Result<Vec<SetDir>> {
    discover_stamped(root).map(|(sets, _)| sets)
}

/// [`discover`], also returning every directory it read with its stamp, taken before the
/// directory was read (`None` when it could not be taken).
pub fn discover_stamped(root: &Path) -> Result<(Vec<SetDir>, DirStamps)> {
    if root.exists() && !root.is_dir() {
        return Err(Error::input(root, "is a file, not a key directory", "pass the directory with --keys DIR"));
    }
    if !root.is_dir() {
        return Err(Error::input(
            root,
            "key directory not found",
            "run `jwksmith init` to create it, then `jwksmith rotate` to make the first keys (or pass --keys DIR)",
        ));
    }
    let canonical_root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let mut sets: BTreeMap<String, SetDir> = BTreeMap::new();
    let mut dirs = Vec::new();
    // Siblings' paths are their parent's path plus their names, so ordering them by path is
    // ordering them by file name (`sort_by_file_name`), without splitting paths into components.
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by(|a, b| a.path().as_os_str().cmp(b.path().as_os_str()))
        .into_iter();
    let walker = walker.filter_entry(|e| e.depth() == 0 || !e.file_name().as_encoded_bytes().starts_with(b"."));
    // The publish path of the directory of the previous file: most files share it.
    let mut last: Option<(PathBuf, String)> = None;
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
            Error::io(&path, e.into_io_error().unwrap_or_else(|| std::io::Error::other("cannot walk directory")))
        })?;
        let path = entry.path();
        let name = entry.file_name().to_str().ok_or_else(|| {
            Error::input(path, "file name is not valid UTF-8", "rename it with letters, digits, `-`, `_` and `.`")
        })?;
        if entry.file_type().is_dir() {
            // Yielded before its entries are read: the stamp comes first.
            dirs.push((path.to_path_buf(), Stamp::read(path)));
            continue;
        }
        if !is_relevant(name) {
            continue;
        }
        if entry.path_is_symlink() {
            if !symlink_is_inside(path, &canonical_root)? {
                continue;
            }
        } else if let Some(kind) = special_kind(entry.file_type()) {
            return Err(not_regular(path, kind));
        }
        let dir = path.parent().unwrap_or(root);
        let publish = match &last {
            Some((last_dir, publish)) if last_dir.as_os_str() == dir.as_os_str() => publish.clone(),
            _ => {
                let publish = publish_path(root, dir)?;
                last = Some((dir.to_path_buf(), publish.clone()));
                publish
            }
        };
        let dir = dir.to_path_buf();
        sets.entry(publish.clone())
            .or_insert_with(|| SetDir { path: publish, dir: dir.clone(), files: Vec::new() })
            .files
            .push(path.to_path_buf());
    }
    Ok((sets.into_values().collect(), dirs))
}

/// True for a link to a regular file inside `root`; false for a link to a directory; error
/// otherwise (a link to nothing, a loop, a link out of `root`, a link to a FIFO, socket or device).
fn symlink_is_inside(path: &Path, root: &Path) -> Result<bool> {
    let target = fs::canonicalize(path).map_err(|e| {
        if is_symlink_loop(&e) {
            symlink_loop(path)
        } else {
            Error::input(path, "symlink points to nothing", "remove the link or restore its target")
        }
    })?;
    if !target.starts_with(root) {
        return Err(Error::input(
            path,
            "symlink points outside the key directory; jwksmith does not follow links out of keys/",
            "copy the file into keys/ or remove the link",
        ));
    }
    let file_type = fs::metadata(&target).map_err(|e| Error::io(path, e))?.file_type();
    match special_kind(file_type) {
        None => Ok(true),
        Some(_) if file_type.is_dir() => Ok(false),
        Some(kind) => Err(not_regular(path, &format!("a symlink to {kind}"))),
    }
}

fn publish_path(root: &Path, dir: &Path) -> Result<String> {
    let rel = dir.strip_prefix(root).unwrap_or(Path::new(""));
    let mut parts = Vec::new();
    for part in rel.components() {
        let text = part.as_os_str().to_str().unwrap_or("");
        if !is_path_segment(text) {
            return Err(Error::input(
                dir,
                format!("directory name `{}` cannot be a publish path segment", part.as_os_str().to_string_lossy()),
                "rename the directory with letters, digits, `-`, `_` and `.`",
            ));
        }
        parts.push(text);
    }
    Ok(parts.join("/"))
}

/// Files of one kid, by kind.
#[derive(Default, Debug)]
struct KidFiles {
    private: Option<PathBuf>,
    public: Option<PathBuf>,
    cert: Option<PathBuf>,
    meta: Option<PathBuf>,
    hand_dropped: Option<PathBuf>,
}

impl KidFiles {
    fn all(&self) -> Vec<PathBuf> {
        [&self.private, &self.public, &self.cert, &self.meta, &self.hand_dropped]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    read_input(path)
}

/// The most jwksmith reads of one input file (a key, metadata, keyset.toml or template is a
/// few kilobytes): 1 MiB.
pub const MAX_INPUT_BYTES: u64 = 1 << 20;

/// What a file that is not a regular file is, for messages (`None` for a regular file).
fn special_kind(file_type: fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_symlink() {
        Some("a symlink")
    } else {
        Some("not a regular file")
    }
}

fn not_regular(path: &Path, kind: &str) -> Error {
    Error::input(
        path,
        format!("is {kind}, not a regular file: jwksmith reads only regular files"),
        "replace it with a regular file, or remove it",
    )
}

fn too_large(path: &Path, len: u64) -> Error {
    Error::input(
        path,
        format!("is {len} bytes, more than the {MAX_INPUT_BYTES} bytes (1 MiB) jwksmith reads of an input file"),
        "keys, metadata, keyset.toml and templates are a few kilobytes: replace it with the file you meant",
    )
}

/// True for the error of a path that runs through a symlink loop (ELOOP).
fn is_symlink_loop(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

fn symlink_loop(path: &Path) -> Error {
    Error::input(path, "is a symlink loop: following it leads back to itself", "remove the link or point it at a file")
}

/// Reads an input file (under `keys/`, the templates directory, or given to `import`): only a
/// regular file (a symlink to one included), of at most [`MAX_INPUT_BYTES`]. A FIFO, socket or
/// device is an error at once, never a hang: its type is checked before it is opened, it is
/// opened non-blocking, and checked again on the open file (it may have been swapped in
/// between); it is read with a limit, so a file that grows is never read whole.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e: std::io::Error| if is_symlink_loop(&e) { symlink_loop(path) } else { Error::io(path, e) };
    let before = fs::metadata(path).map_err(io)?;
    if let Some(kind) = special_kind(before.file_type()) {
        return Err(not_regular(path, kind));
    }
    let nonblocking = rustix::fs::OFlags::NONBLOCK.bits() as i32;
    let file = fs::OpenOptions::new().read(true).custom_flags(nonblocking).open(path).map_err(io)?;
    let opened = file.metadata().map_err(io)?;
    if let Some(kind) = special_kind(opened.file_type()) {
        return Err(not_regular(path, kind));
    }
    if opened.len() > MAX_INPUT_BYTES {
        return Err(too_large(path, opened.len()));
    }
    let mut bytes = Vec::with_capacity(opened.len() as usize);
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_large(path, bytes.len() as u64));
    }
    Ok(bytes)
}

/// A set's `keyset.toml` (the embedded default when it has none), read and validated.
fn read_config(file: Option<&Path>) -> Result<KeysetConfig> {
    let Some(path) = file else { return Ok(KeysetConfig::default()) };
    let text = String::from_utf8(read(path)?)
        .map_err(|_| Error::input(path, "keyset.toml is not UTF-8 text", "save it as UTF-8"))?;
    KeysetConfig::parse(&text, path)
}

/// A set's policy alone, without its keys: the parsed `keyset.toml` and the file it came from.
pub fn config_of(set: &SetDir) -> Result<(KeysetConfig, Option<PathBuf>)> {
    let file = set.files.iter().find(|p| p.file_name().is_some_and(|n| n == KEYSET_FILE)).cloned();
    Ok((read_config(file.as_deref())?, file))
}

/// Reads and validates one set: config, keys, metadata, pairs, self-test.
/// Returns the set and the warnings found.
pub fn load_set(set: &SetDir) -> Result<(KeySet, Vec<String>)> {
    load_set_with(set, &SelfTested::default())
}

/// [`load_set`], without signing again with the keys that `tested` shows an earlier build
/// self-tested with the same material, `use` and `alg`.
pub fn load_set_with(set: &SetDir, tested: &SelfTested) -> Result<(KeySet, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut config_file = None;
    let mut by_kid: BTreeMap<String, KidFiles> = BTreeMap::new();
    for path in &set.files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name == KEYSET_FILE {
            config_file = Some(path.clone());
            continue;
        }
        let Some((kind, kid)) = classify(name) else { continue };
        let slot = by_kid.entry(kid.to_string()).or_default();
        let field = match kind {
            FileKind::Private => &mut slot.private,
            FileKind::Public => &mut slot.public,
            FileKind::Cert => &mut slot.cert,
            FileKind::Meta => &mut slot.meta,
            FileKind::HandDropped => &mut slot.hand_dropped,
        };
        *field = Some(path.clone());
    }
    let config = read_config(config_file.as_deref())?;
    let mut keys = Vec::new();
    let mut unfinished = Vec::new();
    for (kid, files) in by_kid {
        match load_key(&kid, &files, &config, tested)? {
            Loaded::Key(key) => {
                if key.meta.created.is_none() {
                    warnings.push(format!(
                        "{}: key `{kid}` has no creation time (its createTime is 1970-01-01T00:00:00Z); run `jwksmith import {}` to give it metadata",
                        Shown(&key.files[0]),
                        crate::ui::shell_quoted(&key.files[0])
                    ));
                }
                keys.push(*key);
            }
            Loaded::Unfinished(u) => {
                warnings.push(unfinished_warning(set, &u));
                unfinished.push(u);
            }
            Loaded::Nothing => {}
        }
    }
    let set = KeySet { path: set.path.clone(), dir: set.dir.clone(), config, config_file, keys, unfinished };
    Ok((set, warnings))
}

/// The warning about a key file without metadata: jwksmith's own interrupted key (a record says
/// so) is finished or removed by the next `rotate`; any other is left alone, and `import` adopts it.
fn unfinished_warning(set: &SetDir, u: &Unfinished) -> String {
    let depth = if set.path.is_empty() { 0 } else { set.path.split('/').count() };
    let keys = set.dir.ancestors().nth(depth).unwrap_or(&set.dir);
    // The private file when there is one: importing it writes the public file too.
    let file = u.files.iter().find(|f| f.to_string_lossy().ends_with(".key.pem")).unwrap_or(&u.files[0]);
    if crate::started::is_started(keys, &set.path, &u.kid) {
        format!(
            "{}: key `{}` is unfinished (an interrupted jwksmith run): it is not published; the next `jwksmith rotate` removes it",
            Shown(file),
            u.kid
        )
    } else {
        let set_flag = if set.path.is_empty() { String::new() } else { format!(" and `--set {}`", set.path) };
        format!(
            "{}: key `{}` has no metadata and jwksmith did not make it: it is not published, and jwksmith leaves it alone; to publish it, run `jwksmith import` on this file with `--kid {}`{set_flag}",
            Shown(file),
            u.kid,
            u.kid
        )
    }
}

enum Loaded {
    Key(Box<Key>),
    Unfinished(Unfinished),
    Nothing,
}

fn load_key(kid: &str, files: &KidFiles, config: &KeysetConfig, tested: &SelfTested) -> Result<Loaded> {
    let managed = files.private.as_ref().or(files.public.as_ref());
    if let (Some(hand), Some(other)) = (&files.hand_dropped, managed) {
        return Err(Error::input(
            hand,
            format!("kid `{kid}` is defined twice (also by {})", Shown(other)),
            "kids must be unique in a set: remove one of the two files",
        ));
    }
    if files.meta.is_none() && files.hand_dropped.is_none() {
        if managed.is_some() || files.cert.is_some() {
            return Ok(Loaded::Unfinished(Unfinished {
                kid: kid.to_string(),
                files: files.all(),
                private: files.private.is_some(),
            }));
        }
        return Ok(Loaded::Nothing);
    }
    let Some(key_file) = files.hand_dropped.as_ref().or(managed) else {
        let meta = files.meta.as_ref().expect("meta present");
        return Err(Error::input(
            meta,
            format!("metadata of kid `{kid}` has no key file beside it ({kid}.pub.pem or {kid}.key.pem)"),
            "restore the key files, or delete the metadata if the key is gone",
        ));
    };
    let material = read_material(kid, files)?;
    let meta = match &files.meta {
        Some(path) => read_meta(path, kid, &material)?,
        None => default_meta(kid, &material),
    };
    if !tested.covers(kid, &material, meta.alg, meta.key_use)
        && let Err(problem) = self_test(&material, meta.alg, meta.key_use)
    {
        let file = files.private.as_ref().unwrap_or(key_file);
        return Err(Error::input(file, problem, "replace the key pair; `jwksmith rotate` makes a new one"));
    }
    let cert_der = match &files.cert {
        Some(path) if config.x5c => Some(read_cert(path, &material)?),
        _ => None,
    };
    Ok(Loaded::Key(Box::new(Key {
        meta,
        material,
        cert_der,
        files: files.all(),
        hand_dropped: files.hand_dropped.is_some(),
    })))
}

fn read_material(kid: &str, files: &KidFiles) -> Result<KeyMaterial> {
    let parse_bytes = |path: &PathBuf, bytes: &[u8]| -> Result<KeyMaterial> {
        parse_pem(bytes)
            .map_err(|p| Error::input(path, p, "replace it with a valid PEM key (PKCS#8, PKCS#1, SEC1 or SPKI)"))
    };
    let parse = |path: &PathBuf| parse_bytes(path, &read(path)?);
    if let Some(path) = &files.hand_dropped {
        return parse(path);
    }
    let private = files.private.as_ref().map(|p| parse(p).map(|m| (p, m))).transpose()?;
    let public = match (&private, &files.public) {
        // The usual pair: `rotate` wrote the public file as the SPKI PEM of the private key's
        // public part. Those exact bytes parse to that public part, so they are not parsed again.
        (Some((_, pm)), Some(path)) if pm.secret.is_some() => {
            let bytes = read(path)?;
            let material =
                if bytes == pm.public.spki_pem_ref().as_bytes() { pm.public_only() } else { parse_bytes(path, &bytes)? };
            Some((path, material))
        }
        (_, public) => public.as_ref().map(|p| parse(p).map(|m| (p, m))).transpose()?,
    };
    if let Some((path, m)) = &private
        && m.secret.is_none()
    {
        return Err(Error::input(
            path,
            "holds a public key, but `.key.pem` files hold the private key",
            format!("rename it to {kid}.pub.pem"),
        ));
    }
    if let Some((path, m)) = &public
        && m.secret.is_some()
    {
        return Err(Error::input(
            path,
            "holds a private key, but `.pub.pem` files are committed and published: it must hold only the public key",
            format!("move it to {kid}.key.pem and write the public key with `openssl pkey -pubout`"),
        ));
    }
    match (private, public) {
        (Some((ppath, pm)), Some((_, pubm))) => {
            if pm.public != pubm.public {
                return Err(Error::input(
                    ppath,
                    format!(
                        "the private and public files of kid `{kid}` do not match ({kid}.key.pem vs {kid}.pub.pem)"
                    ),
                    "restore the matching pair, or delete both and run `jwksmith rotate`",
                ));
            }
            Ok(pm)
        }
        (Some((_, pm)), None) => Ok(pm),
        (None, Some((_, pubm))) => Ok(pubm),
        (None, None) => unreachable!("caller checked a key file exists"),
    }
}

fn read_meta(path: &Path, kid: &str, material: &KeyMaterial) -> Result<Meta> {
    let fix = "fix the metadata, or delete it and run `jwksmith import` on the key";
    let meta = meta::parse(&read(path)?).map_err(|p| Error::input(path, p, fix))?;
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

/// Refuses a `now` before the creation of any key of `sets` (a runner's wrong clock, a mistyped
/// `--now`): at such an instant the key does not exist yet, a build would publish a set without
/// it and a rotation would make a second current key. The error names the newest such key's
/// metadata, its `created` time and `now`. (`status` shows such keys as `pending` instead.)
pub fn check_now_after_created<'a>(sets: impl IntoIterator<Item = &'a KeySet>, now: Timestamp) -> Result<()> {
    let newest = sets
        .into_iter()
        .flat_map(|set| set.keys.iter().map(move |key| (set, key)))
        .filter_map(|(set, key)| key.meta.created.filter(|c| *c > now).map(|c| (c, set, key)))
        .max_by(|a, b| (a.0, &a.1.path, a.2.kid()).cmp(&(b.0, &b.1.path, b.2.kid())));
    let Some((created, _, key)) = newest else { return Ok(()) };
    let file = key.files.iter().find(|f| f.as_os_str().as_encoded_bytes().ends_with(b".meta.json"));
    Err(Error::input(
        file.unwrap_or(&key.files[0]),
        format!(
            "key `{}` was created at {created}, after now ({now}): jwksmith does not act at a time before its keys exist",
            key.kid()
        ),
        format!(
            "check the system clock, or give a --now at or after {created}; `jwksmith status` lists such keys as pending"
        ),
    ))
}

/// Metadata of a hand-dropped key without a meta file: sig, default alg, always current.
pub fn default_meta(kid: &str, material: &KeyMaterial) -> Meta {
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
    let bytes = read(path)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_classify() {
        assert_eq!(classify("rsa-sig-001.key.pem"), Some((FileKind::Private, "rsa-sig-001")));
        assert_eq!(classify("a.pub.pem"), Some((FileKind::Public, "a")));
        assert_eq!(classify("a.meta.json"), Some((FileKind::Meta, "a")));
        assert_eq!(classify("legacy.pem"), Some((FileKind::HandDropped, "legacy")));
        assert_eq!(classify("notes.txt"), None);
        assert_eq!(classify(".pem"), None);
    }
}
