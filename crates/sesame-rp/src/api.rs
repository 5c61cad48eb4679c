//! `ApiToken`: call resource servers as the signed-in user, with the
//! session's access token — `Bearer`, or `DPoP` with a fresh proof.

use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use sesame_core::dpop::{DPOP_HEADER, DPOP_SCHEME, DpopKey};

use crate::client::OidcClient;
use crate::dpop::asks_for_nonce;
use crate::extract::{NotSignedIn, load_with_client};
use crate::outbound::{self, HttpError};

/// The session's access token, ready to call an API as the user: the
/// `Authorization` header (and, for a DPoP-bound token, the `DPoP` proof
/// for the request's method and URL, RFC 9449 §7). Its `Debug` shows no
/// token and no key.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use sesame_rp::ApiToken;
///
/// async fn orders(api: ApiToken) -> Result<String, String> {
///     let http = reqwest::Client::new();
///     let url = "https://api.example/orders";
///     // Sends it with the headers, retrying once if the API asks for a DPoP nonce.
///     let r = api.send(http.get(url), "GET", url).await.map_err(|e| e.to_string())?;
///     r.text().await.map_err(|e| e.to_string())
/// }
/// # fn app(oidc: sesame_rp::OidcClient) -> Router {
/// Router::new().route("/orders", get(orders)).layer(sesame_rp::RequireLogin::new(oidc))
/// # }
/// ```
#[derive(Clone)]
pub struct ApiToken {
    client: OidcClient,
    token: sesame_core::AccessToken,
    key: Option<DpopKey>,
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiToken")
            .field("dpop", &self.key.as_ref().map(DpopKey::thumbprint))
            .finish_non_exhaustive()
    }
}

/// Why an API call could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiTokenError {
    /// The token or proof does not fit in a header, or no proof could be made.
    #[error("{0}")]
    Header(String),
    /// The request failed.
    #[error(transparent)]
    Http(#[from] HttpError),
}

impl ApiToken {
    /// Whether the token is DPoP-bound (sent with the `DPoP` scheme and a proof).
    pub fn is_dpop(&self) -> bool {
        self.key.is_some()
    }

    /// The access token itself.
    pub fn access_token(&self) -> &sesame_core::AccessToken {
        &self.token
    }

    /// The headers for one request of `method` to `url`: `Authorization`,
    /// and with a DPoP-bound token a fresh `DPoP` proof (with `ath`, and the
    /// API's last nonce). Make new headers for every request: a proof is
    /// single-use.
    ///
    /// # Errors
    /// [`ApiTokenError::Header`] when no proof can be made or a value is not a header.
    pub fn headers(&self, method: &str, url: &str) -> Result<HeaderMap, ApiTokenError> {
        let bad = |e: &dyn fmt::Display| ApiTokenError::Header(e.to_string());
        let mut headers = HeaderMap::new();
        let token = self.token.secret();
        let authorization = match &self.key {
            Some(key) => {
                let proof = self.client.dpop_proof(key, method, url, Some(token))?;
                let name = HeaderName::try_from(DPOP_HEADER).map_err(|e| bad(&e))?;
                headers.insert(name, HeaderValue::from_str(&proof).map_err(|e| bad(&e))?);
                format!("{DPOP_SCHEME} {token}")
            }
            None => format!("Bearer {token}"),
        };
        let mut value = HeaderValue::from_str(&authorization).map_err(|e| bad(&e))?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
        Ok(headers)
    }

    /// Sends `request` (for `method` on `url`) with [`ApiToken::headers`];
    /// when the API answers 401 `DPoP error="use_dpop_nonce"` with a
    /// `DPoP-Nonce`, once more with a proof carrying it (a request whose body
    /// cannot be cloned is not retried).
    ///
    /// # Errors
    /// [`ApiTokenError`] when the headers cannot be made or the request fails.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
        url: &str,
    ) -> Result<reqwest::Response, ApiTokenError> {
        let retry = self.key.as_ref().and(request.try_clone());
        let response = self.send_once(request, method, url).await?;
        let fresh = self.client.remember_nonce(url, response.headers());
        match retry {
            Some(again)
                if fresh
                    && asks_for_nonce(response.status().as_u16(), response.headers(), None) =>
            {
                tracing::debug!(url, "the API asks for a DPoP nonce; retrying once");
                let response = self.send_once(again, method, url).await?;
                self.client.remember_nonce(url, response.headers());
                Ok(response)
            }
            _ => Ok(response),
        }
    }

    async fn send_once(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
        url: &str,
    ) -> Result<reqwest::Response, ApiTokenError> {
        let request = request.headers(self.headers(method, url)?);
        outbound::send(url, request)
            .await
            .map_err(ApiTokenError::Http)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ApiToken {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (auth, client) = load_with_client(parts).await.ok_or(NotSignedIn)?;
        let key = client.dpop_key_of(auth.dpop.as_ref());
        Ok(Self {
            client,
            token: sesame_core::AccessToken::new(auth.access_token),
            key,
        })
    }
}
