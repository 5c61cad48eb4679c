//! The UserInfo call after login, its answer checked against the ID token;
//! a signed answer (OIDC Core §5.3.2) is verified first.

use serde_json::{Map, Value};
use sesame_core::dpop::DpopKey;
use sesame_core::{JwsAlgorithm, KeySet, SigningKey, jws};

use crate::client::OidcClient;
use crate::flow::{LoginError, SignedUserInfoError};
use crate::outbound::{self, HttpError};

fn content_type(headers: &reqwest::header::HeaderMap) -> Option<&str> {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// Whether a `Content-Type` is `application/jwt` (parameters ignored).
fn is_jwt(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/jwt"))
}

impl OidcClient {
    #[tracing::instrument(name = "sesame_rp.userinfo", skip_all, fields(provider = %self.name()))]
    pub(crate) async fn userinfo_checked(
        &self,
        access_token: &str,
        sub: &str,
        dpop: Option<&DpopKey>,
    ) -> Result<Option<Map<String, Value>>, LoginError> {
        let metadata = self.fresh_metadata().await;
        let Some(endpoint) = metadata
            .userinfo_endpoint
            .as_deref()
            .filter(|_| self.inner.fetch_userinfo)
        else {
            return Ok(None);
        };
        let accept = match self.inner.userinfo_alg {
            Some(_) => "application/jwt",
            None => "application/json",
        };
        let (status, signed, body) = match dpop {
            // RFC 9449 §7.1: the DPoP scheme and a proof bound to the token.
            Some(key) => {
                let build = || {
                    Ok(self
                        .inner
                        .http
                        .get(endpoint)
                        .header(reqwest::header::ACCEPT, accept))
                };
                let (status, headers, body) = self
                    .dpop_exchange(key, "GET", endpoint, Some(access_token), build)
                    .await
                    .map_err(LoginError::UserInfo)?;
                (status, is_jwt(content_type(&headers)), body)
            }
            None => self.userinfo_bearer(endpoint, access_token, accept).await?,
        };
        if !(200..300).contains(&status) {
            return Err(LoginError::UserInfo(outbound::status_error(
                endpoint, status, &body,
            )));
        }
        let info = match (signed, self.inner.userinfo_alg) {
            (true, _) => self.signed_userinfo(&body).await?,
            (false, Some(alg)) => {
                return Err(LoginError::SignedUserInfo(SignedUserInfoError::Unsigned(
                    alg,
                )));
            }
            (false, None) => serde_json::from_slice(&body).map_err(|e| {
                LoginError::UserInfo(HttpError::Json {
                    url: endpoint.to_owned(),
                    message: e.to_string(),
                })
            })?,
        };
        if info.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(LoginError::UserInfoSubMismatch);
        }
        tracing::debug!(signed, claims = info.len(), "userinfo received");
        Ok(Some(info))
    }

    /// UserInfo with a bearer token: RFC 6750 §2.1 by default; §2.2 (a form
    /// body) for providers that ask for it. The status, whether the answer
    /// is signed, and the body.
    async fn userinfo_bearer(
        &self,
        endpoint: &str,
        access_token: &str,
        accept: &str,
    ) -> Result<(u16, bool, Vec<u8>), LoginError> {
        let request = if self.inner.userinfo_form_body {
            self.inner
                .http
                .post(endpoint)
                .form(&[("access_token", access_token)])
        } else {
            self.inner.http.get(endpoint).bearer_auth(access_token)
        }
        .header(reqwest::header::ACCEPT, accept);
        let response = outbound::send(endpoint, request)
            .await
            .map_err(LoginError::UserInfo)?;
        let signed = is_jwt(content_type(response.headers()));
        let (status, body) = outbound::body(endpoint, response)
            .await
            .map_err(LoginError::UserInfo)?;
        Ok((status, signed, body))
    }

    /// The algorithms a signed answer may use, and the HMAC key for a
    /// symmetric one (the client secret): the registered
    /// `userinfo_signed_response_alg` only, or else the ID token allowlist.
    fn userinfo_algorithms(&self) -> (Vec<JwsAlgorithm>, Option<SigningKey>) {
        let algs = match self.inner.userinfo_alg {
            Some(alg) => vec![alg],
            None => self.inner.validator.algorithms().to_vec(),
        };
        let hmac = algs
            .iter()
            .find(|a| a.is_symmetric())
            .zip(self.inner.secret.as_ref())
            .and_then(|(alg, secret)| SigningKey::hmac(*alg, secret.secret().as_bytes()).ok());
        (algs, hmac)
    }

    /// Verifies a signed answer: signature and algorithm, `typ`, `iss`, `aud`.
    async fn signed_userinfo(&self, body: &[u8]) -> Result<Map<String, Value>, LoginError> {
        let refused = |e| LoginError::SignedUserInfo(SignedUserInfoError::Jws(e));
        let text = String::from_utf8_lossy(body).trim().to_owned();
        let (algs, hmac) = self.userinfo_algorithms();
        let verify = |keys: &KeySet| jws::verify(&text, keys, &algs, hmac.as_ref());
        let verified = self
            .with_jwks(self.now(), verify)
            .await
            .map_err(LoginError::UserInfo)?
            .map_err(refused)?;
        if let Some(typ) = verified.header.typ.as_deref()
            && !typ.eq_ignore_ascii_case("JWT")
            && !typ.eq_ignore_ascii_case("application/jwt")
        {
            return Err(LoginError::SignedUserInfo(SignedUserInfoError::Typ(
                typ.chars().take(64).collect(),
            )));
        }
        let info: Map<String, Value> = verified.claims().map_err(refused)?;
        if info
            .get("iss")
            .is_some_and(|i| i.as_str() != Some(self.inner.issuer.as_str()))
        {
            return Err(LoginError::SignedUserInfo(SignedUserInfoError::Issuer));
        }
        let client_id = self.inner.client_id.as_str();
        let names_client = match info.get("aud") {
            None => true,
            Some(Value::String(aud)) => aud == client_id,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
            Some(_) => false,
        };
        if !names_client {
            return Err(LoginError::SignedUserInfo(SignedUserInfoError::Audience));
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::is_jwt;

    #[test]
    fn only_application_jwt_is_a_signed_answer() {
        assert!(is_jwt(Some("application/jwt")));
        assert!(is_jwt(Some("Application/JWT; charset=utf-8")));
        assert!(!is_jwt(Some("application/jwtx")));
        assert!(!is_jwt(Some("application/json")));
        assert!(!is_jwt(None));
    }
}
