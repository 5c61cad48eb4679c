//! How the host application tells the provider who is logged in.

use async_trait::async_trait;
use http::HeaderMap;
use http::request::Parts;
use sesame_core::{ClientId, SessionId, Subject, UnixTime};

/// The logged-in end-user, as the host application knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndUser {
    /// The user's identifier: becomes the `sub` claim.
    pub subject: Subject,
    /// When the user last authenticated (actively, with a credential).
    pub auth_time: UnixTime,
    /// The login session: becomes `sid`, and back-channel logout targets it.
    pub session_id: SessionId,
    /// `acr` of that authentication.
    pub acr: Option<String>,
    /// `amr` of that authentication.
    pub amr: Option<Vec<String>>,
}

/// What the login page should know about the request that sent the user there.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    /// Where to send the browser after a successful login (a provider URL).
    pub return_to: String,
    /// `login_hint`
    pub login_hint: Option<String>,
    /// `ui_locales`
    pub ui_locales: Option<String>,
    /// `acr_values`
    pub acr_values: Option<String>,
    /// The user must authenticate again even if logged in (`prompt=login`, `max_age`).
    pub force: bool,
    /// The user is logged in and that login still counts; only a stronger
    /// authentication context is asked for (`acr_values` or an essential
    /// `acr` the current one does not meet). A login page may then ask only
    /// for the missing factor (step-up) instead of the whole login.
    pub step_up: bool,
    /// The client asking, for display.
    pub client_name: String,
}

/// The host application's login, as the provider sees it — the counterpart of
/// django-oidc-provider relying on Django's own authentication.
///
/// ```
/// use async_trait::async_trait;
/// use http::request::Parts;
/// use sesame_op::{Authenticator, AuthnError, EndUser, LoginRequest};
///
/// struct NobodyLoggedIn;
///
/// #[async_trait]
/// impl Authenticator for NobodyLoggedIn {
///     async fn current_user(&self, _parts: &Parts) -> Result<Option<EndUser>, AuthnError> {
///         Ok(None)
///     }
///     fn login_url(&self, request: &LoginRequest) -> String {
///         format!("/login?next={}", url::form_urlencoded::byte_serialize(request.return_to.as_bytes()).collect::<String>())
///     }
/// }
/// ```
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The user logged in for this request, if any (read the app's session cookie).
    async fn current_user(&self, parts: &Parts) -> Result<Option<EndUser>, AuthnError>;

    /// Where to send the browser to log in. After login, the app redirects to
    /// `request.return_to` (a URL on the provider, safe to follow).
    fn login_url(&self, request: &LoginRequest) -> String;

    /// Whether `user` could reach one of the `acr` `values` by a step-up
    /// (the login page asking only for a missing factor), for a request
    /// that asks for them voluntarily (`acr_values`). When `true` and the
    /// current `acr` does not meet them, the provider sends the user to the
    /// login page with [`LoginRequest::step_up`]; when `false` it issues
    /// the `acr` that was achieved (the default: voluntary values never
    /// send anyone back to log in). Essential values always ask.
    async fn can_step_up(&self, user: &EndUser, values: &[String]) -> bool {
        let _ = (user, values);
        false
    }

    /// Ends the user's login session (RP-initiated logout). Returns headers
    /// to add to the response, e.g. a `Set-Cookie` that clears the session.
    async fn logout(&self, parts: &Parts, user: &EndUser) -> Result<HeaderMap, AuthnError> {
        let _ = (parts, user);
        Ok(HeaderMap::new())
    }
}

/// The host application's session lookup failed.
#[derive(Debug, thiserror::Error)]
#[error("authentication backend error: {0}")]
pub struct AuthnError(pub String);

/// A token request's resource owner credentials (RFC 6749 §4.3.2). `Debug`
/// prints the password as `[redacted]`.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct PasswordRequest<'a> {
    /// `username`, as sent.
    pub username: &'a str,
    /// `password`, as sent.
    pub password: &'a str,
    /// The (authenticated) client asking.
    pub client_id: &'a ClientId,
}

impl std::fmt::Debug for PasswordRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordRequest")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// What [`PasswordAuthenticator::check_password`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordCheck {
    /// The password is right: the user's identifier (becomes `sub`, mapped
    /// to a pairwise identifier for clients registered for one).
    Valid(Subject),
    /// A wrong password or an unknown user — the provider answers
    /// `invalid_grant` either way and never says which.
    Invalid,
    /// Too many attempts for this username or address: the provider answers
    /// 429 with `Retry-After` (seconds) and checks nothing.
    RateLimited {
        /// Seconds until the next attempt may succeed.
        retry_after: u64,
    },
}

/// Checks a username and password for the resource owner password
/// credentials grant (RFC 6749 §4.3). The grant is off unless
/// [`crate::Settings::password_grant`] is set, and a provider with it on
/// needs one of these ([`crate::ProviderBuilder::with_password_authenticator`]).
///
/// The implementation owns what makes password checks safe: rate limits per
/// username and per client address (read it from `parts`, e.g. axum's
/// `ConnectInfo` extension), a slow hash run off the async workers
/// (`tokio::task::spawn_blocking`), and the same work for an unknown user as
/// for a wrong password, so the answer's timing does not reveal which
/// usernames exist.
///
/// ```
/// use async_trait::async_trait;
/// use sesame_core::Subject;
/// use sesame_op::{AuthnError, PasswordAuthenticator, PasswordCheck, PasswordRequest, RequestInfo};
///
/// struct OneUser;
///
/// #[async_trait]
/// impl PasswordAuthenticator for OneUser {
///     async fn check_password(
///         &self,
///         _from: RequestInfo<'_>,
///         request: PasswordRequest<'_>,
///     ) -> Result<PasswordCheck, AuthnError> {
///         // A real implementation rate-limits, then verifies an Argon2 hash
///         // with spawn_blocking (see `sesame_op::secrets::verify_secret`).
///         let hash = "sha256$…";
///         let ok = request.username == "alice"
///             && sesame_op::secrets::verify_secret(request.password, hash);
///         Ok(if ok { PasswordCheck::Valid(Subject::new("alice")) } else { PasswordCheck::Invalid })
///     }
/// }
/// ```
#[async_trait]
pub trait PasswordAuthenticator: Send + Sync + 'static {
    /// Checks `request.username` and `request.password`. `Err` means the
    /// backend failed (the client gets `server_error`), not a wrong password.
    /// `from`: who sent the token request (for rate limits by address).
    async fn check_password(
        &self,
        from: RequestInfo<'_>,
        request: PasswordRequest<'_>,
    ) -> Result<PasswordCheck, AuthnError>;
}

/// What a [`PasswordAuthenticator`] may know of the HTTP request.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RequestInfo<'a> {
    /// The TCP peer, when the server is served with connect info
    /// (`into_make_service_with_connect_info::<SocketAddr>()`).
    pub peer: Option<std::net::SocketAddr>,
    /// The request's headers (e.g. a trusted proxy's `X-Forwarded-For`).
    pub headers: &'a HeaderMap,
    /// The request's extensions: what the host app's middleware put there.
    pub extensions: &'a http::Extensions,
}

impl<'a> RequestInfo<'a> {
    /// The request described by its head.
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0);
        Self {
            peer,
            headers: &parts.headers,
            extensions: &parts.extensions,
        }
    }
}
