//! What the provider stores: clients, grants, tokens, consents, keys.
//!
//! Every record is plain data with serde, so a storage backend may keep it
//! as a JSON column and index only the fields its queries need.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sesame_core::{
    ClientId, CodeChallenge, JwkSet, JwsAlgorithm, Nonce, PkceMethod, RedirectUri, Scopes,
    SessionId, Subject, UnixTime,
};

/// An OAuth grant type a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GrantType {
    /// `authorization_code`
    AuthorizationCode,
    /// `refresh_token`
    RefreshToken,
    /// `client_credentials`
    ClientCredentials,
    /// `implicit` (only for the opt-in implicit and hybrid response types)
    Implicit,
    /// `password` (only when enabled in the provider's configuration)
    Password,
}

impl GrantType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::Implicit => "implicit",
            Self::Password => "password",
        }
    }

    /// Parses the wire name.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "authorization_code" => Self::AuthorizationCode,
            "refresh_token" => Self::RefreshToken,
            "client_credentials" => Self::ClientCredentials,
            "implicit" => Self::Implicit,
            "password" => Self::Password,
            _ => return None,
        })
    }
}

/// How a client authenticates at the token, introspection and revocation endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// HTTP Basic with the client id and secret (the default).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's registered public key (RFC 7523).
    PrivateKeyJwt,
    /// A public client: no secret; PKCE is then mandatory.
    None,
}

impl AuthMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    /// Parses the wire name.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "client_secret_basic" => Self::ClientSecretBasic,
            "client_secret_post" => Self::ClientSecretPost,
            "private_key_jwt" => Self::PrivateKeyJwt,
            "none" => Self::None,
            _ => return None,
        })
    }

    /// Every method the provider implements.
    pub const ALL: [AuthMethod; 4] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
        Self::None,
    ];
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    /// `client_id`
    pub client_id: ClientId,
    /// The hash of the client secret (see [`crate::secrets`]); `None` for public clients.
    #[serde(default)]
    pub client_secret_hash: Option<String>,
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
    /// `id_token_signed_response_alg`
    pub id_token_signed_response_alg: JwsAlgorithm,
    /// `userinfo_signed_response_alg`: when set, userinfo answers with a signed JWT.
    #[serde(default)]
    pub userinfo_signed_response_alg: Option<JwsAlgorithm>,
    /// The client's public keys, for `private_key_jwt`.
    #[serde(default)]
    pub jwks: Option<JwkSet>,
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
    /// Whether PKCE is required. Always true for public clients; true by default for others.
    #[serde(default = "yes")]
    pub require_pkce: bool,
    /// Issue RFC 9068 JWT access tokens instead of opaque ones.
    #[serde(default)]
    pub jwt_access_tokens: bool,
    /// When the client was registered.
    pub created_at: UnixTime,
}

fn yes() -> bool {
    true
}

impl Client {
    /// A confidential client for the authorization code flow, with the defaults
    /// Sesame recommends: `client_secret_basic`, RS256 ID tokens, PKCE required,
    /// `authorization_code` and `refresh_token` grants.
    pub fn new(client_id: ClientId, redirect_uris: Vec<RedirectUri>, now: UnixTime) -> Self {
        Self {
            client_id,
            client_secret_hash: None,
            client_name: None,
            redirect_uris,
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            response_types: vec!["code".to_owned()],
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            id_token_signed_response_alg: JwsAlgorithm::RS256,
            userinfo_signed_response_alg: None,
            jwks: None,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            allowed_scopes: None,
            skip_consent: false,
            require_pkce: true,
            jwt_access_tokens: false,
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
    /// RFC 8707 resource indicators.
    #[serde(default)]
    pub resources: Vec<String>,
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

/// An authorization request waiting for the user's consent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// The original authorization request's parameters.
    pub params: Vec<(String, String)>,
    /// The user it was shown to.
    pub subject: Subject,
    /// The CSRF token the consent form must return.
    pub csrf: String,
    /// Expiry.
    pub expires_at: UnixTime,
}
