//! OAuth 2.0 and OpenID Connect error codes, with their wire form.
//!
//! One enum for all of RFC 6749 §4.1.2.1 (authorization endpoint) and §5.2
//! (token endpoint), RFC 6750 §3 (protected resources), OIDC Core §3.1.2.6,
//! RFC 7591 §3.2.2 (registration), RFC 7009 §2.2.1 (revocation) and RFC 8707
//! (resource indicators).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An error code as it appears in the `error` parameter.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client` (token endpoint: answered with 401 and `WWW-Authenticate`)
    InvalidClient,
    /// `invalid_grant`
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `unsupported_response_type`
    UnsupportedResponseType,
    /// `invalid_scope`
    InvalidScope,
    /// `access_denied`
    AccessDenied,
    /// `server_error`
    ServerError,
    /// `temporarily_unavailable`
    TemporarilyUnavailable,
    /// `invalid_token` (RFC 6750)
    InvalidToken,
    /// `insufficient_scope` (RFC 6750)
    InsufficientScope,
    /// `interaction_required` (OIDC)
    InteractionRequired,
    /// `login_required` (OIDC)
    LoginRequired,
    /// `account_selection_required` (OIDC)
    AccountSelectionRequired,
    /// `consent_required` (OIDC)
    ConsentRequired,
    /// `invalid_request_uri` (OIDC)
    InvalidRequestUri,
    /// `invalid_request_object` (OIDC)
    InvalidRequestObject,
    /// `invalid_dpop_proof` (RFC 9449)
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449)
    UseDpopNonce,
    /// `request_not_supported` (OIDC)
    RequestNotSupported,
    /// `request_uri_not_supported` (OIDC)
    RequestUriNotSupported,
    /// `registration_not_supported` (OIDC)
    RegistrationNotSupported,
    /// `invalid_redirect_uri` (RFC 7591)
    InvalidRedirectUri,
    /// `invalid_client_metadata` (RFC 7591)
    InvalidClientMetadata,
    /// `unsupported_token_type` (RFC 7009)
    UnsupportedTokenType,
    /// `invalid_target` (RFC 8707)
    InvalidTarget,
    /// `authorization_pending` (RFC 8628 §3.5): the user has not answered yet
    AuthorizationPending,
    /// `slow_down` (RFC 8628 §3.5): poll less often (the interval grows by 5 s)
    SlowDown,
    /// `expired_token` (RFC 8628 §3.5): the device code expired
    ExpiredToken,
    /// Any other code a peer sent.
    Other(String),
}

impl ErrorCode {
    /// The wire form.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InteractionRequired => "interaction_required",
            Self::LoginRequired => "login_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::ConsentRequired => "consent_required",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidTarget => "invalid_target",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::Other(code) => code,
        }
    }

    /// Parses a wire code; unknown codes become [`ErrorCode::Other`].
    pub fn parse(value: &str) -> Self {
        match value {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "unsupported_response_type" => Self::UnsupportedResponseType,
            "invalid_scope" => Self::InvalidScope,
            "access_denied" => Self::AccessDenied,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "invalid_token" => Self::InvalidToken,
            "insufficient_scope" => Self::InsufficientScope,
            "interaction_required" => Self::InteractionRequired,
            "login_required" => Self::LoginRequired,
            "account_selection_required" => Self::AccountSelectionRequired,
            "consent_required" => Self::ConsentRequired,
            "invalid_request_uri" => Self::InvalidRequestUri,
            "invalid_request_object" => Self::InvalidRequestObject,
            "invalid_dpop_proof" => Self::InvalidDpopProof,
            "use_dpop_nonce" => Self::UseDpopNonce,
            "request_not_supported" => Self::RequestNotSupported,
            "request_uri_not_supported" => Self::RequestUriNotSupported,
            "registration_not_supported" => Self::RegistrationNotSupported,
            "invalid_redirect_uri" => Self::InvalidRedirectUri,
            "invalid_client_metadata" => Self::InvalidClientMetadata,
            "unsupported_token_type" => Self::UnsupportedTokenType,
            "invalid_target" => Self::InvalidTarget,
            "authorization_pending" => Self::AuthorizationPending,
            "slow_down" => Self::SlowDown,
            "expired_token" => Self::ExpiredToken,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The HTTP status for this error in a direct (non-redirect) response:
    /// RFC 6749 §5.2 (400, or 401 for `invalid_client`), RFC 6750 §3.1
    /// (401 `invalid_token`, 403 `insufficient_scope`), 500/503 for the
    /// server's own failures.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }

    /// Whether this is one of the OIDC codes that tell a `prompt=none` caller
    /// the user must interact (OIDC Core §3.1.2.6).
    pub fn requires_interaction(&self) -> bool {
        matches!(
            self,
            Self::InteractionRequired
                | Self::LoginRequired
                | Self::AccountSelectionRequired
                | Self::ConsentRequired
        )
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorCode({})", self.as_str())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Ok(Self::parse(&value))
    }
}

/// An error response body (RFC 6749 §5.2) or set of redirect parameters
/// (§4.1.2.1, with `state` and RFC 9207 `iss`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The code.
    pub error: ErrorCode,
    /// Human-readable detail for the developer; never a secret or internal detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// A page about the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
    /// The request's `state`, echoed on redirects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The issuer, on redirects (RFC 9207).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

impl ErrorResponse {
    /// An error with a description.
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: Some(description.into()),
            error_uri: None,
            state: None,
            iss: None,
        }
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error_description {
            Some(d) => write!(f, "{}: {d}", self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

impl std::error::Error for ErrorResponse {}

/// Error description characters allowed by RFC 6749 §4.1.2.1 (`%x20-21 /
/// %x23-5B / %x5D-7E`); others are replaced with a space so a description
/// can never break out of a header or parameter.
pub fn sanitize_description(value: &str) -> String {
    value
        .chars()
        .map(|c| match c as u32 {
            0x20 | 0x21 | 0x23..=0x5B | 0x5D..=0x7E => c,
            _ => ' ',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_code() {
        let all = [
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidClient,
            ErrorCode::InvalidGrant,
            ErrorCode::UnauthorizedClient,
            ErrorCode::UnsupportedGrantType,
            ErrorCode::UnsupportedResponseType,
            ErrorCode::InvalidScope,
            ErrorCode::AccessDenied,
            ErrorCode::ServerError,
            ErrorCode::TemporarilyUnavailable,
            ErrorCode::InvalidToken,
            ErrorCode::InsufficientScope,
            ErrorCode::InteractionRequired,
            ErrorCode::LoginRequired,
            ErrorCode::AccountSelectionRequired,
            ErrorCode::ConsentRequired,
            ErrorCode::InvalidRequestUri,
            ErrorCode::InvalidRequestObject,
            ErrorCode::InvalidDpopProof,
            ErrorCode::UseDpopNonce,
            ErrorCode::RequestNotSupported,
            ErrorCode::RequestUriNotSupported,
            ErrorCode::RegistrationNotSupported,
            ErrorCode::InvalidRedirectUri,
            ErrorCode::InvalidClientMetadata,
            ErrorCode::UnsupportedTokenType,
            ErrorCode::InvalidTarget,
            ErrorCode::AuthorizationPending,
            ErrorCode::SlowDown,
            ErrorCode::ExpiredToken,
        ];
        for code in all {
            assert_eq!(ErrorCode::parse(code.as_str()), code);
            assert!(!matches!(
                ErrorCode::parse(code.as_str()),
                ErrorCode::Other(_)
            ));
        }
        assert_eq!(
            ErrorCode::parse("vendor_thing"),
            ErrorCode::Other("vendor_thing".into())
        );
    }

    #[test]
    fn statuses_follow_the_rfcs() {
        assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(ErrorCode::InvalidGrant.http_status(), 400);
        assert_eq!(ErrorCode::InvalidToken.http_status(), 401);
        assert_eq!(ErrorCode::InsufficientScope.http_status(), 403);
    }

    #[test]
    fn response_wire_form() {
        let mut r = ErrorResponse::new(ErrorCode::InvalidGrant, "code expired");
        r.state = Some("xyz".into());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": "invalid_grant", "error_description": "code expired", "state": "xyz"})
        );
        let back: ErrorResponse = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn descriptions_are_sanitized() {
        assert_eq!(sanitize_description("a\"b\\c\nd"), "a b c d");
    }
}
