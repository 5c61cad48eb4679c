//! `BearerAuth`: protect an API with access tokens — RFC 9068 JWTs checked
//! locally through the JWKS cache, or opaque tokens through RFC 7662
//! introspection with a cache bounded by the token's expiry. DPoP-bound
//! tokens (`cnf.jkt`) only with the `DPoP` scheme and a proof (`dpop.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sesame_core::{UnixTime, UnverifiedJws, ValidationError};
use tower::Service;

use crate::client::OidcClient;
use crate::gate::Gate;
use crate::metrics;
use crate::seen_jti::SeenJti;

mod dpop;
use crate::outbound::HttpError;
use dpop::{ProofSettings, Scheme};

/// How access tokens are checked.
#[derive(Debug, Clone)]
enum Mode {
    Jwt {
        audience: String,
    },
    Introspection {
        cache_ttl: i64,
        audience: Option<String>,
    },
}

/// The claims of a valid access token, for handlers.
#[derive(Debug, Clone)]
pub struct BearerClaims {
    /// `sub` (the user, or the client for `client_credentials`).
    pub subject: Option<String>,
    /// `client_id`
    pub client_id: Option<String>,
    /// `scope`, split.
    pub scopes: Vec<String>,
    /// Every claim (JWT payload or introspection response).
    pub claims: Map<String, Value>,
}

impl BearerClaims {
    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    /// No `Authorization: Bearer` header.
    #[error("a bearer token is required")]
    Missing,
    /// The token is invalid, expired, revoked or not for this API.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The provider could not be asked (introspection), or the DPoP replay
    /// cache could not record the proof.
    #[error("token check unavailable: {0}")]
    Unavailable(String),
    /// A DPoP-bound token came as a Bearer token (RFC 9449 §7.2).
    #[error("invalid token: {0}")]
    DpopRequired(String),
    /// The DPoP proof is missing, invalid, for another request or key, or replayed.
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(String),
}

impl BearerError {
    /// 401, or 503 when the provider is unreachable.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl BearerError {
    /// The answer, with challenges in the scheme the token came with (RFC
    /// 6750 §3, RFC 9449 §7.1): a missing token is offered both schemes.
    fn response(self, dpop_scheme: bool) -> Response {
        let algs = dpop::algs();
        let described = |scheme: &str, code: &str, d: &str| {
            let d = sesame_core::sanitize_description(d);
            match scheme {
                "DPoP" => {
                    format!("DPoP error=\"{code}\", error_description=\"{d}\", algs=\"{algs}\"")
                }
                _ => format!("Bearer error=\"{code}\", error_description=\"{d}\""),
            }
        };
        let scheme = if dpop_scheme { "DPoP" } else { "Bearer" };
        let (code, challenges) = match &self {
            Self::Missing => (
                "invalid_token",
                vec!["Bearer".to_owned(), format!("DPoP algs=\"{algs}\"")],
            ),
            Self::Invalid(d) => ("invalid_token", vec![described(scheme, "invalid_token", d)]),
            Self::Unavailable(_) => (
                "temporarily_unavailable",
                vec![format!("{scheme} error=\"temporarily_unavailable\"")],
            ),
            Self::DpopRequired(d) => ("invalid_token", vec![described("DPoP", "invalid_token", d)]),
            Self::InvalidDpopProof(d) => (
                "invalid_dpop_proof",
                vec![described("DPoP", "invalid_dpop_proof", d)],
            ),
        };
        let body = serde_json::json!({"error": code, "error_description": self.to_string()});
        let mut r = (self.status(), axum::Json(body)).into_response();
        for challenge in challenges {
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                r.headers_mut().append(header::WWW_AUTHENTICATE, v);
            }
        }
        r
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        self.response(false)
    }
}

/// Checks bearer tokens before the inner service; handlers take [`BearerClaims`].
///
/// ```no_run
/// # async fn demo(oidc: sesame_rp::OidcClient) {
/// use axum::{Router, routing::get};
/// use sesame_rp::{BearerAuth, BearerClaims};
/// let api: Router = Router::new()
///     .route("/api/me", get(|t: BearerClaims| async move { t.subject.unwrap_or_default() }))
///     .layer(BearerAuth::jwt(oidc, "https://api.example"));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct BearerAuth {
    inner: Arc<BearerInner>,
}

#[derive(Debug)]
struct BearerInner {
    client: OidcClient,
    mode: Mode,
    cache: Mutex<HashMap<String, Cached>>,
    proofs: ProofSettings,
}

const MAX_CACHE: usize = 50_000;

/// An introspection answer and until when it may be reused.
type Cached = (Result<BearerClaims, String>, UnixTime);

impl BearerAuth {
    /// RFC 9068 JWT access tokens for `audience` (this API's resource identifier),
    /// checked locally: `typ` `at+jwt`, signature from the provider's JWKS with the
    /// client's algorithm allowlist, `iss` exact, `aud` containing `audience`,
    /// `exp`/`iat`/`nbf` with the client's leeway.
    pub fn jwt(client: OidcClient, audience: impl Into<String>) -> Self {
        Self::new(
            client,
            Mode::Jwt {
                audience: audience.into(),
            },
        )
    }

    /// Opaque tokens, checked by RFC 7662 introspection with this client's
    /// credentials; answers are cached for at most `cache_ttl` seconds and never
    /// past the token's `exp`.
    pub fn introspection(client: OidcClient, cache_ttl: i64) -> Self {
        Self::new(
            client,
            Mode::Introspection {
                cache_ttl: cache_ttl.max(0),
                audience: None,
            },
        )
    }

    /// Only accept tokens whose `aud` contains `audience` (this API's
    /// resource identifier, RFC 8707). [`BearerAuth::jwt`] always checks its
    /// audience; with introspection, set one whenever the provider issues
    /// tokens for several APIs.
    ///
    /// ```no_run
    /// # fn demo(oidc: sesame_rp::OidcClient) {
    /// let auth = sesame_rp::BearerAuth::introspection(oidc, 60).with_audience("https://api.example");
    /// # }
    /// ```
    #[must_use]
    pub fn with_audience(self, audience: impl Into<String>) -> Self {
        let audience = audience.into();
        let mode = match &self.inner.mode {
            Mode::Jwt { .. } => Mode::Jwt { audience },
            Mode::Introspection { cache_ttl, .. } => Mode::Introspection {
                cache_ttl: *cache_ttl,
                audience: Some(audience),
            },
        };
        self.rebuilt(mode, self.inner.proofs.clone())
    }

    /// The public base URL this API's requests arrive at (scheme, host,
    /// port and any path prefix the app is mounted under, as clients call
    /// it): a DPoP proof's `htu` must be it followed by the request's path.
    /// Without it, DPoP-bound tokens are refused (`invalid_dpop_proof`).
    ///
    /// ```no_run
    /// # fn demo(oidc: sesame_rp::OidcClient) {
    /// let auth = sesame_rp::BearerAuth::jwt(oidc, "https://api.example")
    ///     .with_public_url("https://api.example");
    /// # }
    /// ```
    #[must_use]
    pub fn with_public_url(self, url: impl Into<String>) -> Self {
        let mut proofs = self.inner.proofs.clone();
        proofs.public_url = Some(url.into());
        self.rebuilt(self.inner.mode.clone(), proofs)
    }

    /// Where accepted DPoP proofs are recorded so that none is accepted
    /// twice (default: [`crate::MemorySeenJti`], this process only). Give
    /// the instances of one API a shared store (sesame-rp-store's).
    ///
    /// ```no_run
    /// # fn demo(oidc: sesame_rp::OidcClient) {
    /// let auth = sesame_rp::BearerAuth::jwt(oidc, "https://api.example")
    ///     .with_seen_jti(sesame_rp::MemorySeenJti::with_capacity(10_000));
    /// # }
    /// ```
    #[must_use]
    pub fn with_seen_jti(self, seen: impl SeenJti) -> Self {
        let mut proofs = self.inner.proofs.clone();
        proofs.seen = Arc::new(seen);
        self.rebuilt(self.inner.mode.clone(), proofs)
    }

    /// How old a DPoP proof's `iat` may be, in seconds (default 300).
    #[must_use]
    pub fn with_dpop_max_age(self, seconds: i64) -> Self {
        let mut proofs = self.inner.proofs.clone();
        proofs.max_age = seconds.max(1);
        self.rebuilt(self.inner.mode.clone(), proofs)
    }

    fn rebuilt(&self, mode: Mode, proofs: ProofSettings) -> Self {
        let mut fresh = Self::new(self.inner.client.clone(), mode);
        if let Some(inner) = Arc::get_mut(&mut fresh.inner) {
            inner.proofs = proofs;
        }
        fresh
    }

    fn new(client: OidcClient, mode: Mode) -> Self {
        Self {
            inner: Arc::new(BearerInner {
                client,
                mode,
                cache: Mutex::new(HashMap::new()),
                proofs: ProofSettings::default(),
            }),
        }
    }

    /// Checks a token as the layer does for a request: valid for this API,
    /// and a DPoP-bound one only with the `DPoP` scheme and a proof for
    /// this request (`htm`, `htu`, `iat`, `ath`, its key, never replayed).
    async fn check_request(&self, parts: &Parts) -> Result<BearerClaims, (BearerError, bool)> {
        let Some((scheme, token)) = dpop::presented(parts) else {
            return Err((BearerError::Missing, false));
        };
        let dpop = scheme == Scheme::Dpop;
        let claims = self.check(token).await.map_err(|e| (e, dpop))?;
        let now = self.inner.client.now();
        let outcome = self
            .inner
            .proofs
            .check(parts, scheme, token, &claims, now)
            .await;
        if outcome.is_err() {
            metrics::bearer_check("rejected");
        }
        outcome.map_err(|e| (e, dpop))?;
        Ok(claims)
    }

    /// Checks one token (what the layer does for each request).
    ///
    /// # Errors
    /// [`BearerError`] when the token is not valid for this API.
    #[tracing::instrument(name = "sesame_rp.bearer_check", level = "debug", skip_all)]
    pub async fn check(&self, token: &str) -> Result<BearerClaims, BearerError> {
        let result = match &self.inner.mode {
            Mode::Jwt { audience } => self.check_jwt(token, audience).await,
            Mode::Introspection {
                cache_ttl,
                audience,
            } => {
                self.check_introspection(token, *cache_ttl, audience.as_deref())
                    .await
            }
        };
        metrics::bearer_check(match &result {
            Ok(_) => "accepted",
            Err(BearerError::Unavailable(_)) => "unavailable",
            Err(_) => "rejected",
        });
        result
    }

    async fn check_jwt(&self, token: &str, audience: &str) -> Result<BearerClaims, BearerError> {
        let client = &self.inner.client;
        let now = client.now();
        let jws = UnverifiedJws::parse(token).map_err(|e| BearerError::Invalid(e.to_string()))?;
        let typ = jws
            .header()
            .typ
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        if typ != "at+jwt" && typ != "application/at+jwt" {
            return Err(BearerError::Invalid(
                "not an RFC 9068 access token (typ)".into(),
            ));
        }
        let algorithms = client.inner.validator.algorithms().to_vec();
        let verified = client
            .with_jwks(now, |keys| jws.clone().verify(keys, &algorithms, None))
            .await
            .map_err(|e| BearerError::Unavailable(e.to_string()))?
            .map_err(|e| BearerError::Invalid(ValidationError::Jws(e).to_string()))?;
        let claims: Map<String, Value> = verified
            .claims()
            .map_err(|e| BearerError::Invalid(e.to_string()))?;
        let leeway = 60;
        let num = |k: &str| claims.get(k).and_then(Value::as_i64);
        if claims.get("iss").and_then(Value::as_str) != Some(client.issuer().as_str()) {
            return Err(BearerError::Invalid("wrong issuer".into()));
        }
        let aud_ok = has_audience(&claims, audience);
        if !aud_ok {
            return Err(BearerError::Invalid(
                "the token is not for this API (aud)".into(),
            ));
        }
        match num("exp") {
            Some(exp) if now.saturating_sub(leeway) < exp => {}
            Some(_) => return Err(BearerError::Invalid("expired".into())),
            None => return Err(BearerError::Invalid("exp is missing".into())),
        }
        if num("iat").is_none_or(|iat| iat > now + leeway)
            || num("nbf").is_some_and(|nbf| nbf > now + leeway)
        {
            return Err(BearerError::Invalid(
                "iat or nbf is in the future or missing".into(),
            ));
        }
        Ok(to_claims(claims))
    }

    async fn check_introspection(
        &self,
        token: &str,
        cache_ttl: i64,
        audience: Option<&str>,
    ) -> Result<BearerClaims, BearerError> {
        let client = &self.inner.client;
        let now = client.now();
        let key = sesame_core::token_hash(sesame_core::JwsAlgorithm::RS512, token);
        if let Ok(cache) = self.inner.cache.lock()
            && let Some((answer, until)) = cache.get(&key)
            && *until > now
        {
            return answer.clone().map_err(BearerError::Invalid);
        }
        let metadata = client.metadata();
        let endpoint = metadata.introspection_endpoint.clone().ok_or_else(|| {
            BearerError::Unavailable("the provider has no introspection endpoint".into())
        })?;
        let answer: Map<String, Value> = client
            .introspect_request(&endpoint, token)
            .await
            .map_err(|e: HttpError| BearerError::Unavailable(e.to_string()))?;
        let exp = answer.get("exp").and_then(Value::as_i64);
        let result = introspection_verdict(answer, now, audience);
        let until = match (&result, exp) {
            (Ok(_), Some(exp)) => exp.min(now.saturating_add(cache_ttl)),
            (Ok(_), None) => now.saturating_add(cache_ttl),
            // A refusal is cached briefly: a revoked token stays refused, a
            // flood of forged tokens is not forwarded one by one.
            (Err(_), _) => now.saturating_add(cache_ttl.min(10)),
        };
        if let Ok(mut cache) = self.inner.cache.lock() {
            if cache.len() >= MAX_CACHE {
                cache.retain(|_, (_, u)| *u > now);
                if cache.len() >= MAX_CACHE {
                    cache.clear();
                }
            }
            cache.insert(key, (result.clone(), until));
        }
        result.map_err(BearerError::Invalid)
    }
}

/// Whether `aud` (a string or an array) contains `audience`.
fn has_audience(claims: &Map<String, Value>, audience: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(audience)),
        _ => false,
    }
}

/// What an introspection answer means for this API (REVIEW S8): active, not
/// expired, an access token (a refresh token is active too, but is no bearer
/// credential), and for `audience` when one is set.
fn introspection_verdict(
    answer: Map<String, Value>,
    now: UnixTime,
    audience: Option<&str>,
) -> Result<BearerClaims, String> {
    let active = answer.get("active").and_then(Value::as_bool) == Some(true);
    let exp = answer.get("exp").and_then(Value::as_i64);
    if !active || exp.is_some_and(|e| e <= now) {
        return Err("inactive".to_owned());
    }
    let access_token = answer
        .get("token_type")
        .and_then(Value::as_str)
        .is_none_or(|t| {
            [
                "access_token",
                "bearer",
                "dpop",
                "urn:ietf:params:oauth:token-type:access_token",
            ]
            .iter()
            .any(|ok| t.eq_ignore_ascii_case(ok))
        });
    if !access_token || answer.get("token_type").is_some_and(|t| !t.is_string()) {
        return Err("not an access token (token_type)".to_owned());
    }
    if let Some(audience) = audience
        && !has_audience(&answer, audience)
    {
        return Err("the token is not for this API (aud)".to_owned());
    }
    Ok(to_claims(answer))
}

fn to_claims(claims: Map<String, Value>) -> BearerClaims {
    BearerClaims {
        subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
        client_id: claims
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        scopes: claims
            .get("scope")
            .and_then(Value::as_str)
            .map(|s| {
                s.split(' ')
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        claims,
    }
}

/// The service made by [`BearerAuth`].
#[derive(Debug, Clone)]
pub struct BearerService<S> {
    inner: S,
    auth: BearerAuth,
}

crate::gate::gate_layer!(BearerAuth => BearerService { auth });

impl Gate for BearerAuth {
    async fn serve<S>(self, req: Request<Body>, mut inner: S) -> Result<Response, S::Error>
    where
        S: Service<Request<Body>, Response = Response> + Send + 'static,
        S::Future: Send + 'static,
    {
        let (mut parts, body) = req.into_parts();
        match self.check_request(&parts).await {
            Ok(claims) => {
                parts.extensions.insert(claims);
                inner.call(Request::from_parts(parts, body)).await
            }
            Err((BearerError::Missing, _)) => {
                tracing::debug!("bearer token missing");
                metrics::bearer_check("rejected");
                Ok(BearerError::Missing.into_response())
            }
            Err((e, dpop)) => {
                tracing::info!(error = %e, "bearer token refused");
                Ok(e.response(dpop))
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BearerClaims {
    type Rejection = BearerError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<BearerClaims>()
            .cloned()
            .ok_or(BearerError::Missing)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn answer(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn introspection_refuses_refresh_tokens_and_other_audiences() {
        let now = 1_000;
        let ok = answer(json!({"active": true, "exp": 2_000, "aud": ["https://a"], "sub": "u"}));
        assert!(introspection_verdict(ok.clone(), now, None).is_ok());
        assert!(introspection_verdict(ok.clone(), now, Some("https://a")).is_ok());
        // A token minted for resource A is refused by the API of B.
        assert!(introspection_verdict(ok, now, Some("https://b")).is_err());
        // A refresh token is active, but no bearer credential.
        let refresh = answer(json!({"active": true, "exp": 2_000, "token_type": "refresh_token"}));
        assert!(introspection_verdict(refresh, now, None).is_err());
        for t in ["Bearer", "access_token", "DPoP"] {
            let a = answer(json!({"active": true, "token_type": t}));
            assert!(introspection_verdict(a, now, None).is_ok(), "{t}");
        }
        let odd = answer(json!({"active": true, "token_type": 7}));
        assert!(introspection_verdict(odd, now, None).is_err());
        let expired = answer(json!({"active": true, "exp": now}));
        assert!(introspection_verdict(expired, now, None).is_err());
        let inactive = answer(json!({"active": false}));
        assert!(introspection_verdict(inactive, now, None).is_err());
    }
}
