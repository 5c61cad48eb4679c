//! Tokens signed by the provider, checked with its keys: ID tokens, logout
//! tokens and (from `bearer`) JWT access tokens, through one JWKS-retry helper.

use sesame_core::{
    Expected, JwsAlgorithm, JwsError, KeySet, LogoutTokenClaims, UnixTime, UnverifiedJws,
    ValidatedIdToken, ValidationError,
};

use crate::client::OidcClient;
use crate::flow::LoginError;
use crate::outbound::HttpError;

/// The `kid` a check failed on, when it failed only because that `kid` is
/// not in the set.
pub(crate) trait UnknownKid {
    fn unknown_kid(&self) -> Option<&str>;
}

impl UnknownKid for JwsError {
    fn unknown_kid(&self) -> Option<&str> {
        match self {
            JwsError::UnknownKid(kid) => Some(kid),
            _ => None,
        }
    }
}

impl UnknownKid for ValidationError {
    fn unknown_kid(&self) -> Option<&str> {
        match self {
            ValidationError::Jws(e) => e.unknown_kid(),
            _ => None,
        }
    }
}

impl OidcClient {
    /// Runs `check` with the provider's keys; when it fails on an unknown
    /// `kid`, refetches the JWKS (at once the first time, shared by
    /// concurrent misses, rate-limited after a fruitless refetch) and runs it
    /// once more. `Err` only when the keys cannot be had at all.
    pub(crate) async fn with_jwks<T, E: UnknownKid>(
        &self,
        now: UnixTime,
        check: impl Fn(&KeySet) -> Result<T, E>,
    ) -> Result<Result<T, E>, HttpError> {
        let keys = self.inner.jwks.keys(&self.inner.http, now).await?;
        match check(&keys) {
            Err(e) if e.unknown_kid().is_some() => {
                let fresh = self
                    .inner
                    .jwks
                    .refresh_for_kid(&self.inner.http, now, &keys, e.unknown_kid())
                    .await;
                match fresh {
                    Some(fresh) => Ok(check(&fresh)),
                    None => Ok(Err(e)),
                }
            }
            other => Ok(other),
        }
    }

    /// Validates an ID token with the provider's keys, refetching the JWKS
    /// once (rate-limited) when the `kid` is unknown.
    ///
    /// # Errors
    /// The first rule the token breaks.
    #[tracing::instrument(name = "sesame_rp.validate_id_token", level = "debug", skip_all, fields(provider = %self.name()))]
    pub async fn validate_id_token(
        &self,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<ValidatedIdToken, LoginError> {
        let now = self.now();
        let validator = &self.inner.validator;
        let validated = self
            .with_jwks(now, |keys| validator.validate(token, keys, now, expected))
            .await
            .map_err(|e| LoginError::Internal(format!("fetching the provider's keys: {e}")))??;
        self.saw_id_token_alg(validated.header.alg);
        Ok(validated)
    }

    /// Records the algorithm of a valid ID token of this client.
    fn saw_id_token_alg(&self, alg: JwsAlgorithm) {
        let mut algs = match self.inner.id_token_algs.write() {
            Ok(a) => a,
            Err(p) => p.into_inner(),
        };
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }

    /// Whether a logout token signed with `alg` may be checked further: once
    /// ID tokens of this client have been seen, only their algorithms (the
    /// provider signs logout tokens as it signs ID tokens; a logout token
    /// under another algorithm of the allowlist is refused); before, the
    /// allowlist alone.
    fn is_id_token_alg(&self, alg: JwsAlgorithm) -> bool {
        let algs = match self.inner.id_token_algs.read() {
            Ok(a) => a,
            Err(p) => p.into_inner(),
        };
        algs.is_empty() || algs.contains(&alg)
    }

    /// Validates a back-channel logout token (signature via the JWKS cache),
    /// signed with an algorithm of this client's ID tokens.
    pub(crate) async fn validate_logout_token(
        &self,
        token: &str,
    ) -> Result<LogoutTokenClaims, LoginError> {
        let alg = UnverifiedJws::parse(token)
            .map_err(ValidationError::Jws)?
            .header()
            .alg;
        if !self.is_id_token_alg(alg) {
            return Err(ValidationError::Jws(JwsError::AlgorithmNotAllowed(alg)).into());
        }
        let now = self.now();
        let validator = &self.inner.validator;
        Ok(self
            .with_jwks(now, |keys| {
                validator.validate_logout_token(token, keys, now)
            })
            .await
            .map_err(|e| LoginError::Internal(e.to_string()))??)
    }
}
