//! How `import` names, types and places a key: the kid from a file name or a JWK's own `kid`,
//! `use`/`alg` from the flags or the JWK, the JWK members it drops, the refusal of a key the set
//! already has, and the spec an imported key joins.

use std::path::Path;

use crate::cmd::Context;
use crate::config::KeysetConfig;
use crate::error::{Error, Result, Shown};
use crate::jose::{Alg, Use, default_alg};
use crate::key::{JwkHints, KeyMaterial};
use crate::model::KeySet;

/// The suffixes `import` strips from a file name to name a key under `kid = "sequence"`, longest
/// first, so `sa.key` and `sa.pub` (or `sa.key.pem`, `sa.pub.pem`) all name `sa`.
const NAME_SUFFIXES: [&str; 8] = [".pem.age", ".pub.pem", ".key.pem", ".jwk.json", ".json", ".pem", ".pub", ".key"];

/// The file name of `file` without the first of [`NAME_SUFFIXES`] it ends with.
pub(crate) fn file_stem(file: &Path) -> String {
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    NAME_SUFFIXES
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix).filter(|stem| !stem.is_empty()))
        .unwrap_or(&name)
        .to_string()
}

/// The kid a hand-dropped `<name>.pem` (or `<name>.pem.age`) has, and keeps through `import`:
/// `<name>`.
pub(crate) fn dropped_name(file: &Path) -> String {
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    name.strip_suffix(".pem.age").or_else(|| name.strip_suffix(".pem")).unwrap_or(&name).to_string()
}

/// Warns once, naming them, about the JWK members the key loses on import.
pub(crate) fn warn_unpublished(ctx: &Context, file: &Path, hints: &JwkHints) {
    if hints.unpublished.is_empty() {
        return;
    }
    let names: Vec<String> = hints.unpublished.iter().map(|m| format!("`{}`", m.escape_debug())).collect();
    ctx.ui.warn(&format!(
        "{}: jwksmith does not publish the JWK member{} {}; the imported key is published without {}",
        Shown(file),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        if names.len() == 1 { "it" } else { "them" },
    ));
}

/// Refuses a key whose public key the set already has, under any kid, unless that key is the very
/// hand-dropped file being adopted. `file` is the file being imported.
pub(crate) fn check_public_is_new(
    set: Option<&KeySet>,
    file: &Path,
    material: &KeyMaterial,
    adopted: bool,
) -> Result<()> {
    let Some(set) = set else { return Ok(()) };
    let spki = material.public.spki_der_ref();
    let same = set
        .keys
        .iter()
        .find(|k| k.material.public.spki_der_ref() == spki && !(k.hand_dropped && adopted && is_same_file(file, k)));
    match same {
        None => Ok(()),
        Some(existing) => Err(Error::input(
            file,
            format!(
                "set {} already has this key, as kid `{}` ({}); import refuses a second copy of a key",
                set.display_path(),
                existing.kid(),
                Shown(&existing.files[0])
            ),
            "import another key, or keep the one the set has",
        )),
    }
}

fn is_same_file(file: &Path, key: &crate::model::Key) -> bool {
    let Ok(file) = std::fs::canonicalize(file) else { return false };
    key.files.iter().any(|f| std::fs::canonicalize(f).is_ok_and(|k| k == file))
}

/// The `use` and `alg` of the imported key: the flags (an `--alg` alone says its use), else the
/// JWK's own members, else the hand-dropped defaults; warns where a flag overrides the JWK.
pub(crate) fn use_and_alg(
    ctx: &Context,
    file: &Path,
    flags: (Option<Use>, Option<Alg>),
    material: &KeyMaterial,
    hints: &JwkHints,
) -> Result<(Use, Alg)> {
    let (kty, curve) = (material.public.kty(), material.public.curve());
    let bad = |member: &str, problem: String| {
        Error::input(
            file,
            format!("the JWK's `{member}`: {problem}"),
            format!("pass --{member} to import it otherwise"),
        )
    };
    // A member the flags override is not read at all.
    let own_use = match (flags, hints.key_use.as_deref()) {
        ((None, None), Some(text)) => Some(text.parse::<Use>().map_err(|p| bad("use", p))?),
        _ => None,
    };
    let own_alg = match (flags.1, hints.alg.as_deref()) {
        (None, Some(text)) => Some(text.parse::<Alg>().map_err(|p| bad("alg", p))?),
        _ => None,
    };
    let key_use = flags.0.or(flags.1.map(Alg::key_use)).or(own_use).or(own_alg.map(Alg::key_use)).unwrap_or(Use::Sig);
    let alg =
        flags.1.or(own_alg.filter(|a| a.key_use() == key_use)).unwrap_or_else(|| default_alg(kty, curve, key_use));
    let own = [("use", hints.key_use.as_deref(), key_use.name()), ("alg", hints.alg.as_deref(), alg.name())];
    for (member, theirs, ours) in own {
        if let Some(theirs) = theirs.filter(|t| *t != ours) {
            ctx.ui.warn(&format!(
                "{}: the JWK says {member} `{}`, imported with {member} `{ours}`",
                Shown(file),
                theirs.escape_debug()
            ));
        }
    }
    alg.check_fits(kty, curve, key_use).map_err(|p| match flags.1 {
        Some(_) => Error::Usage(format!(
            "{p} (the key in {} is {}); leave --alg out for {}, or give one for this key",
            Shown(file),
            material.public.describe(),
            default_alg(kty, curve, key_use)
        )),
        None => bad("alg", format!("{p} (the key is {})", material.public.describe())),
    })?;
    Ok((key_use, alg))
}

/// The spec an imported private key joins: the first of the set's specs that it fits (key type,
/// size or curve, use, alg) and that has no key yet, so the key is that spec's first current key
/// (`out/private/<spec>.pem`) and `rotate` later replaces it. A set that does not exist yet has
/// the default specs. `None` for a public-only key.
pub(crate) fn spec_for(set: Option<&KeySet>, material: &KeyMaterial, key_use: Use, alg: Alg) -> Option<String> {
    material.secret.as_ref()?;
    let default = KeysetConfig::default();
    let config = set.map_or(&default, |s| &s.config);
    let public = &material.public;
    config
        .keys
        .iter()
        .find(|spec| {
            spec.kty == public.kty()
                && spec.key_use == key_use
                && spec.alg == alg
                && spec.crv == public.curve()
                && spec.size.map(|s| s as usize) == public.rsa_bits()
                && set.is_none_or(|set| set.keys_of_spec(&spec.spec).next().is_none())
        })
        .map(|spec| spec.spec.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_loses_one_key_suffix() {
        let cases = [
            ("sa.key", "sa"),
            ("sa.pub", "sa"),
            ("dir/sa.key.pem", "sa"),
            ("sa.pub.pem", "sa"),
            ("sa.pem.age", "sa"),
            ("partner.jwk.json", "partner"),
            ("partner.json", "partner"),
            ("legacy.pem", "legacy"),
            ("plain", "plain"),
            (".pem", ".pem"),
        ];
        for (file, stem) in cases {
            assert_eq!(file_stem(Path::new(file)), stem, "{file}");
        }
        assert_eq!(dropped_name(Path::new("keys/sa.key.x.pem")), "sa.key.x");
        assert_eq!(dropped_name(Path::new("keys/legacy.pem.age")), "legacy");
    }
}
