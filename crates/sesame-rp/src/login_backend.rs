//! An axum-login `AuthnBackend` (feature `axum-login`): Sesame authenticates,
//! axum-login keeps the signed-in user.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use axum_login::tower_sessions::Session as LoginSession;
use axum_login::{AuthUser, AuthnBackend};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sesame_core::{AccessToken, IdTokenJwt, RefreshToken, UnixTime};

use crate::auth::Clients;
use crate::client::OidcClient;
use crate::flow::LoginError;
use crate::metrics;
use crate::providers::OidcProviders;
use crate::provision::{Users, UsersError, provision};
use crate::session::Store;

#[async_trait]
impl Store for LoginSession {
    async fn get_value(&self, key: &str) -> Result<Option<Value>, String> {
        self.get(key).await.map_err(|e| e.to_string())
    }

    async fn put_value(&self, key: &str, value: Value) -> Result<(), String> {
        self.insert(key, value).await.map_err(|e| e.to_string())
    }
}

/// axum-login's authentication backend backed by Sesame: the credentials are a
/// completed OIDC callback, every check of the code flow is done, and the user
/// comes from your [`Users`] store, keyed by (issuer, subject).
///
/// Start a login with [`SesameBackend::start_login`] (it keeps the pending
/// login in axum-login's session), and in the callback hand the response to
/// `auth_session.authenticate(OidcCredentials::from_query(…))`, then
/// `auth_session.login(&user)`, which cycles the session id.
///
/// ```no_run
/// use axum::extract::{Query, RawQuery};
/// use axum::response::{IntoResponse, Redirect, Response};
/// use axum::{Router, routing::get};
/// use axum_login::tower_sessions::{MemoryStore, SessionManagerLayer};
/// use axum_login::{AuthManagerLayerBuilder, AuthSession, login_required};
/// use sesame_rp::{OidcClient, OidcCredentials, SesameBackend, Users};
///
/// type Auth = AuthSession<SesameBackend>;
///
/// #[derive(serde::Deserialize)]
/// struct Next { next: Option<String> }
///
/// async fn login(auth: Auth, Query(q): Query<Next>) -> Response {
///     let next = q.next.filter(|n| sesame_rp::is_safe_next(n)).unwrap_or_else(|| "/".into());
///     match auth.backend.start_login(&auth.session, None, &next).await {
///         Ok(url) => Redirect::to(&url).into_response(),
///         Err(_) => "sign-in unavailable".into_response(),
///     }
/// }
///
/// async fn callback(mut auth: Auth, RawQuery(q): RawQuery) -> Response {
///     let creds = OidcCredentials::from_query(auth.session.clone(), q.as_deref().unwrap_or(""));
///     match auth.authenticate(creds).await {
///         Ok(Some(user)) if auth.login(&user).await.is_ok() => {
///             Redirect::to(user.next.as_deref().unwrap_or("/")).into_response()
///         }
///         _ => "sign-in failed".into_response(),
///     }
/// }
///
/// fn app(oidc: OidcClient, users: impl Users) -> Router {
///     let sessions = SessionManagerLayer::new(MemoryStore::default());
///     Router::new()
///         .route("/account", get(|auth: Auth| async move {
///             auth.user.map(|u| u.key.subject).unwrap_or_default()
///         }))
///         .route_layer(login_required!(SesameBackend, login_url = "/login"))
///         .route("/login", get(login))
///         .route("/callback", get(callback))
///         .layer(AuthManagerLayerBuilder::new(SesameBackend::new(oidc, users), sessions).build())
/// }
/// ```
#[derive(Clone)]
pub struct SesameBackend {
    clients: Clients,
    users: Arc<dyn Users>,
}

impl fmt::Debug for SesameBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SesameBackend")
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

/// The identity axum-login stores in its session: (issuer, subject).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserKey {
    /// The provider's issuer.
    pub issuer: String,
    /// `sub`, unique only within the issuer.
    pub subject: String,
}

impl fmt::Display for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.subject, self.issuer)
    }
}

/// Tokens of a completed login (only on the user `authenticate` returns).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoginTokens {
    /// The ID token (for `id_token_hint`).
    pub id_token: IdTokenJwt,
    /// The access token (empty for the implicit `id_token` response type).
    pub access_token: AccessToken,
    /// When the access token expires, if the provider said.
    pub access_expires_at: Option<UnixTime>,
    /// A refresh token, if one was issued.
    pub refresh_token: Option<RefreshToken>,
}

/// A user signed in through Sesame, as axum-login sees it.
#[derive(Clone)]
#[non_exhaustive]
pub struct SesameUser {
    /// (issuer, subject): the id axum-login keeps.
    pub key: UserKey,
    /// Your local user id, from [`Users`].
    pub user_id: String,
    /// The login's claims (ID token and UserInfo). Only on the user
    /// `authenticate` returns; empty on users loaded from the session.
    pub claims: Map<String, Value>,
    /// The `next` path the login was started with. Only on the user `authenticate` returns.
    pub next: Option<String>,
    /// The login's tokens. Only on the user `authenticate` returns: keep what you need.
    pub tokens: Option<LoginTokens>,
}

impl fmt::Debug for SesameUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SesameUser")
            .field("key", &self.key)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl AuthUser for SesameUser {
    type Id = UserKey;

    fn id(&self) -> UserKey {
        self.key.clone()
    }

    /// The local user id: if (issuer, subject) is later mapped to another
    /// local user, sessions of the old one end.
    fn session_auth_hash(&self) -> &[u8] {
        self.user_id.as_bytes()
    }
}

/// A completed authorization response: the callback's parameters and the
/// session the login was started in.
#[derive(Clone)]
pub struct OidcCredentials {
    session: LoginSession,
    params: Map<String, Value>,
    via_post: bool,
    provider: Option<String>,
}

impl fmt::Debug for OidcCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcCredentials")
            .field("provider", &self.provider)
            .field("via_post", &self.via_post)
            .finish_non_exhaustive()
    }
}

impl OidcCredentials {
    fn parse(session: LoginSession, raw: &str, via_post: bool) -> Self {
        let params = url::form_urlencoded::parse(raw.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        Self {
            session,
            params,
            via_post,
            provider: None,
        }
    }

    /// From a GET callback's raw query string.
    pub fn from_query(session: LoginSession, query: &str) -> Self {
        Self::parse(session, query, false)
    }

    /// From a POST (`form_post`) callback's `application/x-www-form-urlencoded` body.
    pub fn from_form(session: LoginSession, body: &str) -> Self {
        Self::parse(session, body, true)
    }

    /// For a backend with several providers: the provider whose callback this is.
    #[must_use]
    pub fn for_provider(mut self, name: impl Into<String>) -> Self {
        self.provider = Some(name.into());
        self
    }
}

/// Why authentication failed (axum-login's `Error::Backend`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The callback was refused (see [`LoginError`]; `reason()` for a short name).
    #[error(transparent)]
    Login(#[from] LoginError),
    /// Your user store failed.
    #[error(transparent)]
    Users(#[from] UsersError),
    /// The credentials name no configured provider.
    #[error("unknown provider")]
    UnknownProvider,
}

impl SesameBackend {
    /// A backend signing in with `client`, users from `users`.
    pub fn new(client: OidcClient, users: impl Users) -> Self {
        Self {
            clients: Clients::One(client),
            users: Arc::new(users),
        }
    }

    /// A backend for several providers; credentials name theirs with
    /// [`OidcCredentials::for_provider`].
    pub fn for_providers(providers: OidcProviders, users: impl Users) -> Self {
        Self {
            clients: Clients::Many(providers),
            users: Arc::new(users),
        }
    }

    fn client(&self, provider: Option<&str>) -> Result<&OidcClient, BackendError> {
        match (&self.clients, provider) {
            (Clients::One(c), None) => Ok(c),
            (Clients::One(c), Some(name)) if name == c.name() => Ok(c),
            (Clients::Many(p), Some(name)) => p.get(name).ok_or(BackendError::UnknownProvider),
            _ => Err(BackendError::UnknownProvider),
        }
    }

    /// Starts a login: records the pending login (state, nonce, PKCE, `next`)
    /// in axum-login's session and returns the provider's authorization URL
    /// to redirect to. `provider` names the provider of a multi-provider
    /// backend (`None` for a single client). Check `next` with
    /// [`crate::is_safe_next`] first if it comes from the request.
    ///
    /// # Errors
    /// An unknown provider, or a failing session store.
    pub async fn start_login(
        &self,
        session: &LoginSession,
        provider: Option<&str>,
        next: &str,
    ) -> Result<String, BackendError> {
        let client = self.client(provider)?;
        Ok(client.start_login_in(session, next, &[], false).await?)
    }

    fn knows_issuer(&self, issuer: &str) -> bool {
        match &self.clients {
            Clients::One(c) => c.issuer().as_str() == issuer,
            Clients::Many(p) => p.clients().any(|c| c.issuer().as_str() == issuer),
        }
    }
}

impl AuthnBackend for SesameBackend {
    type User = SesameUser;
    type Credentials = OidcCredentials;
    type Error = BackendError;

    /// Verifies the callback (state bound to this browser and provider, code
    /// redeemed with PKCE, ID token and UserInfo checked) and provisions the
    /// user. `Ok(None)` when your [`Users`] refuses the login; `Err` for every
    /// other failure, with the reason.
    async fn authenticate(
        &self,
        creds: OidcCredentials,
    ) -> Result<Option<SesameUser>, BackendError> {
        let client = self.client(creds.provider.as_deref())?;
        let (verified, _silent) = client
            .verify_callback(&creds.session, &creds.params, creds.via_post)
            .await
            .map_err(|e| e.error)?;
        let user_id = match provision(self.users.as_ref(), &verified.login).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                tracing::info!(provider = %client.name(), subject = %verified.login.subject, "login refused by the application");
                metrics::login_failed(client.name(), LoginError::Refused.reason());
                return Ok(None);
            }
            Err(e) => {
                metrics::login_failed(client.name(), "users");
                return Err(e.into());
            }
        };
        metrics::login_completed(client.name());
        tracing::info!(provider = %client.name(), subject = %verified.login.subject, "login completed (axum-login)");
        Ok(Some(SesameUser {
            key: UserKey {
                issuer: verified.login.issuer,
                subject: verified.login.subject,
            },
            user_id,
            claims: verified.login.claims,
            next: Some(verified.next),
            tokens: Some(LoginTokens {
                id_token: IdTokenJwt::new(verified.id_token),
                access_token: AccessToken::new(verified.access_token),
                access_expires_at: verified.access_expires_at,
                refresh_token: verified.refresh_token.map(RefreshToken::new),
            }),
        }))
    }

    /// The user for a stored (issuer, subject), through [`Users::find`]; `None`
    /// (signed out) when the issuer is no longer configured or the user is gone.
    async fn get_user(&self, key: &UserKey) -> Result<Option<SesameUser>, BackendError> {
        if !self.knows_issuer(&key.issuer) {
            return Ok(None);
        }
        Ok(self
            .users
            .find(&key.issuer, &key.subject)
            .await?
            .map(|user_id| SesameUser {
                key: key.clone(),
                user_id,
                claims: Map::new(),
                next: None,
                tokens: None,
            }))
    }
}
