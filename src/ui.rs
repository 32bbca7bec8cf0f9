//! Terminal output: reports on stdout, warnings and notes on stderr, `-q` and `-v`.
//!
//! A closed stdout (`jwksmith status | head -1`) is normal, as ripgrep treats it: what cannot
//! be written is dropped without a word, and the command goes on to finish its own work and
//! exit with its own code. Nothing here panics on a failed write.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Warnings issued by this process (`check --strict` fails when any was).
static WARNINGS: AtomicUsize = AtomicUsize::new(0);

/// How much to print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: errors only.
    Quiet,
    /// Reports and warnings.
    #[default]
    Normal,
    /// `-v`: also per-file notes.
    Verbose,
}

/// The printer every command uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ui {
    /// The level.
    pub verbosity: Verbosity,
}

impl Ui {
    /// A report line on stdout (suppressed by `-q`).
    pub fn report(&self, line: &str) {
        if self.verbosity != Verbosity::Quiet {
            to_stdout(format_args!("{line}\n"));
        }
    }

    /// Data on stdout that the user asked for (tables, `--json`): printed even with `-q`.
    pub fn data(&self, text: &str) {
        to_stdout(format_args!("{text}"));
    }

    /// A warning on stderr (suppressed by `-q`).
    pub fn warn(&self, line: &str) {
        WARNINGS.fetch_add(1, Ordering::Relaxed);
        if self.verbosity != Verbosity::Quiet {
            // Kids and paths in warnings come from file names: their control characters are escaped.
            to_stderr(format_args!("warning: {}\n", crate::error::Escaped(line)));
        }
    }

    /// A detail on stderr, shown with `-v` only.
    pub fn note(&self, line: &str) {
        if self.verbosity == Verbosity::Verbose {
            to_stderr(format_args!("{line}\n"));
        }
    }

    /// How many warnings this process has issued (printed or silenced by `-q`).
    pub fn warnings(&self) -> usize {
        WARNINGS.load(Ordering::Relaxed)
    }

    /// True when the user wants to hear nothing but errors.
    pub fn is_quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }
}

/// Writes to stdout; a write that fails (a closed pipe) is dropped: the command still finishes.
fn to_stdout(text: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(text).and_then(|()| out.flush());
}

/// Writes to stderr, dropping a write that fails.
pub fn to_stderr(text: std::fmt::Arguments) {
    let _ = std::io::stderr().lock().write_fmt(text);
}

/// Prints an error with its causes on the same line, `error: keys/a.pem: Permission denied
/// (os error 13)`: the one printer of failed commands (main) and failed rebuilds (watch, serve).
pub fn print_error(error: &dyn std::error::Error) {
    to_stderr(format_args!("error: {}\n", Chain(error)));
}

/// An error and its causes (`source()` after `source()`), joined by `: `. Each level says only
/// its own part (jwksmith's errors never repeat their source); the causes' control characters
/// are escaped as jwksmith's own messages are.
struct Chain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {}", crate::error::Escaped(&cause.to_string()))?;
            source = cause.source();
        }
        Ok(())
    }
}

/// A path as a shell word: as it is when it has only safe characters, else in single quotes;
/// a name with control characters in bash's `$'…'` quotes, escaped (never raw on a terminal).
pub fn shell_quoted(path: &Path) -> String {
    let text = path.display().to_string();
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        return text;
    }
    if text.chars().any(char::is_control) {
        let mut quoted = String::from("$'");
        for c in text.chars() {
            match c {
                '\\' | '\'' => {
                    quoted.push('\\');
                    quoted.push(c);
                }
                c if c.is_control() && u32::from(c) < 0x80 => quoted.push_str(&format!("\\x{:02x}", u32::from(c))),
                c if c.is_control() => quoted.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => quoted.push(c),
            }
        }
        quoted.push('\'');
        return quoted;
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_shows_with_its_causes_once() {
        let denied = std::io::Error::from_raw_os_error(13);
        let shown = Chain(&crate::error::Error::io("keys/a.pem", denied)).to_string();
        assert_eq!(shown, format!("keys/a.pem: {}", std::io::Error::from_raw_os_error(13)));
        assert!(shown.ends_with("(os error 13)"), "{shown}");
        let odd = Chain(&crate::error::Error::io("out/\x1b.json", std::io::Error::other("denied \x07"))).to_string();
        assert_eq!(odd, "out/\\x1b.json: denied \\x07");
    }

    #[test]
    fn paths_become_one_shell_word() {
        assert_eq!(shell_quoted(Path::new("keys/tenant-1/a.pem")), "keys/tenant-1/a.pem");
        assert_eq!(shell_quoted(Path::new("keys/my key.pem")), "'keys/my key.pem'");
        assert_eq!(shell_quoted(Path::new("it's.pem")), "'it'\\''s.pem'");
        assert_eq!(shell_quoted(Path::new("keys/evil\x1b[31m'.pem")), "$'keys/evil\\x1b[31m\\'.pem'");
    }
}
