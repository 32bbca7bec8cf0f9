//! JOSE vocabulary: key types, curves, key uses and algorithms, and which go together.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A key type (`kty`): jwksmith publishes RSA and EC keys only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kty {
    /// RSA (RFC 7518 §6.3).
    #[serde(rename = "RSA")]
    Rsa,
    /// Elliptic curve (RFC 7518 §6.2).
    #[serde(rename = "EC")]
    Ec,
}

impl Kty {
    /// The JOSE name, `RSA` or `EC`.
    pub fn name(self) -> &'static str {
        match self {
            Kty::Rsa => "RSA",
            Kty::Ec => "EC",
        }
    }
}

/// A NIST curve supported for EC keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Curve {
    /// secp256r1.
    #[serde(rename = "P-256")]
    P256,
    /// secp384r1.
    #[serde(rename = "P-384")]
    P384,
    /// secp521r1.
    #[serde(rename = "P-521")]
    P521,
}

impl Curve {
    /// Every supported curve.
    pub const ALL: [Curve; 3] = [Curve::P256, Curve::P384, Curve::P521];

    /// The JOSE name (`P-256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// Length in bytes of a coordinate or private scalar.
    pub(crate) fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The named-curve OID (RFC 5480).
    pub fn oid(self) -> der::asn1::ObjectIdentifier {
        match self {
            Curve::P256 => der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"),
            Curve::P384 => der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.34"),
            Curve::P521 => der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.35"),
        }
    }

    /// The curve with this OID, if supported.
    pub(crate) fn from_oid(oid: &der::asn1::ObjectIdentifier) -> Option<Curve> {
        Curve::ALL.into_iter().find(|c| &c.oid() == oid)
    }

    /// The ECDSA algorithm that matches this curve (ES256/384/512).
    pub fn signing_alg(self) -> Alg {
        match self {
            Curve::P256 => Alg::Es256,
            Curve::P384 => Alg::Es384,
            Curve::P521 => Alg::Es512,
        }
    }

    /// Short tag used in default spec names: `ec256`, `ec384`, `ec521`.
    pub(crate) fn short(self) -> &'static str {
        match self {
            Curve::P256 => "ec256",
            Curve::P384 => "ec384",
            Curve::P521 => "ec521",
        }
    }
}

impl FromStr for Curve {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Curve::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unsupported curve `{s}` (supported: P-256, P-384, P-521)"))
    }
}

/// What a key is for (`use`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Use {
    /// Signatures.
    Sig,
    /// Encryption.
    Enc,
}

impl Use {
    /// `sig` or `enc`.
    pub fn name(self) -> &'static str {
        match self {
            Use::Sig => "sig",
            Use::Enc => "enc",
        }
    }
}

impl FromStr for Use {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sig" => Ok(Use::Sig),
            "enc" => Ok(Use::Enc),
            _ => Err(format!("unknown key use `{s}` (expected sig or enc)")),
        }
    }
}

/// A JOSE algorithm jwksmith can publish a key for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// RSAES-OAEP with SHA-1.
    RsaOaep,
    /// RSAES-OAEP with SHA-256.
    RsaOaep256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
    /// ECDH-ES key agreement.
    EcdhEs,
}

impl Alg {
    /// Every supported algorithm.
    pub const ALL: [Alg; 12] = [
        Alg::Rs256,
        Alg::Rs384,
        Alg::Rs512,
        Alg::Ps256,
        Alg::Ps384,
        Alg::Ps512,
        Alg::RsaOaep,
        Alg::RsaOaep256,
        Alg::Es256,
        Alg::Es384,
        Alg::Es512,
        Alg::EcdhEs,
    ];

    /// The JOSE name (`RS256`, `RSA-OAEP-256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::RsaOaep => "RSA-OAEP",
            Alg::RsaOaep256 => "RSA-OAEP-256",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::Es512 => "ES512",
            Alg::EcdhEs => "ECDH-ES",
        }
    }

    /// The key type this algorithm needs.
    pub fn kty(self) -> Kty {
        match self {
            Alg::Es256 | Alg::Es384 | Alg::Es512 | Alg::EcdhEs => Kty::Ec,
            _ => Kty::Rsa,
        }
    }

    /// The use this algorithm implies.
    pub(crate) fn key_use(self) -> Use {
        match self {
            Alg::RsaOaep | Alg::RsaOaep256 | Alg::EcdhEs => Use::Enc,
            _ => Use::Sig,
        }
    }

    /// For ES256/384/512, the curve the key must be on.
    pub fn curve(self) -> Option<Curve> {
        match self {
            Alg::Es256 => Some(Curve::P256),
            Alg::Es384 => Some(Curve::P384),
            Alg::Es512 => Some(Curve::P521),
            _ => None,
        }
    }

    /// Checks that a key of this type and curve may carry this algorithm with this use.
    pub(crate) fn check_fits(self, kty: Kty, curve: Option<Curve>, key_use: Use) -> Result<(), String> {
        if self.kty() != kty {
            // "an RSA", "an EC": both key types take "an".
            return Err(format!("alg {} needs an {} key, not {}", self.name(), self.kty().name(), kty.name()));
        }
        if self.key_use() != key_use {
            return Err(format!(
                "alg {} is for use `{}`, not `{}`",
                self.name(),
                self.key_use().name(),
                key_use.name()
            ));
        }
        if let (Some(want), Some(have)) = (self.curve(), curve)
            && want != have
        {
            return Err(format!("alg {} needs curve {}, not {}", self.name(), want.name(), have.name()));
        }
        Ok(())
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Alg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Alg::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Alg::ALL.iter().map(|a| a.name()).collect();
            format!("unsupported alg `{s}` (supported: {})", names.join(", "))
        })
    }
}

impl Serialize for Alg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Alg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The algorithm a key gets when nothing names one: RSA → RS256 (enc: RSA-OAEP-256);
/// EC → ES256/384/512 by curve (enc: ECDH-ES).
pub fn default_alg(kty: Kty, curve: Option<Curve>, key_use: Use) -> Alg {
    match (kty, key_use) {
        (Kty::Rsa, Use::Sig) => Alg::Rs256,
        (Kty::Rsa, Use::Enc) => Alg::RsaOaep256,
        (Kty::Ec, Use::Sig) => curve.unwrap_or(Curve::P256).signing_alg(),
        (Kty::Ec, Use::Enc) => Alg::EcdhEs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Alg::ALL {
            assert_eq!(alg.name().parse::<Alg>().unwrap(), alg);
        }
        assert!("HS256".parse::<Alg>().is_err());
    }

    #[test]
    fn fits() {
        assert!(Alg::Es384.check_fits(Kty::Ec, Some(Curve::P384), Use::Sig).is_ok());
        assert!(Alg::Es384.check_fits(Kty::Ec, Some(Curve::P256), Use::Sig).is_err());
        assert!(Alg::Rs256.check_fits(Kty::Rsa, None, Use::Enc).is_err());
        assert!(Alg::EcdhEs.check_fits(Kty::Ec, Some(Curve::P521), Use::Enc).is_ok());
        assert_eq!(default_alg(Kty::Ec, Some(Curve::P521), Use::Sig), Alg::Es512);
    }
}
