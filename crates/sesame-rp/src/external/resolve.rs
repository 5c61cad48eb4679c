//! Resolving the external claims of a login: each source verified, each
//! distributed endpoint fetched within the limits.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use sesame_core::jws::UnverifiedJws;
use sesame_core::{JwsError, KeySet, UnixTime};
use tokio::time::{Instant, timeout};

use super::{
    CLAIM_SOURCE_TIMEOUT, EXTERNAL_CLAIMS_DEADLINE, External, ExternalClaims, ExternalKind,
    ExternalRefusal, MAX_CLAIM_NAMES, MAX_CLAIM_SOURCES, MAX_DISTRIBUTED_FETCHES,
    MAX_DISTRIBUTED_RESPONSE, References, RefusedClaims,
};
use crate::claims_source::ClaimsSource;
use crate::client::OidcClient;

/// The JWT's registered claims are never taken as external claims.
const NOT_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"];
/// Clock-skew allowance for a claims JWT's `exp`.
const LEEWAY: i64 = 60;

type Refused = ExternalRefusal;

/// The claim names of each source label, in label order, within the limits.
fn names_by_source(refs: &References) -> BTreeMap<String, Vec<String>> {
    let mut by_source: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, label) in refs.names.iter().take(MAX_CLAIM_NAMES) {
        if let Some(label) = label.as_str()
            && !NOT_CLAIMS.contains(&name.as_str())
            && !name.starts_with("_claim_")
        {
            by_source
                .entry(label.to_owned())
                .or_default()
                .push(name.clone());
        }
    }
    by_source
}

/// Whether `aud` (a string or an array) names `client_id`.
fn audience_has(aud: &Value, client_id: &str) -> bool {
    match aud {
        Value::String(a) => a == client_id,
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(client_id)),
        _ => false,
    }
}

impl OidcClient {
    fn claims_source(&self, issuer: &str) -> Option<&ClaimsSource> {
        self.inner
            .claims_sources
            .iter()
            .find(|s| s.issuer() == issuer)
    }

    /// The external claims `refs` point to: every source verified (or refused).
    pub(crate) async fn external_claims(&self, refs: Vec<References>) -> External {
        let mut out = External::default();
        let deadline = Instant::now() + EXTERNAL_CLAIMS_DEADLINE;
        let mut fetches = 0;
        let mut sources = 0;
        for r in &refs {
            for (label, names) in names_by_source(r) {
                let outcome = match r.sources.get(&label) {
                    None => Err(Refused::Malformed),
                    Some(_) if sources >= MAX_CLAIM_SOURCES => Err(Refused::TooMany),
                    Some(spec) => {
                        sources += 1;
                        let left = deadline.saturating_duration_since(Instant::now());
                        match timeout(left, self.resolve_source(spec, &names, &mut fetches)).await {
                            Ok(result) => result,
                            Err(_) => Err(Refused::Timeout),
                        }
                    }
                };
                match outcome {
                    Ok((issuer, kind, claims)) => out.verified.push(ExternalClaims {
                        source: label,
                        issuer,
                        kind,
                        claims,
                    }),
                    Err(reason) => {
                        tracing::warn!(provider = %self.name(), source = %label, reason = %reason, "external claims refused");
                        out.refused.push(RefusedClaims {
                            source: label,
                            reason,
                        });
                    }
                }
            }
        }
        if !out.verified.is_empty() || !out.refused.is_empty() {
            tracing::info!(
                provider = %self.name(),
                verified = out.verified.len(),
                refused = out.refused.len(),
                "external claims resolved"
            );
        }
        out
    }

    /// One `_claim_sources` entry: its verified issuer, kind and claims.
    async fn resolve_source(
        &self,
        spec: &Value,
        names: &[String],
        fetches: &mut usize,
    ) -> Result<(String, ExternalKind, Map<String, Value>), Refused> {
        let (kind, jwt, expected) = if let Some(jwt) = spec.get("JWT").and_then(Value::as_str) {
            (ExternalKind::Aggregated, jwt.to_owned(), None)
        } else if let Some(endpoint) = spec.get("endpoint").and_then(Value::as_str) {
            let access_token = spec.get("access_token").and_then(Value::as_str);
            let (jwt, source) = self
                .fetch_distributed(endpoint, access_token, fetches)
                .await?;
            (ExternalKind::Distributed, jwt, Some(source))
        } else {
            return Err(Refused::Malformed);
        };
        let (issuer, payload) = self.verify_claims_jwt(jwt.trim(), expected).await?;
        let claims = names
            .iter()
            .filter_map(|n| payload.get(n).map(|v| (n.clone(), v.clone())))
            .collect();
        Ok((issuer, kind, claims))
    }

    /// GET a distributed endpoint of a configured source (with the source's
    /// own access token, never the provider's); the JWT and its source.
    async fn fetch_distributed(
        &self,
        endpoint: &str,
        access_token: Option<&str>,
        fetches: &mut usize,
    ) -> Result<(String, &ClaimsSource), Refused> {
        let url = url::Url::parse(endpoint).map_err(|_| Refused::Malformed)?;
        let source = self
            .inner
            .claims_sources
            .iter()
            .find(|s| s.allows_endpoint(&url))
            .ok_or(Refused::EndpointNotAllowed)?;
        if *fetches >= MAX_DISTRIBUTED_FETCHES {
            return Err(Refused::TooMany);
        }
        *fetches += 1;
        let mut request = self
            .inner
            .http
            .get(url.as_str())
            .timeout(CLAIM_SOURCE_TIMEOUT)
            .header(reqwest::header::ACCEPT, "application/jwt");
        if let Some(token) = access_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(error = %e, "distributed claims endpoint unreachable");
            if e.is_timeout() {
                Refused::Timeout
            } else {
                Refused::FetchFailed
            }
        })?;
        let (status, body) =
            crate::outbound::body_up_to(endpoint, response, MAX_DISTRIBUTED_RESPONSE)
                .await
                .map_err(|_| Refused::FetchFailed)?;
        if !(200..300).contains(&status) {
            return Err(Refused::FetchFailed);
        }
        let jwt = String::from_utf8(body).map_err(|_| Refused::Malformed)?;
        Ok((jwt, source))
    }

    /// Verifies a claims JWT: `iss` a configured source (`expected`'s, for a
    /// distributed one), signed with its keys, unexpired, for this client.
    async fn verify_claims_jwt(
        &self,
        jwt: &str,
        expected: Option<&ClaimsSource>,
    ) -> Result<(String, Map<String, Value>), Refused> {
        let parsed = UnverifiedJws::parse(jwt).map_err(|e| match e {
            JwsError::AlgorithmNone => Refused::BadSignature,
            _ => Refused::Malformed,
        })?;
        let unverified: Map<String, Value> = parsed
            .insecure_payload()
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or(Refused::Malformed)?;
        let iss = unverified
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(Refused::UnknownSource)?;
        let source = self.claims_source(iss).ok_or(Refused::UnknownSource)?;
        if expected.is_some_and(|e| e.issuer() != source.issuer()) {
            return Err(Refused::UnknownSource);
        }
        let now = self.now();
        let payload = self.verify_with_source(jwt, source, now).await?;
        if payload
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| now > exp.saturating_add(LEEWAY))
        {
            return Err(Refused::Expired);
        }
        if payload
            .get("aud")
            .is_some_and(|aud| !audience_has(aud, self.inner.client_id.as_str()))
        {
            return Err(Refused::WrongAudience);
        }
        Ok((source.issuer().to_owned(), payload))
    }

    /// The signature checked with the source's keys (refetched once on an unknown `kid`).
    async fn verify_with_source(
        &self,
        jwt: &str,
        source: &ClaimsSource,
        now: UnixTime,
    ) -> Result<Map<String, Value>, Refused> {
        let http = &self.inner.http;
        let keys = timeout(CLAIM_SOURCE_TIMEOUT, source.keys(http, now))
            .await
            .map_err(|_| Refused::Timeout)?
            .map_err(|e| {
                tracing::warn!(issuer = %source.issuer(), error = %e, "claims source keys unavailable");
                Refused::KeysUnavailable
            })?;
        let check = |keys: &KeySet| {
            sesame_core::jws::verify(jwt, keys, source.algorithms(), None)
                .and_then(|v| v.claims::<Map<String, Value>>())
        };
        let verified = match check(&keys) {
            Err(JwsError::UnknownKid(kid)) => {
                let fresh: Option<Arc<KeySet>> = timeout(
                    CLAIM_SOURCE_TIMEOUT,
                    source.refresh_for_kid(http, now, &keys, Some(&kid)),
                )
                .await
                .ok()
                .flatten();
                match fresh {
                    Some(fresh) => check(&fresh),
                    None => Err(JwsError::UnknownKid(kid)),
                }
            }
            other => other,
        };
        verified.map_err(|e| match e {
            JwsError::Payload(_) => Refused::Malformed,
            _ => Refused::BadSignature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_grouped_by_source_without_registered_claims() {
        let refs = References {
            names: json!({"address": "src1", "phone_number": "src1", "credit": "src2",
                          "iss": "src1", "sub": "src2", "_claim_names": "src1", "odd": 5})
            .as_object()
            .cloned()
            .unwrap_or_default(),
            sources: Map::new(),
        };
        let by = names_by_source(&refs);
        assert_eq!(by.len(), 2);
        assert_eq!(by["src1"], ["address", "phone_number"]);
        assert_eq!(by["src2"], ["credit"]);
    }

    #[test]
    fn audiences() {
        assert!(audience_has(&json!("rp"), "rp"));
        assert!(audience_has(&json!(["x", "rp"]), "rp"));
        assert!(!audience_has(&json!(["x"]), "rp"));
        assert!(!audience_has(&json!(5), "rp"));
    }
}
