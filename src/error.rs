//! The error type of jwksmith: every failure says which file, what is wrong and what to do.
//!
//! An error's `Display` says only its own level; the cause (an OS error) is its `source()`,
//! which [`crate::ui::Ui::error`] prints after it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can make a jwksmith command fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input file (key, metadata, keyset.toml, template) is invalid.
    #[error("{}: {}{}", Shown(path), Escaped(problem), Hint(fix))]
    Input {
        /// The file at fault, as the user named it (relative paths stay relative).
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// What to do about it (may be empty).
        fix: String,
    },
    /// Reading or writing a file failed at the operating-system level. Displays the file; the
    /// OS error is the source.
    #[error("{}", Shown(path))]
    Io {
        /// The file or directory that could not be read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The command line is wrong (exit code 2).
    #[error("{}", Escaped(.0))]
    Usage(String),
    /// A command finished its work but must report failure (exit code 1), e.g. a stale `check`.
    #[error("{}", Escaped(.0))]
    Failed(String),
}

/// Formats the "what to do" part of an input error on its own line.
struct Hint<'a>(&'a str);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { Ok(()) } else { write!(f, "\n  hint: {}", Escaped(self.0)) }
    }
}

/// A path as messages print it: lossy UTF-8, every control character escaped (`\n`, `\x1b`):
/// a file name never writes a raw byte below 0x20 (a terminal escape sequence) to the terminal.
pub(crate) struct Shown<'a>(pub &'a Path);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, &self.0.to_string_lossy(), false)
    }
}

/// One line of text with every control character escaped, line breaks included: a kid or
/// publish path (from a file name) in a table cell.
pub(crate) struct OneLine<'a>(pub &'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, false)
    }
}

/// Message text with its control characters escaped, line breaks kept (a TOML parser's
/// message spans lines); the names in it (kids, paths) come from file names.
pub(crate) struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, true)
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str, keep_newlines: bool) -> fmt::Result {
    if !text.chars().any(char::is_control) {
        return f.write_str(text);
    }
    for c in text.chars() {
        match c {
            '\n' if keep_newlines => f.write_str("\n")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() => write!(f, "\\x{:02x}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    Ok(())
}

impl Error {
    /// An invalid input file, with the problem and the fix.
    pub(crate) fn input(path: impl AsRef<Path>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Input { path: path.as_ref().to_path_buf(), problem: problem.into(), fix: fix.into() }
    }

    /// An I/O failure on `path`.
    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_of_names_are_escaped() {
        let e = Error::input("keys/evil\x1b[31m\n.pem", "kid `evil\x1b[31m` is bad", "rename `evil\x07`");
        assert_eq!(e.to_string(), "keys/evil\\x1b[31m\\n.pem: kid `evil\\x1b[31m` is bad\n  hint: rename `evil\\x07`");
        assert_eq!(Shown(Path::new("a\tb\u{9b}c")).to_string(), "a\\tb\\x9bc");
        assert_eq!(Escaped("line 1\nline 2\r").to_string(), "line 1\nline 2\\r");
        assert_eq!(Shown(Path::new("keys/plain.pem")).to_string(), "keys/plain.pem");
        let io = Error::io("out/\x1b.json", std::io::Error::other("denied"));
        assert_eq!(io.to_string(), "out/\\x1b.json", "the path only: the OS error is the source");
        assert_eq!(std::error::Error::source(&io).map(ToString::to_string).as_deref(), Some("denied"));
    }
}
