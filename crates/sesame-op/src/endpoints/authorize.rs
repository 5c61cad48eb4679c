//! The authorization endpoint and the consent form.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde_json::json;
use sesame_core::{ErrorCode, ResponseMode};

use super::{
    ConfirmForm, asked_user, error_page, page_flow_error, parse_form, parse_query, redeem_form,
    see_other,
};
use crate::flow::authorize::{AuthorizeOutcome, ClientRedirect, authorize};
use crate::flow::interaction;
use crate::flow::{FlowError, OAuthError, Params};
use crate::model::InteractionKind;
use crate::pages::STYLESHEET;
use crate::provider::Provider;

pub(super) async fn get(
    State(p): State<Provider>,
    RawQuery(q): RawQuery,
    parts: Parts,
) -> Response {
    run(&p, &parse_query(q.as_deref()), &parts, false).await
}

pub(super) async fn post(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    match parse_form(&parts.headers, &body) {
        Ok(params) => run(&p, &params, &parts, false).await,
        Err(e) => error_page(&p, StatusCode::BAD_REQUEST, &e),
    }
}

/// The authorization endpoint; its span carries the `client_id` asked for.
#[tracing::instrument(
    name = "sesame_op.authorize",
    skip_all,
    fields(client_id = super::span_value(params.get("client_id").unwrap_or("")))
)]
async fn run(p: &Provider, params: &Params, parts: &Parts, consent_given: bool) -> Response {
    let user = match p.inner.authn.current_user(parts).await {
        Ok(u) => u,
        Err(e) => return page_flow_error(p, FlowError::Internal(e.to_string())),
    };
    let now = p.now();
    let (params, auth_after) = match interaction::resume_authorize(p, params, now).await {
        Ok(r) => r,
        Err(e) => return page_flow_error(p, e),
    };
    match authorize(p, &params, user, consent_given, auth_after, now).await {
        Ok(outcome) => respond(p, outcome),
        Err(e) => page_flow_error(p, e),
    }
}

fn respond(p: &Provider, outcome: AuthorizeOutcome) -> Response {
    match outcome {
        AuthorizeOutcome::ErrorPage(e) => error_page(p, StatusCode::BAD_REQUEST, &e),
        AuthorizeOutcome::Login(url) => see_other(&url),
        AuthorizeOutcome::Redirect(r) => redirect_to_client(p, r),
        AuthorizeOutcome::Consent {
            interaction,
            csrf,
            client_name,
            user,
            scopes,
            redirect_origin,
            self_registered,
        } => p.inner.templates.render(
            "consent.html",
            StatusCode::OK,
            json!({
                "css": STYLESHEET,
                "issuer": p.inner.issuer.as_str(),
                "action": p.inner.issuer.join(crate::paths::CONSENT),
                "interaction": interaction,
                "csrf_token": csrf,
                "client_name": client_name,
                "subject": user,
                "scopes": scopes,
                "self_registered": self_registered,
                "redirect_origin": redirect_origin,
            }),
            &crate::pages::csp_with_form_targets(&[redirect_origin]),
        ),
    }
}

/// Sends the browser back to the client in the requested response mode.
pub(crate) fn redirect_to_client(p: &Provider, r: ClientRedirect) -> Response {
    let Ok(mut url) = r.redirect_uri.to_url() else {
        return error_page(
            p,
            StatusCode::BAD_REQUEST,
            &OAuthError::new(ErrorCode::InvalidRequest, "redirect_uri is malformed"),
        );
    };
    // The JWT modes (JARM) carry one `response` parameter the same ways.
    match r.mode.carrier() {
        ResponseMode::Fragment => {
            let fragment = serde_urlencoded::to_string(&r.params).unwrap_or_default();
            url.set_fragment(Some(&fragment));
            see_other(url.as_str())
        }
        ResponseMode::FormPost => {
            let nonce = sesame_core::random::token().unwrap_or_default();
            let origin = url.origin().ascii_serialization();
            let target = if origin == "null" {
                format!("{}:", url.scheme())
            } else {
                origin
            };
            let csp = format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; form-action {target}; frame-ancestors 'none'; base-uri 'none'"
            );
            p.inner.templates.render(
                "form_post.html",
                StatusCode::OK,
                json!({
                    "css": STYLESHEET,
                    "action": url.as_str(),
                    "params": r.params,
                    "nonce": nonce,
                }),
                &csp,
            )
        }
        // `query`, and any mode a later sesame-core adds: the plain redirect.
        _ => {
            url.query_pairs_mut().extend_pairs(r.params.iter());
            see_other(url.as_str())
        }
    }
}

/// The consent page's form.
const CONSENT_FORM: ConfirmForm = ConfirmForm {
    kind: InteractionKind::Consent,
    incomplete: "the consent form is incomplete",
    expired: "this consent request has expired or was already answered; start again from the application",
};

/// POST /consent: `interaction`, `csrf_token`, and `allow` or `deny`.
pub(super) async fn consent(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    let form = match parse_form(&parts.headers, &body) {
        Ok(f) => f,
        Err(e) => return error_page(&p, StatusCode::BAD_REQUEST, &e),
    };
    let now = p.now();
    let interaction = match redeem_form(&p, &form, &CONSENT_FORM, now).await {
        Ok(i) => i,
        Err(page) => return page,
    };
    let user = match asked_user(&p, &parts, &interaction).await {
        Ok(u) => u,
        Err(page) => return page,
    };
    let params = Params(interaction.params);
    if form.get("allow").is_some() && form.get("deny").is_none() {
        match authorize(&p, &params, Some(user), true, interaction.auth_after, now).await {
            Ok(outcome) => respond(&p, outcome),
            Err(e) => page_flow_error(&p, e),
        }
    } else {
        match crate::flow::authorize::access_denied(&p, &params, now).await {
            Ok(outcome) => respond(&p, outcome),
            Err(e) => page_flow_error(&p, e),
        }
    }
}
