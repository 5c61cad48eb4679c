//! Step 7 of the authorization endpoint: the grant, and the code, tokens
//! and ID token the response type asks for, on the redirect to the client.

use super::acr::AcrDecision;
use super::authentication::Authenticated;
use super::parameters::Asked;
use super::{AuthorizeOutcome, Request, Stop};
use crate::flow::issue::{self, IdTokenInput};
use crate::model::{CodeRecord, Grant};
use crate::provider::Provider;
use sesame_core::UnixTime;

pub(super) async fn issue(
    p: &Provider,
    mut req: Request,
    asked: Asked,
    signed_in: Authenticated,
    claims: Vec<String>,
    now: UnixTime,
) -> Result<AuthorizeOutcome, Stop> {
    let Authenticated { user, acr } = signed_in;
    let response_type = asked.response_type;
    let grant = Grant {
        grant_id: issue::new_grant_id()?,
        client_id: req.client.client_id.clone(),
        subject: Some(user.subject.clone()),
        scopes: asked.scopes,
        auth_time: Some(user.auth_time),
        sid: Some(user.session_id.clone()),
        acr: match acr {
            Some(AcrDecision::Issue(value)) => value,
            _ => user.acr.clone(),
        },
        amr: user.amr.clone(),
        claims_request: asked.claims_request,
        claims,
        jkt: None,
        resources: asked.resources,
        created_at: now,
    };
    let code = if response_type.has_code() {
        let record = CodeRecord {
            // RFC 9449 §10: the code is bound to dpop_jkt; the tokens of the
            // response (implicit, hybrid) are not.
            grant: Grant {
                jkt: asked.dpop_jkt.clone(),
                ..grant.clone()
            },
            redirect_uri: req.redirect.redirect_uri.clone(),
            nonce: asked.nonce.clone(),
            pkce: asked.pkce,
            expires_at: now + crate::profile::code_ttl(p, &req.client),
        };
        Some(issue::mint_code(p, &record).await?)
    } else {
        None
    };
    let access = if response_type.has_token() {
        Some(issue::mint_access_token(p, &req.client, &grant, now).await?)
    } else {
        None
    };
    let id_token = if response_type.has_id_token() {
        let input = IdTokenInput {
            nonce: asked.nonce.as_ref(),
            access_token: access.as_ref().map(|(t, _)| t),
            code: code.as_ref(),
        };
        Some(issue::mint_id_token(p, &req.client, &grant, input, now).await?)
    } else {
        None
    };
    let out = &mut req.redirect.params;
    if let Some(code) = &code {
        out.push(("code".into(), code.secret().into()));
    }
    if let Some((token, ttl)) = &access {
        out.push(("access_token".into(), token.secret().into()));
        out.push(("token_type".into(), "Bearer".into()));
        out.push(("expires_in".into(), ttl.to_string()));
    }
    if let Some(id_token) = id_token {
        out.push(("id_token".into(), id_token));
    }
    if access.is_some() || code.is_some() {
        // The scope actually granted (it may be narrower than requested).
        out.push(("scope".into(), grant.scopes.to_string()));
    }
    Ok(AuthorizeOutcome::Redirect(req.redirect))
}
