//! The published JSON shapes, member for member: the JWK Set of `jwks.json` (Authlete's
//! `service/jwks/get`) and the array of `jwt-keys.json` (Ampersand's `jwt-keys`).

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;

use crate::jose::Kty;
pub(crate) use crate::json::json_bytes;
use crate::key::{b64_std, b64u};
use crate::model::Key;
use crate::times::Timestamp;

/// One JWK with its members in publication order.
#[derive(Clone, Debug, PartialEq)]
pub struct Jwk(pub Vec<(&'static str, Value)>);

impl Serialize for Jwk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// `{"keys": [...]}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct JwkSet {
    /// The keys, in publication order.
    pub keys: Vec<Jwk>,
}

/// The public JWK of a key: `kty, kid, use, alg`, then `n, e` or `crv, x, y`, then
/// `x5c, x5t#S256` when `with_x5c` and the key has a certificate.
pub(crate) fn public_jwk(key: &Key, with_x5c: bool) -> Jwk {
    let m = &key.meta;
    let mut members: Vec<(&'static str, Value)> = vec![
        ("kty", key.material.public.kty().name().into()),
        ("kid", m.kid.clone().into()),
        ("use", m.key_use.name().into()),
        ("alg", m.alg.name().into()),
    ];
    members.extend(key.material.public.members().into_iter().map(|(k, v)| (k, Value::from(v))));
    if with_x5c && let Some(der) = &key.cert_der {
        members.push(("x5c", Value::Array(vec![b64_std(der).into()])));
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        members.push(("x5t#S256", b64u(digest.as_ref()).into()));
    }
    Jwk(members)
}

/// The private JWK: the public members plus `d, p, q, dp, dq, qi` (RSA) or `d` (EC).
/// `None` when the private part is absent.
pub fn private_jwk(key: &Key, with_x5c: bool) -> Option<Jwk> {
    let secret = key.material.secret.as_ref()?;
    let mut jwk = public_jwk(key, with_x5c);
    let at = jwk.0.iter().position(|(k, _)| *k == "x5c").unwrap_or(jwk.0.len());
    let private: Vec<(&'static str, Value)> = secret.members().into_iter().map(|(k, v)| (k, Value::from(v))).collect();
    jwk.0.splice(at..at, private);
    Some(jwk)
}

/// One entry of `jwt-keys.json`, exactly the eight members of the API.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JwtKey {
    /// The key's UUID (`meta.id`).
    pub id: String,
    /// The set's project id.
    pub project_id: String,
    /// The key's label.
    pub label: String,
    /// Always `RSA`.
    pub algorithm: &'static str,
    /// SPKI PEM with `\n` line ends.
    pub public_key_pem: String,
    /// True when the key is in `jwks.json`.
    pub active: bool,
    /// Creation time (epoch when unknown).
    pub create_time: Timestamp,
    /// Latest state change at or before now.
    pub update_time: Timestamp,
}

/// True for keys that `jwt-keys.json` lists: RSA signing keys.
pub(crate) fn is_jwt_key(key: &Key) -> bool {
    key.material.public.kty() == Kty::Rsa && key.meta.key_use == crate::jose::Use::Sig
}

/// The `jwt-keys.json` entry of a key at `now`.
pub(crate) fn jwt_key(key: &Key, project_id: &str, now: Timestamp) -> JwtKey {
    let times = key.meta.times();
    JwtKey {
        id: key.meta.id.clone(),
        project_id: project_id.to_string(),
        label: key.meta.label().to_string(),
        algorithm: "RSA",
        public_key_pem: key.material.public.spki_pem(),
        active: times.state_at(now).is_active(),
        create_time: times.create_time(),
        update_time: times.update_time(now),
    }
}
