//! How the host application tells the provider who is logged in.

use async_trait::async_trait;
use http::HeaderMap;
use http::request::Parts;
use sesame_core::{SessionId, Subject, UnixTime};

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
