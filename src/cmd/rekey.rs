//! `jwksmith rekey`: encrypts the selected sets' private keys to their current `recipients`
//! (SPEC §2.1). A plaintext `<kid>.key.pem` becomes `<kid>.key.age`; a hand-dropped private
//! `<name>.pem` or `<name>.pem.age` becomes managed files as `import` makes them; a `.key.age`
//! whose recorded recipients differ is encrypted again, which needs an identity that opens it.
//! Everything is decided before the first write: when a file needs an identity that the run
//! does not have, nothing changes.

use std::path::{Path, PathBuf};

use crate::cmd::{Context, load};
use crate::custody::{Recipients, recorded_digest};
use crate::error::{Error, Result, Shown};
use crate::keystate::{self, TMP_DIR};
use crate::keystore::{NewKey, write_new_key};
use crate::model::{Key, KeySet};
use crate::write::{remove_file, write_atomic_via};

/// What `rekey` does to one key.
enum Action<'a> {
    /// Encrypt the key (plaintext, or encrypted to other recipients) to `<kid>.key.age`, then
    /// remove its plaintext file, if any.
    Seal { key: &'a Key, plain: Option<&'a Path> },
    /// The key is already encrypted to the recipients: only its plaintext file goes.
    DropPlain { plain: &'a Path },
    /// A hand-dropped private key becomes managed files.
    Adopt { key: &'a Key, file: &'a Path },
}

fn ends(path: &Path, suffix: &str) -> bool {
    path.as_os_str().as_encoded_bytes().ends_with(suffix.as_bytes())
}

/// True when the `.key.age` at `path` is encrypted to exactly these recipients.
fn is_current(path: &Path, recipients: &Recipients) -> Result<bool> {
    let bytes = crate::keydir::read_input(path)?;
    Ok(recorded_digest(&bytes).as_deref() == Some(recipients.digest()))
}

/// The actions of one set, and the files that need an identity this run does not have.
fn plan_set<'a>(set: &'a KeySet, recipients: &Recipients, blocked: &mut Vec<PathBuf>) -> Result<Vec<Action<'a>>> {
    let mut actions = Vec::new();
    for key in &set.keys {
        let file = |suffix: &str| key.files.iter().find(|f| ends(f, suffix)).map(PathBuf::as_path);
        if key.hand_dropped {
            let hand = file(".pem.age").or(file(".pem"));
            if let (true, Some(file)) = (key.has_private(), hand) {
                actions.push(Action::Adopt { key, file });
            }
            continue;
        }
        let (plain, sealed) = (file(".key.pem"), file(".key.age"));
        let current = match sealed {
            Some(path) => is_current(path, recipients)?,
            None => false,
        };
        match (plain, sealed) {
            (Some(plain), Some(_)) if current => actions.push(Action::DropPlain { plain }),
            (Some(plain), _) => actions.push(Action::Seal { key, plain: Some(plain) }),
            (None, Some(_)) if current => {}
            (None, Some(_)) if key.has_private() => actions.push(Action::Seal { key, plain: None }),
            (None, Some(path)) => blocked.push(path.to_path_buf()),
            (None, None) => {}
        }
    }
    Ok(actions)
}

/// The hand-dropped `<name>.pem.age` files of a set that no identity opened (they are no key).
fn locked_files(set: &KeySet, dirs: &[crate::keydir::SetDir]) -> Vec<PathBuf> {
    let Some(dir) = dirs.iter().find(|d| d.path == set.path) else { return Vec::new() };
    dir.files.iter().filter(|f| ends(f, ".pem.age") && !set.keys.iter().any(|k| k.files.contains(f))).cloned().collect()
}

/// Runs `rekey`.
pub fn run(ctx: &Context) -> Result<()> {
    let (_lock, ctx) = crate::cmd::change_keys(ctx)?;
    let ctx = &ctx;
    let loaded = load(ctx)?;
    let mut planned = Vec::new();
    let mut blocked = Vec::new();
    for set in &loaded.sets {
        if set.config.recipients.is_empty() {
            if set.keys.iter().any(|k| k.has_private()) {
                ctx.ui.warn(&format!(
                    "set {}: no `recipients` in keyset.toml: its private keys stay as they are",
                    set.display_path()
                ));
            }
            continue;
        }
        let recipients = Recipients::parse(&set.config.recipients).map_err(Error::Failed)?;
        blocked.extend(locked_files(set, &loaded.dirs));
        let actions = plan_set(set, &recipients, &mut blocked)?;
        planned.push((set, recipients, actions));
    }
    if !blocked.is_empty() {
        let files: Vec<String> = blocked.iter().map(|f| Shown(f).to_string()).collect();
        return Err(Error::Failed(format!(
            "rekey: no age identity of this run opens {}, which must be encrypted again to the set's recipients; nothing was changed; set JWKSMITH_AGE_IDENTITY (or JWKSMITH_AGE_IDENTITY_FILE) to an identity of their current recipients and run it again",
            files.join(", ")
        )));
    }
    let mut changed = 0;
    for (set, recipients, actions) in &planned {
        for action in actions {
            apply(ctx, set, recipients, action)?;
            changed += 1;
        }
    }
    if changed == 0 {
        ctx.ui.report("every private key is encrypted to its set's recipients: nothing to do");
    }
    Ok(())
}

fn apply(ctx: &Context, set: &KeySet, recipients: &Recipients, action: &Action) -> Result<()> {
    let shown = set.display_path();
    match action {
        Action::Seal { key, plain } => {
            let path = set.dir.join(format!("{}.key.age", key.kid()));
            let pem = key.material.pkcs8_pem().expect("a key to seal has its private part");
            let sealed =
                recipients.encrypt(pem.as_bytes()).map_err(|p| Error::input(&path, p, "check `recipients`"))?;
            let tmp = keystate::ensure(&ctx.keys, TMP_DIR)?;
            write_atomic_via(&path, &tmp, &sealed, 0o600, true)?;
            if let Some(plain) = plain {
                remove_file(plain)?;
            }
            ctx.ui.report(&format!("set {shown}: encrypted {} to {}", key.kid(), Shown(&path)));
        }
        Action::DropPlain { plain } => {
            remove_file(plain)?;
            ctx.ui.report(&format!("set {shown}: removed {} (its .key.age is current)", Shown(plain)));
        }
        Action::Adopt { key, file } => {
            let mut meta = key.meta.clone();
            meta.label = Some(meta.label.unwrap_or_else(|| meta.kid.clone()));
            meta.created = meta.created.or(Some(ctx.now));
            meta.activates = meta.activates.or(Some(ctx.now));
            write_new_key(&NewKey {
                keys: &ctx.keys,
                set: &set.path,
                dir: &set.dir,
                material: &key.material,
                cert_pem: None,
                meta: &meta,
                pretty: set.config.pretty,
                adopts: Some(file),
                recipients: &set.config.recipients,
            })?;
            ctx.ui.report(&format!("set {shown}: encrypted {} to {}.key.age (managed files)", Shown(file), key.kid()));
        }
    }
    Ok(())
}
