//! Incremental builds: a record of what the last full `build` read and wrote, so the next one
//! reloads only the sets whose files changed, and reads and writes nothing when none did.
//!
//! The record lives in the user's cache directory (`$JWKSMITH_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/jwksmith`, else `~/.cache/jwksmith`; `JWKSMITH_CACHE_DIR=off` turns it
//! off), one file per `keys`/`out`/templates triple, never under `out/`: outputs stay
//! deterministic. It holds no key material: file and directory stamps (`Stamp`), what each
//! set shows on the site, and its warnings.
//!
//! A set is reused, not reloaded, only when all of these hold; otherwise it is built as if the
//! record did not exist. The same `jwksmith` binary and `--pretty`; the same files in the set's
//! directory with the same stamps, none racy when read (a file saved just before a build is
//! read again next time); `now` in the span where no key of the set changes state; every
//! output the set had on disk with the stamp the build left it with; the same template texts
//! (a digest of each override's text, read every build: a template saved just before a build,
//! as in `watch`, would otherwise make the next build render every page again). The directories of
//! `keys/` and `out/` are not read again while their stamps show no file added, removed or
//! renamed. A missing, unreadable or foreign record is no record.
//!
//! The record file is checksummed (`Cache::read`): a record that is damaged, truncated, made
//! longer, or made for other directories or another jwksmith is ignored before it is decoded,
//! and a build without a record is a full build. A record can make a build faster, never
//! different.
//!
//! A build first reads the stamps of everything the record names, on all cores, each by a
//! short lookup from `keys/` or `out/` opened once (`Record::survey`). When all match, it is
//! done: nothing else is read, planned or written. The record file holds the record, then the
//! sets' site rows, which only a build that renders the site again reads.
//!
//! What stamps cannot see: a file of `out/` rewritten in place with the same size within the
//! file system's clock tick (milliseconds) after the build wrote it, by another program while
//! the build ran. `jwksmith check` compares bytes and always catches it.
//!
//! The rooms: `record` (the format, and one set's record), `reuse` (the survey and what it
//! lets a build skip), `cache` (the record file).

mod cache;
mod record;
mod reuse;

pub(crate) use cache::{Cache, Previous};
pub(crate) use record::{Record, SetRead, SetRecord, encode_site};
pub(crate) use reuse::{Choice, Reuse, Survey, out_dir_stamps, trusted_dirs};
