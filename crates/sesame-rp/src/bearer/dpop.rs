//! `BearerAuth` and DPoP-bound tokens (RFC 9449 §7): a token whose claims
//! carry `cnf.jkt` is accepted only with the `DPoP` scheme and a valid proof
//! made with that key for this request.

use std::sync::Arc;

use axum::extract::OriginalUri;
use axum::http::request::Parts;
use serde_json::Value;
use sesame_core::dpop::{DPOP_ALGS, DPOP_HEADER, DPOP_SCHEME, DpopCheck, verify_proof};
use sesame_core::{JwsAlgorithm, UnixTime, token_hash};

use super::{BearerClaims, BearerError};
use crate::seen_jti::{MemorySeenJti, SeenJti};

/// How the resource server checks proofs.
#[derive(Clone)]
pub(super) struct ProofSettings {
    /// The public base URL requests arrive at (`htu` = it + the path).
    pub(super) public_url: Option<String>,
    pub(super) seen: Arc<dyn SeenJti>,
    /// How old a proof's `iat` may be (seconds).
    pub(super) max_age: i64,
    /// How far in the future (seconds).
    pub(super) leeway: i64,
}

impl std::fmt::Debug for ProofSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofSettings")
            .field("public_url", &self.public_url)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl Default for ProofSettings {
    fn default() -> Self {
        Self {
            public_url: None,
            seen: Arc::new(MemorySeenJti::default()),
            max_age: 300,
            leeway: 60,
        }
    }
}

/// The `Authorization` scheme a token came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheme {
    Bearer,
    Dpop,
}

/// The token and its scheme (`Bearer` or `DPoP`) from `Authorization`.
pub(super) fn presented(parts: &Parts) -> Option<(Scheme, &str)> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Some((Scheme::Bearer, token))
    } else if scheme.eq_ignore_ascii_case(DPOP_SCHEME) {
        Some((Scheme::Dpop, token))
    } else {
        None
    }
}

/// The thumbprint the token is bound to (`cnf.jkt`), if any.
fn bound_to(claims: &BearerClaims) -> Option<&str> {
    claims
        .claims
        .get("cnf")
        .and_then(|c| c.get("jkt"))
        .and_then(Value::as_str)
}

/// The `algs` a DPoP challenge lists.
pub(super) fn algs() -> String {
    DPOP_ALGS
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl ProofSettings {
    /// Whether the token may be used as presented: a bound token only as
    /// DPoP with a proof of its key for this request; an unbound one only as Bearer.
    pub(super) async fn check(
        &self,
        parts: &Parts,
        scheme: Scheme,
        token: &str,
        claims: &BearerClaims,
        now: UnixTime,
    ) -> Result<(), BearerError> {
        let jkt = match (bound_to(claims), scheme) {
            (None, Scheme::Bearer) => return Ok(()),
            (None, Scheme::Dpop) => {
                return Err(BearerError::Invalid(
                    "the access token is not DPoP-bound".into(),
                ));
            }
            (Some(_), Scheme::Bearer) => {
                return Err(BearerError::DpopRequired(
                    "the access token is DPoP-bound: send it with the DPoP scheme and a proof"
                        .into(),
                ));
            }
            (Some(jkt), Scheme::Dpop) => jkt,
        };
        let bad = |d: &str| BearerError::InvalidDpopProof(d.to_owned());
        let mut proofs = parts.headers.get_all(DPOP_HEADER).iter();
        let (Some(proof), None) = (proofs.next(), proofs.next()) else {
            return Err(bad("send one DPoP proof with the DPoP scheme"));
        };
        let proof = proof
            .to_str()
            .map_err(|_| bad("the DPoP header is not text"))?;
        let Some(base) = &self.public_url else {
            tracing::error!(
                "BearerAuth got a DPoP-bound token and has no public URL to check proofs \
                 against: set BearerAuth::with_public_url"
            );
            return Err(bad("this resource cannot check DPoP proofs"));
        };
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path(), |o| o.0.path());
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let mut check = DpopCheck::new(parts.method.as_str(), &url, now).with_access_token(token);
        check.max_age = self.max_age;
        check.leeway = self.leeway;
        let verified = verify_proof(proof, &check).map_err(|e| bad(&e.to_string()))?;
        if verified.jkt != jkt {
            return Err(bad(
                "the DPoP proof is not made with the key the access token is bound to",
            ));
        }
        let key = token_hash(
            JwsAlgorithm::RS256,
            &format!("{}:{}", verified.jkt, verified.jti),
        );
        let until = verified.iat.saturating_add(self.max_age).saturating_add(1);
        match self.seen.first_use(&key, until, now).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(bad("the DPoP proof was already used (jti)")),
            Err(e) => {
                tracing::warn!(error = %e, "DPoP proof not recorded; refused");
                Err(BearerError::Unavailable(e.to_string()))
            }
        }
    }
}
