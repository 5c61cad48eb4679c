//! The provider's token endpoint (and the endpoints authenticated like it):
//! client authentication shared by the callback, refresh and introspection.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sesame_core::dpop::DpopKey;
use sesame_core::{SigningKey, jws, random};

use crate::client::{ClientAuth, OidcClient};
use crate::flow::TokenResponse;
use crate::outbound::{self, HttpError};

impl OidcClient {
    /// Calls the token endpoint with this client's authentication.
    pub(crate) async fn token_request(
        &self,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, HttpError> {
        self.token_request_with(form, None).await
    }

    /// Calls the token endpoint, with a DPoP proof made with `dpop` (RFC
    /// 9449 §5; retried once with the provider's nonce when it asks for one).
    #[tracing::instrument(
        name = "sesame_rp.token_request",
        skip_all,
        fields(provider = %self.name(), grant_type = form.iter().find(|(k, _)| *k == "grant_type").map(|(_, v)| *v))
    )]
    pub(crate) async fn token_request_with(
        &self,
        form: &[(&str, &str)],
        dpop: Option<&DpopKey>,
    ) -> Result<TokenResponse, HttpError> {
        let metadata = self.fresh_metadata().await;
        let endpoint = metadata.token_endpoint.clone().unwrap_or_default();
        let result = match dpop {
            None => self.authenticated_post(&endpoint, form).await,
            Some(key) => {
                let build = || self.authenticated_request(&endpoint, form);
                match self
                    .dpop_exchange(key, "POST", &endpoint, None, build)
                    .await
                {
                    Ok((status, _, body)) => outbound::parse_json(&endpoint, status, &body),
                    Err(e) => Err(e),
                }
            }
        };
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
        outbound::json(endpoint, self.authenticated_request(endpoint, form)?).await
    }

    /// A form POST to a provider endpoint with this client's authentication
    /// (a fresh client assertion each time), not sent yet.
    pub(crate) fn authenticated_request(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Result<reqwest::RequestBuilder, HttpError> {
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
                let audience = match i.assertion_audience {
                    crate::AssertionAudience::Issuer => i.issuer.as_str().to_owned(),
                    _ => endpoint.clone(),
                };
                let assertion = self
                    .client_assertion(&audience)
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
        Ok(request.form(&body))
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

impl OidcClient {
    /// RFC 7662 introspection of an access token, with this client's authentication.
    pub(crate) async fn introspect_request(
        &self,
        endpoint: &str,
        token: &str,
    ) -> Result<Map<String, Value>, HttpError> {
        self.authenticated_post(
            endpoint,
            &[("token", token), ("token_type_hint", "access_token")],
        )
        .await
    }
}
