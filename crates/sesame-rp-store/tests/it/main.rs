//! sesame-rp-store against real stores: a SQLite file, the PostgreSQL at
//! `SESAME_TEST_DATABASE_URL` (a schema per run) and the Redis at
//! 127.0.0.1:6379 (`SESAME_TEST_REDIS_URL`; a key prefix per run).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod conformance;
mod stores;
