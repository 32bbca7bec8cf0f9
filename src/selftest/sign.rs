//! The self-test of one key: its private part signs a message, and the signature must verify
//! against the public members that will be published. ring does both sides (aws-lc-rs for
//! P-521, which ring lacks). [`check_usable`] stops before the signature: the signing library
//! accepts the private key, which is all a read-only command needs to know.

use crate::jose::{Alg, Curve, Use};
use crate::key::{KeyMaterial, PublicKey, PublicParts};

const MESSAGE: &[u8] = b"jwksmith self-test: sign with the private key, verify with the published JWK";

const MISMATCH: &str =
    "self-test failed: a signature made with the private key does not verify against the published public key";

/// Signs with the private part and verifies with the public part. Encryption keys are tested
/// with the signature scheme of their key type (RS256, or ECDSA on their curve): that proves
/// the pair matches and the private key is usable.
pub(crate) fn self_test(key: &KeyMaterial, alg: Alg, key_use: Use) -> Result<(), String> {
    match signer(key, alg, key_use)? {
        Some(signer) => signer.sign_and_verify(),
        None => Ok(()),
    }
}

/// Checks that the signing library accepts the private part for `alg` as [`self_test`] would,
/// without signing: the same errors for a key it refuses, none of the cost of a signature.
pub(crate) fn check_usable(key: &KeyMaterial, alg: Alg, key_use: Use) -> Result<(), String> {
    signer(key, alg, key_use).map(|_| ())
}

/// A private key accepted by its signing library, with the public point or integers to verify
/// against.
enum Signer<'a> {
    Rsa {
        pair: ring::signature::RsaKeyPair,
        sign: &'static dyn ring::signature::RsaEncoding,
        verify: &'static ring::signature::RsaParameters,
        n: &'a [u8],
        e: &'a [u8],
    },
    Ecdsa {
        pair: ring::signature::EcdsaKeyPair,
        verify: &'static ring::signature::EcdsaVerificationAlgorithm,
        point: Vec<u8>,
    },
    P521 {
        pair: aws_lc_rs::signature::EcdsaKeyPair,
        point: Vec<u8>,
    },
}

/// The signer of a key's private part (`None` for a public key).
fn signer(key: &KeyMaterial, alg: Alg, key_use: Use) -> Result<Option<Signer<'_>>, String> {
    let Some(pkcs8) = key.pkcs8_der_ref() else {
        return Ok(None);
    };
    let alg = if key_use == Use::Sig { alg } else { fallback_alg(&key.public) };
    let point = || key.public.ec_point_bytes().unwrap_or_default();
    let signer = match key.public.parts() {
        PublicParts::Rsa { n, e } => rsa(pkcs8, n, e, alg)?,
        PublicParts::Ec { crv: Curve::P521, .. } => Signer::P521 { pair: p521(pkcs8)?, point: point() },
        PublicParts::Ec { .. } => ecdsa(pkcs8, point(), alg)?,
    };
    Ok(Some(signer))
}

fn fallback_alg(public: &PublicKey) -> Alg {
    match public.curve() {
        Some(c) => c.signing_alg(),
        None => Alg::Rs256,
    }
}

fn rsa<'a>(pkcs8: &[u8], n: &'a [u8], e: &'a [u8], alg: Alg) -> Result<Signer<'a>, String> {
    use ring::signature as s;
    let (sign, verify): (&'static dyn s::RsaEncoding, &'static s::RsaParameters) = match alg {
        Alg::Rs256 => (&s::RSA_PKCS1_SHA256, &s::RSA_PKCS1_2048_8192_SHA256),
        Alg::Rs384 => (&s::RSA_PKCS1_SHA384, &s::RSA_PKCS1_2048_8192_SHA384),
        Alg::Rs512 => (&s::RSA_PKCS1_SHA512, &s::RSA_PKCS1_2048_8192_SHA512),
        Alg::Ps256 => (&s::RSA_PSS_SHA256, &s::RSA_PSS_2048_8192_SHA256),
        Alg::Ps384 => (&s::RSA_PSS_SHA384, &s::RSA_PSS_2048_8192_SHA384),
        Alg::Ps512 => (&s::RSA_PSS_SHA512, &s::RSA_PSS_2048_8192_SHA512),
        other => return Err(format!("alg {other} cannot sign")),
    };
    let pair = s::RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| format!("the RSA private key is not valid ({e})"))?;
    Ok(Signer::Rsa { pair, sign, verify, n, e })
}

fn ecdsa<'a>(pkcs8: &[u8], point: Vec<u8>, alg: Alg) -> Result<Signer<'a>, String> {
    use ring::signature as s;
    let (sign, verify) = match alg {
        Alg::Es256 => (&s::ECDSA_P256_SHA256_FIXED_SIGNING, &s::ECDSA_P256_SHA256_FIXED),
        Alg::Es384 => (&s::ECDSA_P384_SHA384_FIXED_SIGNING, &s::ECDSA_P384_SHA384_FIXED),
        other => return Err(format!("alg {other} does not fit this EC key")),
    };
    let pair = s::EcdsaKeyPair::from_pkcs8(sign, pkcs8, &ring::rand::SystemRandom::new())
        .map_err(|e| format!("the EC private key does not match its public key or is not valid ({e})"))?;
    Ok(Signer::Ecdsa { pair, verify, point })
}

fn p521(pkcs8: &[u8]) -> Result<aws_lc_rs::signature::EcdsaKeyPair, String> {
    use aws_lc_rs::signature as s;
    s::EcdsaKeyPair::from_pkcs8(&s::ECDSA_P521_SHA512_FIXED_SIGNING, pkcs8)
        .map_err(|e| format!("the EC private key does not match its public key or is not valid ({e})"))
}

impl Signer<'_> {
    fn sign_and_verify(&self) -> Result<(), String> {
        let mismatch = |_| MISMATCH.to_string();
        match self {
            Signer::Rsa { pair, sign, verify, n, e } => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                let rng = ring::rand::SystemRandom::new();
                pair.sign(*sign, &rng, MESSAGE, &mut sig)
                    .map_err(|_| "signing with the RSA private key failed".to_string())?;
                ring::signature::RsaPublicKeyComponents { n, e }.verify(verify, MESSAGE, &sig).map_err(mismatch)
            }
            Signer::Ecdsa { pair, verify, point } => {
                let rng = ring::rand::SystemRandom::new();
                let sig = pair.sign(&rng, MESSAGE).map_err(|_| "signing with the EC private key failed".to_string())?;
                ring::signature::UnparsedPublicKey::new(*verify, point).verify(MESSAGE, sig.as_ref()).map_err(mismatch)
            }
            Signer::P521 { pair, point } => {
                use aws_lc_rs::signature as s;
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let sig = pair.sign(&rng, MESSAGE).map_err(|_| "signing with the EC private key failed".to_string())?;
                s::UnparsedPublicKey::new(&s::ECDSA_P521_SHA512_FIXED, point)
                    .verify(MESSAGE, sig.as_ref())
                    .map_err(|_| MISMATCH.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeySpec;
    use crate::generate::generate;
    use crate::jose::Kty;

    #[test]
    fn generated_ec_keys_pass_the_self_test() {
        for crv in Curve::ALL {
            let spec = KeySpec {
                spec: "t".into(),
                kty: Kty::Ec,
                size: None,
                crv: Some(crv),
                key_use: Use::Sig,
                alg: crv.signing_alg(),
            };
            let key = generate(&spec).unwrap();
            assert_eq!(key.material.public.curve(), Some(crv));
            self_test(&key.material, spec.alg, Use::Sig).unwrap();
        }
    }

    #[test]
    fn generated_rsa_key_is_2048_bits() {
        let spec = KeySpec {
            spec: "t".into(),
            kty: Kty::Rsa,
            size: Some(2048),
            crv: None,
            key_use: Use::Sig,
            alg: Alg::Ps256,
        };
        let key = generate(&spec).unwrap();
        assert_eq!(key.material.public.rsa_bits(), Some(2048));
        self_test(&key.material, Alg::Ps256, Use::Sig).unwrap();
    }

    /// What `status` checks without signing fails exactly where the self-test fails before it
    /// signs, with the same message.
    #[test]
    fn check_usable_refuses_what_the_self_test_refuses() {
        let spec = KeySpec {
            spec: "t".into(),
            kty: Kty::Ec,
            size: None,
            crv: Some(Curve::P256),
            key_use: Use::Sig,
            alg: Alg::Es256,
        };
        let key = generate(&spec).unwrap().material;
        assert_eq!(check_usable(&key, Alg::Es256, Use::Sig), Ok(()));
        assert_eq!(check_usable(&key.public_only(), Alg::Es256, Use::Sig), Ok(()));
        let refused = check_usable(&key, Alg::Es384, Use::Sig);
        assert!(refused.as_ref().is_err_and(|e| e.contains("does not match its public key")), "{refused:?}");
        assert_eq!(refused, self_test(&key, Alg::Es384, Use::Sig));
    }
}
