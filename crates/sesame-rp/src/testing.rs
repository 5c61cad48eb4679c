//! Helpers for testing applications that use sesame-rp, without a provider.

use serde_json::{Map, Value};
use tower_sessions::Session;

use crate::session::{AUTH_KEY, AuthSession};

/// Signs `session` in as `subject` of `issuer` with `claims`, as a completed
/// login would (no tokens). For an application's own tests and benchmarks.
///
/// # Errors
/// When the session store fails.
pub async fn sign_in(
    session: &Session,
    issuer: &str,
    subject: &str,
    claims: Map<String, Value>,
    now: sesame_core::UnixTime,
) -> Result<(), tower_sessions::session::Error> {
    let auth = AuthSession {
        provider: "default".into(),
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        sid: None,
        claims,
        id_token: String::new(),
        access_token: String::new(),
        access_expires_at: None,
        refresh_token: None,
        login_at: now,
        id_token_iat: now,
        user_id: None,
        external: Default::default(),
        dpop: None,
    };
    session.insert(AUTH_KEY, &auth).await
}
