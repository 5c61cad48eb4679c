//! Pushed authorization requests (RFC 9126): the client posts the request's
//! parameters to [`crate::paths::PAR`], authenticated as at the token
//! endpoint, and gets a `request_uri` (`urn:ietf:params:oauth:request_uri:…`)
//! to send the browser with. The request is kept in the store (so any
//! instance can take it), bound to the client, for [`PAR_TTL`] seconds, and
//! taken once — at the point of authorization: a request the authorization
//! endpoint sends through the login stays usable until the browser comes
//! back from it, so that a reload of the login page's URL (RFC 9126 §4 "MAY
//! allow for duplicate requests due to a user reloading") still works; the
//! way back takes it for good.

use serde_json::{Map, Value, json};
use sesame_core::{ErrorCode, ResponseType, UnixTime, random};

use super::{FlowError, OAuthError, Params};
use crate::model::{Client, Interaction, InteractionKind};
use crate::provider::Provider;
use crate::secrets::token_key;

/// The `request_uri` of a pushed request starts with this.
pub(crate) const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request waits (RFC 9126 §2.2 suggests 5 to 600 s).
pub(crate) const PAR_TTL: UnixTime = 60;

/// Client authentication's own parameters: not part of the request.
const CLIENT_AUTH: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// In a pushed request stored for the way back from the login: the handle
/// of the client's own pushed request, taken for good on the way back.
/// Never taken from a client (dropped at [`push`]).
const ORIGIN: &str = "sesame_pushed_origin";

/// A pushed request taken at the authorization endpoint.
pub(crate) struct Taken {
    /// Its parameters.
    pub(crate) params: Params,
    /// The client's own pushed request (not one stored for the way back
    /// from the login): what [`keep_until_login`] puts back.
    pub(crate) origin: Option<Origin>,
}

/// A client's pushed request, to keep while the user signs in.
#[derive(Clone)]
pub(crate) struct Origin {
    handle: String,
    params: Vec<(String, String)>,
    expires_at: UnixTime,
}

fn invalid(description: &str) -> FlowError {
    FlowError::OAuth(OAuthError::new(ErrorCode::InvalidRequest, description))
}

/// Checks and stores a pushed request of the authenticated `client`; the
/// answer's `request_uri` and `expires_in`. `dpop`: the key thumbprint of
/// the DPoP proof sent with the push, which binds the code as `dpop_jkt`
/// does (RFC 9449 §10.1).
pub(crate) async fn push(
    p: &Provider,
    client: &Client,
    form: &Params,
    dpop: Option<&str>,
    now: UnixTime,
) -> Result<Map<String, Value>, FlowError> {
    if let Some(name) = form.duplicate() {
        return Err(invalid(&format!("{name} was given more than once")));
    }
    if form.get("request_uri").is_some() {
        return Err(invalid("request_uri cannot be pushed (RFC 9126 §2.1)"));
    }
    let mut params = Params(
        form.0
            .iter()
            .filter(|(k, _)| !CLIENT_AUTH.contains(&k.as_str()) && k != "client_id")
            .cloned()
            .collect(),
    );
    params
        .0
        .push(("client_id".into(), client.client_id.as_str().to_owned()));
    let mut params = if params.get("request").is_some() {
        super::request_object::resolve(p, client, &params, now)
            .await
            .map_err(FlowError::OAuth)?
    } else {
        params
    };
    params.0.retain(|(k, _)| k != ORIGIN);
    // What the authorization endpoint would refuse without a redirect.
    if params.get("client_id") != Some(client.client_id.as_str()) {
        return Err(invalid(
            "the request's client_id is not the authenticated client",
        ));
    }
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Err(invalid("redirect_uri is missing"));
    };
    if !client
        .redirect_uris
        .iter()
        .any(|r| r.as_str() == redirect_uri)
    {
        return Err(invalid(
            "redirect_uri is not registered for this client (it must match exactly)",
        ));
    }
    let Some(response_type) = params.get("response_type") else {
        return Err(invalid("response_type is missing"));
    };
    let Some(rt) = ResponseType::parse(response_type) else {
        return Err(FlowError::OAuth(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            "unsupported response_type",
        )));
    };
    if !client
        .response_types
        .iter()
        .any(|t| ResponseType::parse(t) == Some(rt))
    {
        return Err(FlowError::OAuth(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("the client is not registered for response_type={rt}"),
        )));
    }
    match (dpop, params.get("dpop_jkt")) {
        (Some(proof), Some(asked)) if proof != asked => {
            return Err(FlowError::OAuth(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "dpop_jkt is not the thumbprint of the DPoP proof's key",
            )));
        }
        (Some(proof), None) => params.0.push(("dpop_jkt".into(), proof.to_owned())),
        _ => {}
    }
    let request_uri = store(p, params.0, PAR_TTL, now).await?;
    let mut out = Map::new();
    out.insert("request_uri".into(), json!(request_uri));
    out.insert("expires_in".into(), json!(PAR_TTL));
    Ok(out)
}

/// Keeps `params` as a pushed request for `ttl` seconds; its `request_uri`.
/// The authorization endpoint also uses it to send a pushed request through
/// the host's login, so that it comes back still pushed.
pub(crate) async fn store(
    p: &Provider,
    params: Vec<(String, String)>,
    ttl: UnixTime,
    now: UnixTime,
) -> Result<String, FlowError> {
    let handle = random::token()?;
    let key = pushed_key(client_of(&params), &handle);
    let record = Interaction {
        kind: InteractionKind::Pushed,
        params,
        subject: sesame_core::Subject::new(""),
        auth_after: None,
        csrf: String::new(),
        expires_at: now + ttl,
    };
    p.inner.store.save_interaction(&key, &record).await?;
    Ok(format!("{REQUEST_URI_PREFIX}{handle}"))
}

/// The `client_id` among a pushed request's parameters.
fn client_of(params: &[(String, String)]) -> &str {
    params
        .iter()
        .find(|(k, _)| k == "client_id")
        .map_or("", |(_, v)| v.as_str())
}

/// The store key of a pushed request: its handle bound to the client that
/// pushed it, so that another client naming the `request_uri` finds nothing
/// and cannot spend it (the rightful client can still use it).
fn pushed_key(client_id: &str, handle: &str) -> String {
    token_key(&format!("{}:{client_id}:{handle}", client_id.len()))
}

/// The pushed request `request_uri` names, taken (single use), if it was
/// pushed by `client_id` and has not expired. Taking one stored for the way
/// back from the login also takes the client's own request it came from.
pub(crate) async fn take(
    p: &Provider,
    client_id: &str,
    request_uri: &str,
    now: UnixTime,
) -> Result<Taken, FlowError> {
    let bad = |d: &str| FlowError::OAuth(OAuthError::new(ErrorCode::InvalidRequestUri, d));
    let Some(handle) = request_uri.strip_prefix(REQUEST_URI_PREFIX) else {
        return Err(bad("not a pushed request_uri"));
    };
    let Some(record) = p
        .inner
        .store
        .take_interaction(&pushed_key(client_id, handle), now)
        .await?
    else {
        return Err(bad(
            "the pushed request is unknown, expired or already used",
        ));
    };
    let mut params = Params(record.params);
    if record.kind != InteractionKind::Pushed || params.get("client_id") != Some(client_id) {
        return Err(bad("the pushed request belongs to another client"));
    }
    let came_from = params.get(ORIGIN).map(str::to_owned);
    params.0.retain(|(k, _)| k != ORIGIN);
    let origin = match came_from {
        Some(first) => {
            // Back from the login: the client's request is used up now,
            // by the first way back only (a reload started another login).
            let once = format!("\u{0}pushed\u{0}{first}");
            let first_back = p
                .inner
                .store
                .remember_jti(&token_key(&once), now + p.inner.settings.interaction_ttl)
                .await?;
            p.inner
                .store
                .take_interaction(&pushed_key(client_id, &first), now)
                .await?;
            if !first_back {
                return Err(bad("the pushed request was already used"));
            }
            None
        }
        None => Some(Origin {
            handle: handle.to_owned(),
            params: params.0.clone(),
            expires_at: record.expires_at,
        }),
    };
    Ok(Taken { params, origin })
}

/// Puts the client's pushed request `origin` back while the user signs in
/// (until its own expiry), and marks `back`, the request stored for the way
/// back, with it.
pub(crate) async fn keep_until_login(
    p: &Provider,
    origin: &Origin,
    back: &mut Vec<(String, String)>,
    now: UnixTime,
) -> Result<(), FlowError> {
    if origin.expires_at <= now {
        return Ok(());
    }
    let record = Interaction {
        kind: InteractionKind::Pushed,
        params: origin.params.clone(),
        subject: sesame_core::Subject::new(""),
        auth_after: None,
        csrf: String::new(),
        expires_at: origin.expires_at,
    };
    p.inner
        .store
        .save_interaction(
            &pushed_key(client_of(&origin.params), &origin.handle),
            &record,
        )
        .await?;
    back.push((ORIGIN.into(), origin.handle.clone()));
    Ok(())
}
