//! One newtype per word of the specifications.
//!
//! Plain identifiers ([`ClientId`], [`Subject`], [`State`] …) print as
//! themselves. Secrets ([`ClientSecret`], [`AccessToken`] …) print
//! `[redacted]` in `Debug`, have no `Display`, compare in constant time and
//! are wiped from memory when dropped.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use subtle::ConstantTimeEq;
use url::Url;

use crate::random::{self, RandomError};

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value received or configured elsewhere.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The inner string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// `Debug` prints `[redacted]`; equality is constant-time; the value
        /// is zeroed on drop.
        #[derive(Clone, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself. Every call site is a place where it could leak:
            /// send it, hash it or compare it, never log it.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
            }
        }

        impl Eq for $name {}
    };
}

string_newtype!(
    /// An OAuth client identifier (RFC 6749 §2.2).
    ClientId
);
string_newtype!(
    /// The `sub` claim: the provider's identifier for the end-user, unique
    /// only within one issuer (so always keyed together with an [`Issuer`]).
    Subject
);
string_newtype!(
    /// The `sid` claim: the provider's session identifier (Front-/Back-Channel Logout).
    SessionId
);
string_newtype!(
    /// A JWT `jti` (JWT ID).
    JwtId
);
string_newtype!(
    /// A JWK `kid` (key ID).
    KeyId
);
string_newtype!(
    /// The `state` parameter (RFC 6749 §4.1.1): binds a callback to the request that started it.
    State
);
string_newtype!(
    /// The `nonce` parameter and claim (OIDC Core §3.1.2.1): binds an ID token to a login.
    Nonce
);
string_newtype!(
    /// A PKCE `code_challenge` (RFC 7636 §4.2).
    CodeChallenge
);

impl State {
    /// A fresh random state (256 bits).
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn random() -> Result<Self, RandomError> {
        random::token().map(Self)
    }
}

impl Nonce {
    /// A fresh random nonce (256 bits).
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn random() -> Result<Self, RandomError> {
        random::token().map(Self)
    }
}

secret_newtype!(
    /// A client secret (RFC 6749 §2.3.1).
    ClientSecret
);
secret_newtype!(
    /// An authorization code (RFC 6749 §4.1.2).
    AuthorizationCode
);
secret_newtype!(
    /// An access token (RFC 6749 §1.4).
    AccessToken
);
secret_newtype!(
    /// A refresh token (RFC 6749 §1.5).
    RefreshToken
);
secret_newtype!(
    /// A PKCE `code_verifier` (RFC 7636 §4.1).
    CodeVerifier
);
secret_newtype!(
    /// A serialized ID token (a JWS). Treated as a secret: it is a bearer credential
    /// at some providers' end-session endpoints.
    IdTokenJwt
);

impl AuthorizationCode {
    /// A fresh random code (256 bits).
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn random() -> Result<Self, RandomError> {
        random::token().map(Self)
    }
}

impl AccessToken {
    /// A fresh random opaque token (256 bits).
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn random() -> Result<Self, RandomError> {
        random::token().map(Self)
    }
}

impl RefreshToken {
    /// A fresh random opaque token (256 bits).
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn random() -> Result<Self, RandomError> {
        random::token().map(Self)
    }
}

impl ClientSecret {
    /// A fresh random secret (256 bits), as a provider issues at registration.
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn random() -> Result<Self, RandomError> {
        random::token().map(Self)
    }
}

/// Why a URL-valued parameter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not an absolute URL.
    #[error("not an absolute URL: {0}")]
    Unparsable(String),
    /// A scheme other than `https` (or `http`, where allowed).
    #[error("the URL scheme must be https (or http): {0}")]
    Scheme(String),
    /// A fragment, which these URLs must not carry.
    #[error("the URL must not contain a fragment: {0}")]
    Fragment(String),
    /// A query, which an issuer must not carry.
    #[error("the issuer must not contain a query: {0}")]
    Query(String),
    /// User information (`user:pass@`) in the URL.
    #[error("the URL must not contain user information: {0}")]
    UserInfo(String),
}

/// Parses `value` as an absolute URL that carries neither a fragment nor
/// user information (none of the URL newtypes may).
fn parse_plain(value: &str) -> Result<Url, UrlError> {
    let url = Url::parse(value).map_err(|_| UrlError::Unparsable(value.to_owned()))?;
    if url.fragment().is_some() || value.contains('#') {
        return Err(UrlError::Fragment(value.to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::UserInfo(value.to_owned()));
    }
    Ok(url)
}

/// `Debug` (`Name("value")`), `Display` (the value), and `Deserialize` and
/// `FromStr` through `Name::new`, which checks the URL: for the URL newtypes.
macro_rules! checked_url_impls {
    ($name:ident) => {
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = UrlError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}

/// The provider's issuer identifier (OIDC Discovery §3): an `https` (or `http`,
/// for development on loopback) URL with no query or fragment.
///
/// Compared as an exact string, never normalised: `https://op.example/` and
/// `https://op.example` are different issuers, as OIDC Core §3.1.3.7 requires.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Issuer(String);

impl Issuer {
    /// Checks and wraps an issuer identifier.
    ///
    /// ```
    /// use sesame_core::Issuer;
    /// assert!(Issuer::new("https://accounts.example.com").is_ok());
    /// assert!(Issuer::new("https://op.example/?tenant=1").is_err());
    /// ```
    ///
    /// # Errors
    /// When the value is not an absolute http(s) URL, or carries a query,
    /// fragment or user information.
    pub fn new(value: impl Into<String>) -> Result<Self, UrlError> {
        let value = value.into();
        let url = parse_plain(&value)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(UrlError::Scheme(value));
        }
        if url.query().is_some() || value.contains('?') {
            return Err(UrlError::Query(value));
        }
        Ok(Self(value))
    }

    /// The issuer exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Joins an endpoint path onto the issuer (`https://op/t` + `/token` →
    /// `https://op/t/token`), with exactly one slash between them.
    pub fn join(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.0.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }
}

checked_url_impls!(Issuer);

/// A redirection endpoint (RFC 6749 §3.1.2): an absolute URL without a fragment.
///
/// Registered and requested redirect URIs are compared as exact strings
/// (OAuth 2.0 Security BCP §4.1.3) — no normalisation, no prefix matching.
/// Custom schemes (`com.example.app:/cb`) are accepted for native apps.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Checks and wraps a redirect URI.
    ///
    /// ```
    /// use sesame_core::RedirectUri;
    /// assert!(RedirectUri::new("https://app.example/callback").is_ok());
    /// assert!(RedirectUri::new("/callback").is_err());
    /// assert!(RedirectUri::new("https://app.example/cb#frag").is_err());
    /// ```
    ///
    /// # Errors
    /// When the value is not an absolute URL or carries a fragment or user information.
    pub fn new(value: impl Into<String>) -> Result<Self, UrlError> {
        let value = value.into();
        let url = parse_plain(&value)?;
        if matches!(url.scheme(), "javascript" | "data" | "file" | "vbscript") {
            return Err(UrlError::Scheme(value));
        }
        if matches!(url.scheme(), "http" | "https") && url.host_str().is_none_or(str::is_empty) {
            return Err(UrlError::Unparsable(value));
        }
        Ok(Self(value))
    }

    /// The URI exactly as registered or requested.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parsed form, for appending query or fragment parameters.
    ///
    /// # Errors
    /// Never for a value built by [`RedirectUri::new`]; kept fallible for safety.
    pub fn to_url(&self) -> Result<Url, UrlError> {
        Url::parse(&self.0).map_err(|_| UrlError::Unparsable(self.0.clone()))
    }
}

checked_url_impls!(RedirectUri);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let secret = ClientSecret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
        assert_eq!(
            format!("{:?}", AccessToken::new("tok")),
            "AccessToken([redacted])"
        );
        assert_eq!(secret.secret(), "hunter2");
    }

    #[test]
    fn secrets_compare_by_value() {
        assert_eq!(ClientSecret::new("a"), ClientSecret::new("a"));
        assert_ne!(ClientSecret::new("a"), ClientSecret::new("b"));
        assert_ne!(ClientSecret::new("a"), ClientSecret::new("ab"));
    }

    #[test]
    fn issuer_rules() {
        assert!(Issuer::new("https://op.example").is_ok());
        assert!(Issuer::new("http://127.0.0.1:8000").is_ok());
        assert!(Issuer::new("https://login.example/tenant/v2.0").is_ok());
        assert_eq!(
            Issuer::new("ftp://op.example"),
            Err(UrlError::Scheme("ftp://op.example".into()))
        );
        assert!(matches!(
            Issuer::new("https://op.example/#x"),
            Err(UrlError::Fragment(_))
        ));
        assert!(matches!(
            Issuer::new("https://op.example?x=1"),
            Err(UrlError::Query(_))
        ));
        assert!(matches!(
            Issuer::new("https://u:p@op.example"),
            Err(UrlError::UserInfo(_))
        ));
        assert!(matches!(
            Issuer::new("op.example"),
            Err(UrlError::Unparsable(_))
        ));
        // Exact comparison: a trailing slash is a different issuer.
        assert_ne!(
            Issuer::new("https://op.example").unwrap(),
            Issuer::new("https://op.example/").unwrap()
        );
    }

    #[test]
    fn issuer_join() {
        let iss = Issuer::new("https://op.example/t/").unwrap();
        assert_eq!(iss.join("/token"), "https://op.example/t/token");
        let iss = Issuer::new("https://op.example").unwrap();
        assert_eq!(iss.join("token"), "https://op.example/token");
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(RedirectUri::new("https://app.example/cb?x=1").is_ok());
        assert!(RedirectUri::new("com.example.app:/oauth2redirect").is_ok());
        assert!(RedirectUri::new("http://127.0.0.1:3000/callback").is_ok());
        assert!(matches!(
            RedirectUri::new("https://app.example/cb#f"),
            Err(UrlError::Fragment(_))
        ));
        assert!(matches!(
            RedirectUri::new("javascript:alert(1)"),
            Err(UrlError::Scheme(_))
        ));
        assert!(RedirectUri::new("/relative").is_err());
        assert!(RedirectUri::new("").is_err());
        assert!(serde_json::from_str::<RedirectUri>("\"nope\"").is_err());
    }

    #[test]
    fn random_values_differ() {
        assert_ne!(State::random().unwrap(), State::random().unwrap());
        assert_ne!(Nonce::random().unwrap(), Nonce::random().unwrap());
    }
}
