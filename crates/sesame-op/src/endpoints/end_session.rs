//! RP-initiated logout: the end-session endpoint and its confirmation form.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde_json::json;

use super::{
    ConfirmForm, error_page, page_flow_error, parse_form, parse_query, redeem_form, see_other,
};
use crate::flow::end_session::{AfterLogout, EndSessionOutcome, backchannel_notices, end_session};
use crate::flow::{FlowError, Params};
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
    let form = match parse_form(&parts.headers, &body) {
        Ok(f) => f,
        Err(e) => return error_page(&p, StatusCode::BAD_REQUEST, &e),
    };
    if form.get("interaction").is_none() {
        return run(&p, &form, &parts, false).await;
    }
    // The confirmation form.
    let form_of = ConfirmForm {
        kind: InteractionKind::Logout,
        incomplete: "the sign-out form is incomplete",
        expired: "this sign-out request has expired; start again",
    };
    let interaction = match redeem_form(&p, &form, &form_of, p.now()).await {
        Ok(i) => i,
        Err(page) => return page,
    };
    if form.get("logout").is_none() || form.get("deny").is_some() {
        return page(&p, json!({"cancelled": true}));
    }
    let params = Params(interaction.params);
    match p.inner.authn.current_user(&parts).await {
        Ok(Some(u)) if u.subject == interaction.subject => run(&p, &params, &parts, true).await,
        Ok(_) => page(&p, json!({"done": true})),
        Err(e) => page_flow_error(&p, FlowError::Internal(e.to_string())),
    }
}

fn page(p: &Provider, ctx: serde_json::Value) -> Response {
    page_with_targets(p, ctx, Vec::new())
}

fn page_with_targets(p: &Provider, mut ctx: serde_json::Value, targets: Vec<String>) -> Response {
    ctx["css"] = json!(STYLESHEET);
    ctx["issuer"] = json!(p.inner.issuer.as_str());
    ctx["action"] = json!(p.inner.issuer.join(crate::paths::END_SESSION));
    let csp = crate::pages::csp_with_form_targets(&targets);
    p.inner
        .templates
        .render("logout.html", StatusCode::OK, ctx, &csp)
}

fn after(p: &Provider, after: AfterLogout) -> Response {
    match after {
        AfterLogout::Redirect(url) => see_other(&url),
        AfterLogout::Page => page(p, json!({"done": true})),
    }
}

/// RP-initiated logout; its span carries the `client_id` named (if any).
#[tracing::instrument(
    name = "sesame_op.end_session",
    skip_all,
    fields(client_id = super::span_value(params.get("client_id").unwrap_or("")))
)]
async fn run(p: &Provider, params: &Params, parts: &Parts, confirmed: bool) -> Response {
    let now = p.now();
    let user = match p.inner.authn.current_user(parts).await {
        Ok(u) => u,
        Err(e) => return page_flow_error(p, FlowError::Internal(e.to_string())),
    };
    match end_session(p, params, user, confirmed, now).await {
        Err(e) => page_flow_error(p, e),
        Ok(EndSessionOutcome::ErrorPage(e)) => error_page(p, StatusCode::BAD_REQUEST, &e),
        Ok(EndSessionOutcome::Done(then)) => after(p, then),
        Ok(EndSessionOutcome::Confirm {
            interaction,
            csrf,
            client_name,
            redirect_origin,
        }) => page_with_targets(
            p,
            json!({"interaction": interaction, "csrf_token": csrf, "client_name": client_name}),
            redirect_origin.into_iter().collect(),
        ),
        Ok(EndSessionOutcome::Logout(user, then)) => {
            let headers = match p.inner.authn.logout(parts, &user).await {
                Ok(h) => h,
                Err(e) => return page_flow_error(p, FlowError::Internal(e.to_string())),
            };
            match backchannel_notices(p, &user.subject, &user.session_id, now).await {
                Ok(notices) => drop(p.deliver_logout_notices(notices)),
                Err(e) => tracing::error!(error = ?e, "back-channel logout could not start"),
            }
            let mut response = after(p, then);
            for (name, value) in &headers {
                response.headers_mut().append(name, value.clone());
            }
            response
        }
    }
}
