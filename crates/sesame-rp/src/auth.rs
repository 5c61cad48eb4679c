//! Reading the signed-in state, with every reason it may have ended.

use tower_sessions::Session;

use crate::client::OidcClient;
use crate::providers::OidcProviders;
use crate::session::{AUTH_KEY, AuthSession};

/// A session already loaded and checked by a layer for this request.
#[derive(Debug, Clone)]
pub(crate) struct Loaded(pub(crate) std::sync::Arc<AuthSession>);

/// The client, or the named clients, a layer works with.
#[derive(Debug, Clone)]
pub(crate) enum Clients {
    One(OidcClient),
    Many(OidcProviders),
}

impl Clients {
    /// The client the session signed in with. With several providers, the one
    /// named in the session, and only if its issuer is still the session's.
    pub(crate) fn for_session(&self, auth: &AuthSession) -> Option<OidcClient> {
        match self {
            Self::One(c) => Some(c.clone()),
            Self::Many(p) => p
                .get(&auth.provider)
                .filter(|c| c.issuer().as_str() == auth.issuer)
                .cloned(),
        }
    }

    /// Where a browser goes to sign in.
    pub(crate) fn login_path(&self) -> &str {
        match self {
            Self::One(c) => &c.paths().login,
            Self::Many(p) => &p.paths().login,
        }
    }
}

/// Whether `client` still accepts the session: not past the configured
/// maximum age, and not ended by a back-channel logout.
async fn still_valid(client: &OidcClient, auth: &AuthSession) -> bool {
    let now = client.now();
    let too_old = client
        .inner
        .max_session_age
        .is_some_and(|max| now.saturating_sub(auth.login_at) > max);
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
        tracing::info!(provider = %auth.provider, subject = %auth.subject, too_old, ended, "session ended");
    }
    !(too_old || ended)
}

/// The signed-in state if it is still valid (see `still_valid`); with several
/// providers, the session's provider must still be configured. An ended
/// session is cleared.
pub(crate) async fn current(clients: Option<&Clients>, session: &Session) -> Option<AuthSession> {
    let auth: AuthSession = session.get(AUTH_KEY).await.ok().flatten()?;
    // No client: nothing to check the session against, so it does not count.
    let clients = clients?;
    let valid = match clients.for_session(&auth) {
        Some(client) => still_valid(&client, &auth).await,
        None => {
            tracing::info!(provider = %auth.provider, "session's provider is not configured; session ended");
            false
        }
    };
    if !valid {
        let _ = session.remove_value(AUTH_KEY).await;
        return None;
    }
    Some(auth)
}
