//! sesame-core integration tests: one binary, a module per subject.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod support;

mod id_token;
mod interop;
mod kat;
mod logout_token;
mod parsers;
