//! RP-Initiated Logout 1.0 and Back-Channel Logout 1.0.

use serde_json::Value;
use sesame_core::{
    ClientId, ErrorCode, LogoutTokenClaims, SessionId, Subject, UnixTime, UnverifiedJws, jws,
    random,
};

use super::authorize::verify_hint;
use super::{FlowError, OAuthError, Params};
use crate::authn::EndUser;
use crate::model::{Client, InteractionKind};
use crate::notify::LogoutNotice;
use crate::provider::Provider;

/// Where to go once logged out.
#[derive(Debug, Clone)]
pub(crate) enum AfterLogout {
    Redirect(String),
    Page,
}

#[derive(Debug)]
pub(crate) enum EndSessionOutcome {
    /// A bad hint or redirect URI: a page, never a redirect.
    ErrorPage(OAuthError),
    /// Ask the user (no verified hint for the current user).
    Confirm {
        interaction: String,
        csrf: String,
        client_name: Option<String>,
        /// Where the confirmed logout will redirect (for the page's CSP).
        redirect_origin: Option<String>,
    },
    /// Log this user out, then go on.
    Logout(EndUser, AfterLogout),
    /// Nobody is logged in: go on.
    Done(AfterLogout),
}

fn page(description: &str) -> Result<EndSessionOutcome, FlowError> {
    Ok(EndSessionOutcome::ErrorPage(OAuthError::new(
        ErrorCode::InvalidRequest,
        description,
    )))
}

fn hint_audience(hint: &str) -> Option<String> {
    let payload = UnverifiedJws::parse(hint).ok()?.insecure_payload().ok()?;
    let v: Value = serde_json::from_slice(&payload).ok()?;
    match v.get("aud")? {
        Value::String(a) => Some(a.clone()),
        Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// Runs the end-session endpoint. `confirmed`: the user pressed "Sign out"
/// on the confirmation page (the interaction was checked by the caller).
pub(crate) async fn end_session(
    p: &Provider,
    params: &Params,
    user: Option<EndUser>,
    confirmed: bool,
    now: UnixTime,
) -> Result<EndSessionOutcome, FlowError> {
    if let Some(name) = params.duplicate() {
        return page(&format!("{name} was given more than once"));
    }
    let mut client_id = params.get("client_id").map(ClientId::new);
    let mut hint_sub = None;
    if let Some(hint) = params.get("id_token_hint") {
        let Some(aud) = hint_audience(hint) else {
            return page("id_token_hint is not an ID token");
        };
        if client_id.as_ref().is_some_and(|c| c.as_str() != aud) {
            return page("client_id does not match the id_token_hint's audience");
        }
        let aud = ClientId::new(aud);
        match verify_hint(p, hint, &aud, now).await {
            Some(sub) => hint_sub = Some(sub),
            None => return page("id_token_hint is not a valid ID token from this provider"),
        }
        client_id = Some(aud);
    }
    let client: Option<Client> = match &client_id {
        Some(id) => match p.inner.store.find_client(id).await? {
            Some(c) => Some(c),
            None => return page("unknown client"),
        },
        None => None,
    };
    let after = match params.get("post_logout_redirect_uri") {
        None => AfterLogout::Page,
        Some(uri) => {
            let Some(client) = &client else {
                return page("post_logout_redirect_uri needs an id_token_hint or a client_id");
            };
            if !client
                .post_logout_redirect_uris
                .iter()
                .any(|r| r.as_str() == uri)
            {
                return page(
                    "post_logout_redirect_uri is not registered for this client (it must match exactly)",
                );
            }
            let Ok(mut url) = url::Url::parse(uri) else {
                return page("post_logout_redirect_uri is malformed");
            };
            if let Some(state) = params.get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            AfterLogout::Redirect(url.into())
        }
    };
    let Some(user) = user else {
        return Ok(EndSessionOutcome::Done(after));
    };
    // The hint carries the `sub` its client knows (pairwise or public).
    let hint_matches = match (&hint_sub, &client) {
        (Some(hint), Some(client)) => {
            p.subject_for(client, &user.subject)?.as_str() == hint
                && crate::sid::hint_is_of_session(p, params.get("id_token_hint"), client, &user)
        }
        _ => false,
    };
    if hint_matches || confirmed {
        return Ok(EndSessionOutcome::Logout(user, after));
    }
    let super::interaction::Started {
        handle: interaction,
        csrf,
    } = super::interaction::start(
        p,
        InteractionKind::Logout,
        params.0.clone(),
        user.subject.clone(),
        None,
        now,
    )
    .await?;
    let redirect_origin = match &after {
        AfterLogout::Redirect(url) => Some(crate::pages::csp_origin(url)),
        AfterLogout::Page => None,
    };
    Ok(EndSessionOutcome::Confirm {
        interaction,
        csrf,
        client_name: client.map(|c| c.display_name().to_owned()),
        redirect_origin,
    })
}

/// The logout tokens for every client of the session that registered a
/// `backchannel_logout_uri`, one notice each; the caller hands them to
/// [`Provider::deliver_logout_notices`] (`notify.rs`), which sends them.
pub(crate) async fn backchannel_notices(
    p: &Provider,
    subject: &Subject,
    sid: &SessionId,
    now: UnixTime,
) -> Result<Vec<LogoutNotice>, FlowError> {
    let mut notices = Vec::new();
    for client_id in p.inner.store.clients_of_session(sid.as_str()).await? {
        let Some(client) = p.inner.store.find_client(&client_id).await? else {
            continue;
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            continue;
        };
        // The `sub` this client knows; a misconfigured pairwise client is
        // skipped (and logged) rather than stopping the others' notices.
        let sub = match p.subject_for(&client, subject) {
            Ok(sub) => sub,
            Err(e) => {
                tracing::error!(client_id = client_id.as_str(), error = %e, "back-channel logout skipped");
                continue;
            }
        };
        let claims = LogoutTokenClaims {
            iss: p.inner.issuer.as_str().to_owned(),
            aud: sesame_core::Audience::single(client_id.as_str()),
            iat: now,
            exp: now + 120,
            jti: random::token()?,
            events: LogoutTokenClaims::logout_events(),
            sub: Some(sub),
            sid: Some(p.sid_for(&client_id, sid)),
        };
        let key = super::issue::id_token_key(p, &client).await?;
        let token = jws::sign(&key, Some("logout+jwt"), &claims)
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        notices.push(LogoutNotice {
            client_id,
            uri,
            token,
        });
    }
    Ok(notices)
}

#[cfg(test)]
mod tests;
