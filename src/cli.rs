//! The command line, as clap derive types only. Global flags work before or after the subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::jose::{Alg, Use};
use crate::times::Timestamp;

/// jwksmith: build a static website of JWK Sets from a directory of keys.
#[derive(Debug, Parser)]
#[command(name = "jwksmith", version, about, long_about = None)]
#[command(
    after_help = "Start with `jwksmith init`, then `jwksmith rotate` and `jwksmith build`.\nPublish out/public/; never publish out/private/ or *.key.pem."
)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted by every command, listed under their own heading in every `--help`, apart
/// from the command's own options.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Key directory.
    #[arg(long, global = true, value_name = "DIR", default_value = "keys")]
    pub keys: PathBuf,
    /// Output directory (public/ and private/ are written inside).
    #[arg(long, global = true, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// Template overrides directory.
    #[arg(long, global = true, value_name = "DIR", default_value = "site-template")]
    pub templates: PathBuf,
    /// Act as if the time were this RFC 3339 instant (reproducible CI, tests).
    #[arg(long, global = true, value_name = "RFC3339", value_parser = parse_now)]
    pub now: Option<Timestamp>,
    /// Only this set (publish path such as tenants/acme, `.` for the root); repeatable.
    #[arg(long = "set", global = true, value_name = "PATH", value_parser = crate::cmd::parse_set)]
    pub sets: Vec<String>,
    /// Print nothing but errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print every file written or removed.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

fn parse_now(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text)
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a default (or --for P) keys/keyset.toml, site-template/README and .gitignore lines.
    Init {
        /// Project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Write a keyset.toml for this relying party instead of the default.
        #[arg(long = "for", value_name = "P", value_enum)]
        party: Option<crate::cmd::init::Party>,
    },
    /// Write out/public/ and out/private/ from keys/ (never creates or changes keys).
    Build {
        /// Indent every JSON file.
        #[arg(long)]
        pretty: bool,
    },
    /// Exit 1 and list the files if out/public/ is stale; warn about due rotations and pitfalls.
    Check {
        /// Treat warnings as failures.
        #[arg(long)]
        strict: bool,
        /// Also fetch every public JSON file from the site deployed at this base URL.
        #[arg(long, value_name = "BASE")]
        url: Option<String>,
    },
    /// Make first keys, schedule next keys, promote and retire by the timings.
    Rotate {
        /// Do nothing unless a spec needs it.
        #[arg(long)]
        if_due: bool,
        /// Make a new key current now (caches may not know it yet).
        #[arg(long)]
        immediate: bool,
        /// Only this spec.
        #[arg(long, value_name = "S")]
        spec: Option<String>,
    },
    /// Revoke a key now.
    Revoke {
        /// The key id.
        kid: String,
    },
    /// Delete the files of expired and revoked keys.
    Prune,
    /// Encrypt the private keys to the sets' age `recipients` (plaintext, hand-dropped, or
    /// encrypted to other recipients).
    Rekey,
    /// Adopt an external PEM or JWK into a set.
    Import {
        /// The key file (PEM or JWK).
        file: PathBuf,
        /// Key id (default: a hand-dropped file's name, the JWK's own kid, else the set's kid strategy).
        #[arg(long)]
        kid: Option<String>,
        /// Key use: sig or enc.
        #[arg(long = "use", value_name = "USE", value_parser = |s: &str| s.parse::<Use>())]
        key_use: Option<Use>,
        /// Algorithm, e.g. RS256, PS256, ES384, RSA-OAEP-256, ECDH-ES.
        #[arg(long, value_parser = |s: &str| s.parse::<Alg>())]
        alg: Option<Alg>,
        /// Human label (default: the kid).
        #[arg(long)]
        label: Option<String>,
    },
    /// Print a JWT signed by the current key of the set's first signing spec (local development, tests).
    #[command(
        after_help = "Claims, in order: iss (--iss, else the set's issuer), sub, aud, iat, exp, then the --claims members, \
then each --claim; a later one replaces an earlier one of the same name. One set: --set PATH (default: the root set)."
    )]
    Token {
        /// Sign with the current key of this spec instead of the first signing spec.
        #[arg(long, value_name = "S", conflicts_with = "kid")]
        spec: Option<String>,
        /// Sign with this key, whatever its state (tokens for negative tests).
        #[arg(long, value_name = "K")]
        kid: Option<String>,
        /// The `sub` claim.
        #[arg(long, value_name = "SUB")]
        sub: Option<String>,
        /// The `aud` claim; repeatable (several make an array, in this order).
        #[arg(long, value_name = "AUD")]
        aud: Vec<String>,
        /// The `iss` claim (default: the set's `issuer`, else none).
        #[arg(long, value_name = "ISS")]
        iss: Option<String>,
        /// Lifetime: exp = iat + TTL (a duration as in keyset.toml: 1h, 30m, 7d).
        #[arg(long, value_name = "TTL", default_value = "1h", value_parser = |s: &str| crate::times::Span::parse(s))]
        ttl: crate::times::Span,
        /// A JSON object file of claims (`-` for stdin), set after exp.
        #[arg(long, value_name = "FILE")]
        claims: Option<PathBuf>,
        /// A claim NAME=VALUE (JSON when VALUE parses as JSON, else a string), set last; repeatable.
        #[arg(long, value_name = "NAME=VALUE", value_parser = crate::cmd::token::parse_claim)]
        claim: Vec<(String, serde_json::Value)>,
    },
    /// Check a JWT (argument or stdin) against the built jwks.json, or --jwks, and say why it fails.
    Verify {
        /// The compact token; read from stdin when absent.
        token: Option<String>,
        /// Check against this JWK Set instead: a file, or an http(s):// URL.
        #[arg(long, value_name = "URL|FILE")]
        jwks: Option<String>,
        /// Also check that `iss` is exactly this.
        #[arg(long, value_name = "ISS")]
        iss: Option<String>,
        /// Also check that `aud` is, or includes, this.
        #[arg(long, value_name = "AUD")]
        aud: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show every key, its state and times, and the next scheduled change.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Build, then rebuild on every change.
    Watch,
    /// Watch and serve out/public/ on loopback.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000")]
        addr: String,
        /// Allow a non-loopback address.
        #[arg(long)]
        allow_remote: bool,
        /// Also act as every set's issuer at this address, in memory: discovery documents
        /// (<set>/.well-known/openid-configuration) and a client-credentials token endpoint
        /// (POST <set>/token) signing with the set's current key.
        #[arg(long)]
        local_issuer: bool,
    },
    /// Upload out/public/ to S3 (or an S3-compatible store); refused when out/public/ is stale.
    Publish {
        /// s3://BUCKET or s3://BUCKET/PREFIX.
        url: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_before_or_after() {
        let a = Cli::parse_from(["jwksmith", "build", "--now", "2026-01-01T00:00:00Z"]);
        let b = Cli::parse_from(["jwksmith", "--now", "2026-01-01T00:00:00Z", "build"]);
        assert_eq!(a.global.now, b.global.now);
        assert!(Cli::try_parse_from(["jwksmith", "--now", "soon", "build"]).is_err());
    }

    #[test]
    fn each_help_lists_its_own_options_apart_from_the_global_ones() {
        let mut cli = Cli::command();
        cli.build();
        for sub in cli.get_subcommands_mut().filter(|s| s.get_name() != "help") {
            let help = sub.render_help().to_string();
            let (own, global) = help.split_once("Global options:").unwrap_or_else(|| panic!("{help}"));
            assert!(!own.contains("--keys") && !own.contains("--quiet"), "{}: {own}", sub.get_name());
            assert!(global.contains("--keys <DIR>") && global.contains("--now <RFC3339>"), "{global}");
        }
    }
}
