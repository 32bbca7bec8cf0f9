//! The self-test: every key with a private part signs a message, and the signature must verify
//! against the public JWK members that will be published. ring does both sides (aws-lc-rs for
//! P-521, which ring lacks).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::jose::{Alg, Curve, Use};
use crate::key::{KeyMaterial, PublicKey, PublicParts};
use crate::layout::set_prefix;

const MESSAGE: &[u8] = b"jwksmith self-test: sign with the private key, verify with the published JWK";

/// Signs with the private part and verifies with the public part. Encryption keys are tested
/// with the signature scheme of their key type (RS256, or ECDSA on their curve): that proves
/// the pair matches and the private key is usable.
pub fn self_test(key: &KeyMaterial, alg: Alg, key_use: Use) -> Result<(), String> {
    let Some(pkcs8) = key.pkcs8_der_ref() else {
        return Ok(());
    };
    let alg = if key_use == Use::Sig { alg } else { fallback_alg(&key.public) };
    match key.public.parts() {
        PublicParts::Rsa { n, e } => rsa(pkcs8, n, e, alg),
        PublicParts::Ec { crv: Curve::P521, .. } => p521(pkcs8, &key.public),
        PublicParts::Ec { .. } => ecdsa(pkcs8, &key.public, alg),
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

/// The keys of one set that an earlier `build` self-tested: the private JWKs it wrote to
/// `out/private/<publish path>/jwks.json`.
///
/// `build` writes that file only after every key in it passed [`self_test`], and the test's
/// outcome depends on nothing but the key material, `use` and `alg`, which a private JWK holds
/// member for member. So a key whose material, `use` and `alg` equal an entry's members has
/// passed this very test; `build` does not sign with it again (an RSA signature is most of the
/// time a build takes). A missing or unreadable file proves nothing: every key is tested.
#[derive(Debug, Default)]
pub struct SelfTested {
    by_kid: HashMap<String, PrivateJwk>,
}

#[derive(Deserialize)]
struct PrivateJwkSet {
    keys: Vec<PrivateJwk>,
}

/// The members of a private JWK that the self-test depends on (others are ignored).
#[derive(Debug, Default, Deserialize)]
struct PrivateJwk {
    kid: Option<String>,
    kty: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    dp: Option<String>,
    dq: Option<String>,
    qi: Option<String>,
}

impl PrivateJwk {
    fn member(&self, name: &str) -> Option<&str> {
        let value = match name {
            "kty" => &self.kty,
            "use" => &self.key_use,
            "alg" => &self.alg,
            "n" => &self.n,
            "e" => &self.e,
            "crv" => &self.crv,
            "x" => &self.x,
            "y" => &self.y,
            "d" => &self.d,
            "p" => &self.p,
            "q" => &self.q,
            "dp" => &self.dp,
            "dq" => &self.dq,
            "qi" => &self.qi,
            _ => &None,
        };
        value.as_deref()
    }
}

impl SelfTested {
    /// Reads the private JWK Set of the set at `set_path` (a publish path) under `out`.
    pub fn read(out: &Path, set_path: &str) -> SelfTested {
        let path = out.join("private").join(format!("{}jwks.json", set_prefix(set_path)));
        let Ok(bytes) = std::fs::read(path) else {
            return SelfTested::default();
        };
        let Ok(set) = serde_json::from_slice::<PrivateJwkSet>(&bytes) else {
            return SelfTested::default();
        };
        let by_kid = set.keys.into_iter().filter_map(|jwk| Some((jwk.kid.clone()?, jwk))).collect();
        SelfTested { by_kid }
    }

    /// True when the private JWK of `kid` holds exactly this key's material, `use` and `alg`.
    pub fn covers(&self, kid: &str, key: &KeyMaterial, alg: Alg, key_use: Use) -> bool {
        let (Some(jwk), Some(secret)) = (self.by_kid.get(kid), &key.secret) else {
            return false;
        };
        let member = |name: &str| jwk.member(name);
        let mut members = key.public.members_ref().iter().chain(secret.members_ref());
        member("kty") == Some(key.public.kty().name())
            && member("use") == Some(key_use.name())
            && member("alg") == Some(alg.name())
            && members.all(|(name, value)| member(name) == Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::parse_jwk;

    /// RFC 7517 Appendix A.2: the example EC private key.
    const JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}"#;

    fn tested_with(private_jwks: &str) -> SelfTested {
        let out = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(out.path().join("private/tenants/acme")).unwrap();
        std::fs::write(out.path().join("private/tenants/acme/jwks.json"), private_jwks).unwrap();
        SelfTested::read(out.path(), "tenants/acme")
    }

    #[test]
    fn only_the_same_material_use_and_alg_count_as_tested() {
        let (key, _) = parse_jwk(JWK.as_bytes()).unwrap();
        assert_eq!(self_test(&key, Alg::Es256, Use::Sig), Ok(()));
        let entry = JWK.replace(r#""kty":"EC","#, r#""kty":"EC","kid":"k1","use":"sig","alg":"ES256","#);
        let tested = tested_with(&format!(r#"{{"keys":[{entry}]}}"#));
        assert!(tested.covers("k1", &key, Alg::Es256, Use::Sig));
        assert!(!tested.covers("k2", &key, Alg::Es256, Use::Sig), "another kid");
        assert!(!tested.covers("k1", &key, Alg::EcdhEs, Use::Enc), "another use and alg");
        assert!(!tested.covers("k1", &key.public_only(), Alg::Es256, Use::Sig), "no private part: nothing to skip");
        let other_d = entry.replace("870MB6", "870MB7");
        assert!(!tested_with(&format!(r#"{{"keys":[{other_d}]}}"#)).covers("k1", &key, Alg::Es256, Use::Sig));
        assert!(!tested_with("not json").covers("k1", &key, Alg::Es256, Use::Sig));
        assert!(!SelfTested::read(Path::new("/nonexistent"), "").covers("k1", &key, Alg::Es256, Use::Sig));
    }
}
