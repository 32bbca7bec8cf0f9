//! The error type of jwksmith: every failure says which file, what is wrong and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can make a jwksmith command fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input file (key, metadata, keyset.toml, template) is invalid.
    #[error("{}: {problem}{}", path.display(), Hint(fix))]
    Input {
        /// The file at fault, as the user named it (relative paths stay relative).
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// What to do about it (may be empty).
        fix: String,
    },
    /// Reading or writing a file failed at the operating-system level.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory that could not be read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The command line is wrong (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// A command finished its work but must report failure (exit code 1), e.g. a stale `check`.
    #[error("{0}")]
    Failed(String),
}

/// Formats the "what to do" part of an input error on its own line.
struct Hint<'a>(&'a str);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { Ok(()) } else { write!(f, "\n  hint: {}", self.0) }
    }
}

impl Error {
    /// An invalid input file, with the problem and the fix.
    pub fn input(path: impl AsRef<Path>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Input { path: path.as_ref().to_path_buf(), problem: problem.into(), fix: fix.into() }
    }

    /// An I/O failure on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), source }
    }

    /// The process exit code for this error: 2 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}
