//! The public half of a key: its integers as JWK publishes them, validated on construction, and
//! its encodings (JWK members, RFC 7638 thumbprint, SPKI DER and PEM), each derived once.

use std::fmt;
use std::sync::OnceLock;

use super::curve::check_on_curve;
use super::encode::{b64u, bit_len, ec_spki_der, left_pad, pem_lf, rsa_spki_der, strip_zeros};
use super::{Members, RSA_MAX_BITS, RSA_MIN_BITS};
use crate::jose::{Curve, Kty};

/// The public half of a key, in the integers JWK publishes. Its encodings are computed on first
/// use and kept: a key's SPKI, thumbprint and JWK members are derived once however often they
/// are published.
#[derive(Clone)]
pub struct PublicKey {
    parts: PublicParts,
    encoded: Encoded,
}

/// The integers of a public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PublicParts {
    /// RSA modulus and public exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// EC point, coordinates fixed-length big-endian.
    Ec { crv: Curve, x: Vec<u8>, y: Vec<u8> },
}

/// The encodings of a public key, each filled on first use.
#[derive(Clone, Default)]
struct Encoded {
    members: OnceLock<Members>,
    thumbprint: OnceLock<String>,
    spki_der: OnceLock<Vec<u8>>,
    spki_pem: OnceLock<String>,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.parts.fmt(f)
    }
}

impl PublicKey {
    pub(super) fn new(parts: PublicParts) -> Self {
        PublicKey { parts, encoded: Encoded::default() }
    }

    /// The integers.
    pub(crate) fn parts(&self) -> &PublicParts {
        &self.parts
    }

    /// Key type.
    pub fn kty(&self) -> Kty {
        match self.parts {
            PublicParts::Rsa { .. } => Kty::Rsa,
            PublicParts::Ec { .. } => Kty::Ec,
        }
    }

    /// Curve, for EC keys.
    pub fn curve(&self) -> Option<Curve> {
        match self.parts {
            PublicParts::Ec { crv, .. } => Some(crv),
            PublicParts::Rsa { .. } => None,
        }
    }

    /// Modulus size in bits, for RSA keys.
    pub(crate) fn rsa_bits(&self) -> Option<usize> {
        match &self.parts {
            PublicParts::Rsa { n, .. } => Some(bit_len(n)),
            PublicParts::Ec { .. } => None,
        }
    }

    /// A short description such as `RSA-2048` or `EC P-256`.
    pub fn describe(&self) -> String {
        match &self.parts {
            PublicParts::Rsa { n, .. } => format!("RSA-{}", bit_len(n)),
            PublicParts::Ec { crv, .. } => format!("EC {}", crv.name()),
        }
    }

    /// Builds an RSA key from big-endian integers, checking size and exponent.
    pub(crate) fn rsa(n: &[u8], e: &[u8]) -> Result<Self, String> {
        let (n, e) = (strip_zeros(n), strip_zeros(e));
        let bits = bit_len(&n);
        if bits < RSA_MIN_BITS {
            return Err(format!(
                "RSA key of {bits} bits is too small (at least {RSA_MIN_BITS} bits); generate a new key with `jwksmith rotate`"
            ));
        }
        if bits > RSA_MAX_BITS {
            return Err(format!("RSA key of {bits} bits is too large (at most {RSA_MAX_BITS} bits)"));
        }
        if n.last().is_some_and(|b| b % 2 == 0) {
            return Err("RSA modulus is even: this is not a valid RSA key".into());
        }
        if e.len() > 8 || e.last().is_none_or(|b| b % 2 == 0) || e.as_slice() == [1] {
            return Err("RSA public exponent must be odd and greater than 1 (usually 65537)".into());
        }
        if e.len() < 3 {
            return Err(format!(
                "RSA public exponent {} is too small: jwksmith accepts 65537 or larger, as most verifiers do",
                e.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b))
            ));
        }
        Ok(PublicKey::new(PublicParts::Rsa { n, e }))
    }

    /// Builds an EC key from an uncompressed SEC1 point (`04 || x || y`), checking it is on the curve.
    pub(crate) fn ec_point(crv: Curve, point: &[u8]) -> Result<Self, String> {
        let len = crv.coordinate_len();
        match point.first() {
            Some(4) if point.len() == 1 + 2 * len => {}
            Some(2 | 3) => {
                return Err("compressed EC points are not supported; export the key with an uncompressed point".into());
            }
            _ => {
                return Err(format!("EC public point is not a valid uncompressed {} point", crv.name()));
            }
        }
        let (x, y) = (point[1..1 + len].to_vec(), point[1 + len..].to_vec());
        check_on_curve(crv, point)?;
        Ok(PublicKey::new(PublicParts::Ec { crv, x, y }))
    }

    /// Builds an EC key from coordinates (left-padded to the curve's length).
    pub(crate) fn ec(crv: Curve, x: &[u8], y: &[u8]) -> Result<Self, String> {
        let len = crv.coordinate_len();
        let bad = || format!("EC coordinate is longer than {len} bytes for {}", crv.name());
        let mut point = vec![4u8];
        point.extend(left_pad(x, len).ok_or_else(bad)?);
        point.extend(left_pad(y, len).ok_or_else(bad)?);
        PublicKey::ec_point(crv, &point)
    }

    /// The uncompressed SEC1 point of an EC key.
    pub(crate) fn ec_point_bytes(&self) -> Option<Vec<u8>> {
        match &self.parts {
            PublicParts::Ec { x, y, .. } => Some([&[4u8][..], x, y].concat()),
            PublicParts::Rsa { .. } => None,
        }
    }

    /// The public JWK members after `kty, kid, use, alg`: `n, e` or `crv, x, y`.
    pub fn members(&self) -> Members {
        self.members_ref().clone()
    }

    /// [`PublicKey::members`], borrowed from the key.
    pub(crate) fn members_ref(&self) -> &Members {
        self.encoded.members.get_or_init(|| match &self.parts {
            PublicParts::Rsa { n, e } => vec![("n", b64u(n)), ("e", b64u(e))],
            PublicParts::Ec { crv, x, y } => vec![("crv", crv.name().to_string()), ("x", b64u(x)), ("y", b64u(y))],
        })
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> String {
        self.thumbprint_ref().to_string()
    }

    /// [`PublicKey::thumbprint`], borrowed from the key.
    pub(crate) fn thumbprint_ref(&self) -> &str {
        self.encoded.thumbprint.get_or_init(|| {
            let m = self.members_ref();
            let canonical = match self.parts {
                PublicParts::Rsa { .. } => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, m[1].1, m[0].1),
                PublicParts::Ec { .. } => {
                    format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, m[0].1, m[1].1, m[2].1)
                }
            };
            b64u(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
        })
    }

    /// base64url SHA-256 of the DER SubjectPublicKeyInfo (the `spki-sha256` kid).
    pub fn spki_sha256(&self) -> String {
        b64u(ring::digest::digest(&ring::digest::SHA256, self.spki_der_ref()).as_ref())
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.spki_der_ref().to_vec()
    }

    /// [`PublicKey::spki_der`], borrowed from the key.
    pub(crate) fn spki_der_ref(&self) -> &[u8] {
        self.encoded.spki_der.get_or_init(|| match &self.parts {
            PublicParts::Rsa { n, e } => rsa_spki_der(n, e),
            PublicParts::Ec { crv, .. } => ec_spki_der(*crv, &self.ec_point_bytes().unwrap_or_default()),
        })
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM with `\n` line ends.
    pub fn spki_pem(&self) -> String {
        self.spki_pem_ref().to_string()
    }

    /// [`PublicKey::spki_pem`], borrowed from the key.
    pub(crate) fn spki_pem_ref(&self) -> &str {
        self.encoded.spki_pem.get_or_init(|| pem_lf("PUBLIC KEY", self.spki_der_ref().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::encode::b64u_decode;

    fn d(s: &str) -> Vec<u8> {
        b64u_decode(s).unwrap()
    }

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    #[test]
    fn rfc7638_thumbprint() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let key = PublicKey::rsa(&d(n), &d("AQAB")).unwrap();
        assert_eq!(key.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    /// RFC 7517 Appendix A.1: the EC public key round-trips through SPKI to the same members.
    #[test]
    fn rfc7517_a1_ec_round_trip() {
        let (x, y) = ("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM");
        let key = PublicKey::ec(Curve::P256, &d(x), &d(y)).unwrap();
        let back = crate::key::parse_pem(key.spki_pem().as_bytes()).unwrap();
        assert_eq!(back.public, key);
        assert_eq!(key.members(), vec![("crv", "P-256".into()), ("x", x.into()), ("y", y.into())]);
    }

    #[test]
    fn rejects_off_curve_point() {
        let x = d("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4");
        let mut y = d("4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM");
        y[31] ^= 1;
        assert!(PublicKey::ec(Curve::P256, &x, &y).unwrap_err().contains("not on curve"));
    }

    #[test]
    fn rejects_bad_exponent_and_small_modulus() {
        let mut n = vec![0xc5u8; 256];
        n[255] = 0x01;
        assert!(PublicKey::rsa(&n, &[1]).is_err());
        assert!(PublicKey::rsa(&n, &[1, 0, 0]).is_err());
        assert!(PublicKey::rsa(&n, &[3]).unwrap_err().contains("exponent 3"));
        assert!(PublicKey::rsa(&n[..128], &[1, 0, 1]).unwrap_err().contains("too small"));
        assert!(PublicKey::rsa(&n, &[1, 0, 1]).is_ok());
    }

    /// Each encoding is derived once and then lent out: the same bytes every time, also in a
    /// clone made after it was derived.
    #[test]
    fn encodings_are_derived_once() {
        let (x, y) = ("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM");
        let key = PublicKey::ec(Curve::P256, &d(x), &d(y)).unwrap();
        assert!(std::ptr::eq(key.spki_der_ref(), key.spki_der_ref()));
        assert!(std::ptr::eq(key.members_ref(), key.members_ref()));
        assert!(std::ptr::eq(key.thumbprint_ref(), key.thumbprint_ref()));
        assert_eq!(key.clone().spki_pem_ref(), key.spki_pem_ref());
        assert_eq!(key.spki_sha256(), b64u(ring::digest::digest(&ring::digest::SHA256, &key.spki_der()).as_ref()));
    }
}
