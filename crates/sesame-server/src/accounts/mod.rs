//! The server's own tables, beside the provider's in the same database: its
//! users and their login sessions (`users.rs`, `sessions.rs`), the TOTP
//! second step and pending logins (`totp.rs`), passkeys (`passkeys.rs`), and
//! sign-in through upstream providers (`upstream.rs`, `upstream_logout.rs`).
//! The rate-limit counters are [`crate::ratelimit`]'s.
//!
//! The provider's storage ([`SqlStore`], sesame-op-sqlx) knows none of these
//! tables: [`Accounts`] reaches them through the store's SQL path
//! ([`SqlStore::exec`], [`SqlStore::rows`]), seals through
//! [`SqlStore::seal_value`], and its migrations (`crates/sesame-server/migrations`)
//! run after the store's ([`migrate`]). The two sets of migrations share sqlx's
//! bookkeeping table and each ignores the other's versions, so a database
//! migrated when all of them were the store's opens unchanged: the files
//! moved here byte for byte, under the same names (sqlx checks their checksums).
//!
//! Not to be confused with `account/`, the account page, which reads and
//! writes through this.

use std::sync::Arc;
use std::time::Duration;

use sesame_op::store::StoreError;
use sesame_op_sqlx::cache::TtlCache;
use sesame_op_sqlx::{ConnectError, SqlStore};

mod passkeys;
mod sessions;
mod totp;
mod upstream;
mod upstream_logout;
mod users;

pub use passkeys::Passkey;
pub use sessions::LoginSession;
pub use upstream::{UpstreamLink, UpstreamLogin};
pub use users::{User, UserError};

/// The server's migrations, embedded (read from `migrations/` at compile time).
fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

/// Applies the server's pending migrations to `store`'s database; run right
/// after [`SqlStore::connect`] (which applied the provider's).
///
/// # Errors
/// When a migration fails.
pub async fn migrate(store: &SqlStore) -> Result<(), ConnectError> {
    store.run_migrations(migrator()).await
}

/// The server's tables: users, login sessions, second factors, passkeys and
/// upstream links, over the provider's [`SqlStore`] (one database, one
/// connection pool).
///
/// Cheap to clone; clones share the users cache, so a server holds one
/// `Accounts` and hands out clones: a write through any of them is seen by
/// all at once.
#[derive(Clone)]
pub struct Accounts {
    store: SqlStore,
    /// Users by subject (their claims are read for every ID token and
    /// userinfo answer).
    users: Arc<TtlCache<String, User>>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// The server's tables in `store`'s database (migrated by [`migrate`]),
    /// keeping users in memory for up to `cache_ttl` (zero: not at all; the
    /// server gives it the store's `cache_ttl`).
    ///
    /// Changes made through this handle (and its clones) take effect at
    /// once; changes made elsewhere (the `sesame` CLI, another instance on
    /// the same PostgreSQL database) within `cache_ttl`: a removed user's
    /// claims may be served for that long. Unknown subjects are never cached.
    pub fn new(store: SqlStore, cache_ttl: Duration) -> Self {
        Self {
            store,
            users: Arc::new(TtlCache::new(cache_ttl)),
        }
    }

    /// The provider's store these tables live beside.
    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// Seals `value` for the column `context` names (its table, key and
    /// column), under the store's encryption key.
    fn seal(&self, value: &str, context: &str) -> Result<String, StoreError> {
        self.store.seal_value(value, context)
    }

    /// Opens what [`Accounts::seal`] sealed for `context`.
    fn open(&self, sealed: &str, context: &str) -> Result<String, StoreError> {
        self.store.open_value(sealed, context).ok_or_else(|| {
            StoreError::new(format!(
                "{context}: the sealed value does not open (changed, or another encryption key)"
            ))
        })
    }
}

const _: fn() = || {
    fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    assert_handle::<Accounts>();
};
