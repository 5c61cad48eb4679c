//! Administration shared by the CLI and the demo: clients, users, keys.

use serde::Serialize;
use sesame_core::{
    ClientId, ClientSecret, Clock, JwsAlgorithm, RedirectUri, SigningKey, SystemClock,
};
use sesame_op::model::{KeyState, StoredKey};
use sesame_op::store::{ClientStore, KeyStore};
use sesame_op::{AuthMethod, Client, GrantType, SubjectType, secrets};
use sesame_op_sqlx::SqlStore;

/// A client to register.
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
    pub grant_types: Vec<String>,
    /// Authentication method (default client_secret_basic; `none` for public clients).
    pub auth_method: Option<String>,
    /// A public client.
    pub public: bool,
    /// ID token algorithm (default RS256).
    pub id_token_alg: Option<String>,
    /// First-party: no consent page.
    pub skip_consent: bool,
    /// Back-channel logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// `public` (default) or `pairwise` subject identifiers.
    pub subject_type: Option<String>,
    /// RFC 8707 resources (API URIs) the client may ask access tokens for.
    pub resources: Vec<String>,
}

/// The result of registering a client: the secret is shown once.
#[derive(Debug, Serialize)]
pub struct Registered {
    /// The client id.
    pub client_id: String,
    /// The secret, for confidential clients.
    pub client_secret: Option<String>,
}

/// A bad administrative request.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdminError(pub String);

impl From<sesame_op::StoreError> for AdminError {
    fn from(e: sesame_op::StoreError) -> Self {
        Self(e.to_string())
    }
}

/// Registers (or, with a fixed id, replaces) a client.
///
/// # Errors
/// Malformed redirect URIs, unknown grant types, methods or algorithms, or a storage failure.
pub async fn add_client(store: &SqlStore, new: &NewClient) -> Result<Registered, AdminError> {
    if new.redirect_uris.is_empty() {
        return Err(AdminError("at least one --redirect-uri is required".into()));
    }
    let parse_uris = |uris: &[String], what: &str| -> Result<Vec<RedirectUri>, AdminError> {
        uris.iter()
            .map(|u| RedirectUri::new(u.clone()).map_err(|e| AdminError(format!("{what}: {e}"))))
            .collect()
    };
    let redirect_uris = parse_uris(&new.redirect_uris, "--redirect-uri")?;
    let post_logout = parse_uris(&new.post_logout_redirect_uris, "--post-logout-redirect-uri")?;
    let client_id = match &new.client_id {
        Some(id) => id.clone(),
        None => {
            sesame_core::random::token().map_err(|e| AdminError(e.to_string()))?[..22].to_owned()
        }
    };
    let mut client = Client::new(ClientId::new(&client_id), redirect_uris, SystemClock.now());
    client.client_name = Some(new.name.clone()).filter(|n| !n.is_empty());
    client.post_logout_redirect_uris = post_logout;
    client.skip_consent = new.skip_consent;
    if !new.grant_types.is_empty() {
        client.grant_types = new
            .grant_types
            .iter()
            .map(|g| {
                GrantType::parse(g).ok_or_else(|| AdminError(format!("unknown --grant-type {g:?}")))
            })
            .collect::<Result<_, _>>()?;
    }
    if client.grant_types.contains(&GrantType::ClientCredentials) {
        client.allowed_scopes = client
            .allowed_scopes
            .or_else(|| sesame_core::Scopes::parse("").ok());
    }
    let method = match (&new.auth_method, new.public) {
        (Some(m), false) => AuthMethod::parse(m)
            .ok_or_else(|| AdminError(format!("unknown --auth-method {m:?}")))?,
        (Some(m), true) if m != "none" => {
            return Err(AdminError("--public clients use --auth-method none".into()));
        }
        (_, true) => AuthMethod::None,
        (None, false) => AuthMethod::ClientSecretBasic,
    };
    client.token_endpoint_auth_method = method;
    if method == AuthMethod::None && client.allows_grant(GrantType::Password) {
        return Err(AdminError(
            "--grant-type password needs a confidential client (not --public): \
             the provider refuses the password grant to clients that do not authenticate"
                .into(),
        ));
    }
    if let Some(t) = &new.subject_type {
        client.subject_type = SubjectType::parse(t).ok_or_else(|| {
            AdminError(format!("unknown --subject-type {t:?} (public or pairwise)"))
        })?;
    }
    if client.subject_type == SubjectType::Pairwise && client.sector_identifier().is_none() {
        return Err(AdminError(
            "--subject-type pairwise needs --redirect-uri values that all share one host \
             (the sector whose users get the same pairwise sub)"
                .into(),
        ));
    }
    for r in &new.resources {
        let absolute = url::Url::parse(r).is_ok_and(|u| u.fragment().is_none()) && !r.contains('#');
        if !absolute {
            return Err(AdminError(format!(
                "--resource {r:?} must be an absolute URI without a fragment"
            )));
        }
        if !client.allowed_resources.contains(r) {
            client.allowed_resources.push(r.clone());
        }
    }
    if let Some(alg) = &new.id_token_alg {
        client.id_token_signed_response_alg = JwsAlgorithm::parse(alg)
            .filter(|a| !a.is_symmetric())
            .ok_or_else(|| AdminError(format!("unsupported --id-token-alg {alg:?}")))?;
    }
    if let Some(uri) = &new.backchannel_logout_uri {
        url::Url::parse(uri).map_err(|_| {
            AdminError(format!(
                "--backchannel-logout-uri {uri:?} is not an absolute URL"
            ))
        })?;
        client.backchannel_logout_uri = Some(uri.clone());
    }
    let secret = if method == AuthMethod::None || method == AuthMethod::PrivateKeyJwt {
        None
    } else {
        let s = ClientSecret::random().map_err(|e| AdminError(e.to_string()))?;
        let s = if method == AuthMethod::ClientSecretJwt {
            // Long enough to key HS512, and kept for HMAC verification.
            let more = ClientSecret::random().map_err(|e| AdminError(e.to_string()))?;
            let joined = ClientSecret::new(format!("{}{}", s.secret(), more.secret()));
            client.client_secret_jwt_key = Some(joined.clone());
            joined
        } else {
            s
        };
        client.client_secret_hash = Some(secrets::hash_generated_secret(s.secret()));
        Some(s.secret().to_owned())
    };
    store.save_client(&client).await?;
    Ok(Registered {
        client_id,
        client_secret: secret,
    })
}

/// Adds a Next (or, if the algorithm has none, an Active) signing key.
///
/// # Errors
/// An unsupported algorithm or a storage failure.
pub async fn generate_key(store: &SqlStore, alg: &str) -> Result<StoredKey, AdminError> {
    let alg = JwsAlgorithm::parse(alg)
        .filter(|a| !a.is_symmetric())
        .ok_or_else(|| {
            AdminError(format!(
                "unsupported --alg {alg:?} (RS256, PS256, ES256, ES384, EdDSA)"
            ))
        })?;
    let keys = store.list_keys().await?;
    let state = if keys
        .iter()
        .any(|k| k.alg == alg && k.state == KeyState::Active)
    {
        KeyState::Next
    } else {
        KeyState::Active
    };
    let key = SigningKey::generate(alg).map_err(|e| AdminError(e.to_string()))?;
    let now = SystemClock.now();
    let stored = StoredKey {
        kid: key.kid().to_owned(),
        alg,
        private_pem: key
            .to_pkcs8_pem()
            .map_err(|e| AdminError(e.to_string()))?
            .to_string(),
        state,
        created_at: now,
        state_changed_at: now,
    };
    store.save_key(&stored).await?;
    Ok(stored)
}
