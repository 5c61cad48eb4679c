//! The callback: the pending login consumed, the response verified.

use serde_json::{Map, Value};
use sesame_core::{
    AccessToken, AuthorizationCode, Expected, Nonce, ResponseType, UnixTime, ValidatedIdToken,
};
use tower_sessions::Session;

use super::{CallbackError, LoginError, Verified, claims_map, expires_at, expires_in_param, param};
use crate::client::OidcClient;
use crate::external;
use crate::metrics;
use crate::provision::LoginClaims;
use crate::session::{self, PENDING_TTL, Pending, Store};

/// The tokens a verified response carries, wherever each came from.
struct Tokens {
    id_token: String,
    validated: ValidatedIdToken,
    access_token: String,
    access_expires_at: Option<UnixTime>,
    refresh_token: Option<String>,
    dpop: Option<crate::dpop::SessionDpop>,
}

impl OidcClient {
    /// Completes a login from the callback's parameters and signs the session
    /// in. The pending login is consumed whatever the outcome. Returns the
    /// `next` path on success; on failure, the error and whether the attempt
    /// was a silent re-authentication.
    pub(crate) async fn complete_login(
        &self,
        session: &Session,
        params: &Map<String, Value>,
        via_post: bool,
    ) -> Result<String, CallbackError> {
        let (verified, silent) = self.verify_callback(session, params, via_post).await?;
        let result = self.sign_in(session, verified).await;
        match &result {
            Ok(_) => metrics::login_completed(self.name()),
            Err(e) => {
                tracing::warn!(provider = %self.name(), error = %e, reason = e.reason(), "login refused");
                metrics::login_failed(self.name(), e.reason());
            }
        }
        result.map_err(|e| CallbackError::new(e, silent))
    }

    /// Consumes the callback's pending login and verifies the response (no
    /// user provisioning, no session change). Returns the verified login and
    /// whether it was a silent re-authentication.
    #[tracing::instrument(name = "sesame_rp.callback", skip_all, fields(provider = %self.name(), via_post))]
    pub(crate) async fn verify_callback(
        &self,
        store: &dyn Store,
        params: &Map<String, Value>,
        via_post: bool,
    ) -> Result<(Verified, bool), CallbackError> {
        let outcome = self.verify_callback_inner(store, params, via_post).await;
        if let Err(e) = &outcome {
            tracing::warn!(error = %e.error, reason = e.error.reason(), "login callback refused");
            metrics::login_failed(self.name(), e.error.reason());
        }
        outcome
    }

    async fn verify_callback_inner(
        &self,
        store: &dyn Store,
        params: &Map<String, Value>,
        via_post: bool,
    ) -> Result<(Verified, bool), CallbackError> {
        let loud = |e| CallbackError::new(e, false);
        // JARM: the parameters are the response JWT's, once it checks out;
        // if it does not, the state it names is consumed all the same.
        let (unpacked, refused) = match self.inner.jarm {
            None => (None, None),
            Some(jarm) => match self.unpack_jarm(jarm, params).await {
                Ok(inner) => (Some(inner), None),
                Err((state, e)) => {
                    let state = state.map(Value::String).into_iter();
                    (
                        Some(state.map(|s| ("state".to_owned(), s)).collect()),
                        Some(e),
                    )
                }
            },
        };
        let params = unpacked.as_ref().unwrap_or(params);
        let Some(state) = param(params, "state") else {
            return Err(loud(refused.unwrap_or(LoginError::UnknownState)));
        };
        let mut pending = session::pending(store)
            .await
            .map_err(|e| loud(LoginError::Session(e)))?;
        // Consumed whatever happens next, including at the wrong provider's callback.
        let found = pending.remove(state);
        session::save_pending(store, &pending)
            .await
            .map_err(|e| loud(LoginError::Session(e)))?;
        let now = self.now();
        let Some(p) = found.filter(|p| now.saturating_sub(p.created_at) < PENDING_TTL) else {
            return Err(loud(LoginError::UnknownState));
        };
        let silent = p.silent;
        if let Some(e) = refused {
            return Err(CallbackError::new(e, silent));
        }
        // The state is bound to the provider it was minted for: a state from
        // provider A presented at B's callback is a mix-up, refused before any
        // call to either provider.
        if p.provider != self.name()
            || p.issuer != self.inner.issuer.as_str()
            || p.client_id != self.inner.client_id.as_str()
        {
            return Err(CallbackError::new(LoginError::WrongProvider, silent));
        }
        match self.verify(params, p, via_post, now).await {
            Ok(v) => Ok((v, silent)),
            Err(e) => Err(CallbackError::new(e, silent)),
        }
    }

    /// RFC 9207's `iss`, the provider's `error`, and the response mode.
    async fn check_response(
        &self,
        params: &Map<String, Value>,
        response_type: ResponseType,
        via_post: bool,
    ) -> Result<(), LoginError> {
        let get = |k: &str| param(params, k);
        let metadata = self.fresh_metadata().await;
        // RFC 9207: a provider that sends `iss` must send its own, and one that
        // advertises it (or any, under a security profile) must send it.
        match get("iss") {
            Some(iss) if iss != self.inner.issuer.as_str() => {
                return Err(LoginError::IssuerMismatch);
            }
            None if self.inner.require_iss
                || metadata.authorization_response_iss_parameter_supported == Some(true) =>
            {
                return Err(LoginError::IssuerMismatch);
            }
            _ => {}
        }
        if let Some(error) = get("error") {
            return Err(LoginError::Provider {
                error: error.to_owned(),
                description: get("error_description").map(str::to_owned),
            });
        }
        if (response_type.has_id_token() || response_type.has_token()) && !via_post {
            // Tokens asked for with form_post must not arrive in a URL.
            return Err(LoginError::NotFormPost);
        }
        Ok(())
    }

    async fn verify(
        &self,
        params: &Map<String, Value>,
        p: Pending,
        via_post: bool,
        now: UnixTime,
    ) -> Result<Verified, LoginError> {
        let response_type =
            ResponseType::parse(&p.response_type).ok_or(LoginError::WrongProvider)?;
        // `code token`: no front-channel ID token carries the front channel's
        // access token's `at_hash`, so nothing binds that token to this login;
        // it is not used. The code is redeemed below and the token
        // endpoint's tokens are the session's.
        self.check_response(params, response_type, via_post).await?;
        let nonce = Nonce::new(p.nonce.clone());
        let front = if response_type.has_id_token() {
            Some(
                self.front_channel(params, response_type, &nonce, p.max_age)
                    .await?,
            )
        } else {
            None
        };
        let tokens = if response_type.has_code() {
            self.redeem_code(params, &p, &nonce, front.as_ref(), now)
                .await?
        } else {
            let (id_token, validated) = front.ok_or(LoginError::MissingIdToken)?;
            let get = |k: &str| param(params, k);
            Tokens {
                id_token,
                validated,
                access_token: get("access_token").unwrap_or_default().to_owned(),
                access_expires_at: expires_in_param(get("expires_in")).map(|e| expires_at(now, e)),
                refresh_token: None,
                dpop: None,
            }
        };
        let validated = &tokens.validated;
        let mut claims = claims_map(&validated.claims);
        // OIDC Core §5.6.2: references to external claims never stay in the main set.
        let mut references: Vec<_> = external::take_references(&mut claims).into_iter().collect();
        if !tokens.access_token.is_empty()
            && let Some(mut info) = self
                .userinfo_checked(
                    &tokens.access_token,
                    validated.claims.sub.as_str(),
                    self.dpop_key_of(tokens.dpop.as_ref()).as_ref(),
                )
                .await?
        {
            references.extend(external::take_references(&mut info));
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
        let external = if references.is_empty() {
            external::External::default()
        } else {
            self.external_claims(references).await
        };
        Ok(Verified {
            login: LoginClaims {
                issuer: self.inner.issuer.as_str().to_owned(),
                subject: validated.claims.sub.as_str().to_owned(),
                claims,
            },
            sid: validated.claims.sid.as_ref().map(|s| s.as_str().to_owned()),
            id_token_iat: validated.claims.iat,
            id_token: tokens.id_token,
            access_token: tokens.access_token,
            access_expires_at: tokens.access_expires_at,
            refresh_token: tokens.refresh_token,
            dpop: tokens.dpop,
            next: p.next,
            external,
        })
    }

    /// Implicit and hybrid: the front-channel ID token, with the nonce
    /// required, `c_hash` with a code and `at_hash` with an access token.
    async fn front_channel(
        &self,
        params: &Map<String, Value>,
        response_type: ResponseType,
        nonce: &Nonce,
        max_age: Option<i64>,
    ) -> Result<(String, ValidatedIdToken), LoginError> {
        let get = |k: &str| param(params, k);
        let id_token = get("id_token").ok_or(LoginError::MissingIdToken)?;
        let code = match response_type.has_code() {
            true => Some(AuthorizationCode::new(
                get("code").ok_or(LoginError::MissingCode)?,
            )),
            false => None,
        };
        let access = match response_type.has_token() {
            true => Some(AccessToken::new(
                get("access_token").ok_or(LoginError::MissingAccessToken)?,
            )),
            false => None,
        };
        if access.is_some() && get("token_type").is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(LoginError::NotBearer);
        }
        let expected = Expected {
            nonce: Some(nonce),
            max_age,
            code: code.as_ref(),
            require_c_hash: code.is_some(),
            access_token: access.as_ref(),
            require_at_hash: access.is_some(),
        };
        let validated = self.validate_id_token(id_token, &expected).await?;
        tracing::debug!("front-channel ID token valid");
        Ok((id_token.to_owned(), validated))
    }

    /// The code redeemed with PKCE, and the token endpoint's ID token checked
    /// (against the front channel's, in the hybrid flow).
    async fn redeem_code(
        &self,
        params: &Map<String, Value>,
        p: &Pending,
        nonce: &Nonce,
        front: Option<&(String, ValidatedIdToken)>,
        now: UnixTime,
    ) -> Result<Tokens, LoginError> {
        let code = param(params, "code").ok_or(LoginError::MissingCode)?;
        let key = self.dpop_for_login()?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.inner.redirect_uri.as_str()),
            ("code_verifier", &p.verifier),
        ];
        let tokens = self
            .token_request_with(&form, key.as_ref())
            .await
            .map_err(LoginError::Token)?;
        let dpop = self.token_binding(&tokens, key.as_ref())?;
        let id_token = tokens.id_token.clone().ok_or(LoginError::MissingIdToken)?;
        let access = AccessToken::new(tokens.access_token.clone());
        let code = AuthorizationCode::new(code);
        let expected = Expected {
            nonce: Some(nonce),
            // OIDC Core §3.1.3.7 #13 (REVIEW S9).
            max_age: p.max_age,
            access_token: Some(&access),
            code: Some(&code),
            ..Expected::default()
        };
        let validated = self.validate_id_token(&id_token, &expected).await?;
        // OIDC Core §3.3.3.6: both ID tokens are about the same user.
        if let Some((_, f)) = front
            && (f.claims.sub != validated.claims.sub || f.claims.iss != validated.claims.iss)
        {
            return Err(LoginError::IdTokenMismatch);
        }
        let access_expires_at = tokens.expires_in_seconds().map(|e| expires_at(now, e));
        Ok(Tokens {
            id_token,
            validated,
            access_token: tokens.access_token,
            access_expires_at,
            refresh_token: tokens.refresh_token,
            dpop,
        })
    }
}
