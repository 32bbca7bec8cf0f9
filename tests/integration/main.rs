//! The integration tests that drive the real binary on temporary projects, as one test binary
//! (one link step): each module is one area of the contract. Tests that need outside clients
//! are their own targets (`interop_clients`, `browser`); the fuzz targets are `fuzz`.

#[path = "../common/mod.rs"]
mod common;

mod adversary;
mod bad_inputs;
mod crash;
mod crash_keys;
mod deployed;
mod edge_outputs;
mod guarantees;
mod import_kids;
mod import_names;
mod incremental;
mod interop_keys;
mod issuer;
mod jwt_verify;
mod kubernetes;
mod locks;
mod outputs;
mod pages;
mod record_warnings;
mod redaction;
mod rotation;
mod serve_robust;
mod serve_watch;
mod site;
mod smoke;
mod validation;
