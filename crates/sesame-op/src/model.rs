//! What the provider stores: clients, grants, tokens, consents, keys.
//!
//! Every record is plain data with serde, so a storage backend may keep it
//! as a JSON column and index only the fields its queries need.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sesame_core::{
    ClientId, ClientSecret, CodeChallenge, JwkSet, JwsAlgorithm, Nonce, PkceMethod, RedirectUri,
    Scopes, SessionId, Subject, UnixTime,
};

pub use sesame_core::{ApplicationType, GrantType, SubjectType};

mod device;
pub use device::{DeviceAuthorization, DeviceState};

/// How a client authenticates at the token, introspection and revocation
/// endpoints: [`sesame_core::ClientAuthMethod`], under its old name here.
pub use sesame_core::ClientAuthMethod as AuthMethod;

/// The grant types a client may be registered for through dynamic
/// registration (`password` and the device grant only by the operator).
pub(crate) const REGISTRABLE_GRANTS: [GrantType; 4] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::Implicit,
];

/// A registered client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    /// `client_id`
    pub client_id: ClientId,
    /// The hash of the client secret (see [`crate::secrets`]); `None` for public clients.
    #[serde(default)]
    pub client_secret_hash: Option<String>,
    /// The client secret itself, kept **only** for `client_secret_jwt` clients
    /// and for clients whose `id_token_signed_response_alg` is HS256/384/512.
    ///
    /// A deliberate trade-off: verifying an HMAC-signed assertion, or keying an
    /// HMAC ID token (OIDC Core §10.1), needs the shared secret, which a hash
    /// cannot give back. Every other client has `None` here and only
    /// [`Client::client_secret_hash`]. `Debug` prints `[redacted]`. Backends must
    /// not keep it in clear: the SQL store seals it with its encryption key.
    /// Prefer `private_key_jwt` where clients can do it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_jwt_key: Option<ClientSecret>,
    /// The hash ([`crate::secrets::hash_generated_secret`]) of the RFC 7592
    /// registration access token; `None` for clients not registered through
    /// the registration endpoint, which then cannot be managed there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token_hash: Option<String>,
    /// `client_name`, shown on the consent page.
    #[serde(default)]
    pub client_name: Option<String>,
    /// `redirect_uris`, matched exactly.
    pub redirect_uris: Vec<RedirectUri>,
    /// `post_logout_redirect_uris`, matched exactly.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// `grant_types`
    pub grant_types: Vec<GrantType>,
    /// `response_types` (`code` unless implicit/hybrid was opted into).
    pub response_types: Vec<String>,
    /// `token_endpoint_auth_method`
    pub token_endpoint_auth_method: AuthMethod,
    /// `token_endpoint_auth_signing_alg`: when set, the only algorithm accepted
    /// for this client's `private_key_jwt` or `client_secret_jwt` assertions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<JwsAlgorithm>,
    /// `application_type` (default `web`).
    #[serde(default)]
    pub application_type: ApplicationType,
    /// `id_token_signed_response_alg`
    pub id_token_signed_response_alg: JwsAlgorithm,
    /// `userinfo_signed_response_alg`: when set, userinfo answers with a signed JWT.
    #[serde(default)]
    pub userinfo_signed_response_alg: Option<JwsAlgorithm>,
    /// The client's public keys, for `private_key_jwt` and request objects.
    #[serde(default)]
    pub jwks: Option<JwkSet>,
    /// Where the client publishes its public keys instead (fetched through
    /// the outbound guard, cached five minutes, fetched again for an unknown
    /// `kid` at most once a minute). Never both `jwks` and `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `backchannel_logout_uri`
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required`
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// The scopes this client may request; `None`: any scope the provider knows.
    #[serde(default)]
    pub allowed_scopes: Option<Scopes>,
    /// A first-party client whose users are not asked for consent.
    #[serde(default)]
    pub skip_consent: bool,
    /// A resource server that may introspect tokens issued to other clients.
    /// Without it a client may only introspect its own tokens.
    #[serde(default)]
    pub introspect_any_token: bool,
    /// The RFC 8707 `resource` values this client may ask tokens for
    /// (absolute URIs, matched exactly) at the authorization endpoint and
    /// with `client_credentials` and `password`; anything else is
    /// `invalid_target`. The access token's audience is then the resources.
    #[serde(default)]
    pub allowed_resources: Vec<String>,
    /// Require PKCE from this client even on a request with a `nonce`. Public
    /// clients always need PKCE; for a confidential one the default (false) is
    /// RFC 9700 §2.1.1: PKCE or a `nonce` (OIDC Core's injection defence), and
    /// neither is refused. Stored as `require_pkce_always`: older records'
    /// `require_pkce: true` was a default for every client, not a choice.
    #[serde(default, rename = "require_pkce_always")]
    pub require_pkce: bool,
    /// Issue RFC 9068 JWT access tokens instead of opaque ones.
    #[serde(default)]
    pub jwt_access_tokens: bool,
    /// `subject_type`: public (the default), or pairwise per sector — the
    /// host of the client's redirect URIs, which must then all share one
    /// host (see [`Client::sector_identifier`]).
    #[serde(default)]
    pub subject_type: SubjectType,
    /// The sector of a pairwise client, fixed when it was registered (S3):
    /// [`Client::sector_identifier`] reads it before the redirect URIs, and
    /// an RFC 7592 update may not change it. `None` for clients saved before
    /// it existed, whose sector is still the host of their redirect URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairwise_sector: Option<String>,
    /// Accept the token endpoint URL as the `aud` of this client's
    /// `private_key_jwt`/`client_secret_jwt` assertions (a single string),
    /// besides the issuer. Off by default: draft-ietf-oauth-rfc7523bis has
    /// the provider accept only its issuer identifier (S15). Only for
    /// clients that cannot be changed yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy_assertion_audience: bool,
    /// `request_uris` (OIDC Core §6.2): the only URIs a `request_uri` may
    /// name, compared without their fragment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_uris: Vec<String>,
    /// `request_object_signing_alg`: when set, the only algorithm accepted
    /// for this client's request objects; `"none"` allows unsigned ones
    /// (which are otherwise refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<String>,
    /// `sector_identifier_uri` (OIDC Registration §2): its host is the
    /// pairwise sector (fixed in [`Client::pairwise_sector`]) and its
    /// document listed every redirect URI when it was registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    /// `authorization_signed_response_alg` (JARM §3): the algorithm of the
    /// client's JWT-secured authorization responses; `None` means RS256
    /// (or the provider's first algorithm when it has no RS256 key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_signed_response_alg: Option<JwsAlgorithm>,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): its token requests need a DPoP proof.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// `require_pushed_authorization_requests` (RFC 9126 §6): this client's
    /// authorization requests are accepted only when pushed first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_par: bool,
    /// An `acr` every authorization for this client needs, as if each request
    /// asked for it as an essential claim (OIDC Core §5.5.1.1): a user whose
    /// sign-in cannot reach it is refused with `access_denied`. `sesame
    /// clients add --require-mfa` sets the server's mfa value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_acr: Option<String>,
    /// The security profile it is held to, else the provider's; see [`crate::profile`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<sesame_core::SecurityProfile>,
    /// When the client was registered.
    pub created_at: UnixTime,
}

impl Client {
    /// A confidential client for the authorization code flow, with the defaults
    /// Sesame recommends: `client_secret_basic`, RS256 ID tokens, PKCE or a
    /// nonce (RFC 9700 §2.1.1; [`Client::require_pkce`] for PKCE always),
    /// `authorization_code` and `refresh_token` grants.
    pub fn new(client_id: ClientId, redirect_uris: Vec<RedirectUri>, now: UnixTime) -> Self {
        Self {
            client_id,
            client_secret_hash: None,
            client_secret_jwt_key: None,
            registration_access_token_hash: None,
            client_name: None,
            redirect_uris,
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            response_types: vec!["code".to_owned()],
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            token_endpoint_auth_signing_alg: None,
            application_type: ApplicationType::Web,
            id_token_signed_response_alg: JwsAlgorithm::RS256,
            userinfo_signed_response_alg: None,
            jwks: None,
            jwks_uri: None,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            allowed_scopes: None,
            skip_consent: false,
            introspect_any_token: false,
            allowed_resources: Vec::new(),
            require_pkce: false,
            jwt_access_tokens: false,
            subject_type: SubjectType::Public,
            pairwise_sector: None,
            legacy_assertion_audience: false,
            request_uris: Vec::new(),
            request_object_signing_alg: None,
            sector_identifier_uri: None,
            require_par: false,
            require_acr: None,
            authorization_signed_response_alg: None,
            dpop_bound_access_tokens: false,
            profile: None,
            created_at: now,
        }
    }

    /// Whether the client has no secret.
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == AuthMethod::None
    }

    /// The name to show people.
    pub fn display_name(&self) -> &str {
        self.client_name
            .as_deref()
            .unwrap_or(self.client_id.as_str())
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The sector of pairwise subject identifiers (OIDC Core §8.1): the one
    /// fixed at registration ([`Client::pairwise_sector`]), else
    /// [`Client::redirect_host`].
    pub fn sector_identifier(&self) -> Option<String> {
        self.pairwise_sector
            .clone()
            .or_else(|| self.redirect_host())
    }

    /// The host of the client's redirect URIs, when they all share one host.
    /// `None` when there is no redirect URI, one has no host (a custom
    /// scheme), or they name several hosts — such a client cannot have
    /// pairwise subjects (Sesame does not fetch `sector_identifier_uri`
    /// documents).
    pub fn redirect_host(&self) -> Option<String> {
        let mut hosts = self.redirect_uris.iter().map(|r| {
            r.to_url()
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
        });
        let first = hosts.next()??;
        hosts
            .all(|h| h.as_deref() == Some(first.as_str()))
            .then_some(first)
    }
}

/// A PKCE challenge stored with a code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PkceChallenge {
    /// `code_challenge`
    pub challenge: CodeChallenge,
    /// `code_challenge_method`
    pub method: PkceMethod,
}

/// What an authorization grants: the user, the client, the scopes and the
/// context of the login. Shared by codes, access and refresh tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// Identifies every token issued from one authorization: revoking the
    /// grant revokes them all (code replay, refresh-token reuse, logout).
    pub grant_id: String,
    /// The client.
    pub client_id: ClientId,
    /// The user; `None` for `client_credentials`.
    pub subject: Option<Subject>,
    /// Granted scopes.
    pub scopes: Scopes,
    /// When the user authenticated.
    #[serde(default)]
    pub auth_time: Option<UnixTime>,
    /// The provider session.
    #[serde(default)]
    pub sid: Option<SessionId>,
    /// `acr` of the authentication.
    #[serde(default)]
    pub acr: Option<String>,
    /// `amr` of the authentication.
    #[serde(default)]
    pub amr: Option<Vec<String>>,
    /// The `claims` request parameter (OIDC Core §5.5), if any.
    #[serde(default)]
    pub claims_request: Option<Value>,
    /// Claims released one by one because the `claims` request parameter
    /// asked for them and the user consented (OIDC Core §5.5), on top of
    /// what [`Grant::scopes`] release.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<String>,
    /// The RFC 7638 thumbprint of the DPoP key (RFC 9449) the tokens minted
    /// from this grant are bound to (`cnf.jkt`); `None`: bearer tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// RFC 8707 resource indicators.
    #[serde(default)]
    pub resources: Vec<String>,
    /// When the authorization happened (the refresh tokens' absolute limit
    /// counts from here); 0 for grants stored before this field existed.
    #[serde(default)]
    pub created_at: UnixTime,
}

/// An authorization code, stored under the hash of the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The grant.
    pub grant: Grant,
    /// The redirect URI the code was sent to; the token request must repeat it.
    pub redirect_uri: RedirectUri,
    /// The nonce to put in the ID token.
    #[serde(default)]
    pub nonce: Option<Nonce>,
    /// PKCE.
    #[serde(default)]
    pub pkce: Option<PkceChallenge>,
    /// Expiry.
    pub expires_at: UnixTime,
}

/// What consuming a code found.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeUse {
    /// The first use: the code's record.
    First(Box<CodeRecord>),
    /// The code was already used: its grant, so everything it issued can be revoked.
    Replayed {
        /// The grant the code belonged to.
        grant_id: String,
    },
}

/// An opaque access token, stored under its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    /// The grant.
    pub grant: Grant,
    /// Issue time.
    pub issued_at: UnixTime,
    /// Expiry.
    pub expires_at: UnixTime,
}

/// A refresh token, stored under its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshTokenRecord {
    /// The grant (the refresh-token family is the grant).
    pub grant: Grant,
    /// Issue time.
    pub issued_at: UnixTime,
    /// Expiry.
    pub expires_at: UnixTime,
}

/// What using a refresh token found.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshUse {
    /// The first use: the token's record (now marked used).
    First(Box<RefreshTokenRecord>),
    /// The token was already rotated: a stolen copy or a replay.
    Reused {
        /// The grant (family) to revoke.
        grant_id: String,
    },
}

/// A user's consent to a client, for some scopes, until a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    /// The user.
    pub subject: Subject,
    /// The client.
    pub client_id: ClientId,
    /// The scopes consented to.
    pub scopes: Scopes,
    /// Claims consented to one by one (asked for with the `claims`
    /// request parameter, beyond what the scopes release).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<String>,
    /// When the consent lapses.
    pub expires_at: UnixTime,
}

/// A signing key's place in the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published in the JWKS, not yet used to sign (so caches pick it up first).
    Next,
    /// Signs new tokens.
    Active,
    /// No longer signs; still published until its tokens have expired.
    Retired,
}

impl KeyState {
    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
}

/// A stored signing key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredKey {
    /// `kid` (RFC 7638 thumbprint).
    pub kid: String,
    /// Algorithm.
    pub alg: JwsAlgorithm,
    /// PKCS#8 PEM of the private key. Backends encrypt it at rest.
    pub private_pem: String,
    /// Rotation state.
    pub state: KeyState,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it last changed state.
    pub state_changed_at: UnixTime,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// What an [`Interaction`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InteractionKind {
    /// The consent page of an authorization request.
    #[default]
    Consent,
    /// The sign-out confirmation page of an end-session request.
    Logout,
    /// The host app's login, asked for by an authorization request: on the
    /// way back the request is accepted only with a login at or after
    /// [`Interaction::auth_after`].
    Login,
    /// A pushed authorization request (RFC 9126), waiting for the
    /// authorization request that names it; its subject is empty.
    Pushed,
    /// The login asked for by the device verification page (param `device`).
    DeviceLogin,
    /// The device consent page (RFC 8628 §3.3; param `device`).
    DeviceConsent,
}

/// A request waiting for the user (consent, sign-out confirmation, or a
/// login the provider asked for). It lives only in the store: nothing the
/// browser sends can set its kind or its `auth_after`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// What it waits for.
    #[serde(default)]
    pub kind: InteractionKind,
    /// The original request's parameters.
    pub params: Vec<(String, String)>,
    /// The user it was shown to (empty for a login, where nobody may be
    /// signed in yet).
    pub subject: Subject,
    /// The user must have authenticated at or after this time: set when
    /// the provider sent the browser to a login (`prompt=login`, `max_age`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_after: Option<UnixTime>,
    /// The CSRF token the consent form must return.
    pub csrf: String,
    /// Expiry.
    pub expires_at: UnixTime,
}

/// The CSRF token and the request's values stay out of Debug output.
impl std::fmt::Debug for Interaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interaction")
            .field("kind", &self.kind)
            .field("subject", &self.subject)
            .field("auth_after", &self.auth_after)
            .field(
                "params",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A client's `jwks` (its public keys, for `private_key_jwt` and signed
/// request objects), as registration and the CLI take it: a JWK Set of
/// public keys with at least one usable signature verification key. Private
/// members are refused rather than dropped: they mean the client just
/// published its private key.
///
/// # Errors
/// The reason, one sentence, for an error description or a CLI message.
pub fn public_jwks(value: &Value) -> Result<JwkSet, &'static str> {
    const SHAPE: &str = "jwks must be a JWK Set: {\"keys\": [...]}";
    const PRIVATE: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
    let keys = value.get("keys").and_then(Value::as_array).ok_or(SHAPE)?;
    if keys
        .iter()
        .any(|k| PRIVATE.iter().any(|p| k.get(p).is_some()))
    {
        return Err("jwks must hold public keys only (a private or symmetric key was sent)");
    }
    let set: JwkSet = serde_json::from_value(value.clone()).map_err(|_| SHAPE)?;
    if sesame_core::KeySet::from_jwks(&set).is_empty() {
        return Err("jwks holds no usable signature verification key");
    }
    Ok(set)
}

#[cfg(test)]
mod tests;
