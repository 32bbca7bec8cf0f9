//! The proof that an earlier `build` self-tested a key: the private JWK Set it wrote to
//! `out/private/`. Reading that file is this module's only I/O.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::jose::{Alg, Use};
use crate::key::KeyMaterial;
use crate::layout::set_prefix;

/// The keys of one set that an earlier `build` self-tested: the private JWKs it wrote to
/// `out/private/<publish path>/jwks.json`.
///
/// `build` writes that file only after every key in it passed [`super::self_test`], and the test's
/// outcome depends on nothing but the key material, `use` and `alg`, which a private JWK holds
/// member for member. So a key whose material, `use` and `alg` equal an entry's members has
/// passed this very test; `build` does not sign with it again (an RSA signature is most of the
/// time a build takes). A missing or unreadable file proves nothing: every key is tested.
///
/// The file is read when the first key with a private part asks: a set of public keys only
/// (the CI path) never opens it.
#[derive(Debug, Default)]
pub struct SelfTested {
    /// The private JWK Set to read (`None`: nothing is proven).
    path: Option<PathBuf>,
    by_kid: OnceLock<HashMap<String, PrivateJwk>>,
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
    /// The proof in the private JWK Set of the set at `set_path` (a publish path) under `out`,
    /// read on first use.
    pub(crate) fn read(out: &Path, set_path: &str) -> SelfTested {
        let path = out.join("private").join(format!("{}jwks.json", set_prefix(set_path)));
        SelfTested { path: Some(path), by_kid: OnceLock::new() }
    }

    /// The private JWKs by kid (none when the file is missing or unreadable).
    fn by_kid(&self) -> &HashMap<String, PrivateJwk> {
        self.by_kid.get_or_init(|| {
            let Some(bytes) = self.path.as_ref().and_then(|p| std::fs::read(p).ok()) else {
                return HashMap::new();
            };
            let Ok(set) = serde_json::from_slice::<PrivateJwkSet>(&bytes) else {
                return HashMap::new();
            };
            set.keys.into_iter().filter_map(|jwk| Some((jwk.kid.clone()?, jwk))).collect()
        })
    }

    /// True when the private JWK of `kid` holds exactly this key's material, `use` and `alg`.
    pub(crate) fn covers(&self, kid: &str, key: &KeyMaterial, alg: Alg, key_use: Use) -> bool {
        let Some(secret) = &key.secret else {
            return false;
        };
        let Some(jwk) = self.by_kid().get(kid) else {
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
    use crate::selftest::self_test;

    /// RFC 7517 Appendix A.2: the example EC private key.
    const JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}"#;

    /// The proof of an `out/` holding `private_jwks` (with that `out/`: it is read on first use).
    fn tested_with(private_jwks: &str) -> (tempfile::TempDir, SelfTested) {
        let out = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(out.path().join("private/tenants/acme")).unwrap();
        std::fs::write(out.path().join("private/tenants/acme/jwks.json"), private_jwks).unwrap();
        let tested = SelfTested::read(out.path(), "tenants/acme");
        (out, tested)
    }

    #[test]
    fn only_the_same_material_use_and_alg_count_as_tested() {
        let (key, _) = parse_jwk(JWK.as_bytes()).unwrap();
        assert_eq!(self_test(&key, Alg::Es256, Use::Sig), Ok(()));
        let entry = JWK.replace(r#""kty":"EC","#, r#""kty":"EC","kid":"k1","use":"sig","alg":"ES256","#);
        let (_out, tested) = tested_with(&format!(r#"{{"keys":[{entry}]}}"#));
        assert!(tested.covers("k1", &key, Alg::Es256, Use::Sig));
        assert!(!tested.covers("k2", &key, Alg::Es256, Use::Sig), "another kid");
        assert!(!tested.covers("k1", &key, Alg::EcdhEs, Use::Enc), "another use and alg");
        assert!(!tested.covers("k1", &key.public_only(), Alg::Es256, Use::Sig), "no private part: nothing to skip");
        let other_d = entry.replace("870MB6", "870MB7");
        assert!(!tested_with(&format!(r#"{{"keys":[{other_d}]}}"#)).1.covers("k1", &key, Alg::Es256, Use::Sig));
        assert!(!tested_with("not json").1.covers("k1", &key, Alg::Es256, Use::Sig));
        assert!(!SelfTested::read(Path::new("/nonexistent"), "").covers("k1", &key, Alg::Es256, Use::Sig));
    }

    #[test]
    fn a_public_key_never_reads_the_proof() {
        let (key, _) = parse_jwk(JWK.as_bytes()).unwrap();
        let (_out, tested) = tested_with("not read");
        assert!(!tested.covers("k1", &key.public_only(), Alg::Es256, Use::Sig));
        assert!(tested.by_kid.get().is_none(), "a set of public keys opens nothing under out/private/");
        assert!(!tested.covers("k1", &key, Alg::Es256, Use::Sig));
        assert!(tested.by_kid.get().is_some(), "read for the first private key");
    }
}
