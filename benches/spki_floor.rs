//! The floor of bench/run's W7 (the CI path: public-only sets, no private key, no build
//! record): the least a tool must do to read a key directory that holds only public keys. It
//! walks `KEYS_DIR`, and on all cores (rayon) reads each `*.pub.pem`, decodes the PEM block,
//! parses the DER SubjectPublicKeyInfo (`spki`) and its key: the RSA modulus and exponent
//! (`pkcs1`), or the EC point and curve. Nothing is written; no metadata is read.
//!
//! usage: `spki_floor KEYS_DIR` (built by `cargo bench --no-run --bench spki_floor`)

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use der::Decode as _;
use rayon::prelude::*;
use spki::SubjectPublicKeyInfoRef;

/// `rsaEncryption` and `id-ecPublicKey`.
const RSA: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Reads and parses one SPKI PEM file; returns the key's size in bits (RSA: the modulus; EC:
/// the coordinates), so the parse cannot be optimised away.
fn read_spki(path: &Path) -> Result<usize, String> {
    let failed = |what: String| format!("{}: {what}", path.display());
    let text = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    let der = pem::parse(&text).map_err(|e| failed(e.to_string()))?.into_contents();
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

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: spki_floor KEYS_DIR");
        return ExitCode::from(2);
    };
    let keys: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.file_name().to_string_lossy().ends_with(".pub.pem"))
        .map(|e| e.into_path())
        .collect();
    match keys.par_iter().map(|path| read_spki(path)).collect::<Result<Vec<usize>, String>>() {
        Ok(bits) => {
            println!("{} public keys read and parsed ({} bits in all)", keys.len(), bits.iter().sum::<usize>());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
