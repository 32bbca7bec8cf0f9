//! Where a record of a key that jwksmith started is kept (`keys/.jwksmith/started/`), and whether
//! one is there: the read side, shared by the reader of `keys/` and the writer of keys.

use std::path::{Path, PathBuf};

use crate::keystate::{STARTED_DIR, state_dir};

/// Path of the record of `kid` in the set at `set` (a publish path), without touching the disk.
pub(crate) fn record_path(keys: &Path, set: &str, kid: &str) -> PathBuf {
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("{set}\0{kid}").as_bytes());
    let name: String = digest.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
    state_dir(keys).join(STARTED_DIR).join(format!("{name}.json"))
}

/// True when a record says jwksmith started `kid` of the set at `set` and has not finished it
/// (so the next `rotate` completes or removes it).
pub(crate) fn is_started(keys: &Path, set: &str, kid: &str) -> bool {
    record_path(keys, set, kid).is_file()
}
