//! Terminal output: reports on stdout, warnings and notes on stderr, `-q` and `-v`.

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
            println!("{line}");
        }
    }

    /// Data on stdout that the user asked for (tables, `--json`): printed even with `-q`.
    pub fn data(&self, text: &str) {
        print!("{text}");
    }

    /// A warning on stderr (suppressed by `-q`).
    pub fn warn(&self, line: &str) {
        WARNINGS.fetch_add(1, Ordering::Relaxed);
        if self.verbosity != Verbosity::Quiet {
            eprintln!("warning: {line}");
        }
    }

    /// A detail on stderr, shown with `-v` only.
    pub fn note(&self, line: &str) {
        if self.verbosity == Verbosity::Verbose {
            eprintln!("{line}");
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
