//! What every store shares: record encoding with its size bound, the clock.

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
use tower_sessions::session::Record;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
use tower_sessions::session_store;

/// The largest session record a store keeps (JSON bytes), by default. The
/// relying party's own state is far smaller (at most 16 pending logins with
/// 2 KiB `next` paths, the tokens and claims of one sign-in).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 * 1024;

/// How long a back-channel logout is remembered (seconds), by default: keep
/// it at least as long as sessions live idle (sesame-rp's
/// `SESSION_IDLE_HOURS`), since a session ended by it is only seen to have
/// ended at its next request.
pub const DEFAULT_LOGOUT_RETENTION: i64 = 24 * 3600;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
/// `record` as JSON, refused when longer than `max` bytes.
pub(crate) fn encode(record: &Record, max: usize) -> session_store::Result<String> {
    let json =
        serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    if json.len() > max {
        tracing::warn!(
            bytes = json.len(),
            max,
            "session record too large; not stored"
        );
        return Err(session_store::Error::Encode(format!(
            "session record of {} bytes is over the limit of {max}",
            json.len()
        )));
    }
    Ok(json)
}

/// A stored record.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) fn decode(json: &str) -> session_store::Result<Record> {
    serde_json::from_str(json).map_err(|e| session_store::Error::Decode(e.to_string()))
}

/// Seconds since the Unix epoch.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) fn now() -> i64 {
    use sesame_core::Clock as _;
    sesame_core::SystemClock.now()
}
