//! `<kid>.meta.json`: a key's id, label, spec, use, alg and lifecycle times.

use serde::{Deserialize, Serialize};

use crate::jose::{Alg, Use};
use crate::lifecycle::Times;
use crate::times::Timestamp;

/// The metadata of one key, in the order the file lists its members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Key id; equals the file name before `.meta.json`.
    pub kid: String,
    /// UUID fixed at creation (the `id` of `jwt-keys.json`).
    pub id: String,
    /// Human label; defaults to the kid.
    #[serde(default)]
    pub label: Option<String>,
    /// The spec this key belongs to (`None` for imported and hand-dropped keys).
    #[serde(default)]
    pub spec: Option<String>,
    /// `sig` or `enc`.
    #[serde(rename = "use")]
    pub key_use: Use,
    /// The JOSE algorithm.
    pub alg: Alg,
    /// When the key was made.
    #[serde(default)]
    pub created: Option<Timestamp>,
    /// When it starts signing.
    #[serde(default)]
    pub activates: Option<Timestamp>,
    /// When it stops signing.
    #[serde(default)]
    pub retires: Option<Timestamp>,
    /// When it leaves `jwks.json`.
    #[serde(default)]
    pub expires: Option<Timestamp>,
    /// When it was revoked.
    #[serde(default)]
    pub revoked: Option<Timestamp>,
}

/// The file as written: `label` always present.
#[derive(Serialize)]
struct Written<'a> {
    kid: &'a str,
    id: &'a str,
    label: &'a str,
    spec: &'a Option<String>,
    #[serde(rename = "use")]
    key_use: Use,
    alg: Alg,
    created: Option<Timestamp>,
    activates: Option<Timestamp>,
    retires: Option<Timestamp>,
    expires: Option<Timestamp>,
    revoked: Option<Timestamp>,
}

impl Meta {
    /// The lifecycle times.
    pub fn times(&self) -> Times {
        Times {
            created: self.created,
            activates: self.activates,
            retires: self.retires,
            expires: self.expires,
            revoked: self.revoked,
        }
    }

    /// The label, or the kid when none is set.
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.kid)
    }

    /// The id of a key that has no metadata: UUIDv5 (URL namespace) of `jwksmith:key:<thumbprint>`.
    pub(crate) fn default_id(thumbprint: &str) -> String {
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("jwksmith:key:{thumbprint}").as_bytes()).to_string()
    }

    /// Serialises the file (`pretty` indents it), ending with a newline.
    pub fn to_json(&self, pretty: bool) -> Vec<u8> {
        let w = Written {
            kid: &self.kid,
            id: &self.id,
            label: self.label(),
            spec: &self.spec,
            key_use: self.key_use,
            alg: self.alg,
            created: self.created,
            activates: self.activates,
            retires: self.retires,
            expires: self.expires,
            revoked: self.revoked,
        };
        crate::json::json_bytes(&w, pretty)
    }

    /// Checks that this metadata loads again once written: its times are writable
    /// ([`Timestamp::is_writable`]) and in order, its id a canonical UUID. Writers call it
    /// before they write anything, so jwksmith never writes a meta.json that it would reject.
    pub(crate) fn check_writable(&self) -> Result<(), String> {
        let times = self.times();
        let names = ["created", "activates", "retires", "expires", "revoked"];
        if let Some((name, t)) =
            names.iter().zip(times.all()).find_map(|(n, t)| t.filter(|t| !t.is_writable()).map(|t| (n, t)))
        {
            return Err(format!("its `{name}` time ({}) lies outside the years 1 to 9999", t.unix()));
        }
        times.check_order()?;
        check_id(&self.id)
    }

    /// Sets the lifecycle times.
    pub(crate) fn set_times(&mut self, t: Times) {
        self.created = t.created;
        self.activates = t.activates;
        self.retires = t.retires;
        self.expires = t.expires;
        self.revoked = t.revoked;
    }
}

/// Checks that `id` is a UUID in canonical form (lowercase, hyphenated), as every writer of
/// jwksmith writes it.
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    let uuid = uuid::Uuid::parse_str(id).map_err(|_| format!("id `{id}` is not a UUID"))?;
    let canonical = uuid.hyphenated().to_string();
    if canonical != id {
        return Err(format!("id `{id}` is not a UUID in canonical form (lowercase, hyphenated)"));
    }
    Ok(())
}

/// Parses a meta.json text (errors are plain descriptions; the caller names the file).
pub fn parse(bytes: &[u8]) -> Result<Meta, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("invalid key metadata ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_writes_null_times() {
        let text = br#"{"kid":"rsa-sig-001","id":"6f1c1f5e-1d7c-4d8e-9a55-000000000001","label":"rsa-sig-001","spec":"rsa-sig","use":"sig","alg":"RS256","created":"2026-01-01T00:00:00+00:00","activates":"2026-01-01T00:00:00Z","retires":null,"expires":null,"revoked":null}"#;
        let meta = parse(text).unwrap();
        let out = String::from_utf8(meta.to_json(false)).unwrap();
        assert!(out.contains(r#""created":"2026-01-01T00:00:00Z""#), "{out}");
        assert!(out.contains(r#""retires":null"#), "{out}");
        assert_eq!(parse(out.as_bytes()).unwrap(), meta);
    }

    #[test]
    fn default_id_is_uuid_v5_of_thumbprint() {
        let id = Meta::default_id("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "5");
    }

    #[test]
    fn ids_must_be_canonical() {
        let canonical = "6f1c1f5e-1d7c-4d8e-9a55-00000000e001";
        assert_eq!(check_id(canonical), Ok(()));
        for other in [
            "{6f1c1f5e-1d7c-4d8e-9a55-00000000e001}",
            "6F1C1F5E-1D7C-4D8E-9A55-00000000E001",
            "6f1c1f5e1d7c4d8e9a5500000000e001",
            "urn:uuid:6f1c1f5e-1d7c-4d8e-9a55-00000000e001",
        ] {
            assert!(check_id(other).unwrap_err().contains("canonical form"), "{other}");
        }
        assert!(check_id("not-a-uuid").unwrap_err().contains("is not a UUID"));
    }

    #[test]
    fn unknown_member_is_an_error() {
        assert!(parse(br#"{"kid":"a","id":"x","use":"sig","alg":"RS256","colour":"red"}"#).is_err());
    }
}
