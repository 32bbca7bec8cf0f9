//! The self-test, and reading sets with it: every key with a private part signs a message and
//! the signature must verify against the public members that will be published ([`self_test`]),
//! unless an earlier `build` proved that very key ([`SelfTested`]). Read-only commands need only
//! know that the signing library accepts each private key ([`read_set_usable`]).
//!
//! - `sign.rs`: the test of one key (pure computation).
//! - `proven.rs`: the proof of earlier tests, read from `out/private/`.

mod proven;
mod sign;

pub use proven::SelfTested;
pub(crate) use sign::{self_test, sign, verify};

use crate::error::Result;
use crate::keydir::{SetDir, read_set};
use crate::model::KeySet;

/// Reads and validates one set ([`read_set`]), self-testing every key that `proven` does not
/// show an earlier build self-tested with the same material, `use` and `alg`
/// (`&SelfTested::default()` tests every key). Returns the set and the warnings found.
pub fn read_set_tested(set: &SetDir, proven: &SelfTested) -> Result<(KeySet, Vec<String>)> {
    read_set(set, &|material, meta| {
        if proven.covers(&meta.kid, material, meta.alg, meta.key_use) {
            return Ok(());
        }
        self_test(material, meta.alg, meta.key_use)
    })
}

/// Reads and validates one set ([`read_set`]) without signing: each private key is checked to
/// be one the signing library accepts, with the errors the self-test would give for one it
/// refuses. For `status`, which prints keys and uses none.
pub(crate) fn read_set_usable(set: &SetDir) -> Result<(KeySet, Vec<String>)> {
    read_set(set, &|material, meta| sign::check_usable(material, meta.alg, meta.key_use))
}
