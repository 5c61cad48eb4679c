//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the
//! end-session request carries a random `state` kept in the browser's
//! (fresh) session, and [`LogoutReturn`] checks it when the provider sends
//! the browser back to the post-logout redirect URI.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use sesame_core::UnixTime;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::client::OidcClient;
use crate::providers::OidcProviders;
use crate::session::{AuthSession, PENDING_TTL};

/// The RP-initiated logout of this browser awaiting the provider's return.
pub(crate) const LOGOUT_KEY: &str = "sesame_rp.logout";

/// A logout sent to a provider's end-session endpoint.
#[derive(Serialize, Deserialize)]
struct PendingLogout {
    state: String,
    provider: String,
    created_at: UnixTime,
}

/// The end-session URL for `auth` at `client`, with `state`; `None` when the
/// provider has no (usable) end-session endpoint or the session is of
/// another issuer.
pub(crate) fn end_session_url(
    client: &OidcClient,
    auth: &AuthSession,
    state: &str,
) -> Option<String> {
    let metadata = client.metadata();
    let endpoint = metadata.end_session_endpoint.as_deref()?;
    if auth.issuer != client.issuer().as_str() {
        return None;
    }
    let mut url = url::Url::parse(endpoint).ok()?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("id_token_hint", &auth.id_token);
        q.append_pair("client_id", client.client_id().as_str());
        if let Some(after) = &client.inner.post_logout_redirect_uri {
            q.append_pair("post_logout_redirect_uri", after);
        }
        q.append_pair("state", state);
    }
    Some(url.into())
}

/// Keeps `state` in the (already flushed, so fresh) session until the provider sends the browser back.
pub(crate) async fn remember(
    session: &Session,
    client: &OidcClient,
    state: &str,
) -> Result<(), tower_sessions::session::Error> {
    let pending = PendingLogout {
        state: state.to_owned(),
        provider: client.name().to_owned(),
        created_at: client.now(),
    };
    session.insert(LOGOUT_KEY, pending).await
}

/// What a visit to the post-logout redirect URI says about this browser's
/// RP-initiated logout, by the `state` the provider sends back.
///
/// `POST /logout` ends the local session first, then sends the browser to
/// the provider's end-session endpoint with a random `state`; the provider
/// returns it to `post_logout_redirect_uri`. Take this extractor in the
/// handler there: only [`LogoutReturn::LoggedOut`] is the provider's answer
/// to this browser's logout. A pending logout is spent by the first visit,
/// whatever it carries, and lasts ten minutes. Needs the session layer and
/// `Extension(OidcClient)` (or `Extension(OidcProviders)`), as [`crate::Claims`] does;
/// without them nothing is confirmed.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use sesame_rp::LogoutReturn;
/// let app: Router = Router::new().route("/", get(|r: LogoutReturn| async move {
///     if r == LogoutReturn::LoggedOut { "You have been signed out." } else { "Welcome" }
/// }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogoutReturn {
    /// No RP-initiated logout is pending in this browser and no `state` came:
    /// an ordinary visit.
    NotALogout,
    /// The provider sent back the `state` of this browser's logout: the
    /// logout at the provider is complete.
    LoggedOut,
    /// A logout is pending or a `state` came, but they do not match (no
    /// `state`, another one, or an expired logout): not taken as the
    /// provider's answer. The local session was ended all the same.
    Unconfirmed,
}

impl<S: Send + Sync> FromRequestParts<S> for LogoutReturn {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let presented = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
        });
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            return Ok(unconfirmed_if(presented.is_some()));
        };
        let pending: Option<PendingLogout> = match session.get(LOGOUT_KEY).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "could not read the pending logout");
                return Ok(Self::Unconfirmed);
            }
        };
        let Some(pending) = pending else {
            return Ok(unconfirmed_if(presented.is_some()));
        };
        // Spent by this visit, whatever it carries (removing marks the session
        // modified, so only when there is something to remove).
        if let Err(e) = session.remove_value(LOGOUT_KEY).await {
            tracing::error!(error = %e, "could not spend the pending logout");
            return Ok(Self::Unconfirmed);
        }
        let client = match (
            parts.extensions.get::<OidcClient>(),
            parts.extensions.get::<OidcProviders>(),
        ) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(p)) => p.get(&pending.provider).cloned(),
            (None, None) => None,
        };
        let Some(client) = client else {
            tracing::error!(
                "LogoutReturn without an Extension(OidcClient) (or Extension(OidcProviders)) \
                 layer: the logout is not confirmed"
            );
            return Ok(Self::Unconfirmed);
        };
        Ok(check(&pending, presented.as_deref(), client.now()))
    }
}

fn unconfirmed_if(state_came: bool) -> LogoutReturn {
    if state_came {
        LogoutReturn::Unconfirmed
    } else {
        LogoutReturn::NotALogout
    }
}

/// The pending logout against the `state` presented at `now`.
fn check(pending: &PendingLogout, presented: Option<&str>, now: UnixTime) -> LogoutReturn {
    let fresh = now.saturating_sub(pending.created_at) < PENDING_TTL;
    let same = presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(pending.state.as_bytes())));
    if fresh && same {
        tracing::info!(provider = %pending.provider, "logout confirmed by the provider");
        LogoutReturn::LoggedOut
    } else {
        tracing::info!(
            provider = %pending.provider,
            state_came = presented.is_some(),
            expired = !fresh,
            "post-logout return not confirmed (missing, other or expired state)"
        );
        LogoutReturn::Unconfirmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_fresh_state_confirms() {
        let p = PendingLogout {
            state: "s-1".into(),
            provider: "default".into(),
            created_at: 1000,
        };
        assert_eq!(check(&p, Some("s-1"), 1000), LogoutReturn::LoggedOut);
        assert_eq!(check(&p, Some("s-2"), 1000), LogoutReturn::Unconfirmed);
        assert_eq!(check(&p, Some(""), 1000), LogoutReturn::Unconfirmed);
        assert_eq!(check(&p, None, 1000), LogoutReturn::Unconfirmed);
        assert_eq!(
            check(&p, Some("s-1"), 1000 + PENDING_TTL),
            LogoutReturn::Unconfirmed
        );
    }
}
