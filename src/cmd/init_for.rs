//! `init --for P`: the keyset.toml of a set made for one relying party (one RSA-2048 RS256
//! signing spec, `kid = "spki-sha256"`), and `init --set PATH`: a new set (a tenant) under an
//! existing key directory.

use std::path::Path;

use crate::cmd::Context;
use crate::error::{Error, Result};

/// The relying parties `init --for` writes a keyset.toml for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Party {
    /// A self-hosted Kubernetes service-account issuer.
    Kubernetes,
    /// AWS IAM OIDC providers (IRSA, AssumeRoleWithWebIdentity).
    Aws,
    /// Microsoft Entra workload identity federation.
    Entra,
    /// Google Cloud workload identity federation.
    Gcp,
}

impl Party {
    /// The name in `relying_parties`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Party::Kubernetes => "kubernetes",
            Party::Aws => "aws",
            Party::Entra => "entra",
            Party::Gcp => "gcp",
        }
    }

    /// What the party does with the issuer, for the comment above the `issuer` line.
    fn issuer_note(self) -> &'static str {
        match self {
            Party::Kubernetes => {
                "# kube-apiserver --service-account-issuer must be this exact string (trailing slash included)"
            }
            Party::Aws => "# the IAM OIDC provider's URL (IRSA, AssumeRoleWithWebIdentity); https only",
            Party::Entra => "# the issuer of the app's federated identity credential; https only",
            Party::Gcp => "# the issuer URI of the workload identity pool provider",
        }
    }
}

/// The keyset.toml `init --for party` writes.
pub(crate) fn keyset_toml(party: Party) -> String {
    format!(
        "\
# A key set for {name}: one RSA-2048 RS256 signing key, named as kube-apiserver names it.
service_id = \"example\"          # Authlete-style path segment
{note}
# issuer = \"https://keys.example.com\"   # the URL at which THIS set's directory is served; when set,
                                # .well-known/openid-configuration is written beside jwks.json
{parties:<31} # check warns about what {name} would refuse
kid = \"spki-sha256\"             # base64url SHA-256 of the DER SubjectPublicKeyInfo (the Kubernetes kid)
pretty = false                  # compact JSON; true = indented (every JSON file written)

[rotation]
rotate_every = \"90d\"            # age at which the current key is replaced
publish_ahead = \"14d\"           # a new key is in jwks.json this long before it signs
verify_for = \"14d\"              # a retired key stays in jwks.json this long after: keep it above the
                                # longest lifetime of the tokens it signed
cache_max_age = \"1h\"            # Cache-Control max-age written to _headers; must be < publish_ahead

[[key]]                          # the one spec: its current private key is out/private/rsa-sig.pem
spec = \"rsa-sig\"
kty = \"RSA\"
size = 2048
use = \"sig\"
alg = \"RS256\"
",
        name = party.name(),
        parties = format!("relying_parties = [\"{}\"]", party.name()),
        note = party.issuer_note(),
    )
}

/// `init --set PATH`: writes `keys/PATH/keyset.toml` (the default, or `--for`'s) and nothing else;
/// refused when a set is already at PATH.
pub(crate) fn new_sets(ctx: &Context, keys: &Path, text: &str) -> Result<()> {
    let existing = if keys.is_dir() { crate::keydir::discover(keys)? } else { Vec::new() };
    for path in &ctx.sets {
        let dir = keys.join(path);
        let shown = if path.is_empty() { "." } else { path.as_str() };
        if let Some(set) = existing.iter().find(|d| &d.path == path) {
            return Err(Error::input(
                &set.dir,
                format!("a set is already here (set {shown}); init --set makes a new set only"),
                "give --set a publish path no set has yet, or edit this set's keyset.toml",
            ));
        }
        let file = dir.join("keyset.toml");
        crate::write::make_dirs(&dir).map_err(|e| Error::io(&dir, e))?;
        crate::write::write_atomic(&file, text.as_bytes(), 0o644, true)?;
        ctx.ui.report(&format!("created {} (set {shown})", file.display()));
    }
    ctx.ui.notice("next: `jwksmith rotate` makes the set's first keys, `jwksmith build` publishes them");
    Ok(())
}
