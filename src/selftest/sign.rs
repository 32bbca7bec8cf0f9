//! Signing and verifying with one key, and the self-test built on them: the private part signs
//! a message, and the signature must verify against the public members that will be published.
//! ring does both sides (aws-lc-rs for P-521, which ring lacks); ECDSA signatures are in the
//! JOSE fixed `r || s` form. [`check_usable`] stops before the signature: the signing library
//! accepts the private key, which is all a read-only command needs to know. [`sign`] and
//! [`verify`] are the JWS primitives of `token` and `verify` (`crate::jwt`).

use crate::jose::{Alg, Curve, Use};
use crate::key::{KeyMaterial, PublicKey, PublicParts};

const MESSAGE: &[u8] = b"jwksmith self-test: sign with the private key, verify with the published JWK";

const MISMATCH: &str =
    "self-test failed: a signature made with the private key does not verify against the published public key";

/// Signs with the private part and verifies with the public part. Encryption keys are tested
/// with the signature scheme of their key type (RS256, or ECDSA on their curve): that proves
/// the pair matches and the private key is usable.
pub(crate) fn self_test(key: &KeyMaterial, alg: Alg, key_use: Use) -> Result<(), String> {
    let Some(signer) = signer(key, alg, key_use)? else { return Ok(()) };
    let sig = signer.sign(MESSAGE)?;
    verify(&key.public, signer.alg, MESSAGE, &sig).map_err(|_| MISMATCH.to_string())
}

/// Checks that the signing library accepts the private part for `alg` as [`self_test`] would,
/// without signing: the same errors for a key it refuses, none of the cost of a signature.
pub(crate) fn check_usable(key: &KeyMaterial, alg: Alg, key_use: Use) -> Result<(), String> {
    signer(key, alg, key_use).map(|_| ())
}

/// The JWS signature of `message` under `alg` (RS*, PS*, ES* in the fixed `r || s` form) made
/// with the key's private part. An error (the problem) when the key has no private part or
/// `alg` does not fit it.
pub(crate) fn sign(key: &KeyMaterial, alg: Alg, message: &[u8]) -> Result<Vec<u8>, String> {
    if alg.key_use() != Use::Sig {
        return Err(format!("alg {alg} is an encryption algorithm: it does not sign"));
    }
    match signer(key, alg, Use::Sig)? {
        Some(signer) => signer.sign(message),
        None => Err("the key has no private part".into()),
    }
}

/// Checks a JWS signature of `message` under `alg` against a public key. An error (the
/// problem) when `alg` does not fit the key or the signature does not verify.
pub(crate) fn verify(public: &PublicKey, alg: Alg, message: &[u8], signature: &[u8]) -> Result<(), String> {
    use ring::signature as s;
    let bad = || "the signature does not verify against the key".to_string();
    match (public.parts(), alg) {
        (PublicParts::Rsa { n, e }, _) => {
            let params: &s::RsaParameters = match alg {
                Alg::Rs256 => &s::RSA_PKCS1_2048_8192_SHA256,
                Alg::Rs384 => &s::RSA_PKCS1_2048_8192_SHA384,
                Alg::Rs512 => &s::RSA_PKCS1_2048_8192_SHA512,
                Alg::Ps256 => &s::RSA_PSS_2048_8192_SHA256,
                Alg::Ps384 => &s::RSA_PSS_2048_8192_SHA384,
                Alg::Ps512 => &s::RSA_PSS_2048_8192_SHA512,
                other => return Err(format!("alg {other} does not sign with an RSA key")),
            };
            s::RsaPublicKeyComponents { n, e }.verify(params, message, signature).map_err(|_| bad())
        }
        (PublicParts::Ec { crv: Curve::P521, .. }, Alg::Es512) => {
            use aws_lc_rs::signature as a;
            let point = public.ec_point_bytes().unwrap_or_default();
            a::UnparsedPublicKey::new(&a::ECDSA_P521_SHA512_FIXED, point).verify(message, signature).map_err(|_| bad())
        }
        (PublicParts::Ec { crv, .. }, _) => {
            let params = match (crv, alg) {
                (Curve::P256, Alg::Es256) => &s::ECDSA_P256_SHA256_FIXED,
                (Curve::P384, Alg::Es384) => &s::ECDSA_P384_SHA384_FIXED,
                (crv, other) => return Err(format!("alg {other} does not sign with a {} key", crv.name())),
            };
            let point = public.ec_point_bytes().unwrap_or_default();
            s::UnparsedPublicKey::new(params, point).verify(message, signature).map_err(|_| bad())
        }
    }
}

/// A private key accepted by its signing library, and the alg it signs with.
struct Signer {
    alg: Alg,
    kind: SignerKind,
}

enum SignerKind {
    Rsa {
        pair: ring::signature::RsaKeyPair,
        encoding: &'static dyn ring::signature::RsaEncoding,
    },
    Ecdsa(ring::signature::EcdsaKeyPair),
    P521(aws_lc_rs::signature::EcdsaKeyPair),
    /// An RSA key over ring's 4096 bits (aws-lc signs up to 8192).
    LargeRsa {
        pair: aws_lc_rs::signature::RsaKeyPair,
        encoding: &'static dyn aws_lc_rs::signature::RsaEncoding,
    },
}

/// The largest RSA modulus ring signs with; aws-lc takes larger ones.
const RING_RSA_MAX_BITS: usize = 4096;

/// The signer of a key's private part (`None` for a public key).
fn signer(key: &KeyMaterial, alg: Alg, key_use: Use) -> Result<Option<Signer>, String> {
    let Some(pkcs8) = key.pkcs8_der_ref() else {
        return Ok(None);
    };
    let alg = if key_use == Use::Sig { alg } else { fallback_alg(&key.public) };
    let kind = match key.public.parts() {
        PublicParts::Rsa { .. } if key.public.rsa_bits().is_some_and(|b| b > RING_RSA_MAX_BITS) => {
            large_rsa(pkcs8, alg)?
        }
        PublicParts::Rsa { .. } => rsa(pkcs8, alg)?,
        PublicParts::Ec { crv: Curve::P521, .. } if alg == Alg::Es512 => SignerKind::P521(p521(pkcs8)?),
        PublicParts::Ec { .. } => ecdsa(pkcs8, alg)?,
    };
    Ok(Some(Signer { alg, kind }))
}

fn fallback_alg(public: &PublicKey) -> Alg {
    match public.curve() {
        Some(c) => c.signing_alg(),
        None => Alg::Rs256,
    }
}

/// The RSA signing key of `pkcs8` and the encoding of `alg`, from the `signature` module of
/// `$krate` (ring and aws-lc-rs share the API, not the types).
macro_rules! rsa_signer {
    ($krate:ident, $pkcs8:expr, $alg:expr) => {{
        use $krate::signature as s;
        let encoding: &'static dyn s::RsaEncoding = match $alg {
            Alg::Rs256 => &s::RSA_PKCS1_SHA256,
            Alg::Rs384 => &s::RSA_PKCS1_SHA384,
            Alg::Rs512 => &s::RSA_PKCS1_SHA512,
            Alg::Ps256 => &s::RSA_PSS_SHA256,
            Alg::Ps384 => &s::RSA_PSS_SHA384,
            Alg::Ps512 => &s::RSA_PSS_SHA512,
            other => return Err(format!("alg {other} cannot sign")),
        };
        let pair = s::RsaKeyPair::from_pkcs8($pkcs8).map_err(|e| format!("the RSA private key is not valid ({e})"))?;
        (pair, encoding)
    }};
}

fn rsa(pkcs8: &[u8], alg: Alg) -> Result<SignerKind, String> {
    let (pair, encoding) = rsa_signer!(ring, pkcs8, alg);
    Ok(SignerKind::Rsa { pair, encoding })
}

fn large_rsa(pkcs8: &[u8], alg: Alg) -> Result<SignerKind, String> {
    let (pair, encoding) = rsa_signer!(aws_lc_rs, pkcs8, alg);
    Ok(SignerKind::LargeRsa { pair, encoding })
}

fn ecdsa(pkcs8: &[u8], alg: Alg) -> Result<SignerKind, String> {
    use ring::signature as s;
    let sign = match alg {
        Alg::Es256 => &s::ECDSA_P256_SHA256_FIXED_SIGNING,
        Alg::Es384 => &s::ECDSA_P384_SHA384_FIXED_SIGNING,
        other => return Err(format!("alg {other} does not fit this EC key")),
    };
    let pair = s::EcdsaKeyPair::from_pkcs8(sign, pkcs8, &ring::rand::SystemRandom::new())
        .map_err(|e| format!("the EC private key does not match its public key or is not valid ({e})"))?;
    Ok(SignerKind::Ecdsa(pair))
}

fn p521(pkcs8: &[u8]) -> Result<aws_lc_rs::signature::EcdsaKeyPair, String> {
    use aws_lc_rs::signature as s;
    s::EcdsaKeyPair::from_pkcs8(&s::ECDSA_P521_SHA512_FIXED_SIGNING, pkcs8)
        .map_err(|e| format!("the EC private key does not match its public key or is not valid ({e})"))
}

impl Signer {
    /// The signature of `message`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        match &self.kind {
            SignerKind::Rsa { pair, encoding } => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                let rng = ring::rand::SystemRandom::new();
                pair.sign(*encoding, &rng, message, &mut sig)
                    .map_err(|_| "signing with the RSA private key failed".to_string())?;
                Ok(sig)
            }
            SignerKind::Ecdsa(pair) => {
                let rng = ring::rand::SystemRandom::new();
                let sig = pair.sign(&rng, message).map_err(|_| "signing with the EC private key failed".to_string())?;
                Ok(sig.as_ref().to_vec())
            }
            SignerKind::LargeRsa { pair, encoding } => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                let rng = aws_lc_rs::rand::SystemRandom::new();
                pair.sign(*encoding, &rng, message, &mut sig)
                    .map_err(|_| "signing with the RSA private key failed".to_string())?;
                Ok(sig)
            }
            SignerKind::P521(pair) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let sig = pair.sign(&rng, message).map_err(|_| "signing with the EC private key failed".to_string())?;
                Ok(sig.as_ref().to_vec())
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

    /// Every JWS alg signs and verifies (ECDSA in the fixed r || s form); a changed message, or
    /// an alg that is not the one signed with, does not verify.
    #[test]
    fn every_signing_alg_signs_and_verifies() {
        let rsa = generate(&KeySpec {
            spec: "t".into(),
            kty: Kty::Rsa,
            size: Some(2048),
            crv: None,
            key_use: Use::Sig,
            alg: Alg::Rs256,
        })
        .unwrap()
        .material;
        let cases = [
            (Alg::Rs256, 256),
            (Alg::Rs384, 256),
            (Alg::Rs512, 256),
            (Alg::Ps256, 256),
            (Alg::Ps384, 256),
            (Alg::Ps512, 256),
            (Alg::Es256, 64),
            (Alg::Es384, 96),
            (Alg::Es512, 132),
        ];
        for (alg, len) in cases {
            let key = match alg.curve() {
                Some(crv) => {
                    let spec =
                        KeySpec { spec: "t".into(), kty: Kty::Ec, size: None, crv: Some(crv), key_use: Use::Sig, alg };
                    generate(&spec).unwrap().material
                }
                None => rsa.clone(),
            };
            let sig = sign(&key, alg, b"a.b").unwrap();
            assert_eq!(sig.len(), len, "{alg}");
            assert_eq!(verify(&key.public, alg, b"a.b", &sig), Ok(()), "{alg}");
            assert!(verify(&key.public, alg, b"a.c", &sig).is_err(), "{alg}: another message");
        }
        let sig = sign(&rsa, Alg::Rs256, b"m").unwrap();
        assert!(verify(&rsa.public, Alg::Rs384, b"m", &sig).is_err());
        assert!(verify(&rsa.public, Alg::Es256, b"m", &sig).unwrap_err().contains("does not sign with an RSA key"));
        assert!(sign(&rsa, Alg::RsaOaep256, b"m").unwrap_err().contains("encryption algorithm"));
        assert_eq!(sign(&rsa.public_only(), Alg::Rs256, b"m").unwrap_err(), "the key has no private part");
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
