//! Time, injected.
//!
//! Every expiry, rotation and replay decision in Sesame takes the current time
//! from a [`Clock`]. Only [`SystemClock`] reads the wall clock (a clippy
//! `disallowed-methods` rule keeps it that way), so tests move time with a
//! [`TestClock`] instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch, as JWT `NumericDate` values are.
pub type UnixTime = i64;

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time in whole seconds since the Unix epoch.
    fn now(&self) -> UnixTime;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
    fn now(&self) -> UnixTime {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(elapsed) => i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX),
            // A clock set before 1970 is broken; report the epoch rather than panic.
            Err(_) => 0,
        }
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use sesame_core::{Clock, TestClock};
/// let clock = TestClock::at(1_700_000_000);
/// let other = clock.clone();
/// clock.advance(60);
/// assert_eq!(other.now(), 1_700_000_060);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TestClock {
    now: Arc<AtomicI64>,
}

impl TestClock {
    /// A clock stopped at `now`.
    pub fn at(now: UnixTime) -> Self {
        Self {
            now: Arc::new(AtomicI64::new(now)),
        }
    }

    /// Moves the clock by `seconds` (negative moves it back).
    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Sets the clock to `now`.
    pub fn set(&self, now: UnixTime) {
        self.now.store(now, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> UnixTime {
        self.now.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> UnixTime {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_after_2024() {
        assert!(SystemClock.now() > 1_704_067_200);
    }

    #[test]
    fn test_clock_moves_only_when_told() {
        let clock = TestClock::at(100);
        assert_eq!(clock.now(), 100);
        clock.advance(-10);
        assert_eq!(clock.now(), 90);
        clock.set(5);
        assert_eq!(clock.now(), 5);
    }
}
