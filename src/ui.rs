//! Terminal output: reports on stdout, warnings, notes and errors on stderr, `-q` and `-v`,
//! and the count of warnings that `check --strict` reads.
//!
//! A [`Ui`] owns its two streams (the process's, or any writers a test hands it) and its
//! warning count; its clones share both, so a command and the contexts it derives print in
//! order and count together.
//!
//! A closed stdout (`jwksmith status | head -1`) is normal, as ripgrep treats it: what cannot
//! be written is dropped without a word, and the command goes on to finish its own work and
//! exit with its own code. Nothing here panics on a failed write.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::Escaped;

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

/// The printer every command uses: a level, two streams and a warning count.
#[derive(Clone)]
pub struct Ui {
    verbosity: Verbosity,
    streams: Arc<Mutex<Streams>>,
    warnings: Arc<AtomicUsize>,
    /// Warnings fail the command (`check --strict`): they are printed even with `-q`.
    warnings_fail: bool,
}

/// Where a [`Ui`] writes; one lock over both keeps each line whole and in order.
struct Streams {
    stdout: Box<dyn Write + Send>,
    stderr: Box<dyn Write + Send>,
}

impl Default for Ui {
    fn default() -> Self {
        Ui::new(Verbosity::default())
    }
}

impl fmt::Debug for Ui {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ui")
            .field("verbosity", &self.verbosity)
            .field("warnings", &self.warnings())
            .finish_non_exhaustive()
    }
}

impl Ui {
    /// A printer on the process's stdout and stderr.
    pub fn new(verbosity: Verbosity) -> Self {
        Ui::with_writers(verbosity, std::io::stdout(), std::io::stderr())
    }

    /// A printer on the given writers (a buffer in tests, a log for a program that embeds
    /// jwksmith), with a warning count of its own.
    pub fn with_writers(
        verbosity: Verbosity,
        stdout: impl Write + Send + 'static,
        stderr: impl Write + Send + 'static,
    ) -> Self {
        let streams = Streams { stdout: Box::new(stdout), stderr: Box::new(stderr) };
        Ui { verbosity, streams: Arc::new(Mutex::new(streams)), warnings: Arc::default(), warnings_fail: false }
    }

    /// The same printer (streams and warning count shared) for a command whose warnings fail it
    /// (`check --strict`): `-q` prints nothing but errors, and these warnings are its errors.
    pub fn failing_on_warnings(&self) -> Ui {
        Ui { warnings_fail: true, ..self.clone() }
    }

    /// A report line on stdout (suppressed by `-q`).
    pub fn report(&self, line: &str) {
        if self.verbosity != Verbosity::Quiet {
            self.to_stdout(format_args!("{line}\n"));
        }
    }

    /// Data on stdout that the user asked for (tables, `--json`): printed even with `-q`.
    pub fn data(&self, text: &str) {
        self.to_stdout(format_args!("{text}"));
    }

    /// A writer of data on stdout, as [`Ui::data`] prints it, for output too large to hold
    /// whole (`status --json` of 100,000 sets): bytes pass to stdout in 64 KiB blocks, and
    /// what is left on `flush` or drop. A closed stdout drops them, as [`Ui::data`] does.
    pub fn data_writer(&self) -> impl Write + '_ {
        std::io::BufWriter::with_capacity(64 << 10, DataSink(self))
    }

    /// A warning on stderr (suppressed by `-q` unless warnings fail the command, counted either
    /// way).
    pub fn warn(&self, line: &str) {
        self.warnings.fetch_add(1, Ordering::Relaxed);
        if self.verbosity != Verbosity::Quiet || self.warnings_fail {
            // Kids and paths in warnings come from file names: their control characters are escaped.
            self.to_stderr(format_args!("warning: {}\n", Escaped(line)));
        }
    }

    /// A notice on stderr (suppressed by `-q`): worth reading, but not a warning, so never
    /// counted (`check --strict` does not fail on it).
    pub fn notice(&self, line: &str) {
        if self.verbosity != Verbosity::Quiet {
            self.to_stderr(format_args!("notice: {}\n", Escaped(line)));
        }
    }

    /// A detail on stderr, shown with `-v` only.
    pub fn note(&self, line: &str) {
        if self.verbosity == Verbosity::Verbose {
            self.to_stderr(format_args!("{line}\n"));
        }
    }

    /// An error on stderr with its causes on the same line, `error: keys/a.pem: Permission
    /// denied (os error 13)`: printed even with `-q`. The one printer of failed commands (main)
    /// and failed rebuilds (watch, serve).
    pub fn error(&self, error: &dyn std::error::Error) {
        self.to_stderr(format_args!("error: {}\n", Chain(error)));
    }

    /// A line on stderr whatever the verbosity, as errors are (what follows an error, a
    /// warning from a thread that does not stop for it).
    pub(crate) fn always(&self, line: &str) {
        self.to_stderr(format_args!("{line}\n"));
    }

    /// How many warnings this printer and its clones have issued (printed or silenced by `-q`).
    pub fn warnings(&self) -> usize {
        self.warnings.load(Ordering::Relaxed)
    }

    /// True when `-v` asks for details ([`Ui::note`]).
    pub fn is_verbose(&self) -> bool {
        self.verbosity == Verbosity::Verbose
    }

    /// True when the user wants to hear nothing but errors.
    pub fn is_quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }

    /// Writes to stdout, flushed at once; a write that fails (a closed pipe) is dropped: the
    /// command still finishes, and exits with its own code.
    fn to_stdout(&self, text: fmt::Arguments) {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let out = &mut streams.stdout;
        let _ = out.write_fmt(text).and_then(|()| out.flush());
    }

    /// Writes to stderr, dropping a write that fails.
    fn to_stderr(&self, text: fmt::Arguments) {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let err = &mut streams.stderr;
        let _ = err.write_fmt(text).and_then(|()| err.flush());
    }
}

/// Where [`Ui::data_writer`] sends its blocks: stdout, a failed write dropped.
struct DataSink<'a>(&'a Ui);

impl Write for DataSink<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut streams = self.0.streams.lock().unwrap_or_else(|e| e.into_inner());
        let out = &mut streams.stdout;
        let _ = out.write_all(bytes).and_then(|()| out.flush());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An error and its causes (`source()` after `source()`), joined by `: `. Each level says only
/// its own part (jwksmith's errors never repeat their source); the causes' control characters
/// are escaped as jwksmith's own messages are.
struct Chain<'a>(&'a dyn std::error::Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {}", Escaped(&cause.to_string()))?;
            source = cause.source();
        }
        Ok(())
    }
}

/// A path as a shell word: as it is when it has only safe characters, else in single quotes;
/// a name with control characters in bash's `$'…'` quotes, escaped (never raw on a terminal).
pub(crate) fn shell_quoted(path: &Path) -> String {
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
    use crate::error::Error;

    /// A writer into memory that the test keeps a handle on.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// A writer like a closed pipe: every write fails.
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }

    fn buffered(verbosity: Verbosity) -> (Ui, Buffer, Buffer) {
        let (out, err) = (Buffer::default(), Buffer::default());
        (Ui::with_writers(verbosity, out.clone(), err.clone()), out, err)
    }

    #[test]
    fn each_level_prints_what_it_should() {
        for (verbosity, stdout, stderr) in [
            (Verbosity::Quiet, "table\n", "error: failed\n"),
            (Verbosity::Normal, "built\ntable\n", "warning: odd\nerror: failed\n"),
            (Verbosity::Verbose, "built\ntable\n", "warning: odd\nwrote a\nerror: failed\n"),
        ] {
            let (ui, out, err) = buffered(verbosity);
            ui.report("built");
            ui.warn("odd");
            ui.note("wrote a");
            ui.data("table\n");
            ui.error(&Error::Failed("failed".into()));
            assert_eq!((out.text().as_str(), err.text().as_str()), (stdout, stderr), "{verbosity:?}");
            assert_eq!(ui.warnings(), 1, "{verbosity:?}: counted even when silenced");
        }
    }

    #[test]
    fn clones_share_the_count_and_printers_do_not() {
        let (ui, _, _) = buffered(Verbosity::Quiet);
        let clone = ui.clone();
        clone.warn("a");
        ui.warn("b");
        assert_eq!((ui.warnings(), clone.warnings()), (2, 2));
        let (other, _, _) = buffered(Verbosity::Quiet);
        assert_eq!(other.warnings(), 0, "a count per printer, not per process");
    }

    #[test]
    fn an_error_prints_with_its_causes_once() {
        let (ui, out, err) = buffered(Verbosity::Quiet);
        let denied = std::io::Error::from_raw_os_error(13);
        ui.error(&Error::io("keys/a.pem", denied));
        let expected = format!("error: keys/a.pem: {}\n", std::io::Error::from_raw_os_error(13));
        assert_eq!(err.text(), expected);
        assert!(expected.contains("(os error 13)"), "{expected}");
        assert_eq!(out.text(), "");
    }

    #[test]
    fn causes_are_escaped_like_names() {
        let (ui, _, err) = buffered(Verbosity::Normal);
        ui.error(&Error::io("out/\x1b.json", std::io::Error::other("denied \x07")));
        assert_eq!(err.text(), "error: out/\\x1b.json: denied \\x07\n");
    }

    #[test]
    fn a_closed_stdout_drops_output_and_the_rest_goes_on() {
        let err = Buffer::default();
        let ui = Ui::with_writers(Verbosity::Normal, ClosedPipe, err.clone());
        ui.report("lost");
        ui.data("lost too");
        ui.warn("still said");
        assert_eq!(err.text(), "warning: still said\n");
        assert_eq!(ui.warnings(), 1);
    }

    #[test]
    fn paths_become_one_shell_word() {
        assert_eq!(shell_quoted(Path::new("keys/tenant-1/a.pem")), "keys/tenant-1/a.pem");
        assert_eq!(shell_quoted(Path::new("keys/my key.pem")), "'keys/my key.pem'");
        assert_eq!(shell_quoted(Path::new("it's.pem")), "'it'\\''s.pem'");
        assert_eq!(shell_quoted(Path::new("keys/evil\x1b[31m'.pem")), "$'keys/evil\\x1b[31m\\'.pem'");
    }
}
