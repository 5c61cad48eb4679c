//! Reading the signed-in state, with every reason it may have ended.

use tower_sessions::Session;

use crate::client::OidcClient;
use crate::session::{AUTH_KEY, AuthSession};

/// A session already loaded and checked by a layer for this request.
#[derive(Debug, Clone)]
pub(crate) struct Loaded(pub(crate) std::sync::Arc<AuthSession>);

/// The signed-in state if it is still valid: not past the configured
/// maximum age, and not ended by a back-channel logout. An ended session is
/// cleared.
pub(crate) async fn current(client: Option<&OidcClient>, session: &Session) -> Option<AuthSession> {
    let auth: AuthSession = session.get(AUTH_KEY).await.ok().flatten()?;
    let Some(client) = client else {
        return Some(auth);
    };
    let now = client.now();
    let too_old = client
        .inner
        .max_session_age
        .is_some_and(|max| now - auth.login_at > max);
    let ended = auth.issuer == client.issuer().as_str()
        && client
            .inner
            .logouts
            .is_ended(
                &auth.issuer,
                auth.sid.as_deref(),
                &auth.subject,
                auth.login_at,
            )
            .await;
    if too_old || ended {
        tracing::info!(subject = %auth.subject, too_old, ended, "session ended");
        let _ = session.remove_value(AUTH_KEY).await;
        return None;
    }
    Some(auth)
}
