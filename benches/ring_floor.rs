//! The floor of bench/run's W1: the least a tool must do to self-test a key directory. It walks
//! `KEYS_DIR`, and on all cores (rayon) reads each `*.key.pem` (PKCS#8), parses it with ring,
//! signs a message once and verifies the signature once. Nothing is written.
//!
//! usage: `ring_floor KEYS_DIR` (built by `cargo bench --no-run --bench ring_floor`)

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rayon::prelude::*;
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair as _};

const MESSAGE: &[u8] = b"ring floor: sign once, verify once";

/// Parses one PKCS#8 private key (RSA, else P-256), signs and verifies.
fn sign_and_verify(path: &Path, rng: &SystemRandom) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let der = pem::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?.into_contents();
    let failed = |what: &str| format!("{}: {what}", path.display());
    if let Ok(pair) = sig::RsaKeyPair::from_pkcs8(&der) {
        let mut signature = vec![0u8; pair.public().modulus_len()];
        pair.sign(&sig::RSA_PKCS1_SHA256, rng, MESSAGE, &mut signature).map_err(|_| failed("RSA sign"))?;
        sig::UnparsedPublicKey::new(&sig::RSA_PKCS1_2048_8192_SHA256, pair.public().as_ref())
            .verify(MESSAGE, &signature)
            .map_err(|_| failed("RSA verify"))
    } else {
        let pair = sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &der, rng)
            .map_err(|_| failed("neither an RSA nor a P-256 PKCS#8 key"))?;
        let signature = pair.sign(rng, MESSAGE).map_err(|_| failed("EC sign"))?;
        sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref())
            .verify(MESSAGE, signature.as_ref())
            .map_err(|_| failed("EC verify"))
    }
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: ring_floor KEYS_DIR");
        return ExitCode::from(2);
    };
    let keys: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.file_name().to_string_lossy().ends_with(".key.pem"))
        .map(|e| e.into_path())
        .collect();
    let rng = SystemRandom::new();
    match keys.par_iter().try_for_each(|path| sign_and_verify(path, &rng)) {
        Ok(()) => {
            println!("{} keys parsed, signed and verified", keys.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
