//! Reading the DER key forms: PKCS#8 and PKCS#1 private keys, SEC1 EC private keys, SPKI and
//! PKCS#1 public keys, and the refusal of the algorithms jwksmith does not publish.

use der::Decode;
use der::asn1::ObjectIdentifier;

use super::KeyMaterial;
use super::curve::derive_ec_point;
use super::encode::{left_pad, strip_zeros};
use super::oid::{OID_DSA, OID_EC, OID_ED448, OID_ED25519, OID_RSA, OID_RSA_PSS, OID_SECP256K1, OID_X25519};
use super::public::PublicKey;
use super::secret::{SecretKey, SecretParts, check_rsa_private};
use crate::jose::Curve;

/// Parses unencrypted PKCS#8 DER (RSA or EC).
pub(crate) fn parse_pkcs8(der: &[u8]) -> Result<KeyMaterial, String> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|e| der_problem("PKCS#8 private key", e))?;
    let oid = info.algorithm.oid;
    let inner = info.private_key.as_bytes();
    if oid == OID_RSA || oid == OID_RSA_PSS {
        return parse_pkcs1_private(inner);
    }
    let params = info.algorithm.parameters.and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    if oid == OID_EC
        && let Some(crv) = params.as_ref().and_then(Curve::from_oid)
    {
        let outer_public = info.public_key.as_ref().and_then(|b| b.as_bytes()).map(<[u8]>::to_vec);
        return parse_sec1_with(inner, Some(crv), outer_public);
    }
    Err(unsupported_algorithm(&oid, params))
}

/// Parses PKCS#1 `RSAPrivateKey` DER, checking its members agree.
pub(super) fn parse_pkcs1_private(der: &[u8]) -> Result<KeyMaterial, String> {
    let key = pkcs1::RsaPrivateKeyRef::from_der(der).map_err(|e| der_problem("PKCS#1 RSA private key", e))?;
    if key.other_prime_infos.is_some() {
        return Err("multi-prime RSA keys are not supported".into());
    }
    let public = PublicKey::rsa(key.modulus.as_bytes(), key.public_exponent.as_bytes())?;
    let secret = SecretParts::Rsa {
        d: strip_zeros(key.private_exponent.as_bytes()),
        p: strip_zeros(key.prime1.as_bytes()),
        q: strip_zeros(key.prime2.as_bytes()),
        dp: strip_zeros(key.exponent1.as_bytes()),
        dq: strip_zeros(key.exponent2.as_bytes()),
        qi: strip_zeros(key.coefficient.as_bytes()),
    };
    check_rsa_private(&public, &secret)?;
    Ok(KeyMaterial::new(public, Some(SecretKey::new(secret))))
}

/// Parses SEC1 `ECPrivateKey` DER that names its own curve.
pub(super) fn parse_sec1(der: &[u8]) -> Result<KeyMaterial, String> {
    parse_sec1_with(der, None, None)
}

/// Parses SEC1 DER, with the curve and public point a PKCS#8 wrapper may give instead; without a
/// point anywhere, it is derived from the scalar.
fn parse_sec1_with(der: &[u8], outer: Option<Curve>, outer_public: Option<Vec<u8>>) -> Result<KeyMaterial, String> {
    let key = sec1::EcPrivateKey::from_der(der).map_err(|e| der_problem("SEC1 EC private key", e))?;
    let inner_oid = key.parameters.and_then(|p| p.named_curve());
    let crv = match (outer, inner_oid) {
        (Some(c), None) => c,
        (Some(c), Some(o)) if c.oid() == o => c,
        (Some(_), Some(_)) => return Err("EC key names two different curves".into()),
        (None, Some(o)) => Curve::from_oid(&o).ok_or_else(|| unsupported_algorithm(&OID_EC, Some(o)))?,
        (None, None) => return Err(unsupported_algorithm(&OID_EC, None)),
    };
    let d = left_pad(key.private_key, crv.coordinate_len())
        .ok_or_else(|| format!("EC private scalar is too long for {}", crv.name()))?;
    let point = match key.public_key.map(<[u8]>::to_vec).or(outer_public) {
        Some(p) => p,
        None => derive_ec_point(crv, &d)?,
    };
    let public = PublicKey::ec_point(crv, &point)?;
    Ok(KeyMaterial::new(public, Some(SecretKey::new(SecretParts::Ec { d }))))
}

/// Parses a DER SubjectPublicKeyInfo (RSA, RSA-PSS or EC).
pub(super) fn parse_spki(der: &[u8]) -> Result<KeyMaterial, String> {
    let info =
        spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|e| der_problem("SubjectPublicKeyInfo public key", e))?;
    let oid = info.algorithm.oid;
    let bits =
        info.subject_public_key.as_bytes().ok_or_else(|| "public key bit string is not byte-aligned".to_string())?;
    if oid == OID_RSA || oid == OID_RSA_PSS {
        return parse_pkcs1_public(bits);
    }
    let params = info.algorithm.parameters.and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    if oid == OID_EC
        && let Some(crv) = params.as_ref().and_then(Curve::from_oid)
    {
        return Ok(KeyMaterial::new(PublicKey::ec_point(crv, bits)?, None));
    }
    Err(unsupported_algorithm(&oid, params))
}

/// Parses PKCS#1 `RSAPublicKey` DER.
pub(super) fn parse_pkcs1_public(der: &[u8]) -> Result<KeyMaterial, String> {
    let key = pkcs1::RsaPublicKeyRef::from_der(der).map_err(|e| der_problem("PKCS#1 RSA public key", e))?;
    let public = PublicKey::rsa(key.modulus.as_bytes(), key.public_exponent.as_bytes())?;
    Ok(KeyMaterial::new(public, None))
}

fn der_problem(what: &str, e: der::Error) -> String {
    format!("invalid {what} ({e}); the file may be truncated or damaged")
}

fn unsupported_algorithm(oid: &ObjectIdentifier, params: Option<ObjectIdentifier>) -> String {
    if *oid == OID_EC && params == Some(OID_SECP256K1) {
        return "curve secp256k1 is not supported (use P-256, P-384 or P-521)".into();
    }
    if *oid == OID_EC {
        return match params {
            Some(p) => format!("EC curve {p} is not supported (use P-256, P-384 or P-521)"),
            None => "EC key without a named curve is not supported (use P-256, P-384 or P-521)".into(),
        };
    }
    let name = match *oid {
        o if o == OID_DSA => "DSA",
        o if o == OID_ED25519 => "Ed25519 (OKP)",
        o if o == OID_ED448 => "Ed448 (OKP)",
        o if o == OID_X25519 => "X25519 (OKP)",
        _ => return format!("key algorithm {oid} is not supported; jwksmith publishes RSA and EC keys only"),
    };
    format!("{name} keys are not supported; jwksmith publishes RSA and EC (P-256/384/521) keys only")
}
