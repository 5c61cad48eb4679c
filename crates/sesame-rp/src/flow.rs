//! The relying party's protocol steps, independent of routes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sesame_core::{
    AccessToken, AuthorizationCode, CodeVerifier, Expected, IdTokenClaims, JwsError, Nonce,
    PkceMethod, Prompt, SigningKey, State, ValidatedIdToken, ValidationError, jws, random,
};
use tower_sessions::Session;

use crate::client::{ClientAuth, OidcClient, ResponseType};
use crate::http::{self, HttpError};
use crate::metrics;
use crate::provision::{LoginClaims, provision};
use crate::session::{self, AUTH_KEY, AuthSession, MAX_PENDING, PENDING_TTL, Pending, Store};

/// Why a login did not complete. The user is not signed in, and once a fault
/// is seen no further call is made to the provider.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The callback's `state` is unknown here: replayed, expired, from another
    /// browser, or forged.
    #[error("unknown or already used login state")]
    UnknownState,
    /// The provider answered with an error (e.g. `access_denied`, `login_required`).
    #[error("the provider refused the login: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Provider {
        /// The `error` code.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// The callback has no code.
    #[error("the callback carries no authorization code")]
    MissingCode,
    /// RFC 9207: the callback's `iss` is not this provider, or is missing
    /// although the provider advertises it (mix-up attack).
    #[error("the callback's iss parameter is not this provider")]
    IssuerMismatch,
    /// The callback's `state` belongs to a login started for another provider
    /// (mix-up attack): refused before any call to either provider.
    #[error("this login was started for another provider")]
    WrongProvider,
    /// Implicit or hybrid tokens arrived other than by `form_post`.
    #[error("front-channel tokens must arrive by form_post")]
    NotFormPost,
    /// An `… token` response type without `access_token`.
    #[error("the response carries no access_token")]
    MissingAccessToken,
    /// The access token is not a Bearer token.
    #[error("token_type is not Bearer")]
    NotBearer,
    /// Hybrid flow: the token endpoint's ID token has another `iss` or `sub`
    /// than the front channel's.
    #[error("the token endpoint's ID token is not about the front channel's user")]
    IdTokenMismatch,
    /// The token request failed.
    #[error("token request failed: {0}")]
    Token(HttpError),
    /// The token response has no ID token.
    #[error("the token response has no id_token")]
    MissingIdToken,
    /// The ID token is invalid.
    #[error("invalid ID token: {0}")]
    IdToken(#[from] ValidationError),
    /// The UserInfo request failed.
    #[error("userinfo request failed: {0}")]
    UserInfo(HttpError),
    /// UserInfo is about another user.
    #[error("userinfo sub differs from the ID token's sub")]
    UserInfoSubMismatch,
    /// The application refused the user (provisioning).
    #[error("this account may not sign in here")]
    Refused,
    /// The application's user store failed.
    #[error("{0}")]
    Users(String),
    /// The session store failed.
    #[error("session error: {0}")]
    Session(String),
    /// Key material or randomness failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl LoginError {
    /// A short, stable name for this failure, for logs and metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownState => "unknown_state",
            Self::Provider { .. } => "provider_error",
            Self::MissingCode => "missing_code",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::WrongProvider => "wrong_provider",
            Self::NotFormPost => "not_form_post",
            Self::MissingAccessToken => "missing_access_token",
            Self::NotBearer => "not_bearer",
            Self::IdTokenMismatch => "id_token_mismatch",
            Self::Token(_) => "token_request",
            Self::MissingIdToken => "missing_id_token",
            Self::IdToken(_) => "invalid_id_token",
            Self::UserInfo(_) => "userinfo",
            Self::UserInfoSubMismatch => "userinfo_sub_mismatch",
            Self::Refused => "refused",
            Self::Users(_) => "users",
            Self::Session(_) => "session",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<tower_sessions::session::Error> for LoginError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Session(e.to_string())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
    #[serde(default)]
    pub(crate) expires_in: Option<Value>,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
}

impl TokenResponse {
    pub(crate) fn expires_in_seconds(&self) -> Option<i64> {
        self.expires_in()
    }

    fn expires_in(&self) -> Option<i64> {
        match &self.expires_in {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
    }
}

/// What a verified callback yields, before the application's users and the
/// session are touched.
pub(crate) struct Verified {
    pub(crate) login: LoginClaims,
    pub(crate) sid: Option<String>,
    pub(crate) id_token: String,
    pub(crate) id_token_iat: i64,
    pub(crate) access_token: String,
    pub(crate) access_expires_at: Option<i64>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) next: String,
}

fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

fn expires_in_param(value: Option<&str>) -> Option<i64> {
    value.and_then(|v| v.parse().ok())
}

impl OidcClient {
    /// The authorization URL for a new login, recording the pending login
    /// (state, nonce, PKCE verifier, `next`, and which provider it is for) in
    /// the session.
    ///
    /// # Errors
    /// When the session store or the random source fails.
    pub async fn start_login(
        &self,
        session: &Session,
        next: &str,
        extra: &[(String, String)],
        silent: bool,
    ) -> Result<String, LoginError> {
        self.start_login_in(session, next, extra, silent).await
    }

    #[tracing::instrument(name = "sesame_rp.start_login", skip_all, fields(provider = %self.name(), silent))]
    pub(crate) async fn start_login_in(
        &self,
        store: &dyn Store,
        next: &str,
        extra: &[(String, String)],
        silent: bool,
    ) -> Result<String, LoginError> {
        let metadata = self.fresh_metadata().await;
        let state = State::random().map_err(|e| LoginError::Internal(e.to_string()))?;
        let nonce = Nonce::random().map_err(|e| LoginError::Internal(e.to_string()))?;
        let verifier = CodeVerifier::random().map_err(|e| LoginError::Internal(e.to_string()))?;
        let now = self.now();
        let i = &self.inner;
        let response_type = i.response_type;
        let mut pending = session::pending(store).await.map_err(LoginError::Session)?;
        pending.retain(|_, p| now - p.created_at < PENDING_TTL);
        while pending.len() >= MAX_PENDING {
            let oldest = pending
                .iter()
                .min_by_key(|(_, p)| p.created_at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => pending.remove(&k),
                None => break,
            };
        }
        pending.insert(
            state.as_str().to_owned(),
            Pending {
                provider: self.name().to_owned(),
                issuer: i.issuer.as_str().to_owned(),
                client_id: i.client_id.as_str().to_owned(),
                response_type: response_type.as_str().to_owned(),
                nonce: nonce.as_str().to_owned(),
                verifier: verifier.secret().to_owned(),
                next: next.to_owned(),
                created_at: now,
                silent,
            },
        );
        session::save_pending(store, &pending)
            .await
            .map_err(LoginError::Session)?;

        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), response_type.as_str().into()),
            ("client_id".into(), i.client_id.as_str().into()),
            ("redirect_uri".into(), i.redirect_uri.as_str().into()),
            ("scope".into(), i.scopes.to_string()),
            ("state".into(), state.into_string()),
            ("nonce".into(), nonce.into_string()),
        ];
        if response_type.has_code() {
            params.push((
                "code_challenge".into(),
                verifier.challenge(PkceMethod::S256).into_string(),
            ));
            params.push(("code_challenge_method".into(), "S256".into()));
        }
        if i.form_post {
            params.push(("response_mode".into(), "form_post".into()));
        }
        let reserved = |k: &str| {
            params.iter().any(|(p, _)| p == k)
                || matches!(
                    k,
                    "response_mode" | "code_challenge" | "code_challenge_method"
                )
        };
        let mut additions: Vec<(String, String)> = Vec::new();
        for (k, v) in i.auth_params.iter().chain(extra) {
            if !reserved(k) && !additions.iter().any(|(a, _)| a == k) {
                additions.push((k.clone(), v.clone()));
            }
        }
        if silent {
            additions.retain(|(k, _)| k != "prompt");
            additions.push(("prompt".into(), Prompt::None.as_str().into()));
        }
        params.extend(additions);
        let endpoint = metadata.authorization_endpoint.clone().unwrap_or_default();
        let mut url =
            url::Url::parse(&endpoint).map_err(|e| LoginError::Internal(e.to_string()))?;
        url.query_pairs_mut().extend_pairs(params.iter());
        tracing::debug!(response_type = response_type.as_str(), "login started");
        metrics::login_started(self.name());
        Ok(url.into())
    }

    /// Completes a login from the callback's parameters and signs the session
    /// in. The pending login is consumed whatever the outcome. Returns the
    /// `next` path on success; on failure, the error and whether the attempt
    /// was a silent re-authentication.
    pub(crate) async fn complete_login(
        &self,
        session: &Session,
        params: &Map<String, Value>,
        via_post: bool,
    ) -> Result<String, (LoginError, bool)> {
        let (verified, silent) = self.verify_callback(session, params, via_post).await?;
        let result = self.sign_in(session, verified).await;
        match &result {
            Ok(_) => metrics::login_completed(self.name()),
            Err(e) => {
                tracing::warn!(provider = %self.name(), error = %e, reason = e.reason(), "login refused");
                metrics::login_failed(self.name(), e.reason());
            }
        }
        result.map_err(|e| (e, silent))
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
    ) -> Result<(Verified, bool), (LoginError, bool)> {
        let outcome = self.verify_callback_inner(store, params, via_post).await;
        if let Err((e, _)) = &outcome {
            tracing::warn!(error = %e, reason = e.reason(), "login callback refused");
            metrics::login_failed(self.name(), e.reason());
        }
        outcome
    }

    async fn verify_callback_inner(
        &self,
        store: &dyn Store,
        params: &Map<String, Value>,
        via_post: bool,
    ) -> Result<(Verified, bool), (LoginError, bool)> {
        let Some(state) = param(params, "state") else {
            return Err((LoginError::UnknownState, false));
        };
        let mut pending = session::pending(store)
            .await
            .map_err(|e| (LoginError::Session(e), false))?;
        // Consumed whatever happens next, including at the wrong provider's callback.
        let found = pending.remove(state);
        session::save_pending(store, &pending)
            .await
            .map_err(|e| (LoginError::Session(e), false))?;
        let now = self.now();
        let Some(p) = found.filter(|p| now - p.created_at < PENDING_TTL) else {
            return Err((LoginError::UnknownState, false));
        };
        let silent = p.silent;
        // The state is bound to the provider it was minted for: a state from
        // provider A presented at B's callback is a mix-up, refused before any
        // call to either provider.
        if p.provider != self.name()
            || p.issuer != self.inner.issuer.as_str()
            || p.client_id != self.inner.client_id.as_str()
        {
            return Err((LoginError::WrongProvider, silent));
        }
        match self.verify(params, p, via_post, now).await {
            Ok(v) => Ok((v, silent)),
            Err(e) => Err((e, silent)),
        }
    }

    async fn verify(
        &self,
        params: &Map<String, Value>,
        p: Pending,
        via_post: bool,
        now: i64,
    ) -> Result<Verified, LoginError> {
        let get = |k: &str| param(params, k);
        let metadata = self.fresh_metadata().await;
        // RFC 9207: a provider that sends `iss` must send its own, and one that
        // advertises it must send it.
        match get("iss") {
            Some(iss) if iss != self.inner.issuer.as_str() => {
                return Err(LoginError::IssuerMismatch);
            }
            None if metadata.authorization_response_iss_parameter_supported == Some(true) => {
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
        let response_type =
            ResponseType::parse(&p.response_type).ok_or(LoginError::WrongProvider)?;
        if response_type.has_id_token() && !via_post {
            // Tokens asked for with form_post must not arrive in a URL.
            return Err(LoginError::NotFormPost);
        }
        let nonce = Nonce::new(p.nonce);

        // Implicit and hybrid: the front-channel ID token first, with the
        // nonce required, c_hash with a code and at_hash with an access token.
        let front = if response_type.has_id_token() {
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
            if access.is_some()
                && get("token_type").is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
            {
                return Err(LoginError::NotBearer);
            }
            let expected = Expected {
                nonce: Some(&nonce),
                code: code.as_ref(),
                require_c_hash: code.is_some(),
                access_token: access.as_ref(),
                require_at_hash: access.is_some(),
                ..Expected::default()
            };
            let validated = self.validate_id_token(id_token, &expected).await?;
            tracing::debug!("front-channel ID token valid");
            Some((id_token.to_owned(), validated))
        } else {
            None
        };

        let (id_token, validated, access_token, access_expires_at, refresh_token) = if response_type
            .has_code()
        {
            let code = get("code").ok_or(LoginError::MissingCode)?;
            let tokens = self
                .token_request(&[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", self.inner.redirect_uri.as_str()),
                    ("code_verifier", &p.verifier),
                ])
                .await
                .map_err(LoginError::Token)?;
            if tokens
                .token_type
                .as_deref()
                .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
            {
                return Err(LoginError::NotBearer);
            }
            let id_token = tokens.id_token.clone().ok_or(LoginError::MissingIdToken)?;
            let access = AccessToken::new(tokens.access_token.clone());
            let code = AuthorizationCode::new(code);
            let expected = Expected {
                nonce: Some(&nonce),
                access_token: Some(&access),
                code: Some(&code),
                ..Expected::default()
            };
            let validated = self.validate_id_token(&id_token, &expected).await?;
            // OIDC Core §3.3.3.6: both ID tokens are about the same user.
            if let Some((_, f)) = &front
                && (f.claims.sub != validated.claims.sub || f.claims.iss != validated.claims.iss)
            {
                return Err(LoginError::IdTokenMismatch);
            }
            let expires = tokens.expires_in().map(|e| now + e);
            (
                id_token,
                validated,
                tokens.access_token,
                expires,
                tokens.refresh_token,
            )
        } else {
            let (id_token, validated) = front.ok_or(LoginError::MissingIdToken)?;
            let access = get("access_token").unwrap_or_default().to_owned();
            let expires = expires_in_param(get("expires_in")).map(|e| now + e);
            (id_token, validated, access, expires, None)
        };

        let mut claims = claims_map(&validated.claims);
        if !access_token.is_empty()
            && let Some(info) = self
                .userinfo_checked(&access_token, validated.claims.sub.as_str())
                .await?
        {
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
        Ok(Verified {
            login: LoginClaims {
                issuer: self.inner.issuer.as_str().to_owned(),
                subject: validated.claims.sub.as_str().to_owned(),
                claims,
            },
            sid: validated.claims.sid.as_ref().map(|s| s.as_str().to_owned()),
            id_token,
            id_token_iat: validated.claims.iat,
            access_token,
            access_expires_at,
            refresh_token,
            next: p.next,
        })
    }

    /// Provisions the user and signs the session in.
    async fn sign_in(&self, session: &Session, v: Verified) -> Result<String, LoginError> {
        let now = self.now();
        let user_id = match &self.inner.users {
            Some(users) => Some(
                provision(users.as_ref(), &v.login)
                    .await
                    .map_err(|e| LoginError::Users(e.to_string()))?
                    .ok_or(LoginError::Refused)?,
            ),
            None => None,
        };
        // A new login cycles the session id (fixation); re-authenticating the
        // same user keeps it (no broken forms, no lost CSRF token).
        let previous: Option<AuthSession> = session.get(AUTH_KEY).await?;
        if previous
            .as_ref()
            .is_none_or(|a| a.subject != v.login.subject || a.issuer != v.login.issuer)
        {
            session.cycle_id().await?;
        }
        let auth = AuthSession {
            provider: self.name().to_owned(),
            issuer: v.login.issuer,
            subject: v.login.subject,
            sid: v.sid,
            claims: v.login.claims,
            id_token: v.id_token,
            access_token: v.access_token,
            access_expires_at: v.access_expires_at,
            refresh_token: v.refresh_token,
            login_at: previous.map_or(now, |a| a.login_at),
            id_token_iat: v.id_token_iat,
            user_id,
        };
        session.insert(AUTH_KEY, &auth).await?;
        tracing::info!(provider = %self.name(), issuer = %auth.issuer, subject = %auth.subject, "login completed");
        Ok(v.next)
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
        let keys = self
            .inner
            .jwks
            .keys(&self.inner.http, now)
            .await
            .map_err(|e| LoginError::Internal(format!("fetching the provider's keys: {e}")))?;
        match self.inner.validator.validate(token, &keys, now, expected) {
            Err(ValidationError::Jws(JwsError::UnknownKid(kid))) => {
                let Some(fresh) = self.inner.jwks.refresh(&self.inner.http, now).await else {
                    return Err(ValidationError::Jws(JwsError::UnknownKid(kid)).into());
                };
                Ok(self
                    .inner
                    .validator
                    .validate(token, &fresh, now, expected)?)
            }
            other => Ok(other?),
        }
    }

    /// Validates a back-channel logout token (signature via the JWKS cache).
    pub(crate) async fn validate_logout_token(
        &self,
        token: &str,
    ) -> Result<sesame_core::LogoutTokenClaims, LoginError> {
        let now = self.now();
        let keys = self
            .inner
            .jwks
            .keys(&self.inner.http, now)
            .await
            .map_err(|e| LoginError::Internal(e.to_string()))?;
        match self
            .inner
            .validator
            .validate_logout_token(token, &keys, now)
        {
            Err(ValidationError::Jws(JwsError::UnknownKid(kid))) => {
                let Some(fresh) = self.inner.jwks.refresh(&self.inner.http, now).await else {
                    return Err(ValidationError::Jws(JwsError::UnknownKid(kid)).into());
                };
                Ok(self
                    .inner
                    .validator
                    .validate_logout_token(token, &fresh, now)?)
            }
            other => Ok(other?),
        }
    }

    #[tracing::instrument(name = "sesame_rp.userinfo", skip_all, fields(provider = %self.name()))]
    async fn userinfo_checked(
        &self,
        access_token: &str,
        sub: &str,
    ) -> Result<Option<Map<String, Value>>, LoginError> {
        let metadata = self.fresh_metadata().await;
        let Some(endpoint) = metadata
            .userinfo_endpoint
            .as_deref()
            .filter(|_| self.inner.fetch_userinfo)
        else {
            return Ok(None);
        };
        let request = self
            .inner
            .http
            .get(endpoint)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json");
        let response = request.send().await.map_err(|source| {
            LoginError::UserInfo(HttpError::Transport {
                url: endpoint.to_owned(),
                source,
            })
        })?;
        let is_jwt = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/jwt"));
        let (status, body) = http::body(endpoint, response)
            .await
            .map_err(LoginError::UserInfo)?;
        if !(200..300).contains(&status) {
            return Err(LoginError::UserInfo(HttpError::Status {
                url: endpoint.to_owned(),
                status,
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
            }));
        }
        let info: Map<String, Value> = if is_jwt {
            let text = String::from_utf8_lossy(&body).trim().to_owned();
            let keys = self
                .inner
                .jwks
                .keys(&self.inner.http, self.now())
                .await
                .map_err(LoginError::UserInfo)?;
            let verified = jws::verify(&text, &keys, self.inner.validator.algorithms(), None)
                .map_err(|e| LoginError::IdToken(ValidationError::Jws(e)))?;
            let info: Map<String, Value> = verified
                .claims()
                .map_err(|e| LoginError::IdToken(ValidationError::Jws(e)))?;
            // A signed response must come from this issuer for this client.
            if info
                .get("iss")
                .and_then(Value::as_str)
                .is_some_and(|i| i != self.inner.issuer.as_str())
            {
                return Err(LoginError::UserInfoSubMismatch);
            }
            info
        } else {
            serde_json::from_slice(&body).map_err(|e| {
                LoginError::UserInfo(HttpError::Json {
                    url: endpoint.to_owned(),
                    message: e.to_string(),
                })
            })?
        };
        if info.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(LoginError::UserInfoSubMismatch);
        }
        tracing::debug!(signed = is_jwt, claims = info.len(), "userinfo received");
        Ok(Some(info))
    }

    /// Calls the token endpoint with this client's authentication.
    #[tracing::instrument(
        name = "sesame_rp.token_request",
        skip_all,
        fields(provider = %self.name(), grant_type = form.iter().find(|(k, _)| *k == "grant_type").map(|(_, v)| *v))
    )]
    pub(crate) async fn token_request(
        &self,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, HttpError> {
        let metadata = self.fresh_metadata().await;
        let endpoint = metadata.token_endpoint.clone().unwrap_or_default();
        let result = self.authenticated_post(&endpoint, form).await;
        match &result {
            Ok(_) => tracing::debug!("token response received"),
            Err(e) => tracing::warn!(error = %e, "token request failed"),
        }
        result
    }

    /// POSTs a form to a provider endpoint with this client's authentication
    /// and parses the JSON answer.
    pub(crate) async fn authenticated_post<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Result<T, HttpError> {
        let endpoint = endpoint.to_owned();
        let i = &self.inner;
        let mut body: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut request = i
            .http
            .post(&endpoint)
            .header(reqwest::header::ACCEPT, "application/json");
        let secret = i.secret.as_ref().map(|s| s.secret()).unwrap_or_default();
        match i.auth {
            ClientAuth::ClientSecretBasic => {
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let credentials =
                    STANDARD.encode(format!("{}:{}", enc(i.client_id.as_str()), enc(secret)));
                request = request.header(
                    reqwest::header::AUTHORIZATION,
                    format!("Basic {credentials}"),
                );
            }
            ClientAuth::ClientSecretPost => {
                body.push(("client_id".into(), i.client_id.as_str().into()));
                body.push(("client_secret".into(), secret.into()));
            }
            ClientAuth::ClientSecretJwt | ClientAuth::PrivateKeyJwt => {
                let assertion = self
                    .client_assertion(&endpoint)
                    .map_err(|e| HttpError::Json {
                        url: endpoint.clone(),
                        message: e,
                    })?;
                body.push(("client_id".into(), i.client_id.as_str().into()));
                body.push((
                    "client_assertion_type".into(),
                    sesame_core::CLIENT_ASSERTION_TYPE_JWT_BEARER.into(),
                ));
                body.push(("client_assertion".into(), assertion));
            }
            // `none`, and any method a later sesame-core adds: identify only.
            _ => body.push(("client_id".into(), i.client_id.as_str().into())),
        }
        http::json(&endpoint, request.form(&body)).await
    }

    fn client_assertion(&self, audience: &str) -> Result<String, String> {
        let i = &self.inner;
        let now = self.now();
        let claims = json!({
            "iss": i.client_id.as_str(),
            "sub": i.client_id.as_str(),
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": random::token().map_err(|e| e.to_string())?,
        });
        let key = match (i.auth, &i.private_key, &i.secret) {
            (ClientAuth::PrivateKeyJwt, Some(k), _) => jws::sign(k, Some("JWT"), &claims),
            (ClientAuth::ClientSecretJwt, _, Some(s)) => {
                let k = SigningKey::hmac(sesame_core::JwsAlgorithm::HS256, s.secret().as_bytes())
                    .map_err(|e| e.to_string())?;
                jws::sign(&k, Some("JWT"), &claims)
            }
            _ => return Err("no credentials for a client assertion".into()),
        };
        key.map_err(|e| e.to_string())
    }
}

/// The ID token's claims as a JSON map.
pub(crate) fn claims_map(claims: &IdTokenClaims) -> Map<String, Value> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}
