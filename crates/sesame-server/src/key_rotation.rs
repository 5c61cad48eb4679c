//! Scheduled key rotation (`key_rotation_interval`): every instance ticks,
//! the one that takes the database's rotation lease while a rotation is due
//! rotates (staged, as `sesame keys rotate` does), and every instance then
//! reloads its keys, so all publish the same JWKS.

use std::time::Duration;

use sesame_op::{KeysError, Provider};

/// The longest pause between two checks (a rotation another instance did is
/// published here within it).
const MAX_TICK_SECONDS: i64 = 60;

/// Seconds between checks for `interval`: half of it, from 1 to 60.
pub(crate) fn tick_seconds(interval: i64) -> u64 {
    (interval / 2).clamp(1, MAX_TICK_SECONDS).unsigned_abs()
}

/// A name for this instance's lease: its process id and a random part.
fn holder() -> String {
    let random = sesame_core::random::token().unwrap_or_default();
    format!("{}-{}", std::process::id(), &random[..random.len().min(12)])
}

/// Spawns the rotation loop; `None` when `interval` is 0 (manual rotation).
pub(crate) fn spawn(provider: Provider, interval: i64) -> Option<tokio::task::JoinHandle<()>> {
    if interval <= 0 {
        return None;
    }
    let holder = holder();
    tracing::info!(
        interval_seconds = interval,
        instance = %holder,
        "scheduled key rotation on"
    );
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(tick_seconds(interval)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            check(&provider, interval, &holder).await;
        }
    }))
}

/// One check: rotate what is due (if this instance gets the lease), log it.
async fn check(provider: &Provider, interval: i64, holder: &str) {
    match provider.rotate_keys_if_due(interval, holder).await {
        Ok(done) => {
            for r in done {
                tracing::info!(
                    alg = %r.alg,
                    signing = r.signing.as_deref().unwrap_or(""),
                    retired = ?r.retired,
                    next = %r.next,
                    deleted = ?r.deleted,
                    instance = %holder,
                    "scheduled key rotation"
                );
            }
        }
        // Only after a manual rotation promoted a key recently: the next
        // check succeeds once it has been published long enough.
        Err(KeysError::NextKeyTooNew { usable_at }) => tracing::debug!(
            usable_at,
            "scheduled key rotation waits: the next key was published too recently"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "scheduled key rotation failed; trying again at the next check")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tick_is_half_the_interval_within_one_to_sixty_seconds() {
        assert_eq!(super::tick_seconds(2), 1);
        assert_eq!(super::tick_seconds(1), 1);
        assert_eq!(super::tick_seconds(90), 45);
        assert_eq!(super::tick_seconds(90 * 86_400), 60);
    }
}
