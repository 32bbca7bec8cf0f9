//! Reading one input file (a key, metadata, keyset.toml, a template, `import`'s FILE): regular
//! files only, of at most 1 MiB, never a hang on a FIFO or device.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::stamp::Stamp;

/// The most jwksmith reads of one input file (a key, metadata, keyset.toml or template is a
/// few kilobytes): 1 MiB.
const MAX_INPUT_BYTES: u64 = 1 << 20;

/// What a file that is not a regular file is, for messages (`None` for a regular file).
pub(crate) fn special_kind(file_type: fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_symlink() {
        Some("a symlink")
    } else {
        Some("not a regular file")
    }
}

pub(crate) fn not_regular(path: &Path, kind: &str) -> Error {
    Error::input(
        path,
        format!("is {kind}, not a regular file: jwksmith reads only regular files"),
        "replace it with a regular file, or remove it",
    )
}

/// An error naming `path` when a file of `len` bytes is more than jwksmith reads of an input
/// (any file under `keys/` or the templates, read or not).
pub(crate) fn check_size(path: &Path, len: u64) -> Result<()> {
    if len > MAX_INPUT_BYTES { Err(too_large(path, len)) } else { Ok(()) }
}

fn too_large(path: &Path, len: u64) -> Error {
    Error::input(
        path,
        format!("is {len} bytes, more than the {MAX_INPUT_BYTES} bytes (1 MiB) jwksmith reads of an input file"),
        "keys, metadata, keyset.toml and templates are a few kilobytes: replace it with the file you meant",
    )
}

/// True for the error of a path that runs through a symlink loop (ELOOP).
pub(super) fn is_symlink_loop(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

pub(super) fn symlink_loop(path: &Path) -> Error {
    Error::input(path, "is a symlink loop: following it leads back to itself", "remove the link or point it at a file")
}

/// Reads an input file (under `keys/`, the templates directory, or given to `import`): only a
/// regular file (a symlink to one included), of at most [`MAX_INPUT_BYTES`]. A FIFO, socket or
/// device is an error at once, never a hang: its type is checked before it is opened, it is
/// opened non-blocking, and checked again on the open file (it may have been swapped in
/// between); it is read with a limit, so a file that grows is never read whole.
pub(crate) fn read_input(path: &Path) -> Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e: std::io::Error| if is_symlink_loop(&e) { symlink_loop(path) } else { Error::io(path, e) };
    let before = fs::metadata(path).map_err(io)?;
    if let Some(kind) = special_kind(before.file_type()) {
        return Err(not_regular(path, kind));
    }
    let nonblocking = rustix::fs::OFlags::NONBLOCK.bits() as i32;
    let file = fs::OpenOptions::new().read(true).custom_flags(nonblocking).open(path).map_err(io)?;
    read_opened(path, file)
}

/// [`read_input`] for a file the walk of `keys/` found as a regular file, not a link (its
/// directory entry said so): the type check before the open is the walk's, so it is opened at
/// once (non-blocking, links not followed) and checked on the open file, one path lookup fewer
/// per file. A link (the open refuses it) is read by [`read_input`], its target checked first.
/// As with [`read_input`]'s own check, a device swapped in between the check and the open is
/// opened, then refused.
pub(crate) fn read_walked(path: &Path) -> Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NOCTTY;
    match fs::OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(path) {
        Ok(file) => read_opened(path, file),
        // ELOOP: a link (or a loop), which read_input follows and checks.
        Err(e) if is_symlink_loop(&e) => read_input(path),
        Err(e) => Err(Error::io(path, e)),
    }
}

thread_local! {
    /// The files read on this thread while [`stamped_reads`] runs, with their stamps.
    static READS: RefCell<Option<Vec<(PathBuf, Stamp)>>> = const { RefCell::new(None) };
}

/// Runs `f`, and returns with its result every file read on this thread meanwhile with its
/// stamp, taken from the open file before a byte was read (as a stamp read before the file
/// is, one `stat` fewer a file): a build records them. A nested run keeps its own.
pub(crate) fn stamped_reads<T>(f: impl FnOnce() -> T) -> (T, Vec<(PathBuf, Stamp)>) {
    let outer = READS.with(|r| r.replace(Some(Vec::new())));
    let result = f();
    let reads = READS.with(|r| r.replace(outer)).unwrap_or_default();
    (result, reads)
}

/// Notes the file `path` that is about to be read, for [`stamped_reads`].
fn note_read(path: &Path, opened: &fs::Metadata) {
    READS.with(|r| {
        if let Some(reads) = r.borrow_mut().as_mut() {
            reads.push((path.to_path_buf(), Stamp::of(opened)));
        }
    });
}

/// Reads the opened input file `path`: a regular file of at most [`MAX_INPUT_BYTES`] (checked
/// on the open file, then while reading), as long as the open file says it is.
fn read_opened(path: &Path, file: fs::File) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |e: std::io::Error| if is_symlink_loop(&e) { symlink_loop(path) } else { Error::io(path, e) };
    let opened = file.metadata().map_err(io)?;
    if let Some(kind) = special_kind(opened.file_type()) {
        return Err(not_regular(path, kind));
    }
    check_size(path, opened.len())?;
    note_read(path, &opened);
    let mut bytes = Vec::with_capacity(opened.len() as usize);
    // The length the open file has (a change after this instant is a change after the read,
    // which the stamps taken before it catch): read up to it, with no read to find the end.
    // A file that says it is empty (procfs and the like) is read to the limit.
    let limit = if opened.len() > 0 { opened.len() } else { MAX_INPUT_BYTES + 1 };
    file.take(limit).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_large(path, bytes.len() as u64));
    }
    Ok(bytes)
}

/// The name messages give standard input (`-` on the command line).
pub(crate) const STDIN_NAME: &str = "<stdin>";

/// Reads standard input (a `-` argument) with the limit of [`read_input`]; errors name it
/// `<stdin>`.
pub(crate) fn read_stdin() -> Result<Vec<u8>> {
    use std::io::Read;
    let path = Path::new(STDIN_NAME);
    let mut bytes = Vec::new();
    std::io::stdin().lock().take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_large(path, bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_reads_report_each_file_read_on_the_thread_with_its_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.pem"), dir.path().join("b.json"));
        fs::write(&a, "a").unwrap();
        fs::write(&b, "bb").unwrap();
        read_walked(&a).unwrap();
        let ((), reads) = stamped_reads(|| {
            read_walked(&a).unwrap();
            let ((), inner) = stamped_reads(|| drop(read_input(&b).unwrap()));
            assert_eq!(inner, vec![(b.clone(), Stamp::read(&b).unwrap())], "a nested run sees its own reads");
        });
        assert_eq!(
            reads,
            vec![(a.clone(), Stamp::read(&a).unwrap())],
            "only the reads of this run, not the nested one"
        );
        let ((), none) = stamped_reads(|| assert!(read_walked(&dir.path().join("gone")).is_err()));
        assert!(none.is_empty(), "a file that could not be opened is not reported");
    }

    #[test]
    fn inputs_are_read_whole_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            fs::write(&path, bytes).unwrap();
            path
        };
        let key = at("k.pub.pem", &[7; 5000]);
        assert_eq!(read_walked(&key).unwrap(), vec![7; 5000]);
        assert_eq!(read_input(&key).unwrap(), vec![7; 5000]);
        assert_eq!(read_walked(&at("empty.pem", b"")).unwrap(), b"");
        let limit = MAX_INPUT_BYTES as usize;
        assert_eq!(read_walked(&at("full.pem", &vec![1; limit])).unwrap().len(), limit);
        let err = read_walked(&at("big.pem", &vec![1; limit + 1])).unwrap_err().to_string();
        assert!(err.contains("more than the 1048576 bytes"), "{err}");
        std::os::unix::fs::symlink(&key, dir.path().join("link.pem")).unwrap();
        assert_eq!(read_walked(&dir.path().join("link.pem")).unwrap(), vec![7; 5000], "a link is followed");
    }
}
