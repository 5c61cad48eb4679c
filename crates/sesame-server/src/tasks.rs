//! The server's background tasks, started by [`crate::server::serve`] and
//! stopped when it returns: the sweep of expired rows every 5 minutes, and
//! scheduled key rotation ([`crate::key_rotation`]).

use std::sync::Arc;
use std::time::Duration;

use sesame_core::{Clock as _, SystemClock};
use sesame_op_sqlx::SqlStore;

use crate::accounts::Accounts;

/// The running tasks.
#[derive(Debug)]
pub(crate) struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Tasks {
    /// Stops them all.
    pub(crate) fn abort(self) {
        for task in self.0 {
            task.abort();
        }
    }
}

/// Starts the sweeper and, unless `key_rotation_interval` is 0, the rotation.
pub(crate) fn start(
    store: &Arc<SqlStore>,
    accounts: &Accounts,
    provider: &sesame_op::Provider,
    key_rotation_interval: i64,
) -> Tasks {
    let mut tasks = vec![tokio::spawn(sweep(Arc::clone(store), accounts.clone()))];
    tasks.extend(crate::key_rotation::spawn(
        provider.clone(),
        key_rotation_interval,
    ));
    Tasks(tasks)
}

async fn sweep(store: Arc<SqlStore>, accounts: Accounts) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    loop {
        tick.tick().await;
        sweep_once(&store, &accounts, SystemClock.now()).await;
    }
}

/// Deletes every expired row: the provider's codes and tokens, and the
/// server's sign-in sessions, pending second steps, upstream sessions and
/// logins, and rate-limit counters.
async fn sweep_once(store: &SqlStore, accounts: &Accounts, now: sesame_core::UnixTime) {
    use sesame_op::store::GrantStore as _;
    match store.sweep(now).await {
        Ok(n) if n > 0 => tracing::info!(removed = n, "swept expired codes and tokens"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "sweep failed"),
    }
    let _ = accounts.sweep_login_sessions(now).await;
    if let Err(e) = accounts.sweep_pending_logins(now).await {
        tracing::warn!(error = %e, "sweeping pending second steps failed");
    }
    if let Err(e) = accounts.sweep_upstream_sessions(now).await {
        tracing::warn!(error = %e, "sweeping upstream sessions failed");
    }
    if let Err(e) = accounts.sweep_upstream_logins(now).await {
        tracing::warn!(error = %e, "sweeping upstream logins failed");
    }
    if let Err(e) = crate::ratelimit::sql::sweep(store, now).await {
        tracing::warn!(error = %e, "sweeping rate-limit counters failed");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The sweep removes expired pending second steps (it did not call
    /// `sweep_pending_logins`: a step started and never finished stayed).
    #[tokio::test]
    async fn the_sweep_removes_expired_pending_second_steps() {
        let dir = std::env::temp_dir().join(format!("sesame-sweep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqlStore::connect(
            &format!("sqlite://{}/s.db", dir.display()),
            sesame_op_sqlx::EncryptionKey::generate().unwrap(),
        )
        .await
        .unwrap();
        store
            .run_migrations(sqlx::migrate!("./migrations"))
            .await
            .unwrap();
        let accounts = Accounts::new(store.clone(), Duration::ZERO);
        accounts
            .create_pending_login("old", "alice", 100)
            .await
            .unwrap();
        accounts
            .create_pending_login("live", "alice", 10_000)
            .await
            .unwrap();
        sweep_once(&store, &accounts, 1_000).await;
        let left = store
            .texts(
                "SELECT token_key FROM sesame_pending_logins ORDER BY token_key",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(left, vec!["live".to_owned()]);
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
