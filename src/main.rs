//! The jwksmith binary: parse, set up the printer, dispatch to the library, print the error
//! with its causes, exit code.

use std::process::ExitCode;

use clap::Parser;
use jwksmith::Result;
use jwksmith::cli::{Cli, Command, GlobalArgs};
use jwksmith::cmd::{self, Context};
use jwksmith::times::Timestamp;
use jwksmith::ui::{Ui, Verbosity};

/// jemalloc: glibc's malloc fragments as a build of many sets keeps each set's record while it
/// frees each batch (Cargo.toml, docs/BENCHMARKS.md).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = context(&cli.global);
    match run(&ctx, cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            ctx.ui.error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// The context of the global flags, printing on this process's stdout and stderr.
fn context(g: &GlobalArgs) -> Context {
    let verbosity = match (g.quiet, g.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    Context {
        keys: g.keys.clone(),
        out: g.out.clone(),
        templates: g.templates.clone(),
        now: g.now.unwrap_or_else(Timestamp::now),
        now_fixed: g.now.is_some(),
        sets: g.sets.clone(),
        ui: Ui::new(verbosity),
    }
}

fn run(ctx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Init { dir, party } => cmd::init::run(ctx, &dir, party),
        Command::Build { pretty } => cmd::build::run(ctx, pretty).map(|_| ()),
        Command::Check { strict, url } => cmd::check::run(ctx, strict, url.as_deref()),
        Command::Rotate { if_due, immediate, spec } => {
            cmd::rotate::run(ctx, &cmd::rotate::RotateOptions { if_due, immediate, spec })
        }
        Command::Import { file, kid, key_use, alg, label } => {
            cmd::import::run(ctx, &cmd::import::ImportOptions { file, kid, key_use, alg, label })
        }
        Command::Token { spec, kid, sub, aud, iss, ttl, claims, claim } => {
            cmd::token::run(ctx, &cmd::token::TokenOptions { spec, kid, sub, aud, iss, ttl, claims, claim })
        }
        Command::Verify { token, jwks, iss, aud, json } => {
            cmd::verify::run(ctx, &cmd::verify::VerifyOptions { token, jwks, iss, aud, json })
        }
        Command::Status { json } => cmd::status::run(ctx, json),
        Command::Revoke { kid } => cmd::revoke::run(ctx, &kid),
        Command::Prune => cmd::prune::run(ctx),
        Command::Rekey => cmd::rekey::run(ctx),
        Command::Watch => jwksmith::watch::run(ctx),
        Command::Serve { addr, allow_remote, local_issuer } => {
            jwksmith::serve::run(ctx, &jwksmith::serve::ServeOptions { addr, allow_remote, local_issuer })
        }
        Command::Publish { url } => jwksmith::publish::run(ctx, &url),
    }
}
