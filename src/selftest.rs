//! The self-test: every key with a private part signs a message, and the signature must verify
//! against the public JWK members that will be published. ring does both sides (aws-lc-rs for
//! P-521, which ring lacks).

use crate::jose::{Alg, Curve, Use};
use crate::key::{KeyMaterial, PublicKey};

const MESSAGE: &[u8] = b"jwksmith self-test: sign with the private key, verify with the published JWK";

/// Signs with the private part and verifies with the public part. Encryption keys are tested
/// with the signature scheme of their key type (RS256, or ECDSA on their curve): that proves
/// the pair matches and the private key is usable.
pub fn self_test(key: &KeyMaterial, alg: Alg, key_use: Use) -> Result<(), String> {
    let Some(pkcs8) = key.pkcs8_der() else {
        return Ok(());
    };
    let alg = if key_use == Use::Sig { alg } else { fallback_alg(&key.public) };
    match &key.public {
        PublicKey::Rsa { n, e } => rsa(&pkcs8, n, e, alg),
        PublicKey::Ec { crv: Curve::P521, .. } => p521(&pkcs8, &key.public),
        PublicKey::Ec { .. } => ecdsa(&pkcs8, &key.public, alg),
    }
}

fn fallback_alg(public: &PublicKey) -> Alg {
    match public.curve() {
        Some(c) => c.signing_alg(),
        None => Alg::Rs256,
    }
}

fn rsa(pkcs8: &[u8], n: &[u8], e: &[u8], alg: Alg) -> Result<(), String> {
    use ring::signature as s;
    let (sign, verify): (&'static dyn s::RsaEncoding, &s::RsaParameters) = match alg {
        Alg::Rs256 => (&s::RSA_PKCS1_SHA256, &s::RSA_PKCS1_2048_8192_SHA256),
        Alg::Rs384 => (&s::RSA_PKCS1_SHA384, &s::RSA_PKCS1_2048_8192_SHA384),
        Alg::Rs512 => (&s::RSA_PKCS1_SHA512, &s::RSA_PKCS1_2048_8192_SHA512),
        Alg::Ps256 => (&s::RSA_PSS_SHA256, &s::RSA_PSS_2048_8192_SHA256),
        Alg::Ps384 => (&s::RSA_PSS_SHA384, &s::RSA_PSS_2048_8192_SHA384),
        Alg::Ps512 => (&s::RSA_PSS_SHA512, &s::RSA_PSS_2048_8192_SHA512),
        other => return Err(format!("alg {other} cannot sign")),
    };
    let pair = s::RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| format!("the RSA private key is not valid ({e})"))?;
    let mut sig = vec![0u8; pair.public().modulus_len()];
    let rng = ring::rand::SystemRandom::new();
    pair.sign(sign, &rng, MESSAGE, &mut sig).map_err(|_| "signing with the RSA private key failed".to_string())?;
    s::RsaPublicKeyComponents { n, e }.verify(verify, MESSAGE, &sig).map_err(|_| {
        "self-test failed: a signature made with the private key does not verify against the published public key"
            .to_string()
    })
}

fn ecdsa(pkcs8: &[u8], public: &PublicKey, alg: Alg) -> Result<(), String> {
    use ring::signature as s;
    let (sign, verify) = match alg {
        Alg::Es256 => (&s::ECDSA_P256_SHA256_FIXED_SIGNING, &s::ECDSA_P256_SHA256_FIXED),
        Alg::Es384 => (&s::ECDSA_P384_SHA384_FIXED_SIGNING, &s::ECDSA_P384_SHA384_FIXED),
        other => return Err(format!("alg {other} does not fit this EC key")),
    };
    let rng = ring::rand::SystemRandom::new();
    let pair = s::EcdsaKeyPair::from_pkcs8(sign, pkcs8, &rng)
        .map_err(|e| format!("the EC private key does not match its public key or is not valid ({e})"))?;
    let sig = pair.sign(&rng, MESSAGE).map_err(|_| "signing with the EC private key failed".to_string())?;
    let point = public.ec_point_bytes().unwrap_or_default();
    s::UnparsedPublicKey::new(verify, &point).verify(MESSAGE, sig.as_ref()).map_err(|_| {
        "self-test failed: a signature made with the private key does not verify against the published public key"
            .to_string()
    })
}

fn p521(pkcs8: &[u8], public: &PublicKey) -> Result<(), String> {
    use aws_lc_rs::signature as s;
    let pair = s::EcdsaKeyPair::from_pkcs8(&s::ECDSA_P521_SHA512_FIXED_SIGNING, pkcs8)
        .map_err(|e| format!("the EC private key does not match its public key or is not valid ({e})"))?;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let sig = pair.sign(&rng, MESSAGE).map_err(|_| "signing with the EC private key failed".to_string())?;
    let point = public.ec_point_bytes().unwrap_or_default();
    s::UnparsedPublicKey::new(&s::ECDSA_P521_SHA512_FIXED, &point).verify(MESSAGE, sig.as_ref()).map_err(|_| {
        "self-test failed: a signature made with the private key does not verify against the published public key"
            .to_string()
    })
}
