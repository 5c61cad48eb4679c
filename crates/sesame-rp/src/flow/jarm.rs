//! JARM at the callback: the `response` JWT verified (signature with the
//! provider's JWKS and its refetch rule, algorithm allowlist, `iss`, `aud`,
//! `exp`) and unpacked into the parameters the usual checks then read.

use serde_json::{Map, Value};
use sesame_core::{JwsAlgorithm, JwsError, UnverifiedJws, jws};

use super::{LoginError, param};
use crate::client::{Jarm, OidcClient};

/// How long past `exp` a response JWT is still accepted (clock skew).
const LEEWAY: i64 = 30;

/// Why a JWT-secured authorization response was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JarmError {
    /// JARM was asked for and the callback carries no `response` JWT.
    #[error("the response is not a JWT (JARM was asked for)")]
    NotJwt,
    /// The JWT is malformed, under an algorithm not allowed, or its
    /// signature does not verify with the provider's keys.
    #[error("{0}")]
    Jws(JwsError),
    /// Its claims are not a JSON object of the expected members.
    #[error("the response JWT's claims are malformed")]
    Malformed,
    /// `iss` is not this provider.
    #[error("the response JWT's iss is not this provider")]
    Issuer,
    /// `aud` does not name this client.
    #[error("the response JWT's aud is not this client")]
    Audience,
    /// `exp` is missing or past.
    #[error("the response JWT has expired")]
    Expired,
    /// The provider's keys could not be fetched.
    #[error("fetching the provider's keys: {0}")]
    Keys(String),
}

impl OidcClient {
    /// The parameters inside the callback's `response` JWT, checked. On
    /// failure, the `state` it claims (unverified, or the plain one), so
    /// that the pending login it names is consumed all the same.
    pub(super) async fn unpack_jarm(
        &self,
        jarm: Jarm,
        params: &Map<String, Value>,
    ) -> Result<Map<String, Value>, (Option<String>, LoginError)> {
        let Some(token) = param(params, "response") else {
            let state = param(params, "state").map(str::to_owned);
            return Err((state, LoginError::Jarm(JarmError::NotJwt)));
        };
        let claimed_state = UnverifiedJws::parse(token)
            .ok()
            .and_then(|j| j.insecure_payload().ok())
            .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
            .and_then(|m| m.get("state").and_then(Value::as_str).map(str::to_owned));
        self.verify_jarm(jarm, token)
            .await
            .map_err(|e| (claimed_state, LoginError::Jarm(e)))
    }

    async fn verify_jarm(&self, jarm: Jarm, token: &str) -> Result<Map<String, Value>, JarmError> {
        let allowed: Vec<JwsAlgorithm> = match jarm.alg {
            Some(alg) => vec![alg],
            None => self.inner.validator.algorithms().to_vec(),
        };
        let now = self.now();
        let verified = self
            .with_jwks(now, |keys| jws::verify(token, keys, &allowed, None))
            .await
            .map_err(|e| JarmError::Keys(e.to_string()))?
            .map_err(JarmError::Jws)?;
        let claims: Map<String, Value> = verified.claims().map_err(|_| JarmError::Malformed)?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.inner.issuer.as_str()) {
            return Err(JarmError::Issuer);
        }
        let client_id = self.inner.client_id.as_str();
        let audience = match claims.get("aud") {
            Some(Value::String(aud)) => aud == client_id,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
            _ => false,
        };
        if !audience {
            return Err(JarmError::Audience);
        }
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if now <= exp.saturating_add(LEEWAY) => Ok(claims),
            _ => Err(JarmError::Expired),
        }
    }
}
