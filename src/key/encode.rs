//! The byte encodings of keys: base64 (url-safe and standard), big-endian integers, the DER of
//! SPKI, PKCS#1 and PKCS#8, and PEM with `\n` line ends. Pure functions over validated parts.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use der::Encode;
use der::asn1::{BitStringRef, Null, ObjectIdentifier, UintRef};

use super::oid::{OID_EC, OID_RSA};
use crate::jose::Curve;

/// base64url without padding.
pub fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Standard base64 (with padding), as `x5c` needs.
pub(crate) fn b64_std(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes base64url, with or without padding.
pub(super) fn b64u_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// PEM with `\n` line ends and 64-column lines.
pub fn pem_lf(tag: &str, der: Vec<u8>) -> String {
    pem_rfc7468::encode_string(tag, pem_rfc7468::LineEnding::LF, &der).expect("a PEM label of capitals encodes")
}

/// A big-endian integer without its leading zero bytes.
pub(super) fn strip_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

/// The bit length of a big-endian integer.
pub(super) fn bit_len(bytes: &[u8]) -> usize {
    let b = strip_zeros(bytes);
    match b.first() {
        None => 0,
        Some(top) => b.len() * 8 - top.leading_zeros() as usize,
    }
}

/// A big-endian integer left-padded with zeros to `len` bytes; `None` when it is longer.
pub(super) fn left_pad(bytes: &[u8], len: usize) -> Option<Vec<u8>> {
    let b = strip_zeros(bytes);
    if b.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - b.len()];
    out.extend_from_slice(&b);
    Some(out)
}

fn bit_string(bytes: &[u8]) -> BitStringRef<'_> {
    BitStringRef::from_bytes(bytes).expect("byte-aligned bit string")
}

pub(super) fn uint(bytes: &[u8]) -> UintRef<'_> {
    UintRef::new(bytes).expect("unsigned integer encodes")
}

/// The DER SubjectPublicKeyInfo of an RSA key.
pub(super) fn rsa_spki_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let pkcs1 =
        pkcs1::RsaPublicKey { modulus: uint(n), public_exponent: uint(e) }.to_der().expect("RSA public key encodes");
    let spki = spki::SubjectPublicKeyInfo {
        algorithm: spki::AlgorithmIdentifier { oid: OID_RSA, parameters: Some(Null) },
        subject_public_key: bit_string(&pkcs1),
    };
    spki.to_der().expect("SPKI of validated integers encodes")
}

/// The DER SubjectPublicKeyInfo of an EC key, from its uncompressed point.
pub(super) fn ec_spki_der(crv: Curve, point: &[u8]) -> Vec<u8> {
    let spki = spki::SubjectPublicKeyInfo {
        algorithm: spki::AlgorithmIdentifier { oid: OID_EC, parameters: Some(crv.oid()) },
        subject_public_key: bit_string(point),
    };
    spki.to_der().expect("SPKI of validated integers encodes")
}

/// Wraps an algorithm's private key DER (PKCS#1 or SEC1) in an unencrypted PKCS#8 PrivateKeyInfo.
pub(super) fn pkcs8_wrap(oid: ObjectIdentifier, params: Option<&ObjectIdentifier>, inner: Vec<u8>) -> Vec<u8> {
    let parameters = match params {
        Some(curve) => der::asn1::AnyRef::new(der::Tag::ObjectIdentifier, curve.as_bytes()).expect("OID value"),
        None => der::asn1::AnyRef::NULL,
    };
    let key = der::asn1::OctetStringRef::new(&inner).expect("octet string");
    let info = pkcs8::PrivateKeyInfoRef::new(spki::AlgorithmIdentifier { oid, parameters: Some(parameters) }, key);
    info.to_der().expect("PKCS#8 encodes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_lf_writes_what_the_pem_crate_writes() {
        for len in [1, 2, 3, 47, 48, 49, 96, 294, 1218] {
            let der: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
            let expected = pem::encode_config(&pem::Pem::new("PUBLIC KEY", der.clone()), config);
            assert_eq!(pem_lf("PUBLIC KEY", der), expected, "{len} bytes");
        }
    }
}
