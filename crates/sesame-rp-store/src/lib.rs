#![doc = include_str!("../README.md")]

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
mod any;
mod record;
#[cfg(feature = "redis")]
mod redis_store;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

use std::time::Duration;

use async_trait::async_trait;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub use any::AnyStore;
pub use record::{DEFAULT_LOGOUT_RETENTION, DEFAULT_MAX_RECORD_BYTES};
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::SqlStore;

/// A store could not be opened or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no store this build has.
    #[error("session store {0}")]
    Url(String),
    /// The database or Redis failed.
    #[error("session store: {0}")]
    Backend(String),
}

/// Deletes what has expired: sessions, logouts, replay records, leases.
/// SQL stores delete in bounded batches; Redis expires keys itself.
#[async_trait]
pub trait Sweep: Send + Sync + 'static {
    /// Deletes expired rows, `batch` at a time; how many were deleted.
    async fn sweep(&self, batch: u32) -> Result<u64, StoreError>;
}

/// Rows deleted per statement by [`spawn_sweeper`].
pub const SWEEP_BATCH: u32 = 1000;

/// Sweeps `store` every `every` in the background (the first sweep at once).
pub fn spawn_sweeper<S: Sweep + Clone>(store: S, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.sweep(SWEEP_BATCH).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(deleted = n, "expired session rows swept"),
                Err(e) => tracing::warn!(error = %e, "session store sweep failed"),
            }
        }
    })
}
