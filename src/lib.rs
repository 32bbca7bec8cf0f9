//! jwksmith turns a directory of keys into a static website of key sets.
//!
//! The library follows load → plan → write:
//! [`keydir`] reads `keys/` into the [`model`], [`plan`] turns the model and an instant into
//! the list of output files (pure), and [`write`] applies that list atomically. The commands in
//! [`cmd`] are small functions over one [`cmd::Context`].
//!
//! ```no_run
//! use jwksmith::cmd::{Context, build};
//! let ctx = Context::new("keys", "out");
//! build::run(&ctx, false).unwrap();
//! ```
#![warn(missing_docs)]

pub mod cli;
pub mod cmd;
pub mod config;
pub mod custody;
pub mod deployed;
pub mod error;
pub(crate) mod file_limits;
pub mod generate;
pub mod gitignore;
pub mod header_rules;
pub mod headers;
pub mod incremental;
pub mod issuer;
pub mod jose;
pub mod json;
pub mod jwt;
pub mod key;
pub mod keydir;
pub mod keystate;
pub mod keystore;
pub mod layout;
pub mod lifecycle;
pub mod lint;
pub mod lock;
pub mod meta;
pub mod model;
pub mod outdir;
pub mod parties;
pub mod plan;
pub mod publish;
pub mod rotation;
pub mod selftest;
pub mod serve;
pub mod shapes;
pub mod site;
pub mod stamp;
pub mod started;
pub mod times;
pub mod ui;
pub mod watch;
pub mod write;

pub use error::{Error, Result};
