//! Reading a JWK (or a JWK Set of exactly one key) of type RSA or EC, with its `kid`, `use` and
//! `alg` hints.

use serde_json::{Map, Value};

use super::KeyMaterial;
use super::curve::derive_ec_point;
use super::encode::{b64u_decode, left_pad, strip_zeros};
use super::public::PublicKey;
use super::secret::{SecretKey, SecretParts, check_rsa_private};
use crate::jose::Curve;

/// A JWK's own `kid`, `use` and `alg` members, when present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JwkHints {
    /// `kid` member.
    pub kid: Option<String>,
    /// `use` member.
    pub key_use: Option<String>,
    /// `alg` member.
    pub alg: Option<String>,
    /// The names of the other members, which jwksmith does not publish (`x5c`, `key_ops`, ...),
    /// sorted.
    pub unpublished: Vec<String>,
}

/// The JWK members jwksmith reads and publishes (the private ones in `out/private/` only).
const PUBLISHED: [&str; 15] = ["kty", "kid", "use", "alg", "n", "e", "crv", "x", "y", "d", "p", "q", "dp", "dq", "qi"];

/// Parses a JWK (or a JWK Set holding exactly one key) of type RSA or EC.
pub fn parse_jwk(bytes: &[u8]) -> Result<(KeyMaterial, JwkHints), String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    let jwk = match value.get("keys").and_then(|k| k.as_array()) {
        Some(keys) if keys.len() == 1 => &keys[0],
        Some(keys) => return Err(format!("JWK Set holds {} keys; import one key at a time", keys.len())),
        None => &value,
    };
    let obj = Members(jwk.as_object().ok_or("a JWK must be a JSON object")?);
    let mut unpublished: Vec<String> = obj.0.keys().filter(|m| !PUBLISHED.contains(&m.as_str())).cloned().collect();
    unpublished.sort();
    let hints = JwkHints { kid: obj.text("kid"), key_use: obj.text("use"), alg: obj.text("alg"), unpublished };
    let material = match obj.text("kty").as_deref() {
        Some("RSA") => rsa(&obj)?,
        Some("EC") => ec(&obj)?,
        Some(other) => {
            return Err(format!("JWK kty `{other}` is not supported; jwksmith publishes RSA and EC keys only"));
        }
        None => return Err("JWK member `kty` is missing".into()),
    };
    Ok((material, hints))
}

/// The members of a JWK object, read as text or base64url bytes.
struct Members<'a>(&'a Map<String, Value>);

impl Members<'_> {
    fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(|v| v.as_str()).map(str::to_string)
    }

    fn bytes(&self, name: &str) -> Result<Vec<u8>, String> {
        let v = self.text(name).ok_or_else(|| format!("JWK member `{name}` is missing"))?;
        b64u_decode(&v).ok_or_else(|| format!("JWK member `{name}` is not base64url"))
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

fn rsa(obj: &Members) -> Result<KeyMaterial, String> {
    let public = PublicKey::rsa(&obj.bytes("n")?, &obj.bytes("e")?)?;
    if !obj.has("d") {
        return Ok(KeyMaterial::new(public, None));
    }
    if obj.has("oth") {
        return Err("multi-prime RSA keys (`oth`) are not supported".into());
    }
    let secret = SecretParts::Rsa {
        d: strip_zeros(&obj.bytes("d")?),
        p: strip_zeros(&obj.bytes("p")?),
        q: strip_zeros(&obj.bytes("q")?),
        dp: strip_zeros(&obj.bytes("dp")?),
        dq: strip_zeros(&obj.bytes("dq")?),
        qi: strip_zeros(&obj.bytes("qi")?),
    };
    check_rsa_private(&public, &secret)?;
    Ok(KeyMaterial::new(public, Some(SecretKey::new(secret))))
}

fn ec(obj: &Members) -> Result<KeyMaterial, String> {
    let crv: Curve = obj.text("crv").ok_or("JWK member `crv` is missing")?.parse()?;
    let public = PublicKey::ec(crv, &obj.bytes("x")?, &obj.bytes("y")?)?;
    if !obj.has("d") {
        return Ok(KeyMaterial::new(public, None));
    }
    let d = left_pad(&obj.bytes("d")?, crv.coordinate_len()).ok_or("JWK member `d` is too long for its curve")?;
    if derive_ec_point(crv, &d)? != public.ec_point_bytes().unwrap_or_default() {
        return Err("JWK private `d` does not match its public `x`/`y`".into());
    }
    Ok(KeyMaterial::new(public, Some(SecretKey::new(SecretParts::Ec { d }))))
}
