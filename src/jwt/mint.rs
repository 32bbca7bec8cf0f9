//! Minting a JWT with a set's key (SPEC §4 `token`): which key signs ([`signing_key`]), the
//! claims in the order the contract fixes ([`Claims`]), and the signed compact token ([`mint`]).
//! Pure: the set is loaded by the caller, `now` is given. `jwksmith token` and the local issuer
//! of `jwksmith serve --local-issuer` (its token endpoint) both mint through [`mint`].

use serde_json::Value;

use super::compact::{Object, b64u, signing_input};
use crate::error::{Error, Result};
use crate::jose::Use;
use crate::model::{Key, KeySet};
use crate::times::{Span, Timestamp};

/// Which key of a set signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Selection {
    /// The current key of the set's first signing spec (`token` without `--spec`/`--kid`).
    FirstSigningSpec,
    /// The current key of this spec (`--spec S`).
    Spec(String),
    /// This key, whatever its state (`--kid K`: tokens for negative tests).
    Kid(String),
}

/// What goes into the claims of a minted token, before the set and `now` fill it in.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Claims {
    /// `iss`; `None`: the set's `issuer` when it has one, else no `iss`.
    pub iss: Option<String>,
    /// `sub`; `None`: no `sub`.
    pub sub: Option<String>,
    /// `aud`: none, one (a string) or several (an array, in this order).
    pub aud: Vec<String>,
    /// `exp` = `iat` + `ttl`.
    pub ttl: Span,
    /// Members set after `exp`, in order, each replacing what came before (`--claims` members,
    /// then `--claim` values).
    pub extra: Vec<(String, Value)>,
}

impl Default for Claims {
    /// No `sub`, no `aud`, the set's issuer, one hour.
    fn default() -> Self {
        Claims { iss: None, sub: None, aud: Vec::new(), ttl: Span::from_secs(3600), extra: Vec::new() }
    }
}

impl Claims {
    /// The claims set: `iss`, `sub`, `aud`, `iat`, `exp`, then `extra` in order, a member of
    /// `extra` replacing one of the same name in place.
    pub(crate) fn object(&self, set: &KeySet, now: Timestamp) -> Object {
        let mut claims = Object::default();
        let issuer = Some(set.config.issuer.as_str()).filter(|i| !i.is_empty());
        if let Some(iss) = self.iss.as_deref().or(issuer) {
            claims.set("iss", iss.into());
        }
        if let Some(sub) = &self.sub {
            claims.set("sub", sub.as_str().into());
        }
        match self.aud.as_slice() {
            [] => {}
            [one] => claims.set("aud", one.as_str().into()),
            many => claims.set("aud", many.iter().map(|a| Value::from(a.as_str())).collect()),
        }
        claims.set("iat", now.unix().into());
        claims.set("exp", now.plus(self.ttl).unix().into());
        for (name, value) in &self.extra {
            claims.set(name, value.clone());
        }
        claims
    }
}

/// A compact JWS signed by the key `selection` picks ([`signing_key`]): [`sign`] with it. The
/// error says which key cannot sign and why.
///
/// Used by serve's local issuer (`serve --local-issuer`, its token endpoint); `jwksmith token`
/// picks the key first to report it, then calls [`sign`].
pub(crate) fn mint(set: &KeySet, selection: &Selection, claims: &Claims, now: Timestamp) -> Result<String> {
    sign(set, signing_key(set, selection, now)?, claims, now)
}

/// A compact JWS signed by `key` (a key of `set` that [`signing_key`] picked), with header
/// `{"alg","kid","typ":"JWT"}` and the claims of [`Claims::object`].
pub(crate) fn sign(set: &KeySet, key: &Key, claims: &Claims, now: Timestamp) -> Result<String> {
    let header = Object(vec![
        ("alg".into(), key.meta.alg.name().into()),
        ("kid".into(), key.kid().into()),
        ("typ".into(), "JWT".into()),
    ]);
    let input = signing_input(&header, &claims.object(set, now));
    let signature = crate::selftest::sign(&key.material, key.meta.alg, input.as_bytes()).map_err(|problem| {
        Error::Failed(format!("set {}: key `{}` cannot sign: {problem}", set.display_path(), key.kid()))
    })?;
    Ok(format!("{input}.{}", b64u(&signature)))
}

/// The key that signs a set's tokens, as `token` picks it: the current key of the first signing
/// spec (or of `Selection::Spec`; a set whose signing specs have no key yet: its first current
/// signing key outside every spec, such as a hand-dropped one), or the key `Selection::Kid`
/// names, whatever its state. An
/// error names the set and key and says why it cannot sign: an encryption key, no private part,
/// a private part encrypted to age recipients that no identity of this run opens, no current key.
///
/// Used by `jwksmith token` and by serve's local issuer (a 503 with this message).
pub(crate) fn signing_key<'a>(set: &'a KeySet, selection: &Selection, now: Timestamp) -> Result<&'a Key> {
    let key = match selection {
        Selection::Kid(kid) => set.key(kid).ok_or_else(|| {
            Error::Failed(format!(
                "set {}: no key `{kid}`{}; `jwksmith status` lists the kids",
                set.display_path(),
                known_kids(set)
            ))
        })?,
        Selection::Spec(name) => current_of_spec(set, name, now)?,
        Selection::FirstSigningSpec => first_signing_key(set, now)?,
    };
    check_signs(set, key)?;
    Ok(key)
}

/// The current key of the first signing spec. A set whose signing specs have no key at all
/// (hand-dropped or imported keys only, outside every spec) signs with its first current
/// signing key without a spec, as `jwks.json` lists it after the specs' keys.
fn first_signing_key(set: &KeySet, now: Timestamp) -> Result<&Key> {
    let first = set.config.keys.iter().find(|s| s.key_use == Use::Sig);
    if let Some(spec) = first
        && set.keys_of_spec(&spec.spec).next().is_some()
    {
        return current_of_spec(set, &spec.spec, now);
    }
    let specless = set.keys.iter().find(|k| {
        k.meta.spec.is_none() && k.meta.key_use == Use::Sig && k.state(now) == crate::lifecycle::State::Current
    });
    match (specless, first) {
        (Some(key), _) => Ok(key),
        (None, Some(spec)) => current_of_spec(set, &spec.spec, now),
        (None, None) => Err(Error::Failed(format!(
            "set {}: no signing spec (a [[key]] with use = \"sig\") in its keyset.toml, so no key signs tokens; add one and run `jwksmith rotate`",
            set.display_path()
        ))),
    }
}

fn known_kids(set: &KeySet) -> String {
    if set.keys.is_empty() {
        return " (it has no keys)".into();
    }
    let kids: Vec<&str> = set.keys.iter().map(Key::kid).collect();
    format!(" (its keys: {})", kids.join(", "))
}

/// The current key of spec `name`: the spec must exist and sign, and have a current key.
fn current_of_spec<'a>(set: &'a KeySet, name: &str, now: Timestamp) -> Result<&'a Key> {
    let signing: Vec<&str> =
        set.config.keys.iter().filter(|s| s.key_use == Use::Sig).map(|s| s.spec.as_str()).collect();
    let Some(spec) = set.config.spec(name) else {
        return Err(Error::Usage(format!(
            "--spec {name}: set {} has no [[key]] spec named `{name}` (its signing specs: {})",
            set.display_path(),
            if signing.is_empty() { "none".to_string() } else { signing.join(", ") }
        )));
    };
    if spec.key_use == Use::Enc {
        return Err(Error::Failed(format!(
            "set {}: spec `{name}` is an encryption spec (use enc, alg {}): its keys do not sign; pick a signing spec with --spec ({})",
            set.display_path(),
            spec.alg,
            if signing.is_empty() { "the set has none".to_string() } else { signing.join(", ") }
        )));
    }
    crate::plan::current_of_spec(set, &spec.spec, now).ok_or_else(|| {
        let hint = if set.keys_of_spec(name).next().is_some() {
            "none of its keys is current at now; `jwksmith status` shows their states, and --kid picks any key"
        } else {
            "it has no key yet; run `jwksmith rotate` to make one"
        };
        Error::Failed(format!("set {}: spec `{name}` has no current key at {now}: {hint}", set.display_path()))
    })
}

/// Refuses a key that cannot sign: an encryption key, or one without a usable private part.
fn check_signs(set: &KeySet, key: &Key) -> Result<()> {
    let (kid, path) = (key.kid(), set.display_path());
    if key.meta.key_use == Use::Enc {
        return Err(Error::Failed(format!(
            "set {path}: key `{kid}` is an encryption key (use enc, alg {}): it does not sign tokens",
            key.meta.alg
        )));
    }
    if key.has_private() {
        return Ok(());
    }
    let file = |suffix: &str| key.files.iter().find(|f| f.as_os_str().as_encoded_bytes().ends_with(suffix.as_bytes()));
    let sealed = file(".key.age").or_else(|| file(".pem.age"));
    match sealed {
        Some(sealed) => {
            let given = crate::custody::identities()?.any();
            let why = if given { "no age identity given to this run opens it" } else { "no age identity was given" };
            Err(Error::input(
                sealed,
                format!("key `{kid}` of set {path} cannot sign: its private key is age-encrypted and {why}"),
                "set JWKSMITH_AGE_IDENTITY (the identity text) or JWKSMITH_AGE_IDENTITY_FILE (its path) to an identity of the set's recipients",
            ))
        }
        None => Err(Error::input(
            file(".pub.pem").unwrap_or(&key.files[0]),
            format!("key `{kid}` of set {path} cannot sign: it has no private part (only its public key is here)"),
            format!(
                "put its private key beside it as {kid}.key.pem (or pick another key with --kid); a key held elsewhere (HSM, KMS) signs there"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KeySpec, KeysetConfig};
    use crate::jose::{Alg, Curve, Kty};
    use crate::jwt::decode;
    use crate::meta::Meta;
    use serde_json::json;

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn spec(name: &str, key_use: Use, alg: Alg) -> KeySpec {
        KeySpec { spec: name.into(), kty: Kty::Ec, size: None, crv: Some(Curve::P256), key_use, alg }
    }

    fn key(kid: &str, spec: &KeySpec, activates: i64, private: bool) -> Key {
        let material = crate::generate::generate(spec).unwrap().material;
        let material = if private { material } else { material.public_only() };
        let meta = Meta {
            kid: kid.into(),
            id: "00000000-0000-0000-0000-000000000000".into(),
            label: None,
            spec: Some(spec.spec.clone()),
            key_use: spec.key_use,
            alg: spec.alg,
            created: Some(Timestamp::from_unix(activates)),
            activates: Some(Timestamp::from_unix(activates)),
            retires: None,
            expires: None,
            revoked: None,
        };
        Key { meta, material, cert_der: None, files: vec![format!("keys/{kid}.pub.pem").into()], hand_dropped: false }
    }

    /// An enc spec first, then a signing spec with a current key and a next one.
    fn set(issuer: &str) -> KeySet {
        let (enc, sig) = (spec("ec-enc", Use::Enc, Alg::EcdhEs), spec("ec-sig", Use::Sig, Alg::Es256));
        let config =
            KeysetConfig { issuer: issuer.into(), keys: vec![enc.clone(), sig.clone()], ..KeysetConfig::default() };
        let keys = vec![
            key("ec-enc-001", &enc, NOW - 10, true),
            key("ec-sig-001", &sig, NOW - 10, true),
            key("ec-sig-002", &sig, NOW + 10, true),
        ];
        KeySet { path: String::new(), dir: "keys".into(), config, config_file: None, keys, unfinished: Vec::new() }
    }

    #[test]
    fn claims_come_in_the_contract_order_and_later_ones_replace_in_place() {
        let now = Timestamp::from_unix(NOW);
        let mut claims = Claims { sub: Some("me".into()), aud: vec!["a".into()], ..Claims::default() };
        let object = claims.object(&set("https://issuer.example"), now);
        assert_eq!(
            object.to_json(),
            format!(r#"{{"iss":"https://issuer.example","sub":"me","aud":"a","iat":{NOW},"exp":{}}}"#, NOW + 3600)
        );
        claims.aud.push("b".into());
        claims.iss = Some("mine".into());
        claims.extra = vec![("x".into(), json!(1)), ("iss".into(), json!("theirs")), ("x".into(), json!([2]))];
        let object = claims.object(&set(""), now);
        assert_eq!(
            object.to_json(),
            format!(r#"{{"iss":"theirs","sub":"me","aud":["a","b"],"iat":{NOW},"exp":{},"x":[2]}}"#, NOW + 3600)
        );
        let bare = Claims::default().object(&set(""), now);
        assert_eq!(bare.to_json(), format!(r#"{{"iat":{NOW},"exp":{}}}"#, NOW + 3600), "no iss without an issuer");
    }

    #[test]
    fn mints_with_the_current_key_of_the_first_signing_spec() {
        let set = set("");
        let now = Timestamp::from_unix(NOW);
        let token = mint(&set, &Selection::FirstSigningSpec, &Claims::default(), now).unwrap();
        let decoded = decode(&token).unwrap();
        assert_eq!(decoded.header.to_json(), r#"{"alg":"ES256","kid":"ec-sig-001","typ":"JWT"}"#);
        assert_eq!(decoded.signature.len(), 64, "ES256 signatures are r || s");
        let public = &set.key("ec-sig-001").unwrap().material.public;
        crate::selftest::verify(public, Alg::Es256, decoded.signing_input.as_bytes(), &decoded.signature).unwrap();
        let next = mint(&set, &Selection::Kid("ec-sig-002".into()), &Claims::default(), now).unwrap();
        assert!(decode(&next).unwrap().header.text("kid") == Some("ec-sig-002"), "--kid takes a next key too");
    }

    #[test]
    fn a_set_of_hand_dropped_keys_signs_with_its_current_signing_key() {
        let mut set = set("");
        let now = Timestamp::from_unix(NOW);
        set.keys.retain(|k| k.meta.spec.as_deref() != Some("ec-sig"));
        let mut legacy = key("legacy", &spec("ec-sig", Use::Sig, Alg::Es256), NOW - 10, true);
        legacy.meta.spec = None;
        set.keys.push(legacy);
        assert_eq!(signing_key(&set, &Selection::FirstSigningSpec, now).unwrap().kid(), "legacy");
        // Once the spec has a key, the spec's key signs.
        set.keys.push(key("ec-sig-001", &spec("ec-sig", Use::Sig, Alg::Es256), NOW - 5, true));
        assert_eq!(signing_key(&set, &Selection::FirstSigningSpec, now).unwrap().kid(), "ec-sig-001");
    }

    #[test]
    fn refusals_say_which_key_and_why() {
        let mut set = set("");
        let now = Timestamp::from_unix(NOW);
        let err = |set: &KeySet, s: Selection| signing_key(set, &s, now).unwrap_err().to_string();
        assert!(err(&set, Selection::Spec("ec-enc".into())).contains("spec `ec-enc` is an encryption spec"));
        assert!(err(&set, Selection::Kid("ec-enc-001".into())).contains("key `ec-enc-001` is an encryption key"));
        assert!(err(&set, Selection::Kid("nope".into())).contains("no key `nope` (its keys: ec-enc-001"));
        assert!(matches!(signing_key(&set, &Selection::Spec("x".into()), now), Err(Error::Usage(_))));
        let early = signing_key(&set, &Selection::FirstSigningSpec, Timestamp::from_unix(NOW - 20)).unwrap_err();
        assert!(early.to_string().contains("spec `ec-sig` has no current key"), "{early}");
        let sig = spec("ec-sig", Use::Sig, Alg::Es256);
        set.keys[1] = key("ec-sig-001", &sig, NOW - 10, false);
        let public_only = err(&set, Selection::FirstSigningSpec);
        assert!(
            public_only
                .starts_with("keys/ec-sig-001.pub.pem: key `ec-sig-001` of set . cannot sign: it has no private part"),
            "{public_only}"
        );
        set.keys[1].files.push("keys/ec-sig-001.key.age".into());
        let sealed = err(&set, Selection::FirstSigningSpec);
        assert!(
            sealed.starts_with(
                "keys/ec-sig-001.key.age: key `ec-sig-001` of set . cannot sign: its private key is age-encrypted"
            ),
            "{sealed}"
        );
        assert!(sealed.contains("JWKSMITH_AGE_IDENTITY_FILE"), "{sealed}");
    }
}
