//! Provider metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::types::Issuer;

/// The path of the discovery document, appended to the issuer (OIDC Discovery §4).
pub const WELL_KNOWN_PATH: &str = "/.well-known/openid-configuration";

/// The discovery URL for an issuer: `{issuer}/.well-known/openid-configuration`
/// (a trailing slash on the issuer is not doubled).
pub fn discovery_url(issuer: &Issuer) -> String {
    issuer.join(WELL_KNOWN_PATH)
}

/// A provider's metadata.
///
/// Parsing ignores members it does not know (kept in `extra`) and tolerates
/// the omissions real providers make; [`ProviderMetadata::validate`] then
/// checks what a relying party cannot do without.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[allow(missing_docs)] // each member is named as in the specification
pub struct ProviderMetadata {
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_modes_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_values_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_types_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg_values_supported: Option<Vec<String>>,
    /// JARM §4: the algorithms of signed authorization responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_values_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_types_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_locales_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_locales_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_values_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_parameter_supported: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_parameter_supported: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_uri_parameter_supported: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_request_uri_registration: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_supported: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_supported: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_supported: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// RFC 9126 §5: where clients push authorization requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// RFC 8628 §4: the device authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<String>,
    /// RFC 9126 §5: whether every authorization request must be pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_documentation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_policy_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_tos_uri: Option<String>,
    /// Members this type does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Why a discovery document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Not JSON of the expected shape.
    #[error("malformed discovery document: {0}")]
    Malformed(String),
    /// The document's issuer is not the configured one (OIDC Discovery §4.3):
    /// a document served for another issuer, or a mix-up attack.
    #[error("the discovery document is for issuer {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The document's `issuer`.
        found: String,
    },
    /// A member a relying party needs is missing.
    #[error("the discovery document lacks {0}")]
    Missing(&'static str),
    /// An endpoint is not an absolute http(s) URL.
    #[error("{0} is not an absolute http(s) URL: {1:?}")]
    BadUrl(&'static str, String),
}

impl ProviderMetadata {
    /// Parses a discovery document.
    ///
    /// # Errors
    /// [`DiscoveryError::Malformed`] when it is not a JSON object with an `issuer`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DiscoveryError> {
        serde_json::from_slice(bytes).map_err(|e| DiscoveryError::Malformed(e.to_string()))
    }

    /// Checks the document against the configured issuer: `issuer` is exactly
    /// `expected`; `authorization_endpoint` and `jwks_uri` are present; a
    /// `token_endpoint` is present unless the provider only offers implicit
    /// responses; every endpoint present is an absolute http(s) URL.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self, expected: &Issuer) -> Result<(), DiscoveryError> {
        if self.issuer != expected.as_str() {
            return Err(DiscoveryError::IssuerMismatch {
                expected: expected.as_str().to_owned(),
                found: self.issuer.clone(),
            });
        }
        let required = [
            ("authorization_endpoint", &self.authorization_endpoint),
            ("jwks_uri", &self.jwks_uri),
        ];
        for (name, value) in required {
            if value.is_none() {
                return Err(DiscoveryError::Missing(name));
            }
        }
        let implicit_only = self.response_types_supported.as_ref().is_some_and(|types| {
            !types.is_empty() && types.iter().all(|t| !t.split(' ').any(|p| p == "code"))
        });
        if self.token_endpoint.is_none() && !implicit_only {
            return Err(DiscoveryError::Missing("token_endpoint"));
        }
        let endpoints = [
            ("authorization_endpoint", &self.authorization_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("userinfo_endpoint", &self.userinfo_endpoint),
            ("jwks_uri", &self.jwks_uri),
            ("registration_endpoint", &self.registration_endpoint),
            ("end_session_endpoint", &self.end_session_endpoint),
            ("revocation_endpoint", &self.revocation_endpoint),
            ("introspection_endpoint", &self.introspection_endpoint),
        ];
        for (name, value) in endpoints {
            if let Some(value) = value {
                // An `https` issuer's endpoints are `https` too (REVIEW S23):
                // secrets and tokens are never sent in clear, except to a
                // loopback address (development, tests).
                let secure_issuer = self.issuer.starts_with("https://");
                let ok = Url::parse(value).is_ok_and(|u| {
                    u.host().is_some()
                        && match u.scheme() {
                            "https" => true,
                            "http" => !secure_issuer || is_loopback(&u),
                            _ => false,
                        }
                });
                if !ok {
                    return Err(DiscoveryError::BadUrl(name, value.clone()));
                }
            }
        }
        Ok(())
    }

    /// Whether the provider advertises PKCE with S256. Many providers that
    /// support it do not say so; relying parties send S256 regardless.
    pub fn advertises_pkce_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|m| m == "S256"))
    }

    /// The token endpoint authentication methods, with the spec's default
    /// (`client_secret_basic`) when the member is absent.
    pub fn token_auth_methods(&self) -> Vec<String> {
        self.token_endpoint_auth_methods_supported
            .clone()
            .unwrap_or_else(|| vec!["client_secret_basic".to_owned()])
    }

    /// The ID token signing algorithms, with the spec's default (RS256) when absent.
    pub fn id_token_algs(&self) -> Vec<String> {
        self.id_token_signing_alg_values_supported
            .clone()
            .unwrap_or_else(|| vec!["RS256".to_owned()])
    }
}

/// Whether `url`'s host is `localhost` or a loopback address.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_issuer_may_not_advertise_http_endpoints() {
        for member in ["token_endpoint", "jwks_uri", "userinfo_endpoint"] {
            let mut doc = minimal();
            doc[member] = serde_json::json!("http://op.example/x");
            let m: ProviderMetadata = serde_json::from_value(doc).unwrap();
            assert!(
                matches!(m.validate(&iss()), Err(DiscoveryError::BadUrl(name, _)) if name == member),
                "{member}"
            );
        }
        // Loopback stays allowed (a local provider behind a TLS proxy, tests).
        let mut doc = minimal();
        doc["token_endpoint"] = serde_json::json!("http://127.0.0.1:8080/token");
        doc["jwks_uri"] = serde_json::json!("http://localhost:8080/jwks");
        let m: ProviderMetadata = serde_json::from_value(doc).unwrap();
        m.validate(&iss()).unwrap();
    }

    fn iss() -> Issuer {
        Issuer::new("https://op.example").unwrap()
    }

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "issuer": "https://op.example",
            "authorization_endpoint": "https://op.example/authorize",
            "token_endpoint": "https://op.example/token",
            "jwks_uri": "https://op.example/jwks",
            "x-vendor": {"anything": true}
        })
    }

    #[test]
    fn minimal_document_is_valid_and_keeps_extras() {
        let m = ProviderMetadata::from_json(minimal().to_string().as_bytes()).unwrap();
        m.validate(&iss()).unwrap();
        assert!(m.extra.contains_key("x-vendor"));
        assert_eq!(m.token_auth_methods(), vec!["client_secret_basic"]);
        assert_eq!(m.id_token_algs(), vec!["RS256"]);
        assert!(!m.advertises_pkce_s256());
    }

    #[test]
    fn issuer_must_match_exactly() {
        let m: ProviderMetadata = serde_json::from_value(minimal()).unwrap();
        let other = Issuer::new("https://op.example/").unwrap();
        assert!(matches!(
            m.validate(&other),
            Err(DiscoveryError::IssuerMismatch { .. })
        ));
    }

    #[test]
    fn required_members() {
        for member in ["authorization_endpoint", "jwks_uri", "token_endpoint"] {
            let mut doc = minimal();
            doc.as_object_mut().unwrap().remove(member);
            let m: ProviderMetadata = serde_json::from_value(doc).unwrap();
            assert_eq!(m.validate(&iss()), Err(DiscoveryError::Missing(member)));
        }
        let mut doc = minimal();
        doc.as_object_mut().unwrap().remove("token_endpoint");
        doc["response_types_supported"] = serde_json::json!(["id_token", "id_token token"]);
        let m: ProviderMetadata = serde_json::from_value(doc).unwrap();
        m.validate(&iss()).unwrap();
    }

    #[test]
    fn bad_endpoint_urls() {
        let mut doc = minimal();
        doc["userinfo_endpoint"] = serde_json::json!("/userinfo");
        let m: ProviderMetadata = serde_json::from_value(doc).unwrap();
        assert!(matches!(
            m.validate(&iss()),
            Err(DiscoveryError::BadUrl("userinfo_endpoint", _))
        ));
    }

    #[test]
    fn discovery_url_joins_once() {
        assert_eq!(
            discovery_url(&Issuer::new("https://op.example/").unwrap()),
            "https://op.example/.well-known/openid-configuration"
        );
    }
}
