//! The relying party's protocol steps, independent of routes: starting a
//! login, verifying the callback, signing the session in.

mod callback;
mod jarm;
mod sign_in;
mod start;

pub use jarm::JarmError;

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};
use sesame_core::{IdTokenClaims, JwsAlgorithm, JwsError, UnixTime, ValidationError};

use crate::outbound::HttpError;
use crate::provision::LoginClaims;

/// Why a login did not complete. The user is not signed in, and once a fault
/// is seen no further call is made to the provider.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The callback's `state` is unknown here: replayed, expired, from another
    /// browser, or forged.
    #[error("unknown or already used login state")]
    UnknownState,
    /// The provider answered with an error (e.g. `access_denied`, `login_required`).
    #[error("the provider refused the login: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Provider {
        /// The `error` code.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// The callback has no code.
    #[error("the callback carries no authorization code")]
    MissingCode,
    /// RFC 9207: the callback's `iss` is not this provider, or is missing
    /// although the provider advertises it (mix-up attack).
    #[error("the callback's iss parameter is not this provider")]
    IssuerMismatch,
    /// The callback's `state` belongs to a login started for another provider
    /// (mix-up attack): refused before any call to either provider.
    #[error("this login was started for another provider")]
    WrongProvider,
    /// Implicit or hybrid tokens arrived other than by `form_post`.
    #[error("front-channel tokens must arrive by form_post")]
    NotFormPost,
    /// A JWT-secured authorization response (JARM) failed a check, or a
    /// plain one came when JARM was asked for.
    #[error("JWT-secured authorization response refused: {0}")]
    Jarm(JarmError),
    /// An `… token` response type without `access_token`.
    #[error("the response carries no access_token")]
    MissingAccessToken,
    /// The access token is not a Bearer token.
    #[error("token_type is not Bearer")]
    NotBearer,
    /// DPoP was asked for and the token is not DPoP-bound: `token_type` is
    /// Bearer from a provider that advertises DPoP
    /// (`dpop_signing_alg_values_supported`), or another word.
    #[error(
        "DPoP was asked for, and the provider issued a token that is not DPoP-bound (token_type)"
    )]
    NotDpop,
    /// Hybrid flow: the token endpoint's ID token has another `iss` or `sub`
    /// than the front channel's.
    #[error("the token endpoint's ID token is not about the front channel's user")]
    IdTokenMismatch,
    /// The pushed authorization request (RFC 9126) failed.
    #[error("pushed authorization request failed: {0}")]
    Par(HttpError),
    /// The token request failed.
    #[error("token request failed: {0}")]
    Token(HttpError),
    /// The token response has no ID token.
    #[error("the token response has no id_token")]
    MissingIdToken,
    /// The ID token is invalid.
    #[error("invalid ID token: {0}")]
    IdToken(#[from] ValidationError),
    /// The UserInfo request failed.
    #[error("userinfo request failed: {0}")]
    UserInfo(HttpError),
    /// A signed UserInfo answer failed a check (OIDC Core §5.3.2).
    #[error("signed userinfo refused: {0}")]
    SignedUserInfo(SignedUserInfoError),
    /// UserInfo is about another user.
    #[error("userinfo sub differs from the ID token's sub")]
    UserInfoSubMismatch,
    /// The application refused the user (provisioning).
    #[error("this account may not sign in here")]
    Refused,
    /// The application's user store failed.
    #[error("{0}")]
    Users(String),
    /// The session store failed.
    #[error("session error: {0}")]
    Session(String),
    /// Key material or randomness failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a signed UserInfo answer (`application/jwt`, OIDC Core §5.3.2) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignedUserInfoError {
    /// The client expects signed answers (its `userinfo_signed_response_alg`)
    /// and this one came as plain JSON.
    #[error("the answer is not signed, but this client's UserInfo is signed with {0}")]
    Unsigned(JwsAlgorithm),
    /// The JWS is malformed, `alg: none`, an algorithm not allowed for this
    /// client, or its signature does not verify with the provider's keys.
    #[error("{0}")]
    Jws(JwsError),
    /// The `typ` header is neither absent, `JWT` nor `application/jwt`.
    #[error("typ {0:?} is not JWT")]
    Typ(String),
    /// `iss` is present and is not this provider.
    #[error("iss is not this provider")]
    Issuer,
    /// `aud` is present and does not name this client.
    #[error("aud does not name this client")]
    Audience,
}

impl LoginError {
    /// A short, stable name for this failure, for logs and metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownState => "unknown_state",
            Self::Provider { .. } => "provider_error",
            Self::MissingCode => "missing_code",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::WrongProvider => "wrong_provider",
            Self::NotFormPost => "not_form_post",
            Self::Jarm(_) => "jarm",
            Self::Par(_) => "par",
            Self::MissingAccessToken => "missing_access_token",
            Self::NotBearer => "not_bearer",
            Self::NotDpop => "not_dpop",
            Self::IdTokenMismatch => "id_token_mismatch",
            Self::Token(_) => "token_request",
            Self::MissingIdToken => "missing_id_token",
            Self::IdToken(_) => "invalid_id_token",
            Self::UserInfo(_) => "userinfo",
            Self::SignedUserInfo(_) => "signed_userinfo",
            Self::UserInfoSubMismatch => "userinfo_sub_mismatch",
            Self::Refused => "refused",
            Self::Users(_) => "users",
            Self::Session(_) => "session",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<tower_sessions::session::Error> for LoginError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Session(e.to_string())
    }
}

/// A token endpoint answer (RFC 6749 §5.1). Its `Debug` never shows a token.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
    #[serde(default)]
    pub(crate) expires_in: Option<Value>,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
}

impl TokenResponse {
    /// `expires_in`, clamped to `0..=MAX_EXPIRES_IN` (REVIEW S17: a provider's
    /// number never overflows the session's arithmetic).
    pub(crate) fn expires_in_seconds(&self) -> Option<i64> {
        let raw = match &self.expires_in {
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_u64().map(|_| i64::MAX))
                .or_else(|| n.as_f64().map(|f| f as i64)),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        raw.map(clamp_expires_in)
    }
}

/// The longest access-token lifetime believed: one year.
pub(crate) const MAX_EXPIRES_IN: i64 = 365 * 24 * 3600;

pub(crate) fn clamp_expires_in(seconds: i64) -> i64 {
    seconds.clamp(0, MAX_EXPIRES_IN)
}

/// When a token given `expires_in` seconds at `now` expires (saturating).
pub(crate) fn expires_at(now: UnixTime, expires_in: i64) -> UnixTime {
    now.saturating_add(clamp_expires_in(expires_in))
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Why a callback failed, and whether it was a silent (`prompt=none`)
/// re-authentication, whose failure ends the local session.
#[derive(Debug)]
pub(crate) struct CallbackError {
    pub(crate) error: LoginError,
    pub(crate) silent: bool,
}

impl CallbackError {
    pub(crate) fn new(error: LoginError, silent: bool) -> Self {
        Self { error, silent }
    }
}

/// What a verified callback yields, before the application's users and the
/// session are touched.
pub(crate) struct Verified {
    pub(crate) login: LoginClaims,
    pub(crate) sid: Option<String>,
    pub(crate) id_token: String,
    pub(crate) id_token_iat: i64,
    pub(crate) access_token: String,
    pub(crate) access_expires_at: Option<i64>,
    pub(crate) refresh_token: Option<String>,
    /// The access token's DPoP binding (none: a bearer token).
    pub(crate) dpop: Option<crate::dpop::SessionDpop>,
    pub(crate) next: String,
    /// Aggregated and distributed claims, apart from `login.claims`.
    pub(crate) external: crate::external::External,
}

fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

fn expires_in_param(value: Option<&str>) -> Option<i64> {
    value
        .and_then(|v| v.parse::<i64>().ok())
        .map(clamp_expires_in)
}

/// The ID token's claims as a JSON map.
pub(crate) fn claims_map(claims: &IdTokenClaims) -> Map<String, Value> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn response(json: serde_json::Value) -> TokenResponse {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn hostile_expires_in_is_clamped_and_never_overflows() {
        for hostile in [
            serde_json::json!(9_223_372_036_854_775_807_i64),
            serde_json::json!(18_446_744_073_709_551_615_u64),
            serde_json::json!("9223372036854775807"),
            serde_json::json!(1e300),
        ] {
            let t = response(serde_json::json!({"access_token": "a", "expires_in": hostile}));
            let e = t.expires_in_seconds().unwrap();
            assert_eq!(e, MAX_EXPIRES_IN, "{hostile}");
            assert_eq!(expires_at(i64::MAX - 5, e), i64::MAX);
        }
        let t = response(serde_json::json!({"access_token": "a", "expires_in": -5}));
        assert_eq!(t.expires_in_seconds(), Some(0));
        assert_eq!(
            expires_in_param(Some("9223372036854775807")),
            Some(MAX_EXPIRES_IN)
        );
        assert_eq!(expires_at(1000, 3600), 4600);
    }

    #[test]
    fn token_response_debug_shows_no_token() {
        let t = response(serde_json::json!({
            "access_token": "AT-secret", "refresh_token": "RT-secret",
            "id_token": "IDT-secret", "token_type": "Bearer", "expires_in": 60
        }));
        let shown = format!("{t:?}");
        for secret in ["AT-secret", "RT-secret", "IDT-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("Bearer"));
    }
}
