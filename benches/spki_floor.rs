//! The floors of bench/run's W7 (the CI path: public-only sets, no private key, no build
//! record).
//!
//! - `spki_floor KEYS_DIR`, the SPKI floor: the least a tool must do to read a key directory
//!   that holds only public keys. It walks `KEYS_DIR`, and on all cores (rayon) reads each
//!   `*.pub.pem`, decodes the PEM block, parses the DER SubjectPublicKeyInfo (`spki`) and its
//!   key: the RSA modulus and exponent (`pkcs1`), or the EC point and curve. Nothing is
//!   written; no metadata is read.
//! - `spki_floor KEYS_DIR --build OUT`, the I/O floor of a cold build: the SPKI floor, plus
//!   every other file of each set read (metadata, `keyset.toml`), plus the seven files SPEC §5
//!   makes of a public-only set written the way SPEC §6 requires (a temporary file created
//!   0600 in a staging directory, made 0644 when public, written, renamed into place) in
//!   directories made 0755 (0700 under `private/`). What it writes is the set's inputs, not
//!   JWKs: nothing is planned or rendered.
//! - `spki_floor KEYS_DIR --check OUT`, the I/O floor of `check`: the SPKI floor, plus every
//!   other file of each set read, plus every file under `OUT` read (a build's output).
//!
//! Built by `cargo bench --no-run --bench spki_floor`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use der::Decode as _;
use rayon::prelude::*;
use spki::SubjectPublicKeyInfoRef;

/// `rsaEncryption` and `id-ecPublicKey`.
const RSA: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Reads and parses one SPKI PEM file; returns the key's size in bits (RSA: the modulus; EC:
/// the coordinates), so the parse cannot be optimised away.
fn read_spki(path: &Path) -> Result<usize, String> {
    let text = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_spki(path, &text)
}

/// Parses the SPKI PEM `text` of the file at `path`; returns the key's size in bits.
fn parse_spki(path: &Path, text: &[u8]) -> Result<usize, String> {
    let failed = |what: String| format!("{}: {what}", path.display());
    let der = pem::parse(text).map_err(|e| failed(e.to_string()))?.into_contents();
    let spki = SubjectPublicKeyInfoRef::from_der(&der).map_err(|e| failed(format!("not an SPKI ({e})")))?;
    let key = spki.subject_public_key.raw_bytes();
    match spki.algorithm.oid {
        RSA => {
            let rsa = pkcs1::RsaPublicKeyRef::from_der(key).map_err(|e| failed(format!("not an RSA key ({e})")))?;
            let n = rsa.modulus.as_bytes();
            let leading = n.first().map_or(8, |b| b.leading_zeros() as usize);
            Ok(n.len() * 8 - leading)
        }
        EC => {
            spki.algorithm.parameters_oid().map_err(|e| failed(format!("EC key without a curve ({e})")))?;
            match key.first() {
                Some(4) => Ok((key.len() - 1) / 2 * 8),
                _ => Err(failed("EC point not uncompressed".into())),
            }
        }
        other => Err(failed(format!("unknown key algorithm {other}"))),
    }
}

/// What one run measures.
enum Mode {
    /// The SPKI floor.
    Parse,
    /// The I/O floor of a cold build into this directory.
    Build(PathBuf),
    /// The I/O floor of `check` of this directory.
    Check(PathBuf),
}

/// The files SPEC §5 makes of a public-only set, relative to its publish path, under
/// `public/` (false) or `private/` (true).
const SET_OUTPUTS: [(&str, bool); 7] = [
    ("index.html", false),
    ("jwks.json", false),
    ("jwt-keys.json", false),
    ("jwt-keys.active.json", false),
    (".well-known/jwks.json", false),
    ("verify.pem", true),
    ("jwks.json", true),
];

/// The number of the next temporary file of `--build`.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` as SPEC §6 requires: a temporary file in `staging` created 0600,
/// given `mode`, written, renamed over `path`.
fn write_atomic(staging: &Path, path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = staging.join(format!(".tmp-{}", NEXT_TEMP.fetch_add(1, Ordering::Relaxed)));
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    if mode != 0o600 {
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    file.write_all(bytes)?;
    drop(file);
    fs::rename(&tmp, path)
}

/// Makes `dir` and its missing parents with `mode`.
fn make_dir(dir: &Path, mode: u32) -> std::io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(mode).create(dir)
}

/// Reads every file of one set (the directory `set`, `rel` under the keys), parses its public
/// keys, and with `--build` writes its seven outputs under `out`. Returns the keys' bits.
fn floor_set(keys: &Path, set: &Path, files: &[PathBuf], out: Option<&Path>) -> Result<usize, String> {
    let mut bits = 0;
    let mut inputs = Vec::new();
    for path in files {
        let text = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if path.to_string_lossy().ends_with(".pub.pem") {
            bits += parse_spki(path, &text)?;
        }
        inputs.extend_from_slice(&text);
    }
    let Some(out) = out else { return Ok(bits) };
    let rel = set.strip_prefix(keys).map_err(|e| e.to_string())?;
    let staging = out.join(".staging");
    let failed = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    let (public, private) = (out.join("public").join(rel), out.join("private").join(rel));
    make_dir(&public.join(".well-known"), 0o755).map_err(|e| failed(&public, e))?;
    make_dir(&private, 0o700).map_err(|e| failed(&private, e))?;
    for (name, secret) in SET_OUTPUTS {
        let (path, mode) = if secret { (private.join(name), 0o600) } else { (public.join(name), 0o644) };
        write_atomic(&staging, &path, &inputs, mode).map_err(|e| failed(&path, e))?;
    }
    Ok(bits)
}

/// Reads every file under `dir`, on all cores; returns how many bytes.
fn read_all(dir: &Path) -> Result<usize, String> {
    let files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.par_iter().map(|path| fs::read(path).map(|b| b.len()).map_err(|e| format!("{}: {e}", path.display()))).sum()
}

/// Every file of each set with a public key read and its keys parsed, on all cores; with
/// `out`, each set's outputs written there. Returns the number of sets and their keys' bits.
fn floor_sets(keys: &Path, out: Option<&Path>) -> Result<(usize, usize), String> {
    let mut sets: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for entry in walkdir::WalkDir::new(keys).into_iter().filter_map(|e| e.ok()).filter(|e| e.file_type().is_file()) {
        let path = entry.into_path();
        sets.entry(path.parent().unwrap_or(keys).to_path_buf()).or_default().push(path);
    }
    sets.retain(|_, files| files.iter().any(|f| f.to_string_lossy().ends_with(".pub.pem")));
    let sets: Vec<(PathBuf, Vec<PathBuf>)> = sets.into_iter().collect();
    let bits = sets.par_iter().map(|(set, files)| floor_set(keys, set, files, out)).sum::<Result<_, _>>()?;
    Ok((sets.len(), bits))
}

/// The I/O floor of a cold build into `out`.
fn floor_build(keys: &Path, out: &Path) -> Result<String, String> {
    let staging = out.join(".staging");
    make_dir(&staging, 0o700).map_err(|e| format!("{}: {e}", staging.display()))?;
    let (sets, bits) = floor_sets(keys, Some(out))?;
    fs::remove_dir(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    Ok(format!("{sets} sets read, parsed ({bits} bits of keys) and written"))
}

/// The I/O floor of `check` of `out`.
fn floor_check(keys: &Path, out: &Path) -> Result<String, String> {
    let (sets, bits) = floor_sets(keys, None)?;
    let bytes = read_all(out)?;
    Ok(format!("{sets} sets read and parsed ({bits} bits of keys), {bytes} bytes of output read"))
}

/// The SPKI floor: each `*.pub.pem` read and parsed, on all cores.
fn floor_spki(keys: &Path) -> Result<String, String> {
    let keys: Vec<PathBuf> = walkdir::WalkDir::new(keys)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.file_name().to_string_lossy().ends_with(".pub.pem"))
        .map(|e| e.into_path())
        .collect();
    let bits = keys.par_iter().map(|path| read_spki(path)).collect::<Result<Vec<usize>, String>>()?;
    Ok(format!("{} public keys read and parsed ({} bits in all)", keys.len(), bits.iter().sum::<usize>()))
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mode = match args.as_slice() {
        [_] => Mode::Parse,
        [_, flag, out] if flag == "--build" => Mode::Build(out.into()),
        [_, flag, out] if flag == "--check" => Mode::Check(out.into()),
        _ => {
            eprintln!("usage: spki_floor KEYS_DIR [--build OUT | --check OUT]");
            return ExitCode::from(2);
        }
    };
    let keys = Path::new(&args[0]);
    let done = match mode {
        Mode::Parse => floor_spki(keys),
        Mode::Build(out) => floor_build(keys, &out),
        Mode::Check(out) => floor_check(keys, &out),
    };
    match done {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
