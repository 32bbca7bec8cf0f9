//! The compact JWS form (RFC 7515 §7.1): `base64url(header).base64url(payload).base64url(signature)`,
//! with a JSON object of claims as payload (a JWT, RFC 7519). [`Object`] keeps the members of a
//! header or claims set in order. Pure: no key handling beyond the signature bytes.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A JSON object whose members keep their order: a JWS header or a JWT claims set.
/// Setting a member that exists replaces its value in place.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Object(pub(crate) Vec<(String, Value)>);

impl Object {
    /// Sets `name` to `value`: in place when the member exists, else at the end.
    pub(crate) fn set(&mut self, name: &str, value: Value) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name.to_string(), value)),
        }
    }

    /// The value of member `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The value of member `name` when it is a string.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// Parses a JSON object, keeping the order of its members (a repeated member keeps its first
    /// place and its last value). The problem says what the text is when it is not an object.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Object, String> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(_)) => serde_json::from_slice(bytes).map_err(|e| format!("is not valid JSON ({e})")),
            Ok(other) => Err(format!("is {}, not a JSON object", kind(&other))),
            Err(e) => Err(format!("is not valid JSON ({e})")),
        }
    }

    /// The compact JSON text of the object.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What kind of JSON value this is, for messages (`an array`, `a string`, ...).
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Object;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Object, A::Error> {
                let mut object = Object::default();
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    object.set(&name, value);
                }
                Ok(object)
            }
        }
        d.deserialize_map(Members)
    }
}

/// base64url without padding (RFC 7515 §2).
pub(crate) fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWS signing input `base64url(header).base64url(claims)`.
pub(crate) fn signing_input(header: &Object, claims: &Object) -> String {
    format!("{}.{}", b64u(header.to_json().as_bytes()), b64u(claims.to_json().as_bytes()))
}

/// A compact token taken apart. Nothing in it is secret: a JWS is public.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The protected header.
    pub header: Object,
    /// The claims set.
    pub claims: Object,
    /// `base64url(header).base64url(payload)` exactly as the token carries them.
    pub signing_input: String,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

/// Takes a compact JWS apart. The problem says what is wrong in words a person can act on:
/// not three parts, a part that is not base64url, a header or payload that is not a JSON object.
pub(crate) fn decode(token: &str) -> Result<Decoded, String> {
    let token = token.trim();
    if token.is_empty() {
        return Err("the token is empty: give a compact JWS (header.payload.signature)".into());
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => return Err("the token has five parts: it is an encrypted JWE, not a signed JWS; verify checks signed tokens (header.payload.signature)".into()),
        1 => {
            return Err(
                "the token is not a compact JWS: it has no `.`; a compact JWS is three base64url parts, header.payload.signature".into(),
            );
        }
        n => {
            return Err(format!(
                "the token is not a compact JWS: it has {n} parts separated by `.`, not three (header.payload.signature)"
            ));
        }
    }
    let part = |index: usize, name: &str| {
        URL_SAFE_NO_PAD
            .decode(parts[index])
            .map_err(|e| format!("the token's {name} (part {} of 3) is not base64url without padding ({e})", index + 1))
    };
    let header = Object::parse(&part(0, "header")?).map_err(|p| format!("the token's header {p}"))?;
    let claims = Object::parse(&part(1, "payload")?)
        .map_err(|p| format!("the token's payload {p}: a JWT carries a JSON object of claims"))?;
    let signature = part(2, "signature")?;
    Ok(Decoded { header, claims, signing_input: format!("{}.{}", parts[0], parts[1]), signature })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_keep_their_order_and_replace_in_place() {
        let mut o = Object::parse(br#"{"z":1,"a":2,"m":{"y":1}}"#).unwrap();
        o.set("a", json!("x"));
        o.set("b", json!(true));
        assert_eq!(o.to_json(), r#"{"z":1,"a":"x","m":{"y":1},"b":true}"#);
        assert_eq!(Object::parse(b"[1]").unwrap_err(), "is an array, not a JSON object");
        assert!(Object::parse(b"{").unwrap_err().starts_with("is not valid JSON"));
    }

    #[test]
    fn decodes_what_it_encodes() {
        let header = Object(vec![("alg".into(), json!("ES256")), ("kid".into(), json!("k"))]);
        let claims = Object(vec![("sub".into(), json!("me"))]);
        let input = signing_input(&header, &claims);
        let token = format!("{input}.{}", b64u(b"sig"));
        let d = decode(&format!("{token}\n")).unwrap();
        assert_eq!((d.header, d.claims, d.signing_input, d.signature), (header, claims, input, b"sig".to_vec()));
    }

    #[test]
    fn malformed_tokens_say_what_is_wrong() {
        let err = |t: &str| decode(t).unwrap_err();
        assert!(err("abc").contains("it has no `.`"), "{}", err("abc"));
        assert!(err("a.b").contains("it has 2 parts separated by `.`, not three"));
        assert!(err("a.b.c.d.e").contains("JWE"));
        assert!(err("a*.b.c").contains("header (part 1 of 3) is not base64url"));
        let h = b64u(b"{\"alg\":\"RS256\"}");
        assert!(err(&format!("{h}.{}.c", b64u(b"[]"))).contains("payload is an array, not a JSON object"));
        assert!(err(&format!("{}.{}.c", b64u(b"nope"), b64u(b"{}"))).contains("header is not valid JSON"));
        assert!(err(&format!("{h}.{}.c=", b64u(b"{}"))).contains("signature (part 3 of 3)"));
        assert!(err("  ").contains("empty"));
    }
}
