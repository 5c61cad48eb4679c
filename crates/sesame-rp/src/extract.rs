//! Extractors for handlers: `Claims`, `Option<Claims>`, `IdToken`, `AccessToken`.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use tower_sessions::Session;

use crate::auth::{self, Clients};
use crate::client::OidcClient;
use crate::external::{External, ExternalClaims, ExternalKind, RefusedClaims};
use crate::providers::OidcProviders;
use crate::session::AuthSession;

/// The signed-in user's claims (ID token merged with UserInfo). Aggregated
/// and distributed claims (OIDC Core §5.6.2) are not in `claims`: the verified
/// ones are in [`Claims::external`], by source.
#[derive(Debug, Clone)]
pub struct Claims {
    /// The provider's issuer.
    pub issuer: String,
    /// `sub`: unique only within the issuer.
    pub subject: String,
    /// The local user id from [`crate::Users`], if provisioning is configured.
    pub user_id: Option<String>,
    /// Every claim from the provider (the ID token's, then userinfo's);
    /// never `_claim_names`, `_claim_sources` or an external claim.
    pub claims: Map<String, Value>,
    external: External,
}

impl Claims {
    /// A string claim.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// The verified aggregated and distributed claims, by source: each
    /// signed by a configured [`crate::ClaimsSource`] (never merged into
    /// [`Claims::claims`]).
    pub fn external(&self) -> &[ExternalClaims] {
        &self.external.verified
    }

    /// The verified aggregated claims (JWTs carried in the provider's response).
    pub fn aggregated(&self) -> impl Iterator<Item = &ExternalClaims> {
        self.external()
            .iter()
            .filter(|e| e.kind == ExternalKind::Aggregated)
    }

    /// The verified distributed claims (fetched from a source's endpoint).
    pub fn distributed(&self) -> impl Iterator<Item = &ExternalClaims> {
        self.external()
            .iter()
            .filter(|e| e.kind == ExternalKind::Distributed)
    }

    /// A verified external claim, and the issuer that signed it (the first
    /// source that has it).
    pub fn external_claim(&self, name: &str) -> Option<(&Value, &str)> {
        self.external()
            .iter()
            .find_map(|e| e.claims.get(name).map(|v| (v, e.issuer.as_str())))
    }

    /// The sources whose claims were refused (unknown source, bad signature,
    /// endpoint not allowed, a limit …), and why.
    pub fn refused_external(&self) -> &[RefusedClaims] {
        &self.external.refused
    }

    /// `email`
    pub fn email(&self) -> Option<&str> {
        self.get_str("email")
    }

    /// `name`, or `preferred_username`, or `sub`.
    pub fn display_name(&self) -> &str {
        self.get_str("name")
            .or_else(|| self.get_str("preferred_username"))
            .unwrap_or(&self.subject)
    }
}

/// The raw ID token of the session (for `id_token_hint` and the like).
#[derive(Debug, Clone)]
pub struct IdToken(pub sesame_core::IdTokenJwt);

/// The session's access token, for calling APIs as the user.
#[derive(Debug, Clone)]
pub struct AccessToken(pub sesame_core::AccessToken);

/// The request has no signed-in session.
#[derive(Debug, Clone, Copy)]
pub struct NotSignedIn;

impl NotSignedIn {
    /// 401.
    pub fn status(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    /// The body text.
    pub fn body_text(&self) -> &'static str {
        "not signed in"
    }
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}

async fn load(parts: &mut Parts) -> Option<AuthSession> {
    if let Some(loaded) = parts.extensions.get::<auth::Loaded>() {
        return Some(loaded.0.as_ref().clone());
    }
    let session = parts.extensions.get::<Session>().cloned()?;
    let clients = clients(parts)?;
    auth::current(Some(&clients), &session).await
}

/// The signed-in state and the client it signed in with.
pub(crate) async fn load_with_client(parts: &mut Parts) -> Option<(AuthSession, OidcClient)> {
    let auth = load(parts).await?;
    let client = clients(parts)?.for_session(&auth)?;
    Some((auth, client))
}

/// The client, or the clients, the app put in the request's extensions.
fn clients(parts: &Parts) -> Option<Clients> {
    match (
        parts.extensions.get::<OidcClient>(),
        parts.extensions.get::<OidcProviders>(),
    ) {
        (Some(c), _) => Some(Clients::One(c.clone())),
        (None, Some(p)) => Some(Clients::Many(p.clone())),
        (None, None) => {
            // Without the client the back-channel logout and max-age checks
            // cannot run: fail closed (REVIEW S18).
            tracing::error!(
                "sesame-rp extractor without RequireLogin and without an Extension(OidcClient) \
                 (or Extension(OidcProviders)) layer: treated as signed out"
            );
            None
        }
    }
}

fn claims_of(a: AuthSession) -> Claims {
    Claims {
        issuer: a.issuer,
        subject: a.subject,
        user_id: a.user_id,
        claims: a.claims,
        external: a.external,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        load(parts).await.map(claims_of).ok_or(NotSignedIn)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Claims {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(load(parts).await.map(claims_of))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdToken {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        load(parts)
            .await
            .map(|a| IdToken(sesame_core::IdTokenJwt::new(a.id_token)))
            .ok_or(NotSignedIn)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AccessToken {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        load(parts)
            .await
            .map(|a| AccessToken(sesame_core::AccessToken::new(a.access_token)))
            .ok_or(NotSignedIn)
    }
}
