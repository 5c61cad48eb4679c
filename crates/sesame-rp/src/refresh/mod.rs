//! `SessionRefresh`: keeps a signed-in session's tokens fresh.
//!
//! When the access token is about to expire (or the ID token is older than a
//! configured age) the layer exchanges the refresh token, if the session has
//! one; otherwise a browser GET is sent through a silent `prompt=none`
//! re-authentication — once: a failed silent attempt ends the local session
//! and is never retried automatically, so it cannot loop. Any other request
//! with a stale session gets 401: an expired session never performs a POST.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sesame_core::{Expected, UnixTime};
use tower::Service;
use tower_sessions::Session;

use crate::auth::{self, Clients};
use crate::client::OidcClient;
use crate::gate::{Gate, next_of};
use crate::metrics;
use crate::providers::OidcProviders;
use crate::routes::see_other;
use crate::session::{AUTH_KEY, AuthSession};

mod lease;
pub use lease::{LeaseError, RefreshLease};
mod same_login;

const SILENT_KEY: &str = "sesame_rp.silent_at";
/// Refresh this long before the access token expires.
const SKEW: i64 = 60;
/// At most one silent re-authentication per session in this many seconds.
const SILENT_INTERVAL: i64 = 300;

/// Keeps sessions fresh; put it inside the session layer and outside
/// [`crate::RequireLogin`].
#[derive(Debug, Clone)]
pub struct SessionRefresh {
    clients: Clients,
    max_id_token_age: Option<i64>,
    flights: Flights,
    lease: lease::Lease,
}

/// One refresh in flight per refresh token (REVIEW S10): concurrent requests
/// of one stale session wait for the first exchange and share its result,
/// instead of each sending the token (the provider's reuse detection would
/// then revoke the whole grant). Keyed by the refresh token and the access
/// token it replaces: with a provider that does not rotate refresh tokens
/// (FAPI 2.0), the next refresh of the session, once the new access token
/// is stale in turn, is a new exchange, not the remembered one.
type Flight = Arc<tokio::sync::OnceCell<Option<AuthSession>>>;

#[derive(Clone, Default)]
struct Flights(Arc<std::sync::Mutex<HashMap<String, (Flight, UnixTime)>>>);

impl std::fmt::Debug for Flights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Flights")
    }
}

/// How long a finished exchange is remembered for latecomers.
const FLIGHT_TTL: i64 = 30;

impl Flights {
    fn get(&self, key: &str, now: UnixTime) -> Flight {
        let Ok(mut map) = self.0.lock() else {
            return Flight::default();
        };
        map.retain(|_, (_, at)| now.saturating_sub(*at) < FLIGHT_TTL);
        Arc::clone(
            &map.entry(key.to_owned())
                .or_insert_with(|| (Flight::default(), now))
                .0,
        )
    }
}

impl SessionRefresh {
    /// Refreshes when the access token is within a minute of expiring.
    pub fn new(client: OidcClient) -> Self {
        Self {
            clients: Clients::One(client),
            max_id_token_age: None,
            flights: Flights::default(),
            lease: lease::Lease::default(),
        }
    }

    /// The same for an app with several providers: each session is refreshed
    /// at the provider it signed in with.
    pub fn for_providers(providers: OidcProviders) -> Self {
        Self {
            clients: Clients::Many(providers),
            max_id_token_age: None,
            flights: Flights::default(),
            lease: lease::Lease::default(),
        }
    }

    /// Also re-authenticates when the ID token is older than `seconds`
    /// (to notice a provider-side logout or account change).
    #[must_use]
    pub fn with_max_id_token_age(mut self, seconds: i64) -> Self {
        self.max_id_token_age = Some(seconds);
        self
    }

    /// Shares the single-flight across instances: one instance at a time
    /// exchanges a session's refresh token (taking `lease` on it); the
    /// others wait for its outcome instead of sending the token again.
    /// Use the store the sessions live in (sesame-rp-store's stores implement it).
    #[must_use]
    pub fn with_lease(mut self, lease: impl RefreshLease) -> Self {
        self.lease = lease::Lease(Some(Arc::new(lease)));
        self
    }
}

/// The service made by [`SessionRefresh`].
#[derive(Debug, Clone)]
pub struct SessionRefreshService<S> {
    inner: S,
    config: SessionRefresh,
}

crate::gate::gate_layer!(SessionRefresh => SessionRefreshService { config });

enum Stale {
    Fresh,
    Refreshed,
    Failed,
}

#[tracing::instrument(name = "sesame_rp.refresh", skip_all, fields(provider = %client.name()))]
async fn refresh(
    client: &OidcClient,
    session: &Session,
    auth: &AuthSession,
    now: UnixTime,
    config: &SessionRefresh,
) -> Stale {
    let Some(refresh_token) = auth.refresh_token.as_deref() else {
        return Stale::Failed;
    };
    let key = sesame_core::token_hash(
        sesame_core::JwsAlgorithm::RS256,
        &format!("{refresh_token} {}", auth.access_token),
    );
    let flight = config.flights.get(&key, now);
    let updated = flight
        .get_or_init(|| async {
            match &config.lease.0 {
                Some(l) => lease::shared(l.as_ref(), &key, || exchange(client, auth, now)).await,
                None => exchange(client, auth, now).await,
            }
        })
        .await
        .clone();
    let outcome = match updated {
        Some(updated) => match session.insert(AUTH_KEY, &updated).await {
            Ok(()) => Stale::Refreshed,
            Err(_) => Stale::Failed,
        },
        None => Stale::Failed,
    };
    match outcome {
        Stale::Refreshed => {
            tracing::debug!("tokens refreshed");
            metrics::token_refresh(client.name(), "refreshed");
        }
        Stale::Failed => metrics::token_refresh(client.name(), "failed"),
        Stale::Fresh => {}
    }
    outcome
}

/// Exchanges the session's refresh token; the updated session, or `None`.
async fn exchange(client: &OidcClient, auth: &AuthSession, now: UnixTime) -> Option<AuthSession> {
    let refresh_token = auth.refresh_token.clone()?;
    // The session's DPoP key signs the refresh too (RFC 9449 §5: a public
    // client's refresh token is bound to it).
    let key = client.dpop_key_of(auth.dpop.as_ref());
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
    ];
    let tokens = match client.token_request_with(&form, key.as_ref()).await {
        Ok(t) => t,
        Err(e) => {
            tracing::info!(error = %e, "refresh failed; ending the session");
            return None;
        }
    };
    let mut updated = auth.clone();
    match client.token_binding(&tokens, key.as_ref()) {
        Ok(binding) => updated.dpop = binding,
        Err(e) => {
            tracing::warn!(error = %e, "refreshed token refused; ending the session");
            return None;
        }
    }
    if let Some(id_token) = &tokens.id_token {
        // A refreshed ID token: the same login (OIDC Core §12.2); no nonce needed (Keycloak omits it).
        match client
            .validate_id_token(id_token, &Expected::default())
            .await
        {
            Ok(v) => match same_login::check(&auth.id_token, &v.claims) {
                Ok(()) => {
                    updated.id_token.clone_from(id_token);
                    updated.id_token_iat = v.claims.iat;
                }
                Err(why) => {
                    tracing::warn!(
                        reason = why,
                        "refreshed ID token is for another login; ending the session"
                    );
                    return None;
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "refreshed ID token refused; ending the session");
                return None;
            }
        }
    }
    if !tokens.access_token.is_empty() {
        let key = client.dpop_key_of(updated.dpop.as_ref());
        userinfo(client, &tokens.access_token, key.as_ref(), &mut updated).await?;
    }
    updated.access_token = tokens.access_token.clone();
    updated.access_expires_at = tokens
        .expires_in_seconds()
        .map(|e| crate::flow::expires_at(now, e));
    if let Some(rotated) = tokens.refresh_token.clone() {
        updated.refresh_token = Some(rotated);
    }
    Some(updated)
}

/// UserInfo with the refreshed access token (as after a login): its claims
/// fill in the session's; a response about another user ends the session,
/// an unreachable endpoint keeps the claims the session has.
async fn userinfo(
    client: &OidcClient,
    access_token: &str,
    key: Option<&sesame_core::dpop::DpopKey>,
    updated: &mut AuthSession,
) -> Option<()> {
    match client
        .userinfo_checked(access_token, &updated.subject, key)
        .await
    {
        Ok(Some(info)) => {
            for (k, v) in info {
                updated.claims.entry(k).or_insert(v);
            }
        }
        Ok(None) => {}
        Err(crate::flow::LoginError::UserInfoSubMismatch) => {
            tracing::warn!("userinfo after a refresh is about another user; ending the session");
            return None;
        }
        Err(e) => {
            tracing::info!(error = %e, "userinfo after a refresh failed; keeping the session's claims")
        }
    }
    Some(())
}

fn is_navigation(req: &Request<Body>) -> bool {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let json_only = accept.contains("application/json") && !accept.contains("text/html");
    req.method() == Method::GET && !req.headers().contains_key("x-requested-with") && !json_only
}

impl Gate for SessionRefresh {
    async fn serve<S>(self, req: Request<Body>, mut inner: S) -> Result<Response, S::Error>
    where
        S: Service<Request<Body>, Response = Response> + Send + 'static,
        S::Future: Send + 'static,
    {
        let config = self;
        let Some(session) = req.extensions().get::<Session>().cloned() else {
            return inner.call(req).await;
        };
        let Some(auth) = auth::current(Some(&config.clients), &session).await else {
            return inner.call(req).await;
        };
        let Some(client) = config.clients.for_session(&auth) else {
            return inner.call(req).await;
        };
        let client = &client;
        let now = client.now();
        let access_stale = auth
            .access_expires_at
            .is_some_and(|e| e.saturating_sub(now) < SKEW);
        let id_stale = config
            .max_id_token_age
            .is_some_and(|m| now.saturating_sub(auth.id_token_iat) > m);
        if !(access_stale || id_stale) {
            return inner.call(req).await;
        }
        let outcome = if auth.refresh_token.is_some() {
            refresh(client, &session, &auth, now, &config).await
        } else {
            Stale::Fresh
        };
        match outcome {
            Stale::Refreshed => return inner.call(req).await,
            Stale::Failed => {
                let _ = session.remove_value(AUTH_KEY).await;
                return inner.call(req).await;
            }
            Stale::Fresh => {}
        }
        // No refresh token: a silent re-authentication for browser GETs, once.
        let tried: Option<UnixTime> = session.get(SILENT_KEY).await.ok().flatten();
        if is_navigation(&req) && tried.is_none_or(|t| now.saturating_sub(t) > SILENT_INTERVAL) {
            let next = next_of(&req);
            let _ = session.insert(SILENT_KEY, now).await;
            if let Ok(url) = client.start_login(&session, &next, &[], true).await {
                return Ok(see_other(&url));
            }
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Ok((
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "session_expired"})),
            )
                .into_response());
        }
        inner.call(req).await
    }
}
