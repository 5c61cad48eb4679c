//! The device authorization grant (RFC 8628) for CLIs and devices without a
//! browser: [`DeviceAuthorization::start`] asks the provider for a user code,
//! the program shows it with the verification URI, and
//! [`DeviceAuthorization::poll`] waits for the user's answer, honouring the
//! provider's `interval` and each `slow_down`.
//!
//! The tokens are checked as any token response of the code flow: a Bearer
//! token type, and the ID token (when `openid` was asked for) validated with
//! the client's validator — signature by the issuer's JWKS, the algorithm
//! allowlist, `iss`, `aud`/`azp`, `exp`/`iat`, and `at_hash` when present.
//!
//! ```no_run
//! # async fn demo(client: sesame_rp::OidcClient) -> Result<(), sesame_rp::DeviceError> {
//! let mut device = sesame_rp::DeviceAuthorization::start(&client, "openid profile").await?;
//! println!("Open {} and enter {}", device.verification_uri(), device.user_code());
//! let tokens = device.poll().await?;
//! println!("signed in as {}", tokens.id_token.as_ref().map_or("?", |t| t.claims.sub.as_str()));
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use sesame_core::{AccessToken, ErrorCode, ErrorResponse, Expected, UnixTime, ValidatedIdToken};

use crate::client::OidcClient;
use crate::flow::{LoginError, expires_at};
use crate::outbound::HttpError;

/// The device grant's `grant_type`.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.2: the interval when the provider gives none.
const DEFAULT_INTERVAL: u64 = 5;
/// RFC 8628 §3.5: what each `slow_down` adds.
const SLOW_DOWN_STEP: u64 = 5;
/// The longest interval believed (a provider's number never stalls the
/// program for hours).
const MAX_INTERVAL: u64 = 300;

/// Why the device flow failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The provider advertises no `device_authorization_endpoint`.
    #[error("the provider has no device authorization endpoint")]
    NotSupported,
    /// The user denied the request (`access_denied`).
    #[error("the user denied the request")]
    Denied,
    /// The device code expired before the user answered (`expired_token`,
    /// or `expires_in` passed).
    #[error("the device code expired before the user answered")]
    Expired,
    /// Another error from the provider.
    #[error("the provider answered {error}")]
    Provider {
        /// The `error` code.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// The request failed, or the answer was not what RFC 8628 says.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The tokens failed the checks (not Bearer, a bad ID token …).
    #[error("the tokens were refused: {0}")]
    Tokens(#[from] LoginError),
}

/// The tokens of an approved device authorization. `Debug` shows no token.
#[non_exhaustive]
pub struct DeviceTokens {
    /// The access token.
    pub access_token: String,
    /// When it expires, if the provider said.
    pub access_expires_at: Option<UnixTime>,
    /// The refresh token (with `offline_access`).
    pub refresh_token: Option<String>,
    /// The validated ID token (when `openid` was asked for).
    pub id_token: Option<ValidatedIdToken>,
    /// The ID token as received.
    pub raw_id_token: Option<String>,
}

impl fmt::Debug for DeviceTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceTokens")
            .field("access_token", &"[redacted]")
            .field("access_expires_at", &self.access_expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "sub",
                &self.id_token.as_ref().map(|t| t.claims.sub.as_str()),
            )
            .finish_non_exhaustive()
    }
}

/// What one poll found.
#[derive(Debug)]
#[non_exhaustive]
pub enum DevicePoll {
    /// The user has not answered yet (`authorization_pending`).
    Pending,
    /// Too fast (`slow_down`): the interval grew by 5 seconds.
    SlowDown,
    /// The user allowed it.
    Tokens(Box<DeviceTokens>),
}

#[derive(Deserialize)]
struct DeviceResponse {
    device_code: String,
    user_code: String,
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    expires_in: i64,
    #[serde(default)]
    interval: Option<u64>,
}

/// A started device authorization: the user code to show, and the device
/// code to poll with (never shown: `Debug` redacts it).
pub struct DeviceAuthorization {
    client: OidcClient,
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_at: UnixTime,
    interval: u64,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("provider", &self.client.name())
            .field("device_code", &"[redacted]")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .finish()
    }
}

impl DeviceAuthorization {
    /// Asks the provider's device authorization endpoint for a user code,
    /// for `scope` (`openid` is added when missing), with the client's
    /// authentication (a public client sends its `client_id`).
    ///
    /// # Errors
    /// [`DeviceError::NotSupported`] without the endpoint; the provider's
    /// error (e.g. `unauthorized_client`); a transport failure or a
    /// malformed answer.
    pub async fn start(client: &OidcClient, scope: &str) -> Result<Self, DeviceError> {
        let metadata = client.fresh_metadata().await;
        let Some(endpoint) = metadata.device_authorization_endpoint.clone() else {
            return Err(DeviceError::NotSupported);
        };
        let scope = if scope.split(' ').any(|s| s == "openid") {
            scope.to_owned()
        } else {
            format!("openid {scope}").trim().to_owned()
        };
        let answer: DeviceResponse = client
            .authenticated_post(&endpoint, &[("scope", &scope)])
            .await
            .map_err(provider_error)?;
        if answer.device_code.is_empty() || answer.user_code.is_empty() {
            return Err(DeviceError::Http(HttpError::Json {
                url: endpoint,
                message: "empty device_code or user_code".into(),
            }));
        }
        Ok(Self {
            client: client.clone(),
            device_code: answer.device_code,
            user_code: answer.user_code,
            verification_uri: answer.verification_uri,
            verification_uri_complete: answer.verification_uri_complete,
            expires_at: expires_at(client.now(), answer.expires_in),
            interval: answer
                .interval
                .unwrap_or(DEFAULT_INTERVAL)
                .clamp(1, MAX_INTERVAL),
        })
    }

    /// The code the user types.
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// Where the user types it.
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// The verification URI with the code filled in (for a QR code or a
    /// link), when the provider gives one.
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }

    /// The seconds to wait between polls (it grows at each `slow_down`).
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval)
    }

    /// When the device code expires.
    pub fn expires_at(&self) -> UnixTime {
        self.expires_at
    }

    /// Polls until the user answers: waits [`DeviceAuthorization::interval`]
    /// before each request, and 5 s more after each `slow_down`.
    ///
    /// # Errors
    /// [`DeviceError::Denied`], [`DeviceError::Expired`], another provider
    /// error, or tokens that fail the checks.
    pub async fn poll(&mut self) -> Result<DeviceTokens, DeviceError> {
        loop {
            if self.client.now() >= self.expires_at {
                return Err(DeviceError::Expired);
            }
            tokio::time::sleep(self.interval()).await;
            if let DevicePoll::Tokens(t) = self.poll_once().await? {
                return Ok(*t);
            }
        }
    }

    /// One request to the token endpoint, now (no waiting: the caller keeps
    /// to [`DeviceAuthorization::interval`]).
    ///
    /// # Errors
    /// As [`DeviceAuthorization::poll`].
    pub async fn poll_once(&mut self) -> Result<DevicePoll, DeviceError> {
        let answer = self
            .client
            .token_request(&[
                ("grant_type", DEVICE_GRANT),
                ("device_code", self.device_code.as_str()),
            ])
            .await;
        let tokens = match answer.map_err(provider_error) {
            Ok(t) => t,
            Err(DeviceError::Provider { error, .. }) if error == "authorization_pending" => {
                return Ok(DevicePoll::Pending);
            }
            Err(DeviceError::Provider { error, .. }) if error == "slow_down" => {
                self.interval = (self.interval + SLOW_DOWN_STEP).min(MAX_INTERVAL);
                return Ok(DevicePoll::SlowDown);
            }
            Err(e) => return Err(e),
        };
        if tokens
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(LoginError::NotBearer.into());
        }
        let now = self.client.now();
        let access = AccessToken::new(tokens.access_token.clone());
        let id_token = match &tokens.id_token {
            Some(raw) => {
                let expected = Expected {
                    access_token: Some(&access),
                    ..Expected::default()
                };
                Some(self.client.validate_id_token(raw, &expected).await?)
            }
            None => None,
        };
        Ok(DevicePoll::Tokens(Box::new(DeviceTokens {
            access_expires_at: tokens.expires_in_seconds().map(|e| expires_at(now, e)),
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            id_token,
            raw_id_token: tokens.id_token,
        })))
    }
}

/// A 400 with an OAuth error body becomes the provider's error (and the
/// RFC 8628 ones their own variants).
fn provider_error(e: HttpError) -> DeviceError {
    let HttpError::Status { body, status, .. } = &e else {
        return DeviceError::Http(e);
    };
    if !(400..500).contains(status) {
        return DeviceError::Http(e);
    }
    let Ok(parsed) = serde_json::from_str::<ErrorResponse>(body) else {
        return DeviceError::Http(e);
    };
    match parsed.error {
        ErrorCode::AccessDenied => DeviceError::Denied,
        ErrorCode::ExpiredToken => DeviceError::Expired,
        other => DeviceError::Provider {
            error: other.as_str().to_owned(),
            description: parsed.error_description,
        },
    }
}
