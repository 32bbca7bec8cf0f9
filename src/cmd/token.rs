//! `jwksmith token`: prints one compact JWT signed by a key of one set, for local development
//! and tests (SPEC §4). The claims and key choice are [`crate::jwt`]'s; this module reads the
//! flags, the `--claims` file and the set.

use std::path::PathBuf;

use serde_json::Value;

use crate::cmd::{Context, load_showing_pending};
use crate::error::{Error, Result};
use crate::jwt::{Claims, Object, Selection, sign, signing_key};
use crate::times::Span;

/// The flags of `token`.
#[derive(Clone, Debug)]
pub struct TokenOptions {
    /// `--spec S`.
    pub spec: Option<String>,
    /// `--kid K`.
    pub kid: Option<String>,
    /// `--sub`.
    pub sub: Option<String>,
    /// `--aud`, in command-line order.
    pub aud: Vec<String>,
    /// `--iss`.
    pub iss: Option<String>,
    /// `--ttl`.
    pub ttl: Span,
    /// `--claims FILE` (`-` is stdin).
    pub claims: Option<PathBuf>,
    /// `--claim NAME=VALUE`, in command-line order.
    pub claim: Vec<(String, Value)>,
}

/// Parses `--claim NAME=VALUE`: the value is JSON when it parses as JSON, else a string.
pub fn parse_claim(text: &str) -> std::result::Result<(String, Value), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!("`{text}` is not NAME=VALUE; write it like --claim role=admin or --claim 'n=1'"));
    };
    if name.is_empty() {
        return Err(format!("`{text}` has no claim name before `=`"));
    }
    let value = serde_json::from_str::<Value>(value).unwrap_or_else(|_| Value::String(value.to_string()));
    Ok((name.to_string(), value))
}

/// Signs and prints the token.
pub fn run(ctx: &Context, options: &TokenOptions) -> Result<()> {
    let set_path = match ctx.sets.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        _ => return Err(Error::Usage("token signs with the key of one set: give at most one --set".into())),
    };
    let mut extra = match &options.claims {
        Some(file) => claims_file(file)?.0,
        None => Vec::new(),
    };
    extra.extend(options.claim.iter().cloned());
    let claims = Claims {
        iss: options.iss.clone(),
        sub: options.sub.clone(),
        aud: options.aud.clone(),
        ttl: options.ttl,
        extra,
    };
    let selection = match (&options.spec, &options.kid) {
        (_, Some(kid)) => Selection::Kid(kid.clone()),
        (Some(spec), None) => Selection::Spec(spec.clone()),
        (None, None) => Selection::FirstSigningSpec,
    };
    let one = Context { sets: vec![set_path], ..ctx.clone() };
    let loaded = load_showing_pending(&one)?;
    let set = loaded.sets.first().ok_or_else(|| Error::Failed("no key set found".into()))?;
    let key = signing_key(set, &selection, ctx.now)?;
    ctx.ui.note(&format!(
        "set {}: signing with {} ({}, {})",
        set.display_path(),
        key.kid(),
        key.meta.alg,
        key.state(ctx.now)
    ));
    let token = sign(set, key, &claims, ctx.now)?;
    ctx.ui.data(&format!("{token}\n"));
    Ok(())
}

/// The members of a `--claims` file (`-`: stdin): a JSON object, in its order. Anything else is
/// an error naming the file.
fn claims_file(file: &std::path::Path) -> Result<Object> {
    let (bytes, shown) = if file.as_os_str() == "-" {
        (crate::keydir::read_stdin()?, PathBuf::from(crate::keydir::STDIN_NAME))
    } else {
        (crate::keydir::read_input(file)?, file.to_path_buf())
    };
    Object::parse(&bytes).map_err(|problem| {
        Error::input(
            &shown,
            format!("the --claims file {problem}"),
            "give a JSON object of claims, such as {\"role\": \"admin\", \"n\": 1}",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claim_values_are_json_when_they_parse_as_json() {
        assert_eq!(parse_claim("n=1"), Ok(("n".into(), json!(1))));
        assert_eq!(parse_claim("ok=true"), Ok(("ok".into(), json!(true))));
        assert_eq!(parse_claim("role=admin"), Ok(("role".into(), json!("admin"))));
        assert_eq!(parse_claim("q=\"1\""), Ok(("q".into(), json!("1"))));
        assert_eq!(parse_claim("o={\"a\":[1]}"), Ok(("o".into(), json!({"a": [1]}))));
        assert_eq!(parse_claim("eq=a=b"), Ok(("eq".into(), json!("a=b"))));
        assert_eq!(parse_claim("empty="), Ok(("empty".into(), json!(""))));
        assert!(parse_claim("novalue").is_err());
        assert!(parse_claim("=x").is_err());
    }
}
