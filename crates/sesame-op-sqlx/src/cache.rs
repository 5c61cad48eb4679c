//! A small read-through cache for rows that every request reads and few
//! requests write: clients (read by every authorize, token and introspection
//! call), and, in the `sesame` server, which keeps the cache beside its own
//! tables, users' claims (read for every ID token and userinfo answer).
//!
//! Writes made through the same [`crate::SqlStore`] (or the same handle of
//! the server's) invalidate the entry at once; writes made elsewhere (the
//! `sesame` CLI, another provider instance on the same PostgreSQL database)
//! are seen after at most the TTL. A TTL of zero turns the cache off.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most entries kept; past it the cache starts over, so a flood of
/// distinct ids (most of them unknown) cannot grow memory.
const MAX_ENTRIES: usize = 4096;

/// Entries with a time-to-live. Cheap to consult: one uncontended lock and a
/// hash lookup.
///
/// A read racing a write cannot cache the old row (S13): a reader takes
/// [`TtlCache::generation`] before it reads the database, and [`TtlCache::put`]
/// drops its value if a [`TtlCache::forget`] happened since.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<Entries<K, V>>,
}

#[derive(Debug)]
struct Entries<K, V> {
    map: HashMap<K, (Instant, V)>,
    /// Counts `forget`s.
    generation: u64,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// A cache whose entries live `ttl`; zero turns it off.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                generation: 0,
            }),
        }
    }

    /// Whether the TTL is above zero.
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The cached value, if it is younger than the TTL.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if !self.enabled() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.map.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// The generation to pass to [`TtlCache::put`]: take it before reading
    /// the value from the database.
    pub fn generation(&self) -> u64 {
        self.entries.lock().map_or(0, |e| e.generation)
    }

    /// Caches `value`, read from the database after [`TtlCache::generation`]
    /// returned `seen`, unless an entry was forgotten since (then the value
    /// may predate that write, and is dropped).
    pub fn put(&self, key: K, value: V, seen: u64) {
        if !self.enabled() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.generation != seen {
                return;
            }
            if entries.map.len() >= MAX_ENTRIES {
                entries.map.clear();
            }
            entries.map.insert(key, (Instant::now(), value));
        }
    }

    /// Drops `key`'s entry; call it before and after writing the row.
    pub fn forget<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if let Ok(mut entries) = self.entries.lock() {
            entries.map.remove(key);
            entries.generation = entries.generation.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_ttl_keeps_nothing() {
        let c = TtlCache::<String, u32>::new(Duration::ZERO);
        c.put("a".into(), 1, c.generation());
        assert_eq!(c.get("a"), None);
    }

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let c = TtlCache::<String, u32>::new(Duration::from_millis(50));
        c.put("a".into(), 1, c.generation());
        c.put("b".into(), 2, c.generation());
        assert_eq!(c.get("a"), Some(1));
        c.forget("a");
        assert_eq!(c.get("a"), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get("b"), None, "older than the TTL");
    }

    #[test]
    fn a_read_older_than_a_forget_is_not_cached() {
        let c = TtlCache::<String, u32>::new(Duration::from_secs(60));
        // A reader takes the generation, then reads the old row …
        let seen = c.generation();
        // … a writer saves the new row and forgets the entry …
        c.forget("a");
        // … and the reader's old row must not be cached.
        c.put("a".into(), 1, seen);
        assert_eq!(c.get("a"), None);
        c.put("a".into(), 2, c.generation());
        assert_eq!(c.get("a"), Some(2));
    }

    #[test]
    fn bounded() {
        let c = TtlCache::<u32, u32>::new(Duration::from_secs(60));
        for i in 0..(MAX_ENTRIES as u32 + 10) {
            c.put(i, i, c.generation());
        }
        assert!(c.entries.lock().map(|e| e.map.len()).unwrap_or(0) <= MAX_ENTRIES);
        assert_eq!(
            c.get(&(MAX_ENTRIES as u32 + 9)),
            Some(MAX_ENTRIES as u32 + 9)
        );
    }
}
