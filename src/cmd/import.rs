//! `jwksmith import FILE`: adopt an external PEM or JWK into a set as split files + metadata.

use std::path::{Path, PathBuf};

use crate::cmd::Context;
use crate::cmd::import_rules as rules;
use crate::config::{KidStrategy, is_path_segment};
use crate::error::{Error, Result};
use crate::jose::{Alg, Use};
use crate::key::{JwkHints, KeyMaterial, parse_jwk, parse_pem};
use crate::keydir::{SetDir, discover};
use crate::keystore::{NewKey, write_new_key};
use crate::meta::Meta;
use crate::model::KeySet;
use crate::selftest::{SelfTested, read_set_tested, self_test};

/// Flags of `import`.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// FILE.
    pub file: PathBuf,
    /// `--kid`.
    pub kid: Option<String>,
    /// `--use`.
    pub key_use: Option<Use>,
    /// `--alg`.
    pub alg: Option<Alg>,
    /// `--label`.
    pub label: Option<String>,
}

fn read_key(file: &Path) -> Result<(KeyMaterial, JwkHints)> {
    let bytes = crate::keydir::read_input(file).map_err(|e| match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::input(file, "file not found", "give the path of a PEM or JWK file to import")
        }
        other => other,
    })?;
    let name = file.to_string_lossy();
    if name.ends_with(".age") {
        return read_sealed_key(file, &bytes).map(|m| (m, Default::default()));
    }
    let looks_json = name.ends_with(".json") || bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let parsed = if looks_json { parse_jwk(&bytes) } else { parse_pem(&bytes).map(|m| (m, Default::default())) };
    parsed.map_err(|p| Error::input(file, p, "import takes one PEM key (PKCS#8, PKCS#1, SEC1, SPKI) or one RSA/EC JWK"))
}

/// The private key in an age-encrypted PEM (`<name>.pem.age`), opened with the run's identities.
fn read_sealed_key(file: &Path, bytes: &[u8]) -> Result<KeyMaterial> {
    use crate::custody::{Opened, identities, open};
    let fix = "import takes an age file (from `age -r … -a` or `jwksmith`) of one private PEM key";
    match open(bytes, identities()?) {
        Ok(Opened::Plain(plain)) => parse_pem(&plain)
            .ok()
            .filter(|m| m.secret.is_some())
            .ok_or_else(|| Error::input(file, "decrypts to something other than one private PEM key", fix)),
        Ok(Opened::Sealed) => Err(Error::input(
            file,
            "no age identity of this run opens it",
            "set JWKSMITH_AGE_IDENTITY (or JWKSMITH_AGE_IDENTITY_FILE) to an identity it was encrypted to",
        )),
        Err(problem) => Err(Error::input(file, problem, fix)),
    }
}

/// The set an import goes to: the root unless one `--set` names another.
fn target(ctx: &Context) -> Result<(String, PathBuf)> {
    match ctx.sets.as_slice() {
        [] => Ok((String::new(), ctx.keys.clone())),
        [one] => Ok((one.clone(), ctx.keys.join(one))),
        _ => Err(Error::Usage("import adopts a key into one set: give at most one --set".into())),
    }
}

/// The set the key goes to, read and validated (`None` when its directory does not exist yet).
fn read_target_set(ctx: &Context, path: &str, dir: &Path) -> Result<Option<KeySet>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let found = discover(&ctx.keys)?.into_iter().find(|d| d.path == path);
    let set_dir = found.unwrap_or(SetDir { path: path.to_string(), dir: dir.to_path_buf(), files: Vec::new() });
    let (set, warnings) = read_set_tested(&set_dir, &SelfTested::default())?;
    for w in warnings {
        ctx.ui.warn(&w);
    }
    Ok(Some(set))
}

/// Runs `import`.
pub fn run(ctx: &Context, opts: &ImportOptions) -> Result<()> {
    let (path, dir) = target(ctx)?;
    let (_lock, ctx) = crate::cmd::change_keys(ctx)?;
    let ctx = &ctx;
    let (material, hints) = read_key(&opts.file)?;
    let set = read_target_set(ctx, &path, &dir)?;
    crate::keydir::check_now_after_created(&set, ctx.now)?;
    let adopted = is_hand_dropped_in(&opts.file, &dir);
    let strategy = set.as_ref().map(|s| s.config.kid).unwrap_or_default();
    let kid = choose_kid(opts, adopted, strategy, &material, &hints)?;
    check_kid_is_free(set.as_ref(), &kid, adopted)?;
    rules::check_public_is_new(set.as_ref(), &opts.file, &material, adopted)?;
    let (key_use, alg) = rules::use_and_alg(ctx, &opts.file, (opts.key_use, opts.alg), &material, &hints)?;
    self_test(&material, alg, key_use).map_err(|p| Error::input(&opts.file, p, "import a valid key pair"))?;
    rules::warn_unpublished(ctx, &opts.file, &hints);
    let spec = rules::spec_for(set.as_ref(), &material, key_use, alg);
    let meta = Meta {
        kid: kid.clone(),
        id: Meta::default_id(material.public.thumbprint_ref()),
        label: Some(opts.label.clone().unwrap_or_else(|| kid.clone())),
        spec: spec.clone(),
        key_use,
        alg,
        created: Some(ctx.now),
        activates: Some(ctx.now),
        retires: None,
        expires: None,
        revoked: None,
    };
    let written = write_new_key(&NewKey {
        keys: &ctx.keys,
        set: &path,
        dir: &dir,
        material: &material,
        cert_pem: None,
        meta: &meta,
        pretty: set.as_ref().is_some_and(|s| s.config.pretty),
        adopts: adopted.then_some(opts.file.as_path()),
        recipients: set.as_ref().map(|s| s.config.recipients.as_slice()).unwrap_or_default(),
    })?;
    let shown = if path.is_empty() { "." } else { path.as_str() };
    let described = material.public.describe();
    let joins = spec.map(|s| format!(" as the current key of spec `{s}`")).unwrap_or_default();
    ctx.ui.report(&format!("imported {kid} ({described} {alg}, {}) into set {shown}{joins}", key_use.name()));
    for file in written {
        ctx.ui.note(&format!("wrote {}", file.display()));
    }
    Ok(())
}

/// The kid of the imported key: `--kid`, the name of an adopted hand-dropped file, the JWK's own
/// `kid`, or what the set's kid strategy derives; refused when it cannot name the key's files.
fn choose_kid(
    opts: &ImportOptions,
    adopted: bool,
    strategy: KidStrategy,
    material: &KeyMaterial,
    hints: &JwkHints,
) -> Result<String> {
    if let (Some(kid), true) = (&opts.kid, adopted) {
        let name = rules::dropped_name(&opts.file);
        if *kid != name {
            // Renaming it would take kid `<name>` out of jwks.json: tokens it signed stop verifying.
            return Err(Error::input(
                &opts.file,
                format!("a hand-dropped key keeps its kid `{name}`; --kid {kid} would rename a published key"),
                format!("import it without --kid, or rename the file to {kid}.pem first"),
            ));
        }
    }
    let kid = match (&opts.kid, adopted, &hints.kid) {
        (Some(kid), _, _) => kid.clone(),
        (None, true, _) => rules::dropped_name(&opts.file),
        (None, false, Some(own)) => own.clone(),
        (None, false, None) => match strategy {
            KidStrategy::Thumbprint => material.public.thumbprint(),
            KidStrategy::SpkiSha256 => material.public.spki_sha256(),
            KidStrategy::Sequence => rules::file_stem(&opts.file),
        },
    };
    // A hand-dropped `<name>.pem` keeps kid `<name>` whatever its characters: it already names a
    // file there. Any other kid must be a plain file name.
    let usable = if adopted && opts.kid.is_none() { is_file_name(&kid) } else { is_path_segment(&kid) };
    if usable {
        return Ok(kid);
    }
    let problem = format!(
        "kid `{kid}` cannot name the key's files: a kid here has letters, digits, `-`, `_` and `.`, and does not start with `.`"
    );
    Err(match &opts.kid {
        Some(_) => Error::Usage(format!("--kid {kid}: {problem}")),
        None => Error::input(&opts.file, problem, "give the key a name with --kid NAME"),
    })
}

/// Refuses a kid the set already has, unless the import adopts that very hand-dropped key.
fn check_kid_is_free(set: Option<&KeySet>, kid: &str, adopted: bool) -> Result<()> {
    if let Some(set) = set
        && let Some(existing) = set.key(kid)
        && !(adopted && existing.hand_dropped)
    {
        return Err(Error::input(
            &existing.files[0],
            format!("kid `{kid}` already exists in set {}", set.display_path()),
            "choose another name with --kid",
        ));
    }
    Ok(())
}

/// True when `name` can stand as one file name in a set's directory (not hidden: the walk of
/// `keys/` skips hidden files).
fn is_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\0'])
}

fn is_hand_dropped_in(file: &Path, dir: &Path) -> bool {
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let managed = [".key.pem", ".pub.pem", ".crt.pem"].iter().any(|s| name.ends_with(s));
    let same_dir = match (file.parent().map(std::fs::canonicalize), std::fs::canonicalize(dir)) {
        (Some(Ok(a)), Ok(b)) => a == b,
        _ => false,
    };
    (name.ends_with(".pem") || name.ends_with(".pem.age")) && !managed && same_dir
}
