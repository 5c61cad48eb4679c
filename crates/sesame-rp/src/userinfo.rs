//! The UserInfo call after login, its answer checked against the ID token.

use serde_json::{Map, Value};
use sesame_core::{ValidationError, jws};

use crate::client::OidcClient;
use crate::flow::LoginError;
use crate::outbound::{self, HttpError};

impl OidcClient {
    #[tracing::instrument(name = "sesame_rp.userinfo", skip_all, fields(provider = %self.name()))]
    pub(crate) async fn userinfo_checked(
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
        let (status, body) = outbound::body(endpoint, response)
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
}
