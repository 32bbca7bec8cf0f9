//! The jwksmith binary: parse, dispatch to the library, print the error chain, exit code.

use std::process::ExitCode;

use clap::Parser;
use jwksmith::Result;
use jwksmith::cli::{Cli, Command};
use jwksmith::cmd::{self, Context};
use jwksmith::times::Timestamp;
use jwksmith::ui::{Ui, Verbosity};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let g = &cli.global;
    let verbosity = match (g.quiet, g.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let ctx = Context {
        keys: g.keys.clone(),
        out: g.out.clone(),
        templates: g.templates.clone(),
        now: g.now.unwrap_or_else(Timestamp::now),
        now_fixed: g.now.is_some(),
        sets: g.sets.clone(),
        ui: Ui { verbosity },
    };
    match run(&ctx, cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = e.to_string();
            jwksmith::ui::to_stderr(format_args!("error: {message}\n"));
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                // An I/O error's cause is already in its message.
                let cause_text = cause.to_string();
                if !message.contains(&cause_text) {
                    jwksmith::ui::to_stderr(format_args!("  caused by: {cause_text}\n"));
                }
                source = cause.source();
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(ctx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Init { dir } => cmd::init::run(ctx, &dir),
        Command::Build { pretty } => cmd::build::run(ctx, pretty).map(|_| ()),
        Command::Check { strict } => cmd::check::run(ctx, strict),
        Command::Rotate { if_due, immediate, spec } => {
            cmd::rotate::run(ctx, &cmd::rotate::RotateOptions { if_due, immediate, spec })
        }
        Command::Import { file, kid, key_use, alg, label } => {
            cmd::import::run(ctx, &cmd::import::ImportOptions { file, kid, key_use, alg, label })
        }
        Command::Status { json } => cmd::status::run(ctx, json),
        Command::Revoke { kid } => cmd::revoke::run(ctx, &kid),
        Command::Prune => cmd::prune::run(ctx),
        Command::Watch => jwksmith::watch::run(ctx, &|| {}),
        Command::Serve { addr, allow_remote } => {
            jwksmith::serve::run(ctx, &jwksmith::serve::ServeOptions { addr, allow_remote })
        }
        Command::Publish { url } => jwksmith::publish::run(ctx, &url),
    }
}
