//! Dynamic client registration (RFC 7591) and client configuration (RFC 7592).
//!
//! Registration issues a random `client_id`, a client secret for the
//! secret-based authentication methods and a registration access token;
//! only hashes of the secret and the token are stored (the secret itself too
//! for `client_secret_jwt`, whose HMAC needs it, sealed by the storage
//! backend — see [`Client::client_secret_jwt_key`]). The registration access token then
//! reads, replaces or deletes the client at its configuration endpoint.

use serde_json::{Map, Value, json};
use sesame_core::{ClientId, ClientSecret, ErrorCode, UnixTime, random};

use super::client_metadata;
use super::{FlowError, OAuthError};
use crate::model::{AuthMethod, Client, SubjectType};
use crate::paths;
use crate::provider::{Provider, Registration};
use crate::secrets::{hash_generated_secret, verify_secret};

/// Members of a client information response that a client must not send
/// back in an update (RFC 7592 §2.2).
const SERVER_MEMBERS: [&str; 4] = [
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

fn invalid_token(description: &str) -> FlowError {
    FlowError::OAuth(OAuthError::new(ErrorCode::InvalidToken, description))
}

fn invalid_request(description: &str) -> FlowError {
    FlowError::OAuth(OAuthError::new(ErrorCode::InvalidRequest, description))
}

/// Checks the initial access token of a registration request (RFC 7591 §3)
/// against the provider's [`Registration`] setting.
pub(crate) async fn authorize_registration(
    p: &Provider,
    token: Option<&str>,
) -> Result<(), FlowError> {
    match &p.inner.settings.registration {
        Registration::Open => Ok(()),
        Registration::Issued => {
            let Some(token) = token else {
                return Err(invalid_token("an initial access token is required"));
            };
            let accepted = match &p.inner.initial_access_tokens {
                Some(tokens) => tokens.accepts(token, p.now()).await?,
                None => false,
            };
            if accepted {
                Ok(())
            } else {
                tracing::info!("registration refused: unknown or expired initial access token");
                Err(invalid_token(
                    "the initial access token is invalid or expired",
                ))
            }
        }
        Registration::InitialAccessToken(hashes) => {
            let Some(token) = token else {
                return Err(invalid_token("an initial access token is required"));
            };
            // Check every hash, so the time taken does not tell which one matched.
            let ok = hashes
                .iter()
                .fold(false, |ok, hash| verify_secret(token, hash) | ok);
            if ok {
                Ok(())
            } else {
                tracing::info!("registration refused: wrong initial access token");
                Err(invalid_token("the initial access token is invalid"))
            }
        }
        Registration::Disabled => Err(FlowError::OAuth(OAuthError::new(
            ErrorCode::RegistrationNotSupported,
            "dynamic client registration is disabled",
        ))),
    }
}

/// A fresh client secret: 256 bits, or 512 for `client_secret_jwt` so that
/// it is long enough to key HS512 (RFC 7518 §3.2).
fn new_secret(method: AuthMethod) -> Result<ClientSecret, FlowError> {
    let first = ClientSecret::random()?;
    if method != AuthMethod::ClientSecretJwt {
        return Ok(first);
    }
    let second = ClientSecret::random()?;
    Ok(ClientSecret::new(format!(
        "{}{}",
        first.secret(),
        second.secret()
    )))
}

/// Makes the client's secrets fit its authentication method: none for
/// `none`/`private_key_jwt`; the existing secret kept when it still works
/// (its clear copy dropped unless the method is `client_secret_jwt`); a new
/// one issued — and returned — when the method needs a secret the provider
/// cannot produce (no secret yet, or only a hash for `client_secret_jwt`).
fn settle_secret(client: &mut Client) -> Result<Option<ClientSecret>, FlowError> {
    let method = client.token_endpoint_auth_method;
    if !method.uses_secret() {
        client.client_secret_hash = None;
        client.client_secret_jwt_key = None;
        return Ok(None);
    }
    let usable = if method == AuthMethod::ClientSecretJwt {
        client.client_secret_jwt_key.is_some() && client.client_secret_hash.is_some()
    } else {
        client.client_secret_jwt_key = None;
        client.client_secret_hash.is_some()
    };
    if usable {
        return Ok(None);
    }
    let secret = new_secret(method)?;
    client.client_secret_hash = Some(hash_generated_secret(secret.secret()));
    client.client_secret_jwt_key = (method == AuthMethod::ClientSecretJwt).then(|| secret.clone());
    Ok(Some(secret))
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3).
fn information(
    p: &Provider,
    client: &Client,
    secret: Option<&ClientSecret>,
    registration_access_token: &str,
) -> Map<String, Value> {
    let id = client.client_id.as_str();
    let mut out = Map::new();
    out.insert("client_id".into(), json!(id));
    out.insert("client_id_issued_at".into(), json!(client.created_at));
    if let Some(secret) = secret {
        out.insert("client_secret".into(), json!(secret.secret()));
    }
    if client.client_secret_hash.is_some() {
        out.insert("client_secret_expires_at".into(), json!(0));
    }
    out.insert(
        "registration_access_token".into(),
        json!(registration_access_token),
    );
    out.insert(
        "registration_client_uri".into(),
        json!(
            p.inner
                .issuer
                .join(&paths::REGISTER_CLIENT.replace("{client_id}", id))
        ),
    );
    out.extend(client_metadata::to_json(client));
    out
}

/// Registers a client (RFC 7591 §3.1): checks the metadata, stores the
/// client and answers with its credentials. The caller has already called
/// [`authorize_registration`].
pub(crate) async fn register(
    p: &Provider,
    request: &Map<String, Value>,
    now: UnixTime,
) -> Result<Map<String, Value>, FlowError> {
    let metadata = client_metadata::parse(request, &p.inner.settings, &p.inner.scopes)?;
    let client_id = ClientId::new(random::client_id()?);
    if p.inner.store.find_client(&client_id).await?.is_some() {
        return Err(FlowError::Internal(
            "a random client_id collided with a registered one".into(),
        ));
    }
    let mut client = Client::new(client_id, Vec::new(), now);
    metadata.apply(&mut client);
    held_to_profile(p, &client)?;
    check_sector(p, &client).await?;
    if client.subject_type == SubjectType::Pairwise {
        client.pairwise_sector = sector_of(&client);
    }
    let secret = settle_secret(&mut client)?;
    let token = random::token()?;
    client.registration_access_token_hash = Some(hash_generated_secret(&token));
    p.inner.store.save_client(&client).await?;
    tracing::info!(
        client_id = client.client_id.as_str(),
        method = client.token_endpoint_auth_method.as_str(),
        "client registered"
    );
    Ok(information(p, &client, secret.as_ref(), &token))
}

/// The client whose configuration endpoint was called, if `token` is its
/// registration access token (compared in constant time). An unknown client
/// and a wrong token get the same answer (RFC 7592 §2).
pub(crate) async fn authenticate(
    p: &Provider,
    client_id: &str,
    token: Option<&str>,
) -> Result<Client, FlowError> {
    let Some(token) = token else {
        return Err(invalid_token("a registration access token is required"));
    };
    let client = p.inner.store.find_client(&ClientId::new(client_id)).await?;
    match client {
        Some(c)
            if c.registration_access_token_hash
                .as_deref()
                .is_some_and(|hash| verify_secret(token, hash)) =>
        {
            Ok(c)
        }
        _ => {
            tracing::info!(
                client_id,
                "client configuration: wrong registration access token"
            );
            Err(invalid_token(
                "the registration access token is invalid for this client",
            ))
        }
    }
}

/// RFC 7592 §2.1: the client's current registration. The secret is not
/// repeated (only its hash is kept); the registration access token is the
/// one the request presented.
pub(crate) fn read(p: &Provider, client: &Client, token: &str) -> Map<String, Value> {
    information(p, client, None, token)
}

/// RFC 7592 §2.2: replaces the client's metadata with `request`.
///
/// The `client_id` is fixed, and the secret is not the client's to choose:
/// a `client_secret` in the request must be the current one. The secret is
/// kept, except when a new authentication method needs one the provider
/// cannot produce; the new secret is then in the response.
pub(crate) async fn update(
    p: &Provider,
    client: Client,
    token: &str,
    request: &Map<String, Value>,
) -> Result<Map<String, Value>, FlowError> {
    match request.get("client_id") {
        Some(Value::String(id)) if id == client.client_id.as_str() => {}
        _ => {
            return Err(invalid_request(
                "client_id is required and must be the client's own",
            ));
        }
    }
    if let Some(name) = SERVER_MEMBERS
        .iter()
        .find(|name| request.get(**name).is_some_and(|v| !v.is_null()))
    {
        return Err(invalid_request(&format!(
            "an update must not include {name} (RFC 7592 §2.2)"
        )));
    }
    match request.get("client_secret") {
        None | Some(Value::Null) => {}
        Some(Value::String(presented))
            if client
                .client_secret_hash
                .as_deref()
                .is_some_and(|hash| verify_secret(presented, hash)) => {}
        Some(_) => {
            return Err(invalid_request(
                "client_secret must be the current secret: clients cannot choose their secret",
            ));
        }
    }
    let metadata = client_metadata::parse(request, &p.inner.settings, &p.inner.scopes)?;
    let mut updated = client.clone();
    metadata.apply(&mut updated);
    held_to_profile(p, &updated)?;
    check_sector(p, &updated).await?;
    keep_subjects(&client, &mut updated)?;
    let secret = settle_secret(&mut updated)?;
    p.inner.store.save_client(&updated).await?;
    tracing::info!(
        client_id = updated.client_id.as_str(),
        new_secret = secret.is_some(),
        "client registration updated"
    );
    Ok(information(p, &updated, secret.as_ref(), token))
}

/// A registration that breaks the provider's security profile is refused
/// (`invalid_client_metadata`, every breach named).
fn held_to_profile(p: &Provider, client: &Client) -> Result<(), FlowError> {
    crate::profile::enforce(p, client.clone())
        .map(drop)
        .map_err(|e| FlowError::OAuth(OAuthError::new(ErrorCode::InvalidClientMetadata, e)))
}

/// S3: an update keeps the `sub`s the client's users already have. The
/// subject type is fixed at registration, and a pairwise client's sector
/// too: redirect URIs on another host would otherwise hand the client the
/// `sub`s of that host's sector, even for tokens it already holds.
fn keep_subjects(before: &Client, after: &mut Client) -> Result<(), FlowError> {
    let refuse = |d: &str| {
        Err(FlowError::OAuth(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            d,
        )))
    };
    if after.subject_type != before.subject_type {
        return refuse("an update may not change subject_type");
    }
    if before.subject_type == SubjectType::Pairwise {
        let sector = before.sector_identifier();
        if sector_of(after) != sector {
            return refuse(
                "an update may not move a pairwise client to another sector: its redirect_uris must stay on the host they were registered with",
            );
        }
        after.pairwise_sector = sector;
    }
    Ok(())
}

/// The sector a pairwise client registers into: the host of its
/// `sector_identifier_uri`, else the one host of its redirect URIs.
fn sector_of(client: &Client) -> Option<String> {
    match &client.sector_identifier_uri {
        Some(uri) => url::Url::parse(uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned)),
        None => client.redirect_host(),
    }
}

/// The largest sector identifier document accepted.
const MAX_SECTOR_DOCUMENT: usize = 64 * 1024;

/// OIDC Registration §5: the `sector_identifier_uri` document (fetched with
/// the outbound guard, 64 KiB and 5 s at most) is a JSON array of URIs that
/// holds every redirect URI of the client.
async fn check_sector(p: &Provider, client: &Client) -> Result<(), FlowError> {
    let Some(uri) = &client.sector_identifier_uri else {
        return Ok(());
    };
    let bad = |d: String| FlowError::OAuth(OAuthError::new(ErrorCode::InvalidClientMetadata, d));
    let body = crate::outbound::fetch_limited(
        &p.inner.http,
        uri,
        p.inner.settings.allow_private_outbound,
        "application/json",
        MAX_SECTOR_DOCUMENT,
        std::time::Duration::from_secs(5),
    )
    .await
    .map_err(|e| bad(format!("sector_identifier_uri {e}")))?;
    let listed: Vec<String> = serde_json::from_slice(&body)
        .map_err(|_| bad("sector_identifier_uri must hold a JSON array of URIs".into()))?;
    if let Some(missing) = client
        .redirect_uris
        .iter()
        .find(|r| !listed.iter().any(|l| l == r.as_str()))
    {
        return Err(bad(format!(
            "the sector_identifier_uri document does not list the redirect_uri {}",
            missing.as_str()
        )));
    }
    Ok(())
}

/// RFC 7592 §2.3: deletes the client. Its tokens stop working at once
/// (userinfo and introspection check that the client still exists, and the
/// token endpoint can no longer authenticate it).
pub(crate) async fn delete(p: &Provider, client: &Client) -> Result<(), FlowError> {
    p.inner.store.delete_client(&client.client_id).await?;
    tracing::info!(
        client_id = client.client_id.as_str(),
        "client registration deleted"
    );
    Ok(())
}
