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
        let now = SystemClock.now();
        use sesame_op::store::GrantStore as _;
        match store.sweep(now).await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "swept expired codes and tokens"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
        let _ = accounts.sweep_login_sessions(now).await;
        if let Err(e) = accounts.sweep_upstream_sessions(now).await {
            tracing::warn!(error = %e, "sweeping upstream sessions failed");
        }
        if let Err(e) = accounts.sweep_upstream_logins(now).await {
            tracing::warn!(error = %e, "sweeping upstream logins failed");
        }
        if let Err(e) = crate::ratelimit::sql::sweep(&store, now).await {
            tracing::warn!(error = %e, "sweeping rate-limit counters failed");
        }
    }
}
