//! Step 1 of the authorization endpoint: the client and its redirect URI,
//! after a pushed request or a request object is resolved. Until both check
//! out, errors go to a page, never to a redirect.

use std::borrow::Cow;

use sesame_core::{ClientId, ErrorCode, UnixTime};

use super::checks::request_object_error;
use super::{ClientRedirect, Request, Stop, error_page};
use crate::flow::{FlowError, Params, par, request_object};
use crate::provider::Provider;

/// A request whose client and redirect URI are known.
pub(super) struct Located<'a> {
    pub(super) req: Request,
    /// The parameters that count: the query's, a pushed request's, or a
    /// request object's merged over the query.
    pub(super) params: Cow<'a, Params>,
    /// It came from the pushed authorization request endpoint (RFC 9126).
    pub(super) pushed: bool,
}

pub(super) async fn locate<'a>(
    p: &Provider,
    params: &'a Params,
    now: UnixTime,
) -> Result<Located<'a>, Stop> {
    if let Some(name @ ("client_id" | "redirect_uri")) = params.duplicate() {
        return Err(error_page(
            ErrorCode::InvalidRequest,
            &format!("{name} was given more than once"),
        ));
    }
    let Some(client_id) = params.get("client_id") else {
        return Err(error_page(
            ErrorCode::InvalidRequest,
            "client_id is missing",
        ));
    };
    let Some(client) = p.inner.store.find_client(&ClientId::new(client_id)).await? else {
        return Err(error_page(ErrorCode::InvalidClient, "unknown client_id"));
    };
    let client = crate::profile::enforce(p, client)
        .map_err(|e| error_page(ErrorCode::UnauthorizedClient, &e))?;
    // A pushed request (RFC 9126): only its stored parameters count. A
    // request object: its parameters, checked, win over the query's.
    let pushed = params
        .get("request_uri")
        .is_some_and(|u| u.starts_with(par::REQUEST_URI_PREFIX));
    let mut pushed_origin = None;
    let resolved = if pushed {
        let uri = params.get("request_uri").unwrap_or_default();
        match par::take(p, client.client_id.as_str(), uri, now).await {
            Ok(taken) => {
                pushed_origin = taken.origin;
                Cow::Owned(taken.params)
            }
            Err(FlowError::OAuth(e)) => {
                return Err(request_object_error(params, &client, p, e).into());
            }
            Err(e) => return Err(e.into()),
        }
    } else if params.get("request").is_some() || params.get("request_uri").is_some() {
        match request_object::resolve(p, &client, params, now).await {
            Ok(merged) => Cow::Owned(merged),
            Err(e) => return Err(request_object_error(params, &client, p, e).into()),
        }
    } else {
        Cow::Borrowed(params)
    };
    if resolved.get("client_id") != Some(client.client_id.as_str()) {
        return Err(error_page(
            ErrorCode::InvalidRequest,
            "client_id differs between the query and the request object",
        ));
    }
    let Some(redirect_uri) = resolved.get("redirect_uri") else {
        return Err(error_page(
            ErrorCode::InvalidRequest,
            "redirect_uri is missing",
        ));
    };
    let Some(redirect_uri) = client
        .redirect_uris
        .iter()
        .find(|r| r.as_str() == redirect_uri)
        .cloned()
    else {
        return Err(error_page(
            ErrorCode::InvalidRequest,
            "redirect_uri is not registered for this client (it must match exactly)",
        ));
    };
    let redirect = ClientRedirect::new(p, &client, redirect_uri, &resolved);
    Ok(Located {
        req: Request {
            client,
            redirect,
            pushed_origin,
        },
        params: resolved,
        pushed,
    })
}
