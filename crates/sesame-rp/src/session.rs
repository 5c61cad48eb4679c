//! What the relying party keeps in the (server-side) session.

use std::collections::BTreeMap;
use std::fmt;

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

pub(crate) fn pending_key(name: &str) -> String {
    format!("sesame_rp.{name}.pending")
}

/// A login in progress, keyed by its `state`.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub(crate) nonce: String,
    pub(crate) verifier: String,
    pub(crate) next: String,
    pub(crate) created_at: UnixTime,
    /// A `prompt=none` re-authentication: on error, end the session, never retry.
    #[serde(default)]
    pub(crate) silent: bool,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("next", &self.next)
            .field("silent", &self.silent)
            .finish_non_exhaustive()
    }
}

pub(crate) type PendingMap = BTreeMap<String, Pending>;

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
