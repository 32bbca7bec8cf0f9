//! `keyset.toml`: the policy of one key set — key specs, rotation timings, ids, output options.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
pub use crate::issuer::RelyingParty;
use crate::issuer::{discovery_members, discovery_problem, distinct, issuer_problem};
use crate::jose::{Alg, Curve, Kty, Use, default_alg};
use crate::times::Span;

/// The default `keyset.toml`, exactly as `jwksmith init` writes it.
pub const DEFAULT_KEYSET_TOML: &str = include_str!("default_keyset.toml");

/// How new keys are named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum KidStrategy {
    /// `<spec>-001`, `<spec>-002`, ...
    #[default]
    Sequence,
    /// The RFC 7638 JWK thumbprint (SHA-256, base64url).
    Thumbprint,
    /// base64url SHA-256 of the DER SubjectPublicKeyInfo (Kubernetes, Keycloak, azwi).
    #[serde(rename = "spki-sha256")]
    SpkiSha256,
}

/// The parsed `keyset.toml` of one set.
#[derive(Clone, Debug, PartialEq)]
pub struct KeysetConfig {
    /// Authlete-style service id: the path segment of the `api/<service_id>/...` mirror.
    pub service_id: String,
    /// Ampersand project id; `None` means UUIDv5 of `jwksmith:project:<publish path>`.
    pub project_id: Option<String>,
    /// When non-empty, `.well-known/openid-configuration` is written with this issuer.
    pub issuer: String,
    /// The relying parties `check` lints the set for, as listed (duplicates removed).
    pub relying_parties: Vec<RelyingParty>,
    /// The extra members of the discovery document (`[discovery]`), as JSON, sorted by name.
    pub discovery: Vec<(String, serde_json::Value)>,
    /// age recipients: when non-empty, private keys are written only as `<kid>.key.age`.
    pub recipients: Vec<String>,
    /// Indent every JSON file written (otherwise compact).
    pub pretty: bool,
    /// How new keys are named.
    pub kid: KidStrategy,
    /// Publish a self-signed certificate of each key as `x5c` and `x5t#S256`.
    pub x5c: bool,
    /// Also write the two API mirror paths.
    pub api_mirrors: bool,
    /// Rotation timings.
    pub rotation: Rotation,
    /// Key specs, in order; the order of current keys in `jwks.json`.
    pub keys: Vec<KeySpec>,
}

/// `[rotation]`: when keys are replaced and how long they stay published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rotation {
    /// Age at which the current key is replaced.
    pub rotate_every: Span,
    /// A new key is in `jwks.json` this long before it signs.
    pub publish_ahead: Span,
    /// A retired key stays in `jwks.json` this long after.
    pub verify_for: Span,
    /// `Cache-Control: max-age` of the published files.
    pub cache_max_age: Span,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            rotate_every: Span::from_secs(90 * 86_400),
            publish_ahead: Span::from_secs(14 * 86_400),
            verify_for: Span::from_secs(14 * 86_400),
            cache_max_age: Span::from_secs(3_600),
        }
    }
}

/// One `[[key]]` entry as written in the file (every field optional).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawKeySpec {
    spec: Option<String>,
    kty: Option<Kty>,
    size: Option<u32>,
    crv: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    alg: Option<String>,
}

/// One key spec, resolved: the recipe of a rotating line of keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// Spec name; kids are `<spec>-001`, ... and the current private key is `<spec>.pem`.
    pub spec: String,
    /// Key type.
    pub kty: Kty,
    /// RSA modulus size in bits (RSA only).
    pub size: Option<u32>,
    /// Curve (EC only).
    pub crv: Option<Curve>,
    /// Key use.
    pub key_use: Use,
    /// Algorithm.
    pub alg: Alg,
}

impl KeySpec {
    fn rsa(spec: &str, key_use: Use, alg: Alg) -> Self {
        KeySpec { spec: spec.into(), kty: Kty::Rsa, size: Some(2048), crv: None, key_use, alg }
    }

    fn ec(spec: &str, key_use: Use, alg: Alg) -> Self {
        KeySpec { spec: spec.into(), kty: Kty::Ec, size: None, crv: Some(Curve::P256), key_use, alg }
    }

    /// The four default specs: rsa-sig, rsa-enc, ec256-sig, ec256-enc.
    pub(crate) fn defaults() -> Vec<KeySpec> {
        vec![
            KeySpec::rsa("rsa-sig", Use::Sig, Alg::Rs256),
            KeySpec::rsa("rsa-enc", Use::Enc, Alg::RsaOaep256),
            KeySpec::ec("ec256-sig", Use::Sig, Alg::Es256),
            KeySpec::ec("ec256-enc", Use::Enc, Alg::EcdhEs),
        ]
    }
}

impl Default for KeysetConfig {
    fn default() -> Self {
        KeysetConfig {
            service_id: "example".into(),
            project_id: None,
            issuer: String::new(),
            relying_parties: Vec::new(),
            discovery: Vec::new(),
            recipients: Vec::new(),
            pretty: false,
            kid: KidStrategy::Sequence,
            x5c: false,
            api_mirrors: false,
            rotation: Rotation::default(),
            keys: KeySpec::defaults(),
        }
    }
}

/// The file as serde sees it: `[[key]]` entries still raw.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    service_id: Option<String>,
    project_id: Option<String>,
    issuer: Option<String>,
    relying_parties: Option<Vec<RelyingParty>>,
    discovery: Option<toml::Table>,
    recipients: Option<Vec<String>>,
    pretty: Option<bool>,
    kid: Option<KidStrategy>,
    x5c: Option<bool>,
    api_mirrors: Option<bool>,
    rotation: Option<Rotation>,
    key: Option<Vec<RawKeySpec>>,
}

impl KeysetConfig {
    /// Parses and validates the text of a `keyset.toml`; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            Error::input(
                path,
                format!("invalid keyset.toml: {}", e.to_string().trim_end()),
                "fix the field named above; `jwksmith init` writes a commented default to compare with",
            )
        })?;
        let base = KeysetConfig::default();
        let keys = match raw.key {
            None => base.keys,
            Some(list) => list
                .into_iter()
                .enumerate()
                .map(|(i, k)| resolve_spec(k).map_err(|e| bad_field(path, &format!("[[key]] #{}", i + 1), &e)))
                .collect::<Result<Vec<_>>>()?,
        };
        let discovery =
            raw.discovery.map(discovery_members).transpose().map_err(|e| bad_field(path, "[discovery]", &e))?;
        let config = KeysetConfig {
            service_id: raw.service_id.unwrap_or(base.service_id),
            project_id: raw.project_id,
            issuer: raw.issuer.unwrap_or_default(),
            relying_parties: distinct(raw.relying_parties.unwrap_or_default()),
            discovery: discovery.unwrap_or_default(),
            recipients: raw.recipients.unwrap_or_default(),
            pretty: raw.pretty.unwrap_or(false),
            kid: raw.kid.unwrap_or_default(),
            x5c: raw.x5c.unwrap_or(false),
            api_mirrors: raw.api_mirrors.unwrap_or(false),
            rotation: raw.rotation.unwrap_or_default(),
            keys,
        };
        config.validate(path)?;
        Ok(config)
    }

    /// The spec with this name.
    pub(crate) fn spec(&self, name: &str) -> Option<&KeySpec> {
        self.keys.iter().find(|k| k.spec == name)
    }

    /// Position of a spec in the file (for ordering current keys); unknown specs sort last.
    pub(crate) fn spec_rank(&self, name: Option<&str>) -> usize {
        name.and_then(|n| self.keys.iter().position(|k| k.spec == n)).unwrap_or(usize::MAX)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        if !is_path_segment(&self.service_id) {
            return Err(bad_field(
                path,
                "service_id",
                "must be a non-empty path segment of letters, digits, `-`, `_` or `.`",
            ));
        }
        if let Some(id) = &self.project_id
            && !is_path_segment(id)
        {
            return Err(bad_field(
                path,
                "project_id",
                "must be a non-empty path segment of letters, digits, `-`, `_` or `.`",
            ));
        }
        if let Some(problem) = issuer_problem(&self.issuer) {
            return Err(bad_field(path, "issuer", &problem));
        }
        if let Some((field, problem)) = discovery_problem(&self.issuer, &self.discovery) {
            return Err(bad_field(path, field, &problem));
        }
        if let Some(problem) = self.recipients.iter().find_map(|r| crate::custody::check_recipient(r).err()) {
            return Err(bad_field(path, "recipients", &problem));
        }
        let mut seen = std::collections::HashSet::new();
        for spec in &self.keys {
            if !seen.insert(spec.spec.as_str()) {
                return Err(bad_field(
                    path,
                    "[[key]] spec",
                    &format!("spec `{}` is listed twice; spec names must be unique", spec.spec),
                ));
            }
        }
        self.rotation.validate(path)
    }
}

impl Rotation {
    /// Rejects timings that cannot keep clients working.
    pub(crate) fn validate(&self, path: &Path) -> Result<()> {
        let r = self;
        if r.rotate_every.secs() <= 0 || r.publish_ahead.secs() <= 0 || r.cache_max_age.secs() <= 0 {
            return Err(bad_field(
                path,
                "[rotation]",
                "rotate_every, publish_ahead and cache_max_age must be longer than zero",
            ));
        }
        if r.cache_max_age >= r.publish_ahead {
            return Err(bad_field(
                path,
                "[rotation] cache_max_age",
                &format!(
                    "cache_max_age ({}) must be shorter than publish_ahead ({}), or clients with a cached jwks.json will not know a new key when it starts signing",
                    r.cache_max_age, r.publish_ahead
                ),
            ));
        }
        if r.publish_ahead >= r.rotate_every {
            return Err(bad_field(
                path,
                "[rotation] publish_ahead",
                &format!("publish_ahead ({}) must be shorter than rotate_every ({})", r.publish_ahead, r.rotate_every),
            ));
        }
        Ok(())
    }
}

fn bad_field(path: &Path, field: &str, problem: &str) -> Error {
    Error::input(
        path,
        format!("{field}: {problem}"),
        "edit keyset.toml; see the commented default written by `jwksmith init`",
    )
}

/// True for names that are safe as one path segment and a file-name stem.
pub(crate) fn is_path_segment(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.len() <= 128
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn resolve_spec(raw: RawKeySpec) -> Result<KeySpec, String> {
    let alg: Option<Alg> = raw.alg.as_deref().map(str::parse).transpose()?;
    let kty = raw.kty.or(alg.map(Alg::kty)).unwrap_or(Kty::Rsa);
    let key_use: Use = match raw.key_use.as_deref() {
        Some(u) => u.parse()?,
        None => alg.map(Alg::key_use).unwrap_or(Use::Sig),
    };
    let (size, crv) = match kty {
        Kty::Rsa => {
            if raw.crv.is_some() {
                return Err("`crv` is for EC keys; remove it or set kty = \"EC\"".into());
            }
            let size = raw.size.unwrap_or(2048);
            if ![2048, 3072, 4096].contains(&size) {
                return Err(format!("RSA size {size} is not supported (use 2048, 3072 or 4096)"));
            }
            (Some(size), None)
        }
        Kty::Ec => {
            if raw.size.is_some() {
                return Err("`size` is for RSA keys; EC keys take `crv`".into());
            }
            let crv = match raw.crv.as_deref() {
                Some(c) => c.parse()?,
                None => alg.and_then(Alg::curve).unwrap_or(Curve::P256),
            };
            (None, Some(crv))
        }
    };
    let alg = alg.unwrap_or_else(|| default_alg(kty, crv, key_use));
    alg.check_fits(kty, crv, key_use)?;
    let spec = match raw.spec {
        Some(s) => s,
        None => match crv {
            Some(c) => format!("{}-{}", c.short(), key_use.name()),
            None => format!("rsa-{}", key_use.name()),
        },
    };
    if !is_path_segment(&spec) || spec.contains('.') {
        return Err(format!("spec `{spec}` must be letters, digits, `-` or `_`"));
    }
    Ok(KeySpec { spec, kty, size, crv, key_use, alg })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KeysetConfig> {
        KeysetConfig::parse(text, Path::new("keys/keyset.toml"))
    }

    #[test]
    fn embedded_default_equals_default() {
        assert_eq!(parse(DEFAULT_KEYSET_TOML).unwrap(), KeysetConfig::default());
        assert_eq!(parse("").unwrap(), KeysetConfig::default());
    }

    #[test]
    fn unknown_field_names_file_and_field() {
        let err = parse("sevice_id = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("keys/keyset.toml"), "{err}");
        assert!(err.contains("sevice_id"), "{err}");
        let err = parse("[rotation]\nrotate_evry = \"1d\"\n").unwrap_err().to_string();
        assert!(err.contains("rotate_evry"), "{err}");
    }

    #[test]
    fn key_specs_fill_defaults() {
        let c = parse("[[key]]\nkty = \"EC\"\ncrv = \"P-384\"\n").unwrap();
        assert_eq!(c.keys.len(), 1);
        assert_eq!(c.keys[0].spec, "ec384-sig");
        assert_eq!(c.keys[0].alg, Alg::Es384);
    }

    #[test]
    fn unsafe_timings_are_errors() {
        let err = parse("[rotation]\ncache_max_age = \"14d\"\n").unwrap_err().to_string();
        assert!(err.contains("cache_max_age"), "{err}");
        let err = parse("[rotation]\npublish_ahead = \"100d\"\ncache_max_age=\"1h\"\n").unwrap_err().to_string();
        assert!(err.contains("publish_ahead"), "{err}");
        assert!(parse("[rotation]\nrotate_every = \"often\"\n").is_err());
    }

    #[test]
    fn mismatched_spec_is_an_error() {
        assert!(parse("[[key]]\nkty = \"EC\"\ncrv = \"P-256\"\nalg = \"ES384\"\n").is_err());
        assert!(parse("[[key]]\nkty = \"RSA\"\nsize = 1024\n").is_err());
        assert!(parse("[[key]]\nkty = \"EC\"\ncrv = \"secp256k1\"\n").is_err());
        assert!(parse("[[key]]\nspec = \"a\"\n[[key]]\nspec = \"a\"\n").is_err());
    }
}
