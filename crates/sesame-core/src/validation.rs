//! ID token and logout token validation — one validator for both sides.
//!
//! The relying party validates what it receives; the provider validates
//! `id_token_hint`s and tests its own output with the same code.

use std::sync::Arc;

use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::alg::JwsAlgorithm;
use crate::claims::{
    BACKCHANNEL_LOGOUT_EVENT, IdTokenClaims, LogoutTokenClaims, RawIdTokenClaims,
    RawLogoutTokenClaims,
};
use crate::clock::UnixTime;
use crate::hash::verify_token_hash;
use crate::jwk::KeySet;
use crate::jws::{JwsError, JwsHeader, UnverifiedJws};
use crate::keys::SigningKey;
use crate::types::{AccessToken, AuthorizationCode, ClientId, Issuer, Nonce};

/// The largest clock-skew allowance a validator accepts: 5 minutes.
pub const MAX_LEEWAY: i64 = 300;
/// The default clock-skew allowance: 60 seconds.
pub const DEFAULT_LEEWAY: i64 = 60;

/// Why a token was refused. Each variant names one rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The JWS layer refused it (signature, algorithm, key).
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// The header's `typ` says this is another kind of token.
    #[error("unexpected token type {0:?}")]
    WrongType(String),
    /// The payload is not a JSON object of the expected shape.
    #[error("malformed claims: {0}")]
    Malformed(String),
    /// A required claim is absent.
    #[error("the {0} claim is missing")]
    MissingClaim(&'static str),
    /// `iss` differs from the expected issuer.
    #[error("issuer mismatch: expected {expected:?}, got {found:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// `aud` does not contain the client id.
    #[error("the token's audience does not include this client")]
    AudienceMismatch,
    /// `aud` contains an audience that is not allowlisted.
    #[error("untrusted audience {0:?}")]
    UntrustedAudience(String),
    /// Several audiences and no `azp`.
    #[error("several audiences but no azp claim")]
    MissingAzp,
    /// `azp` is not the client id.
    #[error("azp {0:?} is not this client")]
    AzpMismatch(String),
    /// `exp` has passed.
    #[error("the token expired at {exp} (now {now})")]
    Expired {
        /// `exp`
        exp: UnixTime,
        /// the validator's time
        now: UnixTime,
    },
    /// `iat` is in the future beyond the leeway.
    #[error("the token was issued in the future ({iat} > {now})")]
    IssuedInFuture {
        /// `iat`
        iat: UnixTime,
        /// the validator's time
        now: UnixTime,
    },
    /// `nbf` is in the future beyond the leeway.
    #[error("the token is not valid before {nbf} (now {now})")]
    NotYetValid {
        /// `nbf`
        nbf: UnixTime,
        /// the validator's time
        now: UnixTime,
    },
    /// A nonce was sent and the token has none.
    #[error("the nonce claim is missing")]
    MissingNonce,
    /// The nonce differs from the one sent.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// `max_age` was requested and `auth_time` is missing.
    #[error("auth_time is missing but max_age was requested")]
    MissingAuthTime,
    /// The user authenticated longer ago than `max_age` allows.
    #[error("the user authenticated too long ago (auth_time {auth_time}, max_age {max_age})")]
    AuthTooOld {
        /// `auth_time`
        auth_time: UnixTime,
        /// the requested `max_age`
        max_age: i64,
    },
    /// `acr` is absent or not one of the accepted values.
    #[error("acr {0:?} is not accepted")]
    AcrNotAccepted(Option<String>),
    /// `at_hash` is required (implicit/hybrid with an access token) and absent.
    #[error("at_hash is missing")]
    MissingAtHash,
    /// `at_hash` does not match the access token.
    #[error("at_hash does not match the access token")]
    AtHashMismatch,
    /// `c_hash` is required (hybrid) and absent.
    #[error("c_hash is missing")]
    MissingCHash,
    /// `c_hash` does not match the code.
    #[error("c_hash does not match the authorization code")]
    CHashMismatch,
    /// A logout token carries a `nonce` (forbidden, §2.4).
    #[error("a logout token must not contain a nonce")]
    LogoutTokenHasNonce,
    /// A logout token lacks the back-channel logout event.
    #[error("the events claim lacks the back-channel logout event")]
    MissingLogoutEvent,
    /// A logout token has neither `sid` nor `sub`.
    #[error("a logout token needs sid or sub")]
    MissingSidAndSub,
    /// An ID token that carries a logout event: a logout token replayed as an ID token.
    #[error("a logout token is not an ID token")]
    LogoutTokenAsIdToken,
}

/// Per-login expectations: what this particular response must match.
#[derive(Debug, Clone, Default)]
pub struct Expected<'a> {
    /// The nonce sent in the authentication request.
    pub nonce: Option<&'a Nonce>,
    /// The `max_age` sent in the authentication request.
    pub max_age: Option<i64>,
    /// The access token returned with this ID token (checked against `at_hash`).
    pub access_token: Option<&'a AccessToken>,
    /// Require `at_hash` (implicit `id_token token` and hybrid responses from
    /// the authorization endpoint).
    pub require_at_hash: bool,
    /// The code returned with this ID token (checked against `c_hash`).
    pub code: Option<&'a AuthorizationCode>,
    /// Require `c_hash` (hybrid `code id_token` responses).
    pub require_c_hash: bool,
}

/// A validated ID token: its header and claims.
#[derive(Debug, Clone)]
pub struct ValidatedIdToken {
    /// The protected header.
    pub header: JwsHeader,
    /// The claims.
    pub claims: IdTokenClaims,
}

/// Validates ID tokens and logout tokens for one client of one issuer.
///
/// ```
/// use sesame_core::{ClientId, IdTokenValidator, Issuer, JwsAlgorithm};
/// let validator = IdTokenValidator::new(
///     Issuer::new("https://op.example").unwrap(),
///     ClientId::new("my-app"),
/// )
/// .with_algorithms([JwsAlgorithm::RS256, JwsAlgorithm::ES256])
/// .with_trusted_audiences(["https://api.example"])
/// .with_leeway(30)
/// .unwrap();
/// # let _ = validator;
/// ```
#[derive(Debug, Clone)]
pub struct IdTokenValidator {
    issuer: Issuer,
    client_id: ClientId,
    trusted_audiences: Vec<String>,
    algorithms: Vec<JwsAlgorithm>,
    hmac_secret: Option<Arc<SigningKey>>,
    leeway: i64,
    acr_values: Option<Vec<String>>,
}

/// A configuration value out of bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl IdTokenValidator {
    /// A validator for tokens from `issuer` to `client_id`, accepting RS256
    /// only, with [`DEFAULT_LEEWAY`].
    pub fn new(issuer: Issuer, client_id: ClientId) -> Self {
        Self {
            issuer,
            client_id,
            trusted_audiences: Vec::new(),
            algorithms: vec![JwsAlgorithm::RS256],
            hmac_secret: None,
            leeway: DEFAULT_LEEWAY,
            acr_values: None,
        }
    }

    /// The accepted signing algorithms (the allowlist, fixed by configuration).
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = JwsAlgorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Accepts HS256/384/512 tokens keyed with the client secret. Only the
    /// HMAC algorithm of `secret` is added to the allowlist.
    #[must_use]
    pub fn with_hmac_secret(mut self, secret: SigningKey) -> Self {
        let alg = secret.alg();
        if !self.algorithms.contains(&alg) {
            self.algorithms.push(alg);
        }
        self.hmac_secret = Some(Arc::new(secret));
        self
    }

    /// Audiences besides the client id that may appear in `aud`.
    #[must_use]
    pub fn with_trusted_audiences(
        mut self,
        audiences: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.trusted_audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// Only accept tokens whose `acr` is one of these.
    #[must_use]
    pub fn with_acr_values(mut self, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.acr_values = Some(values.into_iter().map(Into::into).collect());
        self
    }

    /// The clock-skew allowance in seconds, at most [`MAX_LEEWAY`].
    ///
    /// # Errors
    /// A negative value or one above [`MAX_LEEWAY`].
    pub fn with_leeway(mut self, seconds: i64) -> Result<Self, ConfigError> {
        if !(0..=MAX_LEEWAY).contains(&seconds) {
            return Err(ConfigError(format!(
                "leeway must be between 0 and {MAX_LEEWAY} seconds, not {seconds}"
            )));
        }
        self.leeway = seconds;
        Ok(self)
    }

    /// The expected issuer.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The algorithm allowlist.
    pub fn algorithms(&self) -> &[JwsAlgorithm] {
        &self.algorithms
    }

    fn verify_signature(
        &self,
        token: &str,
        keys: &KeySet,
    ) -> Result<(JwsHeader, Vec<u8>), ValidationError> {
        let jws = UnverifiedJws::parse(token)?;
        let verified = jws.verify(keys, &self.algorithms, self.hmac_secret.as_deref())?;
        Ok((verified.header, verified.payload))
    }

    /// Validates an ID token: signature (key from `keys`, algorithm from the
    /// allowlist), then every claim rule of OIDC Core §3.1.3.7, §3.2.2.11 and §3.3.2.12.
    ///
    /// # Errors
    /// The first rule the token breaks.
    pub fn validate(
        &self,
        token: &str,
        keys: &KeySet,
        now: UnixTime,
        expected: &Expected<'_>,
    ) -> Result<ValidatedIdToken, ValidationError> {
        let (header, payload) = self.verify_signature(token, keys)?;
        if let Some(typ) = &header.typ
            && !is_plain_jwt_type(typ)
        {
            return Err(ValidationError::WrongType(typ.clone()));
        }
        let raw: RawIdTokenClaims = serde_json::from_slice(&payload)
            .map_err(|e| ValidationError::Malformed(e.to_string()))?;
        let claims = self.check_id_token_claims(raw, header.alg, now, expected)?;
        Ok(ValidatedIdToken { header, claims })
    }

    fn check_issuer_audience(
        &self,
        iss: Option<String>,
        aud: Option<&crate::Audience>,
        azp: Option<&str>,
    ) -> Result<String, ValidationError> {
        let iss = iss.ok_or(ValidationError::MissingClaim("iss"))?;
        if iss != self.issuer.as_str() {
            return Err(ValidationError::IssuerMismatch {
                expected: self.issuer.as_str().to_owned(),
                found: iss,
            });
        }
        let aud = aud.ok_or(ValidationError::MissingClaim("aud"))?;
        if !aud.contains(self.client_id.as_str()) {
            return Err(ValidationError::AudienceMismatch);
        }
        if let Some(other) = aud
            .as_slice()
            .iter()
            .find(|a| *a != self.client_id.as_str() && !self.trusted_audiences.contains(a))
        {
            return Err(ValidationError::UntrustedAudience(other.clone()));
        }
        match azp {
            Some(azp) if azp != self.client_id.as_str() => {
                return Err(ValidationError::AzpMismatch(azp.to_owned()));
            }
            None if aud.as_slice().len() > 1 => return Err(ValidationError::MissingAzp),
            _ => {}
        }
        Ok(iss)
    }

    fn check_times(
        &self,
        iat: Option<UnixTime>,
        exp: Option<UnixTime>,
        nbf: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<(UnixTime, UnixTime), ValidationError> {
        let exp = exp.ok_or(ValidationError::MissingClaim("exp"))?;
        let iat = iat.ok_or(ValidationError::MissingClaim("iat"))?;
        if now.saturating_sub(self.leeway) >= exp {
            return Err(ValidationError::Expired { exp, now });
        }
        if iat > now.saturating_add(self.leeway) {
            return Err(ValidationError::IssuedInFuture { iat, now });
        }
        if let Some(nbf) = nbf
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(ValidationError::NotYetValid { nbf, now });
        }
        Ok((iat, exp))
    }

    fn check_id_token_claims(
        &self,
        raw: RawIdTokenClaims,
        alg: JwsAlgorithm,
        now: UnixTime,
        expected: &Expected<'_>,
    ) -> Result<IdTokenClaims, ValidationError> {
        let iss = self.check_issuer_audience(raw.iss, raw.aud.as_ref(), raw.azp.as_deref())?;
        let sub = raw
            .sub
            .filter(|s| !s.as_str().is_empty())
            .ok_or(ValidationError::MissingClaim("sub"))?;
        let (iat, exp) = self.check_times(raw.iat, raw.exp, raw.nbf, now)?;
        if raw
            .extra
            .get("events")
            .and_then(Value::as_object)
            .is_some_and(|e| e.contains_key(BACKCHANNEL_LOGOUT_EVENT))
        {
            return Err(ValidationError::LogoutTokenAsIdToken);
        }
        if let Some(sent) = expected.nonce {
            let got = raw.nonce.as_ref().ok_or(ValidationError::MissingNonce)?;
            if !bool::from(got.as_str().as_bytes().ct_eq(sent.as_str().as_bytes())) {
                return Err(ValidationError::NonceMismatch);
            }
        }
        if let Some(max_age) = expected.max_age {
            let auth_time = raw.auth_time.ok_or(ValidationError::MissingAuthTime)?;
            if now.saturating_sub(auth_time) > max_age.saturating_add(self.leeway) {
                return Err(ValidationError::AuthTooOld { auth_time, max_age });
            }
        }
        if let Some(accepted) = &self.acr_values
            && !raw.acr.as_ref().is_some_and(|a| accepted.contains(a))
        {
            return Err(ValidationError::AcrNotAccepted(raw.acr));
        }
        check_half_hash(
            alg,
            raw.at_hash.as_deref(),
            expected.access_token.map(AccessToken::secret),
            expected.require_at_hash,
            ValidationError::MissingAtHash,
            ValidationError::AtHashMismatch,
        )?;
        check_half_hash(
            alg,
            raw.c_hash.as_deref(),
            expected.code.map(AuthorizationCode::secret),
            expected.require_c_hash,
            ValidationError::MissingCHash,
            ValidationError::CHashMismatch,
        )?;
        Ok(IdTokenClaims {
            iss,
            sub,
            aud: raw.aud.unwrap_or_default(),
            exp,
            iat,
            nbf: raw.nbf,
            auth_time: raw.auth_time,
            nonce: raw.nonce,
            acr: raw.acr,
            amr: raw.amr,
            azp: raw.azp,
            at_hash: raw.at_hash,
            c_hash: raw.c_hash,
            sid: raw.sid,
            profile: raw.profile,
            extra: raw.extra,
        })
    }

    /// Validates a back-channel logout token (Back-Channel Logout 1.0 §2.6):
    /// signature and `iss`/`aud`/`iat`/`exp` as for an ID token, plus `jti`,
    /// the logout event in `events`, `sid` or `sub`, and no `nonce`.
    ///
    /// # Errors
    /// The first rule the token breaks.
    pub fn validate_logout_token(
        &self,
        token: &str,
        keys: &KeySet,
        now: UnixTime,
    ) -> Result<LogoutTokenClaims, ValidationError> {
        let (header, payload) = self.verify_signature(token, keys)?;
        if let Some(typ) = &header.typ {
            let typ = typ.to_ascii_lowercase();
            if !matches!(
                typ.as_str(),
                "logout+jwt" | "application/logout+jwt" | "jwt" | "application/jwt"
            ) {
                return Err(ValidationError::WrongType(typ));
            }
        }
        let raw: RawLogoutTokenClaims = serde_json::from_slice(&payload)
            .map_err(|e| ValidationError::Malformed(e.to_string()))?;
        if raw.nonce.is_some() {
            return Err(ValidationError::LogoutTokenHasNonce);
        }
        // azp does not appear in logout tokens; several audiences are still allowlisted.
        let iss =
            self.check_issuer_audience(raw.iss, raw.aud.as_ref(), Some(self.client_id.as_str()))?;
        let (iat, exp) = self.check_times(raw.iat, raw.exp, None, now)?;
        let jti = raw
            .jti
            .filter(|j| !j.is_empty())
            .ok_or(ValidationError::MissingClaim("jti"))?;
        let Some(Value::Object(events)) = raw.events else {
            return Err(ValidationError::MissingLogoutEvent);
        };
        if !events
            .get(BACKCHANNEL_LOGOUT_EVENT)
            .is_some_and(Value::is_object)
        {
            return Err(ValidationError::MissingLogoutEvent);
        }
        if raw.sid.is_none() && raw.sub.is_none() {
            return Err(ValidationError::MissingSidAndSub);
        }
        Ok(LogoutTokenClaims {
            iss,
            aud: raw.aud.unwrap_or_default(),
            iat,
            exp,
            jti,
            events,
            sub: raw.sub,
            sid: raw.sid,
        })
    }
}

fn is_plain_jwt_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("jwt") || typ.eq_ignore_ascii_case("application/jwt")
}

fn check_half_hash(
    alg: JwsAlgorithm,
    claimed: Option<&str>,
    value: Option<&str>,
    required: bool,
    missing: ValidationError,
    mismatch: ValidationError,
) -> Result<(), ValidationError> {
    match (claimed, value) {
        (None, _) if required => Err(missing),
        (Some(claimed), Some(value)) if !verify_token_hash(alg, value, claimed) => Err(mismatch),
        _ => Ok(()),
    }
}
