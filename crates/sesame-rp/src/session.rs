//! What the relying party keeps in the (server-side) session.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sesame_core::UnixTime;
use tower_sessions::Session;

/// How long a login may take from `/login` to `/callback`.
pub(crate) const PENDING_TTL: i64 = 600;
/// How many logins may be pending at once in one browser (tabs).
pub(crate) const MAX_PENDING: usize = 16;

pub(crate) const CSRF_KEY: &str = "sesame_rp.csrf";

/// One signed-in state per session, whichever provider it came from.
pub(crate) const AUTH_KEY: &str = "sesame_rp.auth";

/// Every pending login of the browser, whichever provider it was started
/// for: a `state` is looked up (and consumed) here by any callback, and the
/// record says which provider it belongs to.
pub(crate) const PENDING_KEY: &str = "sesame_rp.pending";

/// A login in progress, keyed by its `state`.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    /// The provider (client name) the login was started for.
    #[serde(default)]
    pub(crate) provider: String,
    /// That provider's issuer.
    #[serde(default)]
    pub(crate) issuer: String,
    /// The client id at that provider.
    #[serde(default)]
    pub(crate) client_id: String,
    /// The `response_type` requested.
    #[serde(default = "code")]
    pub(crate) response_type: String,
    pub(crate) nonce: String,
    pub(crate) verifier: String,
    pub(crate) next: String,
    pub(crate) created_at: UnixTime,
    /// A `prompt=none` re-authentication: on error, end the session, never retry.
    #[serde(default)]
    pub(crate) silent: bool,
    /// The `max_age` sent, checked against the ID token's `auth_time`.
    #[serde(default)]
    pub(crate) max_age: Option<i64>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("provider", &self.provider)
            .field("response_type", &self.response_type)
            .field("next", &self.next)
            .field("silent", &self.silent)
            .finish_non_exhaustive()
    }
}

fn code() -> String {
    "code".to_owned()
}

pub(crate) type PendingMap = BTreeMap<String, Pending>;

/// Where the relying party keeps its per-browser state: a `tower_sessions`
/// session (and, with the `axum-login` feature, the session axum-login uses).
#[async_trait]
pub(crate) trait Store: Send + Sync {
    /// The value under `key`, if any.
    async fn get_value(&self, key: &str) -> Result<Option<Value>, String>;
    /// Stores `value` under `key`.
    async fn put_value(&self, key: &str, value: Value) -> Result<(), String>;
}

#[async_trait]
impl Store for Session {
    async fn get_value(&self, key: &str) -> Result<Option<Value>, String> {
        self.get(key).await.map_err(|e| e.to_string())
    }

    async fn put_value(&self, key: &str, value: Value) -> Result<(), String> {
        self.insert(key, value).await.map_err(|e| e.to_string())
    }
}

/// The pending logins of this browser (unreadable or absent: none).
pub(crate) async fn pending(store: &dyn Store) -> Result<PendingMap, String> {
    Ok(store
        .get_value(PENDING_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

/// Replaces the pending logins of this browser.
pub(crate) async fn save_pending(store: &dyn Store, map: &PendingMap) -> Result<(), String> {
    let value = serde_json::to_value(map).map_err(|e| e.to_string())?;
    store.put_value(PENDING_KEY, value).await
}

/// The signed-in state: claims and tokens, kept server-side only.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct AuthSession {
    pub(crate) provider: String,
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) sid: Option<String>,
    pub(crate) claims: Map<String, Value>,
    pub(crate) id_token: String,
    pub(crate) access_token: String,
    pub(crate) access_expires_at: Option<UnixTime>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) login_at: UnixTime,
    pub(crate) id_token_iat: UnixTime,
    pub(crate) user_id: Option<String>,
    /// Verified aggregated and distributed claims (and refused sources).
    #[serde(default)]
    pub(crate) external: crate::external::External,
    /// The access token's DPoP binding (and a per-session key); none: Bearer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dpop: Option<crate::dpop::SessionDpop>,
}

impl fmt::Debug for AuthSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSession")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("tokens", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// The session's CSRF token for the logout form (created on first use).
///
/// # Errors
/// When the session store fails.
pub async fn csrf_token(session: &Session) -> Result<String, tower_sessions::session::Error> {
    if let Some(t) = session.get::<String>(CSRF_KEY).await? {
        return Ok(t);
    }
    let token = sesame_core::random::token().unwrap_or_default();
    session.insert(CSRF_KEY, &token).await?;
    Ok(token)
}
