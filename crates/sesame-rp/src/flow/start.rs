//! Starting a login: the pending record and the authorization URL.

use sesame_core::{CodeVerifier, Nonce, PkceMethod, Prompt, State};
use tower_sessions::Session;

use super::LoginError;
use crate::client::OidcClient;
use crate::metrics;
use crate::session::{self, MAX_PENDING, PENDING_TTL, Pending, Store};

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
        pending.retain(|_, p| now.saturating_sub(p.created_at) < PENDING_TTL);
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
                // The first `max_age` given is the one sent (as below).
                max_age: i
                    .auth_params
                    .iter()
                    .chain(extra)
                    .find(|(k, _)| k == "max_age")
                    .and_then(|(_, v)| v.trim().parse::<i64>().ok()),
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
        if let Some(jarm) = &i.jarm {
            params.push(("response_mode".into(), jarm.mode.as_str().into()));
        } else if i.form_post {
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
        if let Some(ro) = &i.request_object {
            let client = crate::request_object::Client {
                client_id: i.client_id.as_str(),
                issuer: i.issuer.as_str(),
                redirect_uri: i.redirect_uri.as_str(),
                callback_path: &i.paths.callback,
            };
            params = ro
                .wrap(&client, params, now)
                .map_err(LoginError::Internal)?;
        }
        if i.par {
            params = self.push(&metadata, params).await?;
        }
        let endpoint = metadata.authorization_endpoint.clone().unwrap_or_default();
        let mut url =
            url::Url::parse(&endpoint).map_err(|e| LoginError::Internal(e.to_string()))?;
        url.query_pairs_mut().extend_pairs(params.iter());
        tracing::debug!(response_type = response_type.as_str(), "login started");
        metrics::login_started(self.name());
        Ok(url.into())
    }

    /// RFC 9126: POSTs the request's parameters (client authentication as
    /// at the token endpoint, which identifies the client itself except
    /// with Basic) and returns what the browser carries instead.
    async fn push(
        &self,
        metadata: &sesame_core::ProviderMetadata,
        params: Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>, LoginError> {
        #[derive(serde::Deserialize)]
        struct Pushed {
            request_uri: String,
        }
        let i = &self.inner;
        let endpoint = metadata
            .pushed_authorization_request_endpoint
            .clone()
            .unwrap_or_default();
        let basic = i.auth == crate::ClientAuth::ClientSecretBasic;
        let form: Vec<(&str, &str)> = params
            .iter()
            .filter(|(k, _)| basic || k != "client_id")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let pushed: Pushed = self
            .authenticated_post(&endpoint, &form)
            .await
            .map_err(LoginError::Par)?;
        Ok(vec![
            ("client_id".into(), i.client_id.as_str().into()),
            ("request_uri".into(), pushed.request_uri),
        ])
    }
}
