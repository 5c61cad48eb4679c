//! Administration shared by the CLI and the demo: clients, users, keys.

use serde::Serialize;
use sesame_core::SecurityProfile;
use sesame_core::{
    ClientAuthMethod, ClientId, ClientSecret, Clock, GrantType, JwsAlgorithm, ResponseType,
    SigningKey, SubjectType, SystemClock,
};
use sesame_op::model::{KeyState, StoredKey};
use sesame_op::store::{ClientStore, KeyStore};
use sesame_op::{AuthMethod, Client, secrets};
use sesame_op_sqlx::SqlStore;

mod client_fields;
use client_fields::{
    add_resources, check_keys, client_jwks, jwks_uri, parse_uris, request_object_alg, request_uris,
    set_flows,
};

/// A client to register. The protocol words are sesame-core's vocabulary;
/// [`add_client`] checks how they combine.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// Display name.
    pub name: String,
    /// A fixed client id (default: random).
    pub client_id: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types (default authorization_code + refresh_token).
    pub grant_types: Vec<GrantType>,
    /// Authentication method (default client_secret_basic; `none` for public clients).
    pub auth_method: Option<ClientAuthMethod>,
    /// A public client.
    pub public: bool,
    /// ID token algorithm (default RS256); symmetric algorithms are refused.
    pub id_token_alg: Option<JwsAlgorithm>,
    /// First-party: no consent page.
    pub skip_consent: bool,
    /// Back-channel logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// Accept the token endpoint URL as the audience of this client's
    /// assertions (S15; by default only the issuer).
    pub legacy_assertion_audience: bool,
    /// `public` (default) or `pairwise` subject identifiers.
    pub subject_type: Option<SubjectType>,
    /// RFC 8707 resources (API URIs) the client may ask access tokens for.
    pub resources: Vec<String>,
    /// Response types (default `code`); implicit and hybrid ones need the
    /// `implicit` grant type.
    pub response_types: Vec<ResponseType>,
    /// Require PKCE even on requests that carry a nonce (default: RFC 9700).
    pub require_pkce: bool,
    /// Accept its authorization requests only when pushed first (RFC 9126).
    pub require_par: bool,
    /// An acr every authorization needs (`--require-mfa`: the mfa value).
    pub require_acr: Option<String>,
    /// Its token requests must carry a DPoP proof (RFC 9449).
    pub dpop: bool,
    /// The client's public keys (`private_key_jwt`), a JWK Set document.
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its public keys instead of `jwks`.
    pub jwks_uri: Option<String>,
    /// Sign userinfo responses with this algorithm.
    pub userinfo_signed_alg: Option<JwsAlgorithm>,
    /// Sign JWT-secured authorization responses (JARM) with this algorithm (default RS256).
    pub authorization_signed_response_alg: Option<JwsAlgorithm>,
    /// URLs the client's `request_uri` may name (request objects by reference).
    pub request_uris: Vec<String>,
    /// The only algorithm accepted for its request objects (`none`: unsigned allowed).
    pub request_object_alg: Option<String>,
    /// The security profile it is held to (`fapi2`): its switches are set,
    /// and a registration that breaks it is refused.
    pub profile: Option<SecurityProfile>,
}

/// Changes to a registered client: each `Some` replaces the stored value.
#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    /// Display name.
    pub name: Option<String>,
    /// Redirect URIs (all of them).
    pub redirect_uris: Option<Vec<String>>,
    /// Grant types (all of them).
    pub grant_types: Option<Vec<GrantType>>,
    /// Response types (all of them).
    pub response_types: Option<Vec<ResponseType>>,
    /// Require PKCE always.
    pub require_pkce: Option<bool>,
    /// Require pushed authorization requests.
    pub require_par: Option<bool>,
    /// Set (`Some(Some(acr))`) or clear (`Some(None)`) the acr every
    /// authorization needs.
    pub require_acr: Option<Option<String>>,
    /// Require DPoP-bound tokens.
    pub dpop: Option<bool>,
    /// The client's public keys (replaces a `jwks_uri`).
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its keys (replaces inline `jwks`).
    pub jwks_uri: Option<String>,
    /// The ID token's algorithm.
    pub id_token_alg: Option<JwsAlgorithm>,
    /// The userinfo signing algorithm (`Some(None)`: plain JSON again).
    pub userinfo_signed_alg: Option<Option<JwsAlgorithm>>,
    /// The JARM response signing algorithm.
    pub authorization_signed_response_alg: Option<JwsAlgorithm>,
    /// First-party: no consent page.
    pub skip_consent: Option<bool>,
    /// `request_uris` (all of them).
    pub request_uris: Option<Vec<String>>,
    /// `request_object_signing_alg` (`Some(None)`: any supported one).
    pub request_object_alg: Option<Option<String>>,
    /// The security profile (`Some(None)`: none any more).
    pub profile: Option<Option<SecurityProfile>>,
}

/// The result of registering a client: the secret is shown once.
#[derive(Debug, Serialize)]
pub struct Registered {
    /// The client id.
    pub client_id: String,
    /// The secret, for confidential clients.
    pub client_secret: Option<String>,
}

/// A bad administrative request, or the storage behind it failing. Each
/// message is one line that names the flag to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// A word that is not in the vocabulary this flag takes.
    #[error("unknown {flag} {value:?} (one of: {expected})")]
    Unknown {
        /// The flag, e.g. `--grant-type`.
        flag: &'static str,
        /// What was given.
        value: String,
        /// The accepted spellings.
        expected: String,
    },
    /// A signing algorithm the provider does not sign with.
    #[error("unsupported {flag} {value:?} (one of: {expected})")]
    Unsupported {
        /// The flag, e.g. `--alg`.
        flag: &'static str,
        /// What was given.
        value: String,
        /// The accepted spellings.
        expected: String,
    },
    /// Values that are each valid but do not go together, or a malformed URI.
    #[error("{0}")]
    Invalid(String),
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] sesame_op::StoreError),
    /// The system's random source failed.
    #[error(transparent)]
    Random(#[from] sesame_core::random::RandomError),
    /// A signing key could not be generated or encoded.
    #[error(transparent)]
    Key(#[from] sesame_core::KeyError),
}

impl AdminError {
    fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    /// `value` given for `flag` is not one of `expected`.
    pub fn unknown<'a>(
        flag: &'static str,
        value: &str,
        expected: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Self::Unknown {
            flag,
            value: value.chars().take(64).collect(),
            expected: expected.into_iter().collect::<Vec<_>>().join(", "),
        }
    }

    /// `value` given for `flag` is not an algorithm the provider signs with.
    pub fn unsupported_alg(flag: &'static str, value: &str) -> Self {
        Self::Unsupported {
            flag,
            value: value.chars().take(64).collect(),
            expected: signing_algs()
                .map(JwsAlgorithm::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// The algorithms a provider signs with: every asymmetric one.
pub fn signing_algs() -> impl Iterator<Item = JwsAlgorithm> {
    JwsAlgorithm::ALL.into_iter().filter(|a| !a.is_symmetric())
}

/// `alg` if the provider can sign with it.
///
/// # Errors
/// [`AdminError::Unsupported`] for a symmetric algorithm.
pub fn signing_alg(flag: &'static str, alg: JwsAlgorithm) -> Result<JwsAlgorithm, AdminError> {
    if alg.is_symmetric() {
        Err(AdminError::unsupported_alg(flag, alg.as_str()))
    } else {
        Ok(alg)
    }
}

/// The provider's grant type for a vocabulary word (the provider's model
/// may not have every word of the vocabulary).
fn grant_type(g: GrantType) -> Result<sesame_op::GrantType, AdminError> {
    sesame_op::GrantType::parse(g.as_str()).ok_or_else(|| {
        AdminError::unknown(
            "--grant-type",
            g.as_str(),
            GrantType::ALL
                .iter()
                .filter(|g| sesame_op::GrantType::parse(g.as_str()).is_some())
                .map(|g| g.as_str()),
        )
    })
}

fn auth_method(m: ClientAuthMethod) -> Result<AuthMethod, AdminError> {
    AuthMethod::parse(m.as_str()).ok_or_else(|| {
        AdminError::unknown(
            "--auth-method",
            m.as_str(),
            ClientAuthMethod::ALL.iter().map(|m| m.as_str()),
        )
    })
}

fn subject_type(t: SubjectType) -> Result<sesame_op::SubjectType, AdminError> {
    sesame_op::SubjectType::parse(t.as_str()).ok_or_else(|| {
        AdminError::unknown(
            "--subject-type",
            t.as_str(),
            SubjectType::ALL.iter().map(|t| t.as_str()),
        )
    })
}

/// Registers (or, with a fixed id, replaces) a client.
///
/// # Errors
/// Malformed URIs, words the provider does not support, combinations that do
/// not go together (a public client with a secret method, a public password
/// client, a pairwise client without one sector), or a storage failure.
pub async fn add_client(store: &SqlStore, new: &NewClient) -> Result<Registered, AdminError> {
    // Only grants that send the browser back need a redirect URI.
    let redirects = new.grant_types.is_empty()
        || new
            .grant_types
            .iter()
            .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::Implicit));
    if new.redirect_uris.is_empty() && redirects {
        return Err(AdminError::invalid(
            "at least one --redirect-uri is required (unless every --grant-type is one without \
             redirects, such as urn:ietf:params:oauth:grant-type:device_code)",
        ));
    }
    let redirect_uris = parse_uris(&new.redirect_uris, "--redirect-uri")?;
    let post_logout = parse_uris(&new.post_logout_redirect_uris, "--post-logout-redirect-uri")?;
    let client_id = match &new.client_id {
        Some(id) => id.clone(),
        None => sesame_core::random::client_id()?[..22].to_owned(),
    };
    let mut client = Client::new(ClientId::new(&client_id), redirect_uris, SystemClock.now());
    client.client_name = Some(new.name.clone()).filter(|n| !n.is_empty());
    client.post_logout_redirect_uris = post_logout;
    client.skip_consent = new.skip_consent;
    set_flows(
        &mut client,
        Some(&new.grant_types).filter(|g| !g.is_empty()),
        Some(&new.response_types).filter(|r| !r.is_empty()),
    )?;
    client.require_pkce = new.require_pkce;
    client.require_par = new.require_par;
    client.require_acr = new.require_acr.clone();
    client.dpop_bound_access_tokens = new.dpop;
    let method = match (new.auth_method, new.public) {
        (Some(m), false) => auth_method(m)?,
        (Some(m), true) if m != ClientAuthMethod::None => {
            return Err(AdminError::invalid(
                "--public clients use --auth-method none",
            ));
        }
        (_, true) => AuthMethod::None,
        (None, false) => AuthMethod::ClientSecretBasic,
    };
    client.token_endpoint_auth_method = method;
    if method == AuthMethod::None && client.allows_grant(sesame_op::GrantType::Password) {
        return Err(AdminError::invalid(
            "--grant-type password needs a confidential client (not --public): \
             the provider refuses the password grant to clients that do not authenticate",
        ));
    }
    if let Some(t) = new.subject_type {
        client.subject_type = subject_type(t)?;
    }
    if client.subject_type == sesame_op::SubjectType::Pairwise
        && client.sector_identifier().is_none()
    {
        return Err(AdminError::invalid(
            "--subject-type pairwise needs --redirect-uri values that all share one host \
             (the sector whose users get the same pairwise sub)",
        ));
    }
    if client.subject_type == sesame_op::SubjectType::Pairwise {
        // Fixed at registration (S3).
        client.pairwise_sector = client.redirect_host();
    }
    client.legacy_assertion_audience = new.legacy_assertion_audience;
    add_resources(&mut client, &new.resources)?;
    if let Some(alg) = new.id_token_alg {
        client.id_token_signed_response_alg = id_token_alg(alg, method)?;
    }
    if let Some(alg) = new.userinfo_signed_alg {
        client.userinfo_signed_response_alg = Some(signing_alg("--userinfo-signed-alg", alg)?);
    }
    if let Some(alg) = new.authorization_signed_response_alg {
        client.authorization_signed_response_alg =
            Some(signing_alg("--authorization-signed-response-alg", alg)?);
    }
    if new.jwks.is_some() && new.jwks_uri.is_some() {
        return Err(AdminError::invalid("give --jwks or --jwks-uri, not both"));
    }
    if let Some(jwks) = &new.jwks {
        client.jwks = Some(client_jwks(jwks)?);
    }
    if let Some(uri) = &new.jwks_uri {
        client.jwks_uri = Some(jwks_uri(uri)?);
    }
    client.request_uris = request_uris(&new.request_uris)?;
    client.request_object_signing_alg = new
        .request_object_alg
        .as_deref()
        .map(request_object_alg)
        .transpose()?;
    check_keys(&client)?;
    held_to(&mut client, new.profile)?;
    if let Some(uri) = &new.backchannel_logout_uri {
        url::Url::parse(uri).map_err(|_| {
            AdminError::invalid(format!(
                "--backchannel-logout-uri {uri:?} is not an absolute URL"
            ))
        })?;
        client.backchannel_logout_uri = Some(uri.clone());
    }
    let secret = issue_secret(&mut client, method)?;
    store.save_client(&client).await?;
    Ok(Registered {
        client_id,
        client_secret: secret,
    })
}

/// Changes a registered client; the same rules as [`add_client`] hold
/// for the result.
///
/// # Errors
/// No such client, a bad value, a combination that does not go together,
/// or a storage failure.
pub async fn update_client(
    store: &SqlStore,
    client_id: &str,
    update: &ClientUpdate,
) -> Result<(), AdminError> {
    let mut client = store
        .find_client(&ClientId::new(client_id))
        .await?
        .ok_or_else(|| AdminError::invalid(format!("no client {client_id:?}")))?;
    if let Some(name) = &update.name {
        client.client_name = Some(name.clone()).filter(|n| !n.is_empty());
    }
    if let Some(uris) = &update.redirect_uris {
        if uris.is_empty() {
            return Err(AdminError::invalid(
                "at least one --redirect-uri is required",
            ));
        }
        client.redirect_uris = parse_uris(uris, "--redirect-uri")?;
        if client.subject_type == sesame_op::SubjectType::Pairwise
            && client.sector_identifier() != client.redirect_host()
        {
            return Err(AdminError::invalid(
                "a pairwise client's --redirect-uri values must stay on its sector's host \
                 (the sector was fixed when it was registered)",
            ));
        }
    }
    set_flows(
        &mut client,
        update.grant_types.as_ref(),
        update.response_types.as_ref(),
    )?;
    if let Some(v) = update.require_pkce {
        client.require_pkce = v;
    }
    if let Some(v) = update.require_par {
        client.require_par = v;
    }
    if let Some(v) = &update.require_acr {
        client.require_acr = v.clone();
    }
    if let Some(v) = update.dpop {
        client.dpop_bound_access_tokens = v;
    }
    if update.jwks.is_some() && update.jwks_uri.is_some() {
        return Err(AdminError::invalid("give --jwks or --jwks-uri, not both"));
    }
    if let Some(jwks) = &update.jwks {
        client.jwks = Some(client_jwks(jwks)?);
        client.jwks_uri = None;
    }
    if let Some(uri) = &update.jwks_uri {
        client.jwks_uri = Some(jwks_uri(uri)?);
        client.jwks = None;
    }
    if let Some(alg) = update.id_token_alg {
        let alg = id_token_alg(alg, client.token_endpoint_auth_method)?;
        if alg.is_symmetric() && client.client_secret_jwt_key.is_none() {
            return Err(AdminError::invalid(format!(
                "--id-token-alg {alg} keys ID tokens with the client secret, which the provider kept only as a hash for this client: add the client again with --id-token-alg {alg} to get a secret it keeps"
            )));
        }
        client.id_token_signed_response_alg = alg;
    }
    if let Some(alg) = update.userinfo_signed_alg {
        client.userinfo_signed_response_alg = alg
            .map(|a| signing_alg("--userinfo-signed-alg", a))
            .transpose()?;
    }
    if let Some(alg) = update.authorization_signed_response_alg {
        client.authorization_signed_response_alg =
            Some(signing_alg("--authorization-signed-response-alg", alg)?);
    }
    if let Some(v) = update.skip_consent {
        client.skip_consent = v;
    }
    if let Some(uris) = &update.request_uris {
        client.request_uris = request_uris(uris)?;
    }
    if let Some(alg) = &update.request_object_alg {
        client.request_object_signing_alg = alg.as_deref().map(request_object_alg).transpose()?;
    }
    if client.is_public() && client.allows_grant(sesame_op::GrantType::Password) {
        return Err(AdminError::invalid(
            "--grant-type password needs a confidential client",
        ));
    }
    check_keys(&client)?;
    let profile = update.profile.unwrap_or(client.profile);
    held_to(&mut client, profile)?;
    store.save_client(&client).await?;
    Ok(())
}

/// Holds `client` to `profile`: refused when its registration breaks it
/// (every breach named), else the profile's switches stored on, so that
/// `clients show` tells what the provider enforces.
fn held_to(client: &mut Client, profile: Option<SecurityProfile>) -> Result<(), AdminError> {
    client.profile = profile;
    let Some(profile) = profile else {
        return Ok(());
    };
    let breaches = sesame_op::profile::breaches(profile, client);
    if !breaches.is_empty() {
        return Err(AdminError::invalid(format!(
            "--profile {profile}: {} (a FAPI 2.0 client: --auth-method private_key_jwt with --jwks or --jwks-uri, --id-token-alg PS256, ES256 or EdDSA, response type code)",
            breaches.join("; ")
        )));
    }
    sesame_op::profile::apply(profile, client);
    Ok(())
}

/// The ID token algorithm: an asymmetric one the provider signs with, or
/// HS256/384/512 (OIDC Core §10.1, keyed with the client secret) for a
/// client that has a secret.
fn id_token_alg(alg: JwsAlgorithm, method: AuthMethod) -> Result<JwsAlgorithm, AdminError> {
    if !alg.is_symmetric() {
        return signing_alg("--id-token-alg", alg);
    }
    if !method.uses_secret() {
        return Err(AdminError::invalid(format!(
            "--id-token-alg {alg} is keyed with the client secret: this client has none (use an asymmetric algorithm, e.g. RS256)"
        )));
    }
    Ok(alg)
}

/// A fresh secret for a method that uses one (stored hashed; for
/// `client_secret_jwt` and for HS* ID tokens also sealed, to compute
/// HMACs), shown once.
fn issue_secret(client: &mut Client, method: AuthMethod) -> Result<Option<String>, AdminError> {
    if method == AuthMethod::None || method == AuthMethod::PrivateKeyJwt {
        return Ok(None);
    }
    let s = ClientSecret::random()?;
    let keep =
        method == AuthMethod::ClientSecretJwt || client.id_token_signed_response_alg.is_symmetric();
    let s = if keep {
        // Long enough to key HS512, and kept for HMAC verification.
        let more = ClientSecret::random()?;
        let joined = ClientSecret::new(format!("{}{}", s.secret(), more.secret()));
        client.client_secret_jwt_key = Some(joined.clone());
        joined
    } else {
        s
    };
    client.client_secret_hash = Some(secrets::hash_generated_secret(s.secret()));
    Ok(Some(s.secret().to_owned()))
}

/// Adds a Next (or, if the algorithm has none, an Active) signing key.
///
/// # Errors
/// A symmetric algorithm, or a storage failure.
pub async fn generate_key(store: &SqlStore, alg: JwsAlgorithm) -> Result<StoredKey, AdminError> {
    let alg = signing_alg("--alg", alg)?;
    let keys = store.list_keys().await?;
    let state = if keys
        .iter()
        .any(|k| k.alg == alg && k.state == KeyState::Active)
    {
        KeyState::Next
    } else {
        KeyState::Active
    };
    let key = SigningKey::generate(alg)?;
    let now = SystemClock.now();
    let stored = StoredKey {
        kid: key.kid().to_owned(),
        alg,
        private_pem: key.to_pkcs8_pem()?.to_string(),
        state,
        created_at: now,
        state_changed_at: now,
    };
    store.save_key(&stored).await?;
    Ok(stored)
}
