//! The client's DPoP requests: the key of a login or a session, what a
//! token response means for the binding, proofs, and a request sent with
//! one (retried once when the server asks for a nonce).

use reqwest::header::{AUTHORIZATION, HeaderMap};
use sesame_core::dpop::{
    DPOP_HEADER, DPOP_SCHEME, DPOP_SIGNING_ALGS_METADATA, DpopKey, ProofTarget,
};

use super::{KeyMode, SessionDpop, asks_for_nonce};
use crate::client::OidcClient;
use crate::flow::{LoginError, TokenResponse};
use crate::outbound::{self, HttpError};

impl OidcClient {
    /// Whether DPoP is on for this client.
    pub fn uses_dpop(&self) -> bool {
        self.inner.dpop.is_some()
    }

    /// The key for a new login's token request: the app's, or a fresh one.
    pub(crate) fn dpop_for_login(&self) -> Result<Option<DpopKey>, LoginError> {
        match self.inner.dpop.as_ref().map(|d| &d.mode) {
            None => Ok(None),
            Some(KeyMode::App(key)) => Ok(Some(key.clone())),
            Some(KeyMode::PerSession) => DpopKey::generate()
                .map(Some)
                .map_err(|e| LoginError::Internal(e.to_string())),
        }
    }

    /// The key a session's token is bound to (none: a bearer token).
    pub(crate) fn dpop_key_of(&self, binding: Option<&SessionDpop>) -> Option<DpopKey> {
        let binding = binding?;
        match (&self.inner.dpop.as_ref()?.mode, &binding.pkcs8, binding.alg) {
            (KeyMode::App(key), None, _) => Some(key.clone()),
            (_, Some(pem), Some(alg)) => match DpopKey::from_pkcs8_pem(alg, pem) {
                Ok(k) => Some(k),
                Err(e) => {
                    tracing::warn!(error = %e, "the session's DPoP key is unreadable");
                    None
                }
            },
            _ => None,
        }
    }

    /// What a token response means for the session's binding: with a key, a
    /// `DPoP` token (or, from a provider that does not advertise DPoP, a
    /// Bearer one, used as such); without, a Bearer token.
    pub(crate) fn token_binding(
        &self,
        tokens: &TokenResponse,
        key: Option<&DpopKey>,
    ) -> Result<Option<SessionDpop>, LoginError> {
        let token_type = tokens.token_type.as_deref();
        let is = |word: &str| token_type.is_some_and(|t| t.eq_ignore_ascii_case(word));
        let Some(key) = key else {
            return match token_type.is_none() || is("bearer") {
                true => Ok(None),
                false => Err(LoginError::NotBearer),
            };
        };
        if is(DPOP_SCHEME) {
            let per_session = matches!(
                self.inner.dpop.as_ref().map(|d| &d.mode),
                Some(KeyMode::PerSession)
            );
            if !per_session {
                return Ok(Some(SessionDpop::default()));
            }
            let pem = key
                .to_pkcs8_pem()
                .map_err(|e| LoginError::Internal(e.to_string()))?;
            return Ok(Some(SessionDpop {
                alg: Some(key.algorithm()),
                pkcs8: Some(pem.to_string()),
            }));
        }
        if !(token_type.is_none() || is("bearer")) {
            return Err(LoginError::NotDpop);
        }
        if self
            .metadata()
            .extra
            .contains_key(DPOP_SIGNING_ALGS_METADATA)
        {
            return Err(LoginError::NotDpop);
        }
        tracing::warn!(
            provider = %self.name(),
            "DPoP was asked for, but the provider (which does not advertise DPoP) issued a Bearer token; using it as one"
        );
        Ok(None)
    }

    /// A proof for `method` on `url` with `key`, carrying the origin's nonce.
    pub(crate) fn dpop_proof(
        &self,
        key: &DpopKey,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<String, HttpError> {
        let nonce = self.inner.dpop.as_ref().and_then(|d| d.nonces.get(url));
        let mut target = ProofTarget::new(method, url).with_nonce(nonce.as_deref());
        if let Some(token) = access_token {
            target = target.with_access_token(token);
        }
        key.proof(&target, self.now()).map_err(|e| HttpError::Json {
            url: url.to_owned(),
            message: format!("no DPoP proof could be made: {e}"),
        })
    }

    /// Keeps the nonce a response from `url` brings; whether it had one.
    pub(crate) fn remember_nonce(&self, url: &str, headers: &HeaderMap) -> bool {
        self.inner
            .dpop
            .as_ref()
            .is_some_and(|d| d.nonces.remember(url, headers))
    }

    /// Sends the request `build` makes with a proof (and, with an access
    /// token, `Authorization: DPoP`), once more with the server's nonce when
    /// it asks for one. Returns the status, headers and body (bounded).
    pub(crate) async fn dpop_exchange(
        &self,
        key: &DpopKey,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        build: impl Fn() -> Result<reqwest::RequestBuilder, HttpError>,
    ) -> Result<(u16, HeaderMap, Vec<u8>), HttpError> {
        let mut retried = false;
        loop {
            let proof = self.dpop_proof(key, method, url, access_token)?;
            let mut request = build()?.header(DPOP_HEADER, proof);
            if let Some(token) = access_token {
                request = request.header(AUTHORIZATION, format!("{DPOP_SCHEME} {token}"));
            }
            let response = outbound::send(url, request).await?;
            let headers = response.headers().clone();
            let fresh_nonce = self.remember_nonce(url, &headers);
            let (status, body) = outbound::body(url, response).await?;
            if !retried && fresh_nonce && asks_for_nonce(status, &headers, Some(&body)) {
                tracing::debug!(url, "the server asks for a DPoP nonce; retrying once");
                retried = true;
                continue;
            }
            return Ok((status, headers, body));
        }
    }
}
