//! Aggregated and distributed claims (OpenID Connect Core 1.0 §5.6.2): a
//! provider's ID token or userinfo answer may point (`_claim_names`,
//! `_claim_sources`) to claims held by other claims providers, as a signed
//! JWT carried along (aggregated) or at an endpoint to fetch (distributed).
//!
//! Only the claims providers configured with
//! [`OidcClientBuilder::with_claims_source`] are believed: the JWT's `iss` must
//! be one of them and its signature must verify with that source's keys; a
//! distributed endpoint is fetched only when it belongs to a configured source.
//! Verified claims are kept apart from the provider's own claims
//! ([`crate::Claims::external`]); `_claim_names` and `_claim_sources` (which
//! may carry access tokens) never reach the main set.

mod resolve;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::claims_source::ClaimsSource;

use crate::builder::OidcClientBuilder;

/// Most sources one login resolves (the rest are refused as
/// [`ExternalRefusal::TooMany`]).
pub const MAX_CLAIM_SOURCES: usize = 8;
/// Most claim names taken from one `_claim_names`.
pub const MAX_CLAIM_NAMES: usize = 64;
/// Most distributed endpoints fetched for one login.
pub const MAX_DISTRIBUTED_FETCHES: usize = 4;
/// Largest answer taken from a distributed endpoint (64 KiB).
pub const MAX_DISTRIBUTED_RESPONSE: usize = 64 * 1024;
/// How long one distributed fetch (or one source's key fetch) may take.
pub const CLAIM_SOURCE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long resolving every external claim of one login may take in all.
pub const EXTERNAL_CLAIMS_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// How external claims arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExternalKind {
    /// A JWT inside the provider's response (`"JWT"` in `_claim_sources`).
    Aggregated,
    /// Fetched from the source's `endpoint`.
    Distributed,
}

/// Claims of one source, verified: signed by a configured [`ClaimsSource`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExternalClaims {
    /// The source's name in `_claim_sources` (the provider's label, e.g. `src1`).
    pub source: String,
    /// The claims provider that signed them (its `iss`, a configured source).
    pub issuer: String,
    /// Aggregated or distributed.
    pub kind: ExternalKind,
    /// The claims `_claim_names` assigns to this source, as the JWT has them.
    pub claims: Map<String, Value>,
}

/// Why the claims of a source were not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExternalRefusal {
    /// `_claim_sources` entry unusable (neither `JWT` nor `endpoint`), or the
    /// JWT is not a signed JWT of a JSON object.
    #[error("malformed claim source")]
    Malformed,
    /// The JWT's `iss` is no configured claims source (or not the one whose
    /// endpoint answered).
    #[error("the claims are from an unknown source")]
    UnknownSource,
    /// The signature does not verify with the source's keys (or its `alg` is not allowed).
    #[error("the claims' signature does not verify")]
    BadSignature,
    /// The JWT has expired (`exp`).
    #[error("the claims JWT has expired")]
    Expired,
    /// The JWT's `aud` does not name this client.
    #[error("the claims JWT is for another audience")]
    WrongAudience,
    /// The distributed endpoint belongs to no configured source.
    #[error("the distributed endpoint belongs to no configured source")]
    EndpointNotAllowed,
    /// The distributed endpoint failed, or answered something too large.
    #[error("the distributed endpoint failed")]
    FetchFailed,
    /// The source's keys could not be fetched.
    #[error("the source's keys could not be fetched")]
    KeysUnavailable,
    /// Over [`MAX_CLAIM_SOURCES`] or [`MAX_DISTRIBUTED_FETCHES`].
    #[error("too many claim sources")]
    TooMany,
    /// Past [`CLAIM_SOURCE_TIMEOUT`] or [`EXTERNAL_CLAIMS_DEADLINE`].
    #[error("the claim source took too long")]
    Timeout,
}

/// A source whose claims were not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RefusedClaims {
    /// The source's name in `_claim_sources`.
    pub source: String,
    /// Why.
    pub reason: ExternalRefusal,
}

/// The external claims of a session: verified ones, and refused sources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct External {
    #[serde(default)]
    pub(crate) verified: Vec<ExternalClaims>,
    #[serde(default)]
    pub(crate) refused: Vec<RefusedClaims>,
}

/// `_claim_names` and `_claim_sources` of one response (ID token or userinfo).
#[derive(Debug, Default)]
pub(crate) struct References {
    names: Map<String, Value>,
    sources: Map<String, Value>,
}

/// Takes `_claim_names` and `_claim_sources` out of `claims`, always, so that
/// neither an unverified pointer nor a source's access token is kept in the
/// main set. `None` when there were none.
pub(crate) fn take_references(claims: &mut Map<String, Value>) -> Option<References> {
    let names = claims.remove("_claim_names");
    let sources = claims.remove("_claim_sources");
    if names.is_none() && sources.is_none() {
        return None;
    }
    let object = |v: Option<Value>| match v {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    Some(References {
        names: object(names),
        sources: object(sources),
    })
}

impl OidcClientBuilder {
    /// Trusts a claims provider for aggregated and distributed claims: JWTs
    /// whose `iss` is its issuer, verified with its keys, and distributed
    /// endpoints on its origin (or the endpoints it names). Repeat for several.
    /// Without any, external claims are refused ([`crate::Claims::refused_external`]).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use sesame_rp::{ClaimsSource, OidcClient};
    /// let oidc = OidcClient::builder("https://op.example".parse()?, "app")
    ///     .with_client_secret("secret")
    ///     .with_redirect_uri("https://app.example/callback".parse()?)
    ///     // keys from its discovery document
    ///     .with_claims_source(ClaimsSource::discovered("https://claims.example".parse()?))
    ///     // or from a JWKS URL
    ///     .with_claims_source(ClaimsSource::with_jwks_uri(
    ///         "https://bank.example",
    ///         "https://bank.example/jwks.json",
    ///     ))
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_claims_source(mut self, source: ClaimsSource) -> Self {
        self.claims_sources.push(source);
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn references_always_leave_the_main_set() {
        let mut claims = json!({
            "sub": "u", "name": "N",
            "_claim_names": {"address": "src1"},
            "_claim_sources": {"src1": {"endpoint": "https://x", "access_token": "secret"}},
        })
        .as_object()
        .cloned()
        .unwrap();
        let refs = take_references(&mut claims).unwrap();
        assert_eq!(refs.names.len(), 1);
        assert_eq!(refs.sources.len(), 1);
        assert!(!Value::Object(claims.clone()).to_string().contains("secret"));
        assert_eq!(claims.len(), 2);
        // Not objects: taken out all the same.
        let mut odd = json!({"_claim_sources": "x"}).as_object().cloned().unwrap();
        assert!(take_references(&mut odd).is_some());
        assert!(odd.is_empty());
        assert!(take_references(&mut Map::new()).is_none());
    }
}
