//! sesame-op-sqlx integration tests: the conformance suite on SQLite and
//! PostgreSQL, encryption at rest, and two providers sharing one database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs,
    unreachable_pub
)]

mod support;

mod cache;
mod checkpoint;
mod client_secrets;
mod conformance;
mod keys;
mod registration;
mod scheduled_rotation;
mod secrets;
mod shared;
mod writer;
