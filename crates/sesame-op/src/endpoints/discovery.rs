//! Discovery and JWKS.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sesame_core::{ProviderMetadata, ResponseMode, ResponseType};

use crate::flow::client_auth::{ASSERTION_ALGS, HMAC_ASSERTION_ALGS};
use crate::flow::request_object::{self, REQUEST_OBJECT_ALGS};
use crate::model::{AuthMethod, GrantType, REGISTRABLE_GRANTS, SubjectType};
use crate::paths;
use crate::provider::Provider;

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Option<Vec<String>> {
    Some(items.into_iter().map(str::to_owned).collect())
}

impl Provider {
    /// The discovery document: exactly what this provider supports, with
    /// endpoint URLs from [`crate::paths`] under the configured issuer.
    pub fn metadata(&self) -> ProviderMetadata {
        let iss = &self.inner.issuer;
        let s = &self.inner.settings;
        let algs: Vec<&str> = s.signing_algs.iter().map(|a| a.as_str()).collect();
        let mut pkce = vec!["S256"];
        if s.allow_plain_pkce {
            pkce.push("plain");
        }
        let auth_methods: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
        let secret_methods: Vec<&str> = AuthMethod::ALL
            .iter()
            .filter(|m| **m != AuthMethod::None)
            .map(|m| m.as_str())
            .collect();
        ProviderMetadata {
            issuer: iss.as_str().to_owned(),
            authorization_endpoint: Some(iss.join(paths::AUTHORIZE)),
            token_endpoint: Some(iss.join(paths::TOKEN)),
            userinfo_endpoint: Some(iss.join(paths::USERINFO)),
            jwks_uri: Some(iss.join(paths::JWKS)),
            end_session_endpoint: Some(iss.join(paths::END_SESSION)),
            introspection_endpoint: Some(iss.join(paths::INTROSPECT)),
            revocation_endpoint: Some(iss.join(paths::REVOKE)),
            registration_endpoint: s
                .registration
                .is_enabled()
                .then(|| iss.join(paths::REGISTER)),
            scopes_supported: strings(self.inner.scopes.scopes()),
            response_types_supported: strings(ResponseType::ALL.iter().map(|t| t.as_str())),
            response_modes_supported: strings(ResponseMode::ALL.iter().map(|m| m.as_str())),
            grant_types_supported: strings(
                REGISTRABLE_GRANTS
                    .into_iter()
                    .chain(s.password_grant.then_some(GrantType::Password))
                    .chain([GrantType::DeviceCode])
                    .map(GrantType::as_str),
            ),
            subject_types_supported: strings(
                [SubjectType::Public]
                    .into_iter()
                    .chain(s.pairwise_salt.is_some().then_some(SubjectType::Pairwise))
                    .map(SubjectType::as_str),
            ),
            id_token_signing_alg_values_supported: strings(algs.clone()),
            userinfo_signing_alg_values_supported: strings(algs.clone()),
            authorization_signing_alg_values_supported: strings(algs),
            token_endpoint_auth_methods_supported: strings(auth_methods.clone()),
            token_endpoint_auth_signing_alg_values_supported: strings(
                ASSERTION_ALGS
                    .iter()
                    .chain(&HMAC_ASSERTION_ALGS)
                    .map(|a| a.as_str()),
            ),
            introspection_endpoint_auth_methods_supported: strings(secret_methods.clone()),
            revocation_endpoint_auth_methods_supported: strings(auth_methods),
            code_challenge_methods_supported: strings(pkce),
            claims_supported: strings(
                [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "acr",
                    "amr",
                    "sid",
                ]
                .into_iter()
                .chain(self.inner.scopes.claim_names()),
            ),
            acr_values_supported: (!s.acr_values_supported.is_empty())
                .then(|| s.acr_values_supported.clone()),
            claims_parameter_supported: Some(true),
            request_parameter_supported: Some(true),
            request_uri_parameter_supported: Some(true),
            require_request_uri_registration: Some(true),
            request_object_signing_alg_values_supported: strings(
                REQUEST_OBJECT_ALGS
                    .iter()
                    .map(|a| a.as_str())
                    .chain([request_object::NONE]),
            ),
            prompt_values_supported: strings(["none", "login", "consent", "select_account"]),
            backchannel_logout_supported: Some(true),
            backchannel_logout_session_supported: Some(true),
            authorization_response_iss_parameter_supported: Some(true),
            pushed_authorization_request_endpoint: Some(iss.join(paths::PAR)),
            device_authorization_endpoint: Some(iss.join(paths::DEVICE_AUTHORIZATION)),
            extra: [(
                "dpop_signing_alg_values_supported".to_owned(),
                serde_json::json!(
                    sesame_core::dpop::DPOP_ALGS
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                ),
            )]
            .into_iter()
            .collect(),
            require_pushed_authorization_requests: Some(s.require_par || s.profile.is_some()),
            ..ProviderMetadata::default()
        }
    }
}

pub(super) async fn discovery(State(p): State<Provider>) -> Response {
    let mut r = axum::Json(p.metadata()).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

pub(super) async fn jwks(State(p): State<Provider>) -> Response {
    let ring = p.key_ring().await;
    let mut r = ring.jwks_json.to_string().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}
