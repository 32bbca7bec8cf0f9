//! Compact JWS/JWT, the core of `jwksmith token` and `jwksmith verify` (SPEC §4): pure
//! functions over a loaded set, a JWK Set and `now`. Signatures are made and checked by
//! [`crate::selftest`]'s primitives (ring; aws-lc-rs for P-521), the code the self-test proves
//! on every key, rather than by a JOSE crate: the compact form is a few lines of base64url and
//! JSON, and one signing path for build and tokens means one set of key handling to trust.
//!
//! - `compact.rs`: the compact form: encode, decode, ordered JSON objects.
//! - `mint.rs`: the key that signs ([`signing_key`]), the claims ([`Claims`]), [`sign`] and
//!   [`mint`] (both at once); also
//!   the local issuer's (`serve --local-issuer`) way to make its access tokens.
//! - `checks.rs`: the verdicts of `verify` (kid, alg, signature, exp, nbf, iss, aud).

mod checks;
mod compact;
mod mint;

pub(crate) use checks::{Check, Expect, KeyFacts, Published, run_checks};
pub(crate) use compact::{Decoded, Object, decode, kind};
pub(crate) use mint::{Claims, Selection, mint, sign, signing_key};
