//! The relying party's protocol steps, independent of routes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sesame_core::{
    AccessToken, AuthorizationCode, CodeVerifier, Expected, IdTokenClaims, JwsError, Nonce,
    PkceMethod, SigningKey, State, ValidatedIdToken, ValidationError, jws, random,
};
use tower_sessions::Session;

use crate::client::{ClientAuth, OidcClient};
use crate::http::{self, HttpError};
use crate::provision::{LoginClaims, provision};
use crate::session::{
    AUTH_KEY, AuthSession, MAX_PENDING, PENDING_TTL, Pending, PendingMap, pending_key,
};

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
    /// RFC 9207: the callback's `iss` is not this provider (mix-up attack).
    #[error("the callback's iss parameter is not this provider")]
    IssuerMismatch,
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

impl OidcClient {
    /// The authorization URL for a new login, recording the pending login
    /// (state, nonce, PKCE verifier, `next`) in the session.
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
        let metadata = self.fresh_metadata().await;
        let state = State::random().map_err(|e| LoginError::Internal(e.to_string()))?;
        let nonce = Nonce::random().map_err(|e| LoginError::Internal(e.to_string()))?;
        let verifier = CodeVerifier::random().map_err(|e| LoginError::Internal(e.to_string()))?;
        let now = self.now();
        let key = pending_key(self.name());
        let mut pending: PendingMap = session.get(&key).await?.unwrap_or_default();
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
                nonce: nonce.as_str().to_owned(),
                verifier: verifier.secret().to_owned(),
                next: next.to_owned(),
                created_at: now,
                silent,
            },
        );
        session.insert(&key, &pending).await?;

        let i = &self.inner;
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), i.client_id.as_str().into()),
            ("redirect_uri".into(), i.redirect_uri.as_str().into()),
            ("scope".into(), i.scopes.to_string()),
            ("state".into(), state.into_string()),
            ("nonce".into(), nonce.into_string()),
            (
                "code_challenge".into(),
                verifier.challenge(PkceMethod::S256).into_string(),
            ),
            ("code_challenge_method".into(), "S256".into()),
        ];
        let reserved = |k: &str| params.iter().any(|(p, _)| p == k);
        let mut additions: Vec<(String, String)> = Vec::new();
        for (k, v) in i.auth_params.iter().chain(extra) {
            if !reserved(k) && !additions.iter().any(|(a, _)| a == k) {
                additions.push((k.clone(), v.clone()));
            }
        }
        if silent {
            additions.retain(|(k, _)| k != "prompt");
            additions.push(("prompt".into(), "none".into()));
        }
        params.extend(additions);
        let endpoint = metadata.authorization_endpoint.clone().unwrap_or_default();
        let mut url =
            url::Url::parse(&endpoint).map_err(|e| LoginError::Internal(e.to_string()))?;
        url.query_pairs_mut().extend_pairs(params.iter());
        Ok(url.into())
    }

    /// Completes a login from the callback's parameters. The pending login is
    /// consumed whatever the outcome. Returns the `next` path on success; on
    /// failure, the error and whether the attempt was a silent re-authentication.
    pub(crate) async fn complete_login(
        &self,
        session: &Session,
        params: &Map<String, Value>,
    ) -> Result<String, (LoginError, bool)> {
        let get = |k: &str| {
            params
                .get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let Some(state) = get("state") else {
            return Err((LoginError::UnknownState, false));
        };
        let key = pending_key(self.name());
        let mut pending: PendingMap = session
            .get(&key)
            .await
            .map_err(|e| (e.into(), false))?
            .unwrap_or_default();
        let found = pending.remove(state);
        session
            .insert(&key, &pending)
            .await
            .map_err(|e| (e.into(), false))?;
        let now = self.now();
        let Some(p) = found.filter(|p| now - p.created_at < PENDING_TTL) else {
            return Err((LoginError::UnknownState, false));
        };
        let silent = p.silent;
        self.finish(session, params, p, now)
            .await
            .map_err(|e| (e, silent))
    }

    async fn finish(
        &self,
        session: &Session,
        params: &Map<String, Value>,
        p: Pending,
        now: i64,
    ) -> Result<String, LoginError> {
        let get = |k: &str| {
            params
                .get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let metadata = self.fresh_metadata().await;
        // RFC 9207: a provider that sends `iss` must send its own.
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
            return Err(LoginError::Token(HttpError::Json {
                url: "token endpoint".into(),
                message: "token_type is not Bearer".into(),
            }));
        }
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or(LoginError::MissingIdToken)?;
        let nonce = Nonce::new(p.nonce);
        let access = AccessToken::new(tokens.access_token.clone());
        let code = AuthorizationCode::new(code);
        let expected = Expected {
            nonce: Some(&nonce),
            access_token: Some(&access),
            code: Some(&code),
            ..Expected::default()
        };
        let validated = self.validate_id_token(id_token, &expected).await?;
        let mut claims = claims_map(&validated.claims);
        if let Some(info) = self
            .userinfo_checked(&tokens.access_token, validated.claims.sub.as_str())
            .await?
        {
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
        let login = LoginClaims {
            issuer: self.inner.issuer.as_str().to_owned(),
            subject: validated.claims.sub.as_str().to_owned(),
            claims: claims.clone(),
        };
        let user_id = match &self.inner.users {
            Some(users) => Some(
                provision(users.as_ref(), &login)
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
            .is_none_or(|a| a.subject != login.subject || a.issuer != login.issuer)
        {
            session.cycle_id().await?;
        }
        let auth = AuthSession {
            provider: self.name().to_owned(),
            issuer: login.issuer,
            subject: login.subject,
            sid: validated.claims.sid.as_ref().map(|s| s.as_str().to_owned()),
            claims,
            id_token: id_token.to_owned(),
            access_token: tokens.access_token.clone(),
            access_expires_at: tokens.expires_in().map(|e| now + e),
            refresh_token: tokens.refresh_token.clone(),
            login_at: previous.map_or(now, |a| a.login_at),
            id_token_iat: validated.claims.iat,
            user_id,
        };
        session.insert(AUTH_KEY, &auth).await?;
        tracing::info!(issuer = %auth.issuer, subject = %auth.subject, "login completed");
        Ok(p.next)
    }

    /// Validates an ID token with the provider's keys, refetching the JWKS
    /// once (rate-limited) when the `kid` is unknown.
    ///
    /// # Errors
    /// The first rule the token breaks.
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
        Ok(Some(info))
    }

    /// Calls the token endpoint with this client's authentication.
    pub(crate) async fn token_request(
        &self,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, HttpError> {
        let metadata = self.fresh_metadata().await;
        let endpoint = metadata.token_endpoint.clone().unwrap_or_default();
        self.authenticated_post(&endpoint, form).await
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
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                body.push(("client_assertion".into(), assertion));
            }
            ClientAuth::None => body.push(("client_id".into(), i.client_id.as_str().into())),
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
