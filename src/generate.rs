//! New keys in memory (rcgen, RSA through aws-lc-rs) and their self-signed certificates.
//! Nothing here touches the disk.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, RsaKeySize};

use crate::config::KeySpec;
use crate::jose::{Curve, Kty};
use crate::key::{KeyMaterial, parse_pkcs8};
use crate::times::Timestamp;

/// A freshly generated key: its parsed material and the rcgen key pair (for certificates).
pub struct Generated {
    /// Public and secret parts.
    pub material: KeyMaterial,
    pair: KeyPair,
}

impl std::fmt::Debug for Generated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generated").field("material", &self.material).finish_non_exhaustive()
    }
}

/// Generates a key for a spec.
pub fn generate(spec: &KeySpec) -> Result<Generated, String> {
    let pair = match spec.kty {
        Kty::Rsa => {
            let size = match spec.size.unwrap_or(2048) {
                2048 => RsaKeySize::_2048,
                3072 => RsaKeySize::_3072,
                4096 => RsaKeySize::_4096,
                other => return Err(format!("RSA size {other} is not supported")),
            };
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size)
        }
        Kty::Ec => KeyPair::generate_for(match spec.crv.unwrap_or(Curve::P256) {
            Curve::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Curve::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Curve::P521 => &rcgen::PKCS_ECDSA_P521_SHA512,
        }),
    }
    .map_err(|e| format!("key generation failed: {e}"))?;
    let material = parse_pkcs8(pair.serialized_der())?;
    Ok(Generated { material, pair })
}

/// A self-signed certificate of the key, valid from `not_before` to `not_after`, as PEM.
pub(crate) fn self_signed_cert(
    key: &Generated,
    kid: &str,
    not_before: Timestamp,
    not_after: Timestamp,
) -> Result<String, String> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, kid);
    params.distinguished_name = dn;
    let at = |t: Timestamp| time::OffsetDateTime::from_unix_timestamp(t.unix()).map_err(|e| e.to_string());
    params.not_before = at(not_before)?;
    params.not_after = at(not_after)?;
    let cert = params.self_signed(&key.pair).map_err(|e| format!("certificate generation failed: {e}"))?;
    Ok(cert.pem().replace("\r\n", "\n"))
}
