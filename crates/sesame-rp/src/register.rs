//! Dynamic client registration (RFC 7591, OpenID Connect Dynamic Client
//! Registration 1.0): register once, keep the registration, pass it back
//! to the builder on every start.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sesame_core::{
    AccessToken, ClientSecret, DiscoveryError, Issuer, JwkSet, RedirectUri, UnixTime, discovery_url,
};

use crate::builder::OidcClientBuilder;
use crate::client::{ClientAuth, OidcClient, ResponseType};
use crate::outbound::{self, HttpError, default_client, get_bytes};

/// The metadata of a client to register (RFC 7591 §2). Only what is set is
/// sent; the provider fills in its defaults and may change what it does not allow.
///
/// ```
/// use sesame_rp::{ClientAuth, RegistrationRequest};
/// let request = RegistrationRequest::new(["https://app.example/callback".parse()?])
///     .with_client_name("My app")
///     .with_auth_method(ClientAuth::ClientSecretBasic)
///     .with_post_logout_redirect_uris(["https://app.example/".parse()?])
///     .with_backchannel_logout_uri("https://app.example/backchannel-logout")
///     .with_frontchannel_logout_uri("https://app.example/frontchannel-logout", true)
///     .with_scope("openid email profile");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RegistrationRequest {
    metadata: Map<String, Value>,
    initial_access_token: Option<AccessToken>,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for RegistrationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationRequest")
            .field("metadata", &self.metadata)
            .field("initial_access_token", &self.initial_access_token)
            .finish_non_exhaustive()
    }
}

impl RegistrationRequest {
    /// A web client with these redirect URIs.
    pub fn new(redirect_uris: impl IntoIterator<Item = RedirectUri>) -> Self {
        let uris: Vec<String> = redirect_uris
            .into_iter()
            .map(|u| u.as_str().to_owned())
            .collect();
        let mut metadata = Map::new();
        metadata.insert("redirect_uris".into(), json!(uris));
        Self {
            metadata,
            initial_access_token: None,
            http: None,
        }
    }

    /// `client_name`, shown on the provider's consent page.
    #[must_use]
    pub fn with_client_name(self, name: impl Into<String>) -> Self {
        self.with_metadata("client_name", Value::String(name.into()))
    }

    /// `token_endpoint_auth_method`.
    #[must_use]
    pub fn with_auth_method(self, auth: ClientAuth) -> Self {
        self.with_metadata("token_endpoint_auth_method", json!(auth.as_str()))
    }

    /// `jwks`: the client's public keys, for `private_key_jwt`.
    #[must_use]
    pub fn with_jwks(self, jwks: &JwkSet) -> Self {
        let value = serde_json::to_value(jwks).unwrap_or(Value::Null);
        self.with_metadata("jwks", value)
    }

    /// `post_logout_redirect_uris`.
    #[must_use]
    pub fn with_post_logout_redirect_uris(
        self,
        uris: impl IntoIterator<Item = RedirectUri>,
    ) -> Self {
        let uris: Vec<String> = uris.into_iter().map(|u| u.as_str().to_owned()).collect();
        self.with_metadata("post_logout_redirect_uris", json!(uris))
    }

    /// `backchannel_logout_uri`.
    #[must_use]
    pub fn with_backchannel_logout_uri(self, uri: impl Into<String>) -> Self {
        self.with_metadata("backchannel_logout_uri", Value::String(uri.into()))
    }

    /// `frontchannel_logout_uri` and `frontchannel_logout_session_required`
    /// (OpenID Connect Front-Channel Logout 1.0 §2). Register `true` unless
    /// the client is built with
    /// [`OidcClientBuilder::with_frontchannel_logout_session_required`]`(false)`:
    /// by default the route refuses a request without `iss` and `sid`.
    #[must_use]
    pub fn with_frontchannel_logout_uri(
        self,
        uri: impl Into<String>,
        session_required: bool,
    ) -> Self {
        self.with_metadata("frontchannel_logout_uri", Value::String(uri.into()))
            .with_metadata(
                "frontchannel_logout_session_required",
                Value::Bool(session_required),
            )
    }

    /// `scope`: the scopes the client will ask for.
    #[must_use]
    pub fn with_scope(self, scope: impl Into<String>) -> Self {
        self.with_metadata("scope", Value::String(scope.into()))
    }

    /// `response_types`, and the `grant_types` they need (`authorization_code`
    /// for a code, `implicit` for front-channel tokens (an ID token or an access token); `refresh_token` is
    /// kept if set with [`Self::with_metadata`] before).
    #[must_use]
    pub fn with_response_types(mut self, types: impl IntoIterator<Item = ResponseType>) -> Self {
        let types: Vec<ResponseType> = types.into_iter().collect();
        let mut grants: Vec<String> = self
            .metadata
            .get("grant_types")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .filter(|g| *g == "refresh_token")
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if types.iter().any(|t| t.has_code()) {
            grants.push("authorization_code".into());
        }
        if types.iter().any(|t| t.has_id_token() || t.has_token()) {
            grants.push("implicit".into());
        }
        let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
        self.metadata.insert("response_types".into(), json!(names));
        self.metadata.insert("grant_types".into(), json!(grants));
        self
    }

    /// Any other member of the client metadata (`logo_uri`, `contacts`,
    /// `id_token_signed_response_alg`, `application_type`, …).
    #[must_use]
    pub fn with_metadata(mut self, name: impl Into<String>, value: Value) -> Self {
        self.metadata.insert(name.into(), value);
        self
    }

    /// An initial access token (RFC 7591 §3), for providers whose
    /// registration is not open.
    #[must_use]
    pub fn with_initial_access_token(mut self, token: impl Into<String>) -> Self {
        self.initial_access_token = Some(AccessToken::new(token.into()));
        self
    }

    /// The outbound HTTP client (default: [`crate::default_http_client`]).
    #[must_use]
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }
}

/// What the provider returned for a registered client (RFC 7591 §3.2.1):
/// keep it (it is `Serialize`/`Deserialize`; it holds secrets, so store it as
/// you store other credentials) and pass it to
/// [`OidcClientBuilder::with_registration`] on the next start. `Debug` redacts
/// the secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientRegistration {
    /// The issuer the client is registered at.
    pub issuer: String,
    /// `client_id`
    pub client_id: String,
    /// `client_secret`, for confidential clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    /// `client_secret_expires_at` (0: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<UnixTime>,
    /// `client_id_issued_at`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_issued_at: Option<UnixTime>,
    /// RFC 7592 `registration_access_token`: manages this registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<AccessToken>,
    /// RFC 7592 `registration_client_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
    /// Every other member of the answer: the metadata as the provider registered it.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

impl ClientRegistration {
    /// The registered `token_endpoint_auth_method` (`client_secret_basic` when absent, the RFC's default).
    pub fn auth_method(&self) -> Option<ClientAuth> {
        match self
            .metadata
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str)
        {
            Some(m) => ClientAuth::parse(m),
            None => Some(ClientAuth::ClientSecretBasic),
        }
    }

    /// Whether the client secret has expired at `now` (register again, or
    /// update the registration at `registration_client_uri`).
    pub fn secret_expired(&self, now: UnixTime) -> bool {
        self.client_secret_expires_at
            .is_some_and(|at| at != 0 && at <= now)
    }

    fn from_answer(
        issuer: &Issuer,
        mut answer: Map<String, Value>,
    ) -> Result<Self, RegistrationError> {
        let mut take_str = |name: &str| match answer.remove(name) {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let client_id = take_str("client_id")
            .ok_or_else(|| RegistrationError::Malformed("the answer has no client_id".into()))?;
        let client_secret = take_str("client_secret").map(ClientSecret::new);
        let registration_access_token = take_str("registration_access_token").map(AccessToken::new);
        let registration_client_uri = take_str("registration_client_uri");
        let client_secret_expires_at = answer
            .remove("client_secret_expires_at")
            .and_then(|v| v.as_i64());
        let client_id_issued_at = answer
            .remove("client_id_issued_at")
            .and_then(|v| v.as_i64());
        Ok(Self {
            issuer: issuer.as_str().to_owned(),
            client_id,
            client_secret,
            client_secret_expires_at,
            client_id_issued_at,
            registration_access_token,
            registration_client_uri,
            metadata: answer,
        })
    }
}

/// Why a registration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// Fetching the discovery document or sending the request failed.
    #[error("registration request failed: {0}")]
    Http(#[from] HttpError),
    /// The discovery document is unusable (e.g. its issuer differs).
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// The provider offers no `registration_endpoint`: dynamic registration
    /// is off there; register the client by hand.
    #[error("the provider does not offer dynamic client registration (no registration_endpoint)")]
    NotSupported,
    /// The provider refused the request: `invalid_redirect_uri`,
    /// `invalid_client_metadata`, `invalid_software_statement`, or (401/403) a
    /// missing or wrong initial access token.
    #[error("the provider refused the registration ({status}): {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// The answer is not a client information response.
    #[error("the registration answer is malformed: {0}")]
    Malformed(String),
    /// The HTTP client could not be built.
    #[error("{0}")]
    Setting(String),
}

impl OidcClient {
    /// Registers a client at `issuer`'s `registration_endpoint` (found by
    /// discovery, whose `issuer` must match). Call it once, keep the
    /// returned [`ClientRegistration`], and build with
    /// [`OidcClientBuilder::with_registration`] afterwards.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use sesame_rp::{ClientRegistration, OidcClient, RegistrationRequest};
    /// let issuer: sesame_core::Issuer = "https://op.example".parse()?;
    /// let redirect: sesame_core::RedirectUri = "https://app.example/callback".parse()?;
    /// let saved = std::fs::read("registration.json").ok();
    /// let registration: ClientRegistration = match saved {
    ///     Some(bytes) => serde_json::from_slice(&bytes)?,
    ///     None => {
    ///         let r = OidcClient::register(&issuer, RegistrationRequest::new([redirect.clone()])).await?;
    ///         std::fs::write("registration.json", serde_json::to_vec(&r)?)?;
    ///         r
    ///     }
    /// };
    /// let oidc = OidcClient::builder(issuer, registration.client_id.clone())
    ///     .with_registration(&registration)
    ///     .with_redirect_uri(redirect)
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// See [`RegistrationError`].
    #[tracing::instrument(name = "sesame_rp.register", skip_all, fields(issuer = %issuer))]
    pub async fn register(
        issuer: &Issuer,
        request: RegistrationRequest,
    ) -> Result<ClientRegistration, RegistrationError> {
        let http = match request.http {
            Some(h) => h,
            None => default_client().map_err(|e| RegistrationError::Setting(e.to_string()))?,
        };
        let bytes = get_bytes(&http, &discovery_url(issuer)).await?;
        let metadata = sesame_core::ProviderMetadata::from_json(&bytes)?;
        metadata.validate(issuer)?;
        let endpoint = metadata
            .registration_endpoint
            .clone()
            .ok_or(RegistrationError::NotSupported)?;
        let mut post = http
            .post(&endpoint)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&Value::Object(request.metadata));
        if let Some(token) = &request.initial_access_token {
            post = post.bearer_auth(token.secret());
        }
        let response = outbound::send(&endpoint, post).await?;
        let (status, body) = outbound::body(&endpoint, response).await?;
        let parsed: Option<Map<String, Value>> = serde_json::from_slice(&body).ok();
        if !(200..300).contains(&status) {
            let error = parsed
                .as_ref()
                .and_then(|m| m.get("error"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            tracing::warn!(status, error = ?error, "client registration refused");
            return Err(RegistrationError::Refused {
                status,
                error: error.unwrap_or_else(|| "unknown_error".into()),
                description: parsed
                    .as_ref()
                    .and_then(|m| m.get("error_description"))
                    .and_then(Value::as_str)
                    .map(|d| d.chars().take(300).collect()),
            });
        }
        let answer = parsed.ok_or_else(|| {
            RegistrationError::Malformed("the answer is not a JSON object".into())
        })?;
        let registration = ClientRegistration::from_answer(issuer, answer)?;
        tracing::info!(client_id = %registration.client_id, "client registered");
        Ok(registration)
    }
}

impl OidcClientBuilder {
    /// Uses a registration made with [`OidcClient::register`]: its client id,
    /// client secret, authentication method and `userinfo_signed_response_alg`
    /// (see [`OidcClientBuilder::with_userinfo_signing_alg`]). `build()` refuses a
    /// registration made at another issuer. A `private_key_jwt` client still
    /// needs [`OidcClientBuilder::with_private_key`] (after this call).
    #[must_use]
    pub fn with_registration(mut self, registration: &ClientRegistration) -> Self {
        self.set_client_id(&registration.client_id);
        self.registration_issuer = Some(registration.issuer.clone());
        if let Some(secret) = &registration.client_secret {
            self = self.with_client_secret(secret.secret());
        }
        if let Some(auth) = registration.auth_method() {
            self = self.with_auth_method(auth);
        }
        if let Some(alg) = registration
            .metadata
            .get("userinfo_signed_response_alg")
            .and_then(Value::as_str)
            .and_then(sesame_core::JwsAlgorithm::parse)
        {
            self = self.with_userinfo_signing_alg(alg);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn response_types_bring_the_grants_they_need() {
        let redirect: RedirectUri = "https://app.example/cb".parse().unwrap();
        let grants = |t: ResponseType| {
            RegistrationRequest::new([redirect.clone()])
                .with_response_types([t])
                .metadata["grant_types"]
                .clone()
        };
        assert_eq!(grants(ResponseType::Code), json!(["authorization_code"]));
        // `code token` has a front-channel access token: the implicit grant too.
        assert_eq!(
            grants(ResponseType::CodeToken),
            json!(["authorization_code", "implicit"])
        );
        assert_eq!(grants(ResponseType::IdToken), json!(["implicit"]));
    }

    #[test]
    fn front_channel_logout_metadata() {
        let redirect: RedirectUri = "https://app.example/cb".parse().unwrap();
        let m = RegistrationRequest::new([redirect])
            .with_frontchannel_logout_uri("https://app.example/frontchannel-logout", true)
            .metadata;
        assert_eq!(
            m["frontchannel_logout_uri"],
            "https://app.example/frontchannel-logout"
        );
        assert_eq!(m["frontchannel_logout_session_required"], true);
    }
}
