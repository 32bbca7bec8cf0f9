//! The record file in the user's cache directory: where it is, and reading and writing it
//! whole and checksummed (a damaged, truncated or foreign file is no record).

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::record::{FORMAT, Record, binary_stamp};
use crate::stamp::digest;

/// The first bytes of a record file (with [`FORMAT`] in them).
const MAGIC: &[u8; 8] = b"jwksrec5";

/// The fixed start of a record file: [`MAGIC`], the lengths of the record and of the site rows
/// (little-endian u64), then the SHA-256 of each.
const HEADER_LEN: usize = 8 + 8 + 8 + 32 + 32;

/// SHA-256 of `bytes`.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

/// Environment variable naming the cache directory (`off` turns incremental builds off).
pub(crate) const CACHE_DIR_ENV: &str = "JWKSMITH_CACHE_DIR";

impl Record {
    /// Reads the sets' site rows, kept after the rest of the record, into the sets; false when
    /// they cannot be read, do not match their checksum or do not decode (the record is then
    /// no record).
    pub(crate) fn attach_rows(&mut self, previous: &mut Previous) -> bool {
        let Some(rows) = previous.rows() else { return false };
        let Ok(rows) = postcard::from_bytes::<Vec<&serde_bytes::Bytes>>(rows) else { return false };
        if rows.len() != self.sets.len() {
            return false;
        }
        for (set, row) in self.sets.iter_mut().zip(rows) {
            set.site = row.to_vec();
        }
        true
    }

    /// True when the record was made by this binary, for these directories, with these options.
    fn fits(&self, cache: &Cache, pretty: bool) -> bool {
        self.format == FORMAT
            && self.version == env!("CARGO_PKG_VERSION")
            && self.dirs == cache.dirs
            && self.pretty == pretty
            && binary_stamp() == Some(self.binary)
    }
}

/// Where the record of one `keys`/`out`/templates triple is kept.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    file: PathBuf,
    /// `keys/`, `out/` and the templates directory, absolute.
    dirs: Vec<PathBuf>,
}

impl Cache {
    /// `keys/`, `out/` and the templates directory, absolute.
    pub(crate) fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The cache file for these directories, or `None` when caching is off or there is no
    /// cache directory.
    pub(crate) fn locate(keys: &Path, out: &Path, templates: &Path) -> Option<Cache> {
        let dir = match std::env::var_os(CACHE_DIR_ENV) {
            Some(v) if v == "off" || v.is_empty() => return None,
            Some(v) => PathBuf::from(v),
            None => match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
                Some(v) => PathBuf::from(v).join("jwksmith"),
                None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache/jwksmith"),
            },
        };
        // Never under keys/ or out/: it would be committed, deployed or removed as a stray.
        if [keys, out].iter().any(|owned| crate::outdir::is_inside(&dir, owned)) {
            return None;
        }
        let dirs: Vec<PathBuf> =
            [keys, out, templates].iter().map(std::path::absolute).collect::<Result<_, _>>().ok()?;
        let mut id = Vec::new();
        for path in &dirs {
            id.extend_from_slice(path.as_os_str().as_encoded_bytes());
            id.push(0);
        }
        let name: String = digest(&id).iter().map(|b| format!("{b:02x}")).collect();
        Some(Cache { file: dir.join(format!("build-{name}")), dirs })
    }

    /// The record, if there is one made by this binary for these directories with these options,
    /// without the sets' site rows (a build with nothing to do needs no more;
    /// [`Record::attach_rows`] reads them). A file of another length than its header says, or
    /// whose record does not match its checksum, is no record: nothing of it is decoded.
    pub(crate) fn read(&self, pretty: bool) -> Option<(Record, Previous)> {
        let mut file = std::fs::File::open(&self.file).ok()?;
        let mut header = [0; HEADER_LEN];
        file.read_exact(&mut header).ok()?;
        if &header[..8] != MAGIC {
            return None;
        }
        let length = |at: usize| usize::try_from(u64::from_le_bytes(header[at..at + 8].try_into().ok()?)).ok();
        let (head_len, rows_len) = (length(8)?, length(16)?);
        let size = file.metadata().ok()?.len();
        let expected = HEADER_LEN.checked_add(head_len)?.checked_add(rows_len)?;
        if u64::try_from(expected).ok()? != size {
            return None;
        }
        let mut head = vec![0; head_len];
        file.read_exact(&mut head).ok()?;
        if sha256(&head) != header[24..56] {
            return None;
        }
        let record: Record = postcard::from_bytes(&head).ok()?;
        let rows_sum: [u8; 32] = header[56..88].try_into().ok()?;
        record.fits(self, pretty).then_some((record, Previous { header, file, rows_len, rows_sum, rows: None }))
    }

    /// Stores the record (0600, in a 0700 directory) unless it is the `previous` one. The
    /// record is encoded straight into a temporary file beside the record file, hashed on the
    /// way, and its header written last: no copy of the whole record is made in memory. A cache
    /// that cannot be written is no error: the next build is a full one.
    pub(crate) fn write(&self, record: &Record, previous: Option<&Previous>) {
        let Some(dir) = self.file.parent() else { return };
        // A missing directory is made 0700; an existing one is left as it is.
        if std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).is_err() {
            return;
        }
        let Ok(mut tmp) = tempfile::Builder::new().prefix(".jwksmith-tmp-").suffix(".tmp").tempfile_in(dir) else {
            return;
        };
        let Some(header) = encode_into(tmp.as_file_mut(), record) else { return };
        if previous.is_some_and(|p| p.header == header) {
            return;
        }
        let put = (|| {
            let file = tmp.as_file_mut();
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&header)?;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
        })();
        if put.is_ok() {
            let _ = tmp.persist(&self.file);
        }
    }
}

/// A writer that counts and hashes what goes through it.
struct Hashing<W> {
    inner: W,
    digest: ring::digest::Context,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.digest.update(&bytes[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes [`HEADER_LEN`] placeholder bytes, the record and the sets' site rows into `file`;
/// returns the header that belongs in front of them (`None` when something failed).
fn encode_into(file: &mut std::fs::File, record: &Record) -> Option<[u8; HEADER_LEN]> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut *file);
    out.write_all(&[0; HEADER_LEN]).ok()?;
    let mut hashing = Hashing { inner: out, digest: ring::digest::Context::new(&ring::digest::SHA256), len: 0 };
    hashing = postcard::to_io(record, hashing).ok()?;
    let (head_len, head_sum) = (hashing.len, hashing.digest.finish());
    let mut hashing =
        Hashing { inner: hashing.inner, digest: ring::digest::Context::new(&ring::digest::SHA256), len: 0 };
    let rows: Vec<&serde_bytes::Bytes> = record.sets.iter().map(|s| serde_bytes::Bytes::new(&s.site)).collect();
    hashing = postcard::to_io(&rows, hashing).ok()?;
    let (rows_len, rows_sum) = (hashing.len, hashing.digest.finish());
    hashing.inner.flush().ok()?;
    let mut header = [0; HEADER_LEN];
    header[..8].copy_from_slice(MAGIC);
    header[8..16].copy_from_slice(&head_len.to_le_bytes());
    header[16..24].copy_from_slice(&rows_len.to_le_bytes());
    header[24..56].copy_from_slice(head_sum.as_ref());
    header[56..88].copy_from_slice(rows_sum.as_ref());
    Some(header)
}

/// The record file a build read: the bytes of its record, and the file, open, for the site rows
/// after it (read only when needed, from the same file even if another build replaced it).
#[derive(Debug)]
pub(crate) struct Previous {
    /// Its header: the lengths and checksums of the record and the rows (equal headers, equal
    /// records).
    header: [u8; HEADER_LEN],
    file: std::fs::File,
    /// The length and SHA-256 of the site rows, as the file's header gives them.
    rows_len: usize,
    rows_sum: [u8; 32],
    rows: Option<Vec<u8>>,
}

impl Previous {
    /// The encoded site rows, read on first use; `None` when they are not as the header says.
    fn rows(&mut self) -> Option<&[u8]> {
        if self.rows.is_none() {
            let mut rows = vec![0; self.rows_len];
            self.file.read_exact(&mut rows).ok()?;
            if sha256(&rows) != self.rows_sum {
                return None;
            }
            self.rows = Some(rows);
        }
        self.rows.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_file_depends_on_all_three_directories_and_off_turns_it_off() {
        let a = Cache::locate(Path::new("keys"), Path::new("out"), Path::new("t"));
        let b = Cache::locate(Path::new("keys"), Path::new("out2"), Path::new("t"));
        if let (Some(a), Some(b)) = (a, b) {
            assert_ne!(a.file, b.file);
        }
    }

    #[test]
    fn a_record_is_read_back_only_whole_and_for_its_own_directories() {
        let cache_dir = tempfile::tempdir().unwrap();
        let at = |keys: &str| Cache {
            file: cache_dir.path().join(format!("build-{keys}")),
            dirs: vec![PathBuf::from(format!("/p/{keys}")), PathBuf::from("/p/out"), PathBuf::from("/p/t")],
        };
        let (a, b) = (at("keys"), at("other"));
        let record = Record::new(a.dirs(), false, None, None, Vec::new(), Vec::new(), Vec::new()).unwrap();
        a.write(&record, None);
        assert_eq!(a.read(false).map(|(r, _)| r), Some(record.clone()));
        assert!(a.read(true).is_none(), "made without --pretty");
        std::fs::copy(&a.file, &b.file).unwrap();
        assert!(b.read(false).is_none(), "made for another key directory");
        let bytes = std::fs::read(&a.file).unwrap();
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x20;
            std::fs::write(&a.file, &damaged).unwrap();
            // The site rows are checked when they are read.
            assert!(a.read(false).is_none_or(|(_, mut p)| p.rows().is_none()), "byte {at} changed");
        }
    }
}
