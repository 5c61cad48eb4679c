//! A configured claims provider: its issuer, keys, algorithms and endpoints.

use std::fmt;
use std::sync::Arc;

use sesame_core::{Issuer, JwsAlgorithm, KeySet, UnixTime};
use tokio::sync::OnceCell;

use crate::jwks::JwksCache;
use crate::outbound::HttpError;

#[derive(Clone)]
enum Keys {
    /// Keys given.
    Static(Arc<KeySet>),
    /// A JWKS URL, fetched and cached.
    Jwks(Arc<JwksCache>),
    /// The `jwks_uri` of the issuer's discovery document, found on first use.
    Discover(Issuer, Arc<OnceCell<Arc<JwksCache>>>),
}

/// A claims provider trusted for aggregated and distributed claims
/// ([`crate::OidcClientBuilder::with_claims_source`]).
#[derive(Clone)]
pub struct ClaimsSource {
    issuer: String,
    keys: Keys,
    algorithms: Vec<JwsAlgorithm>,
    endpoints: Vec<url::Url>,
}

impl fmt::Debug for ClaimsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimsSource")
            .field("issuer", &self.issuer)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl ClaimsSource {
    fn new(issuer: String, keys: Keys) -> Self {
        Self {
            issuer,
            keys,
            algorithms: vec![JwsAlgorithm::RS256],
            endpoints: Vec::new(),
        }
    }

    /// A source `issuer` (the `iss` of its JWTs) whose keys are `keys`.
    pub fn with_keys(issuer: impl Into<String>, keys: KeySet) -> Self {
        Self::new(issuer.into(), Keys::Static(Arc::new(keys)))
    }

    /// A source `issuer` whose keys are published at `jwks_uri` (fetched
    /// through the client's outbound HTTP client, cached, refetched on an
    /// unknown `kid` as the provider's are).
    pub fn with_jwks_uri(issuer: impl Into<String>, jwks_uri: impl Into<String>) -> Self {
        Self::new(
            issuer.into(),
            Keys::Jwks(Arc::new(JwksCache::new(jwks_uri.into(), None))),
        )
    }

    /// A source that is an OpenID provider: its keys are at the `jwks_uri` of
    /// its discovery document (fetched on first use; its `issuer` must match).
    pub fn discovered(issuer: Issuer) -> Self {
        Self::new(
            issuer.as_str().to_owned(),
            Keys::Discover(issuer, Arc::new(OnceCell::new())),
        )
    }

    /// The signing algorithms accepted from this source (default RS256 only;
    /// symmetric ones are never taken).
    #[must_use]
    pub fn with_algorithms(mut self, algs: impl IntoIterator<Item = JwsAlgorithm>) -> Self {
        self.algorithms = algs.into_iter().filter(|a| !a.is_symmetric()).collect();
        self
    }

    /// A distributed-claims endpoint of this source: endpoints under this
    /// URL (same origin, path prefix) are fetched. Without any, endpoints on
    /// the issuer's origin are.
    ///
    /// # Errors
    /// When `url` is not an absolute URL.
    pub fn with_endpoint(mut self, url: &str) -> Result<Self, url::ParseError> {
        self.endpoints.push(url::Url::parse(url)?);
        Ok(self)
    }

    /// The source's issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub(crate) fn algorithms(&self) -> &[JwsAlgorithm] {
        &self.algorithms
    }

    /// Whether `endpoint` belongs to this source.
    pub(crate) fn allows_endpoint(&self, endpoint: &url::Url) -> bool {
        if self.endpoints.is_empty() {
            return url::Url::parse(&self.issuer)
                .is_ok_and(|i| i.origin() == endpoint.origin() && i.origin().is_tuple());
        }
        self.endpoints.iter().any(|allowed| {
            allowed.origin() == endpoint.origin()
                && endpoint
                    .path()
                    .strip_prefix(allowed.path())
                    .is_some_and(|rest| {
                        allowed.path().ends_with('/') || rest.is_empty() || rest.starts_with('/')
                    })
        })
    }

    async fn cache(&self, http: &reqwest::Client) -> Result<Option<Arc<JwksCache>>, HttpError> {
        match &self.keys {
            Keys::Static(_) => Ok(None),
            Keys::Jwks(cache) => Ok(Some(Arc::clone(cache))),
            Keys::Discover(issuer, cell) => {
                let cache = cell
                    .get_or_try_init(|| async {
                        let metadata =
                            crate::outbound::discover(http, issuer).await.map_err(|e| {
                                HttpError::Json {
                                    url: sesame_core::discovery_url(issuer),
                                    message: e.to_string(),
                                }
                            })?;
                        let uri = metadata.jwks_uri.unwrap_or_default();
                        Ok::<_, HttpError>(Arc::new(JwksCache::new(uri, None)))
                    })
                    .await?;
                Ok(Some(Arc::clone(cache)))
            }
        }
    }

    /// The source's keys.
    pub(crate) async fn keys(
        &self,
        http: &reqwest::Client,
        now: UnixTime,
    ) -> Result<Arc<KeySet>, HttpError> {
        if let Keys::Static(keys) = &self.keys {
            return Ok(Arc::clone(keys));
        }
        match self.cache(http).await? {
            Some(cache) => cache.keys(http, now).await,
            None => Ok(Arc::new(KeySet::default())),
        }
    }

    /// The keys refetched after `kid` was not in `checked` (`None`: static
    /// keys, rate-limited, or the fetch failed).
    pub(crate) async fn refresh_for_kid(
        &self,
        http: &reqwest::Client,
        now: UnixTime,
        checked: &Arc<KeySet>,
        kid: Option<&str>,
    ) -> Option<Arc<KeySet>> {
        let cache = self.cache(http).await.ok()??;
        cache.refresh_for_kid(http, now, checked, kid).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn endpoints_belong_to_the_issuers_origin_or_the_named_ones() {
        let s = ClaimsSource::with_keys("https://claims.example", KeySet::default());
        let ok = |s: &ClaimsSource, u: &str| s.allows_endpoint(&url::Url::parse(u).unwrap());
        assert!(ok(&s, "https://claims.example/claims"));
        assert!(!ok(&s, "https://claims.example.evil/claims"));
        assert!(
            !ok(&s, "http://claims.example/claims"),
            "scheme is part of the origin"
        );
        assert!(!ok(&s, "https://claims.example:8443/claims"));
        let s = s.with_endpoint("https://api.example/claims").unwrap();
        assert!(ok(&s, "https://api.example/claims"));
        assert!(ok(&s, "https://api.example/claims/address"));
        assert!(!ok(&s, "https://api.example/claimsx"));
        assert!(!ok(&s, "https://api.example/other"));
        assert!(
            !ok(&s, "https://claims.example/claims"),
            "named endpoints replace the origin rule"
        );
    }
}
