//! One key: its public and secret parts ([`PublicKey`], [`SecretKey`]) read from PEM (five
//! forms, [`parse_pem`]) or JWK ([`parse_jwk`]), and its encodings: JWK members, DER (SPKI,
//! PKCS#8), PEM and fingerprints (RFC 7638 thumbprint, SPKI SHA-256), each derived once per key
//! and kept. Nothing here touches the disk.
//!
//! - `public.rs`, `secret.rs`: the two halves, validated on construction.
//! - `pem.rs`, `asn1.rs`, `jwk.rs`: the readers (PEM, the DER forms inside it, JWK).
//! - `encode.rs`: base64, DER and PEM writing; `curve.rs`: EC point arithmetic; `oid.rs`.

use std::fmt;
use std::sync::OnceLock;

mod asn1;
mod curve;
mod encode;
mod jwk;
mod oid;
mod pem;
mod public;
mod secret;

pub(crate) use asn1::parse_pkcs8;
pub(crate) use encode::b64_std;
pub use encode::{b64u, pem_lf};
pub use jwk::{JwkHints, parse_jwk};
pub use pem::parse_pem;
pub use public::PublicKey;
pub(crate) use public::PublicParts;
pub use secret::SecretKey;
pub(crate) use secret::SecretParts;

use der::Encode;
use encode::{pkcs8_wrap, uint};
use oid::{OID_EC, OID_RSA};

/// Smallest RSA modulus accepted, in bits.
pub(crate) const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (the limit of the verifiers we test against).
pub(crate) const RSA_MAX_BITS: usize = 8192;

/// A JWK member name and its base64url value, in publication order.
pub(crate) type Members = Vec<(&'static str, String)>;

/// A parsed key: always a public part, a secret part when the file held one. Its PKCS#8
/// encoding is computed on first use and kept.
#[derive(Clone)]
pub struct KeyMaterial {
    /// Public part.
    pub public: PublicKey,
    /// Secret part, when known.
    pub secret: Option<SecretKey>,
    pkcs8_der: OnceLock<Option<Vec<u8>>>,
}

impl PartialEq for KeyMaterial {
    fn eq(&self, other: &Self) -> bool {
        self.public == other.public && self.secret == other.secret
    }
}

impl Eq for KeyMaterial {}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial").field("public", &self.public).field("secret", &self.secret).finish()
    }
}

impl KeyMaterial {
    pub(crate) fn new(public: PublicKey, secret: Option<SecretKey>) -> Self {
        KeyMaterial { public, secret, pkcs8_der: OnceLock::new() }
    }

    /// The unencrypted PKCS#8 DER of the private key, if the secret part is known.
    pub fn pkcs8_der(&self) -> Option<Vec<u8>> {
        self.pkcs8_der_ref().map(<[u8]>::to_vec)
    }

    /// [`KeyMaterial::pkcs8_der`], borrowed from the key.
    pub(crate) fn pkcs8_der_ref(&self) -> Option<&[u8]> {
        self.pkcs8_der.get_or_init(|| self.encode_pkcs8()).as_deref()
    }

    fn encode_pkcs8(&self) -> Option<Vec<u8>> {
        let secret = self.secret.as_ref()?;
        match (self.public.parts(), secret.parts()) {
            (PublicParts::Rsa { n, e }, SecretParts::Rsa { d, p, q, dp, dq, qi }) => {
                let inner = pkcs1::RsaPrivateKey {
                    modulus: uint(n),
                    public_exponent: uint(e),
                    private_exponent: uint(d),
                    prime1: uint(p),
                    prime2: uint(q),
                    exponent1: uint(dp),
                    exponent2: uint(dq),
                    coefficient: uint(qi),
                    other_prime_infos: None,
                }
                .to_der()
                .ok()?;
                Some(pkcs8_wrap(OID_RSA, None, inner))
            }
            (PublicParts::Ec { crv, .. }, SecretParts::Ec { d }) => {
                let point = self.public.ec_point_bytes()?;
                let inner =
                    sec1::EcPrivateKey { private_key: d, parameters: None, public_key: Some(&point) }.to_der().ok()?;
                Some(pkcs8_wrap(OID_EC, Some(&crv.oid()), inner))
            }
            _ => None,
        }
    }

    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8) PEM, if the secret part is known.
    pub fn pkcs8_pem(&self) -> Option<String> {
        self.pkcs8_der_ref().map(|der| pem_lf("PRIVATE KEY", der.to_vec()))
    }

    /// This key with its secret part dropped (the public part's encodings are kept).
    pub(crate) fn public_only(&self) -> KeyMaterial {
        KeyMaterial::new(self.public.clone(), None)
    }
}
