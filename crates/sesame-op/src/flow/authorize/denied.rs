//! The user's "deny" on the consent page, answered to the client.

use sesame_core::{ClientId, ErrorCode, UnixTime};

use super::{AuthorizeOutcome, ClientRedirect, Request};
use crate::flow::{FlowError, OAuthError, Params};
use crate::provider::Provider;

/// The user denied consent: `access_denied` back to the client, after
/// checking the client and redirect URI again.
pub(crate) async fn access_denied(
    p: &Provider,
    params: &Params,
    now: UnixTime,
) -> Result<AuthorizeOutcome, FlowError> {
    let client = match params.get("client_id") {
        Some(id) => p.inner.store.find_client(&ClientId::new(id)).await?,
        None => None,
    };
    let redirect_uri = client.as_ref().and_then(|c| {
        c.redirect_uris
            .iter()
            .find(|r| Some(r.as_str()) == params.get("redirect_uri"))
            .cloned()
    });
    let (Some(client), Some(redirect_uri)) = (client, redirect_uri) else {
        return Ok(AuthorizeOutcome::ErrorPage(OAuthError::new(
            ErrorCode::InvalidRequest,
            "the client or its redirect_uri is no longer registered",
        )));
    };
    let redirect = ClientRedirect::new(p, &client, redirect_uri, params);
    let req = Request {
        client,
        redirect,
        pushed_origin: None,
    };
    let denied = req.error(ErrorCode::AccessDenied, "the user denied the request");
    super::jarm::seal(p, denied, now).await
}
