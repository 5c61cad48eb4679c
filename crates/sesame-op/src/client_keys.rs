//! A client's public keys: its inline `jwks`, or the document at its
//! `jwks_uri`, fetched through the outbound guard ([`crate::outbound`]),
//! kept for [`TTL`], and fetched again at once when a signature names a
//! `kid` the cached set lacks (a client rotated its key). Only refetches
//! that did not find their kid are limited: after one, further misses wait
//! [`REFETCH_COOLDOWN`] (a refetch is claimed before it starts, so
//! concurrent misses share it), so a stream of unknown kids cannot make
//! the provider hammer the client's server, and a rotation is never held back. At most [`MAX_ENTRIES`] clients
//! are cached; past that the oldest entries go.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sesame_core::{JwkSet, KeySet};

use crate::model::Client;

/// How long a fetched key set is used without asking again.
pub(crate) const TTL: Duration = Duration::from_secs(300);
/// The shortest time between two fetches for one client caused by unknown kids.
pub(crate) const REFETCH_COOLDOWN: Duration = Duration::from_secs(60);
/// The most clients whose fetched keys are kept.
const MAX_ENTRIES: usize = 10_000;
/// The largest JWKS document accepted.
const MAX_DOCUMENT: usize = 64 * 1024;
/// How long a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

struct Entry {
    uri: String,
    keys: KeySet,
    fetched: Instant,
    /// The last fetch an unknown kid caused (claimed before it starts, so
    /// concurrent misses share it).
    miss_fetch: Option<Instant>,
}

/// What the cache says about a lookup.
enum Lookup {
    /// Use these keys.
    Use(KeySet),
    /// Fetch, then store.
    Fetch,
}

/// Fetched key sets by client id.
#[derive(Default)]
pub(crate) struct ClientKeys {
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeys").finish_non_exhaustive()
    }
}

impl ClientKeys {
    /// The cached keys when they are fresh and know `kid`; for an unknown
    /// kid a fetch, unless one was made (or started) within the cooldown.
    fn lookup(&self, client: &str, uri: &str, kid: Option<&str>) -> Lookup {
        let Ok(mut entries) = self.entries.lock() else {
            return Lookup::Fetch;
        };
        let Some(e) = entries.get_mut(client).filter(|e| e.uri == uri) else {
            return Lookup::Fetch;
        };
        if e.fetched.elapsed() >= TTL {
            return Lookup::Fetch;
        }
        if kid.is_none_or(|k| e.keys.contains_kid(k)) {
            return Lookup::Use(e.keys.clone());
        }
        if e.miss_fetch.is_some_and(|t| t.elapsed() < REFETCH_COOLDOWN) {
            return Lookup::Use(e.keys.clone());
        }
        e.miss_fetch = Some(Instant::now());
        Lookup::Fetch
    }

    /// Stores fetched keys. A fetch that found the `kid` it was made for
    /// starts no cooldown (a rotation is followed at once, every time).
    fn store(&self, client: &str, uri: &str, keys: KeySet, found_kid: bool) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES
            && !entries.contains_key(client)
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.fetched)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        let miss_fetch = entries
            .get(client)
            .filter(|e| e.uri == uri && !found_kid)
            .and_then(|e| e.miss_fetch);
        entries.insert(
            client.to_owned(),
            Entry {
                uri: uri.to_owned(),
                keys,
                fetched: Instant::now(),
                miss_fetch,
            },
        );
    }
}

/// The keys to verify a signature of `client` that names `kid`: the inline
/// `jwks`, else the `jwks_uri` document (cached; fetched again for an
/// unknown kid once the cooldown has passed). `Err`: why there are none.
pub(crate) async fn keys_for(
    cache: &ClientKeys,
    http: &reqwest::Client,
    allow_private: bool,
    client: &Client,
    kid: Option<&str>,
) -> Result<KeySet, String> {
    if let Some(jwks) = &client.jwks {
        return Ok(KeySet::from_jwks(jwks));
    }
    let Some(uri) = &client.jwks_uri else {
        return Err("the client has no registered keys (jwks or jwks_uri)".into());
    };
    let id = client.client_id.as_str();
    if let Lookup::Use(keys) = cache.lookup(id, uri, kid) {
        return Ok(keys);
    }
    let body = crate::outbound::fetch_limited(
        http,
        uri,
        allow_private,
        "application/jwk-set+json, application/json",
        MAX_DOCUMENT,
        FETCH_TIMEOUT,
    )
    .await
    .map_err(|e| {
        tracing::info!(client_id = id, error = %e, "client jwks_uri fetch failed");
        format!("the client's jwks_uri {e}")
    })?;
    let set = JwkSet::from_json(&body).map_err(|e| format!("the client's jwks_uri: {e}"))?;
    let keys = KeySet::from_jwks(&set);
    let found = kid.is_none_or(|k| keys.contains_kid(k));
    cache.store(id, uri, keys.clone(), found);
    Ok(keys)
}
