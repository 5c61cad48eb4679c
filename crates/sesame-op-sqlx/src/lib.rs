//! # sesame-op-sqlx
//!
//! SQL storage for [`sesame_op`]: SQLite (embedded, the default for a single
//! server) and PostgreSQL (for any number of provider instances sharing one
//! database). Migrations are embedded and run on [`SqlStore::connect`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use sesame_op_sqlx::{EncryptionKey, SqlStore};
//!
//! // Keep this key outside the database: it encrypts the signing keys at rest.
//! let key = EncryptionKey::from_base64(&std::env::var("SESAME_ENCRYPTION_KEY")?)?;
//! let store = SqlStore::connect("postgres://sesame@db/sesame", key).await?;
//! let provider = sesame_op::Provider::builder("https://op.example".parse()?)
//!     .with_store(Arc::new(store))
//!     # .with_authenticator(NoLogin)
//!     .build()
//!     .await?;
//! # Ok(()) }
//! # struct NoLogin;
//! # #[async_trait::async_trait]
//! # impl sesame_op::Authenticator for NoLogin {
//! #     async fn current_user(&self, _: &http::request::Parts) -> Result<Option<sesame_op::EndUser>, sesame_op::AuthnError> { Ok(None) }
//! #     fn login_url(&self, _: &sesame_op::LoginRequest) -> String { String::new() }
//! # }
//! ```
//!
//! What is stored: clients (JSON, with a `client_secret_jwt` secret sealed
//! beside it under the [`EncryptionKey`]), codes and tokens keyed by SHA-256 hashes
//! (never the secrets), refresh-token families with reuse detection, consents
//! with expiry, signing keys encrypted with AES-256-GCM under an
//! [`EncryptionKey`] bound to each key's `kid`, consent interactions, device authorizations (RFC 8628, updated by
//! compare-and-swap so a device code is redeemed once), and the
//! salt of pairwise subject identifiers ([`SqlStore::pairwise_salt`], sealed
//! with the same key).
//! [`sesame_op::store::GrantStore::sweep`] deletes what has expired.
//!
//! [`SqlStore::connect`] checks the key against what the database already
//! holds sealed, so a wrong key fails at once with
//! [`ConnectError::WrongEncryptionKey`], before anything is sealed with it.
//!
//! ## Feature flags
//!
//! - `sqlite` (default): `sqlite://FILE` and `sqlite::memory:`, SQLite
//!   bundled and run in-line through rusqlite (a writer thread with group
//!   commit, reads on the calling thread). `?synchronous=full` on the URL makes
//!   every commit wait for `fsync` ([`Durability`]).
//! - `postgres` (default): `postgres://…`, through sqlx.
//!
//! Without either, [`SqlStore::connect`] refuses every URL.

// Without a backend the store compiles but every path is unreachable.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(unreachable_code, unused_imports, unused_variables, dead_code)
)]

pub mod cache;

mod clients;
mod consents;
mod crypt;
mod db;
mod device;
mod grants;
mod keys;
#[cfg(feature = "sqlite")]
mod lite;
mod registration;
mod secrets;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

pub use crypt::{CryptError, EncryptionKey};
#[cfg(feature = "sqlite")]
pub use lite::Durability;
pub use sql::{Arg, Cell, Col};
pub use store::{ConnectError, SqlStore};
