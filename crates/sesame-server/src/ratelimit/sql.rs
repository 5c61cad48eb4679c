//! The failure counters in the database (`sesame_rate_limits`, one of the
//! server's own tables, beside the provider's): failures counted in fixed
//! windows, with a time until which a key is refused. Shared by every
//! instance on the database and kept across restarts. Reached through the
//! store's SQL path ([`SqlStore::exec`], [`SqlStore::rows`]).

use sesame_core::UnixTime;
use sesame_op::store::StoreResult;
use sesame_op_sqlx::{Arg, Cell, Col, SqlStore};

/// One counter: `count` failures since `window_start`, refused until
/// `blocked_until` (all Unix seconds). A missing row is all zeros.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateCounter {
    /// Failures in the window.
    pub count: i64,
    /// When the window began.
    pub window_start: UnixTime,
    /// Attempts are refused until then.
    pub blocked_until: UnixTime,
}

/// The counters for `keys`, in the same order (zeros for keys with no
/// row). One read.
///
/// # Errors
/// When the storage fails.
pub(crate) async fn read(store: &SqlStore, keys: &[&str]) -> StoreResult<Vec<RateCounter>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT limit_key, count, window_start, blocked_until FROM sesame_rate_limits \
         WHERE limit_key IN ({})",
        placeholders.join(", ")
    );
    let args: Vec<Arg<'_>> = keys.iter().map(|k| Arg::Text(k)).collect();
    let rows = store
        .rows(&sql, &args, &[Col::Text, Col::Int, Col::Int, Col::Int])
        .await?;
    let mut found: Vec<(String, RateCounter)> = rows
        .into_iter()
        .map(|r| {
            let int = |i: usize| r.get(i).map(Cell::int).unwrap_or_default();
            let key = r.first().cloned().and_then(Cell::text).unwrap_or_default();
            (
                key,
                RateCounter {
                    count: int(1),
                    window_start: int(2),
                    blocked_until: int(3),
                },
            )
        })
        .collect();
    Ok(keys
        .iter()
        .map(|k| {
            found
                .iter_mut()
                .find(|(f, _)| f == k)
                .map(|(_, c)| *c)
                .unwrap_or_default()
        })
        .collect())
}

/// Counts one failure for `key` in a window of `window` seconds (a new
/// window, and no block, once the last one is over): the counter after it.
///
/// # Errors
/// When the storage fails.
pub(crate) async fn fail(
    store: &SqlStore,
    key: &str,
    now: UnixTime,
    window: i64,
) -> StoreResult<RateCounter> {
    let rows = store
        .rows(
            "INSERT INTO sesame_rate_limits (limit_key, count, window_start, blocked_until, expires_at) \
             VALUES ($1, 1, $2, 0, $3) ON CONFLICT (limit_key) DO UPDATE SET \
             count = CASE WHEN sesame_rate_limits.window_start <= $4 THEN 1 ELSE sesame_rate_limits.count + 1 END, \
             window_start = CASE WHEN sesame_rate_limits.window_start <= $4 THEN $2 ELSE sesame_rate_limits.window_start END, \
             blocked_until = CASE WHEN sesame_rate_limits.window_start <= $4 THEN 0 ELSE sesame_rate_limits.blocked_until END, \
             expires_at = CASE WHEN sesame_rate_limits.window_start <= $4 THEN $3 ELSE sesame_rate_limits.expires_at END \
             RETURNING count, window_start, blocked_until",
            &[
                Arg::Text(key),
                Arg::Int(now),
                Arg::Int(now.saturating_add(window)),
                Arg::Int(now.saturating_sub(window)),
            ],
            &[Col::Int, Col::Int, Col::Int],
        )
        .await?;
    let r = rows.into_iter().next().unwrap_or_default();
    let int = |i: usize| r.get(i).map(Cell::int).unwrap_or_default();
    Ok(RateCounter {
        count: int(0),
        window_start: int(1),
        blocked_until: int(2),
    })
}

/// Refuses `key` until `until`; the row is kept at least that long.
///
/// # Errors
/// When the storage fails.
pub(crate) async fn block(store: &SqlStore, key: &str, until: UnixTime) -> StoreResult<()> {
    store
        .exec(
            "UPDATE sesame_rate_limits SET blocked_until = $2, \
         expires_at = CASE WHEN expires_at < $2 THEN $2 ELSE expires_at END \
         WHERE limit_key = $1",
            &[Arg::Text(key), Arg::Int(until)],
        )
        .await?;
    Ok(())
}

/// Deletes counters whose window and block are over.
///
/// # Errors
/// When the storage fails.
pub(crate) async fn sweep(store: &SqlStore, now: UnixTime) -> StoreResult<u64> {
    store
        .exec(
            "DELETE FROM sesame_rate_limits WHERE expires_at <= $1",
            &[Arg::Int(now)],
        )
        .await
}
