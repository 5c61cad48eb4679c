//! The device authorization grant's endpoints (RFC 8628): the device
//! authorization endpoint, and the verification page where the user types
//! the user code, signs in and allows or denies.
//!
//! The code form's CSRF token is a double-submit cookie (nothing is stored
//! for a page view); the consent form's is its interaction's, as on the
//! authorization endpoint's consent page.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sesame_core::UnixTime;
use subtle::ConstantTimeEq;

use super::token::authenticated;
use super::{
    ConfirmForm, asked_user, bad_form, error_page, flow_error, no_store, page_flow_error,
    parse_form, parse_query, redeem_form, see_other,
};
use crate::authn::{EndUser, LoginRequest};
use crate::flow::FlowError;
use crate::flow::authorize::{describe_scope, display_name};
use crate::flow::device::{self, Pending};
use crate::flow::interaction;
use crate::model::{Grant, InteractionKind};
use crate::pages::STYLESHEET;
use crate::paths;
use crate::provider::Provider;

/// The code form's double-submit CSRF cookie.
const CSRF_COOKIE: &str = "sesame_device_csrf";
/// The query parameter that brings the login handle back to the page.
const LOGIN_HANDLE: &str = "sesame_device";

/// POST /device_authorization (RFC 8628 §3.1).
pub(super) async fn authorize(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    let (client, form) = match authenticated(&p, &parts, &body, paths::DEVICE_AUTHORIZATION).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match device::authorize_device(&p, &client, &form, p.now()).await {
        Ok(answer) => {
            let mut r = axum::Json(answer).into_response();
            no_store(r.headers_mut());
            r
        }
        Err(e) => flow_error(e, p.inner.issuer.as_str()),
    }
}

/// GET /device: the code form (`?user_code=` pre-fills it), or, coming back
/// from the login with `?sesame_device=`, the consent page.
pub(super) async fn page(
    State(p): State<Provider>,
    RawQuery(q): RawQuery,
    parts: Parts,
) -> Response {
    let query = parse_query(q.as_deref());
    let now = p.now();
    if let Some(handle) = query.get(LOGIN_HANDLE) {
        return back_from_login(&p, handle, &parts, now).await;
    }
    let typed = query.get("user_code").unwrap_or("");
    // Only what could be a code is echoed back into the form.
    let prefill = if typed.len() <= 32 { typed } else { "" };
    code_form(&p, StatusCode::OK, prefill, None)
}

/// POST /device: `user_code` and `csrf_token`. A code that is unknown,
/// expired or already answered is a 400 (which the `sesame` server's
/// per-address limit counts).
pub(super) async fn submit(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    let form = match parse_form(&parts.headers, &body) {
        Ok(f) => f,
        Err(e) => return error_page(&p, StatusCode::BAD_REQUEST, &e),
    };
    let typed = form.get("user_code").unwrap_or("");
    let echo = if typed.len() <= 32 { typed } else { "" };
    let cookie = csrf_cookie(&parts);
    let csrf_ok = match (form.get("csrf_token"), cookie.as_deref()) {
        (Some(sent), Some(kept)) => bool::from(sent.as_bytes().ct_eq(kept.as_bytes())),
        _ => false,
    };
    if !csrf_ok {
        return code_form(
            &p,
            StatusCode::FORBIDDEN,
            echo,
            Some("The form expired; enter the code again."),
        );
    }
    let now = p.now();
    let pending = match device::find_pending(&p, typed, now).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return code_form(
                &p,
                StatusCode::BAD_REQUEST,
                echo,
                Some("That code is unknown or has expired. Check the code on your device."),
            );
        }
        Err(e) => return page_flow_error(&p, e),
    };
    let user = match p.inner.authn.current_user(&parts).await {
        Ok(u) => u,
        Err(e) => return page_flow_error(&p, FlowError::Internal(e.to_string())),
    };
    match user {
        Some(user) => consent_page(&p, &pending, &user, now).await,
        None => send_to_login(&p, &pending, now).await,
    }
}

/// Where the login sends the browser back: the consent page, for the
/// authorization the handle names.
async fn back_from_login(p: &Provider, handle: &str, parts: &Parts, now: UnixTime) -> Response {
    let taken = match p
        .inner
        .store
        .take_interaction(&crate::secrets::token_key(handle), now)
        .await
    {
        Ok(t) => t,
        Err(e) => return page_flow_error(p, e.into()),
    };
    let key = taken
        .filter(|i| i.kind == InteractionKind::DeviceLogin)
        .and_then(|i| device_param(&i.params));
    let pending = match key {
        Some(key) => match device::pending_at(p, &key, now).await {
            Ok(found) => found,
            Err(e) => return page_flow_error(p, e),
        },
        None => None,
    };
    let Some(pending) = pending else {
        return code_form(
            p,
            StatusCode::BAD_REQUEST,
            "",
            Some("This request has expired or was already answered. Enter the code again."),
        );
    };
    match p.inner.authn.current_user(parts).await {
        Ok(Some(user)) => consent_page(p, &pending, &user, now).await,
        Ok(None) => send_to_login(p, &pending, now).await,
        Err(e) => page_flow_error(p, FlowError::Internal(e.to_string())),
    }
}

fn device_param(params: &[(String, String)]) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == "device")
        .map(|(_, v)| v.clone())
}

async fn send_to_login(p: &Provider, pending: &Pending, now: UnixTime) -> Response {
    let started = match interaction::start(
        p,
        InteractionKind::DeviceLogin,
        vec![("device".into(), pending.key.clone())],
        sesame_core::Subject::new(""),
        None,
        now,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return page_flow_error(p, e),
    };
    // `client_id` lets a login page name the (registered) client; the
    // verification page itself ignores it.
    let query = serde_urlencoded::to_string([
        (LOGIN_HANDLE, started.handle.as_str()),
        ("client_id", pending.client.client_id.as_str()),
    ])
    .unwrap_or_default();
    let login = LoginRequest {
        return_to: format!("{}?{query}", p.inner.issuer.join(paths::DEVICE)),
        client_name: pending.client.display_name().to_owned(),
        ..LoginRequest::default()
    };
    see_other(&p.inner.authn.login_url(&login))
}

async fn consent_page(p: &Provider, pending: &Pending, user: &EndUser, now: UnixTime) -> Response {
    let started = match interaction::start(
        p,
        InteractionKind::DeviceConsent,
        vec![("device".into(), pending.key.clone())],
        user.subject.clone(),
        None,
        now,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return page_flow_error(p, e),
    };
    let display = display_name(p, &user.subject).await;
    let scopes: Vec<String> = pending
        .record
        .scopes
        .iter()
        .map(|s| describe_scope(s.as_str()))
        .collect();
    p.inner.templates.render(
        "device_consent.html",
        StatusCode::OK,
        json!({
            "css": STYLESHEET,
            "issuer": p.inner.issuer.as_str(),
            "action": p.inner.issuer.join(paths::DEVICE_CONSENT),
            "interaction": started.handle,
            "csrf_token": started.csrf,
            "client_name": pending.client.display_name(),
            "subject": display,
            "scopes": scopes,
            "user_code": pending.record.user_code,
        }),
        crate::pages::PAGE_CSP,
    )
}

/// The device consent page's form.
const DEVICE_CONSENT_FORM: ConfirmForm = ConfirmForm {
    kind: InteractionKind::DeviceConsent,
    incomplete: "the consent form is incomplete",
    expired: "this request has expired or was already answered; enter the code again",
};

/// POST /device/consent: `interaction`, `csrf_token`, and `allow` or `deny`.
pub(super) async fn consent(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    let form = match parse_form(&parts.headers, &body) {
        Ok(f) => f,
        Err(e) => return error_page(&p, StatusCode::BAD_REQUEST, &e),
    };
    let bad = |d: &str| bad_form(&p, d);
    let now = p.now();
    let i = match redeem_form(&p, &form, &DEVICE_CONSENT_FORM, now).await {
        Ok(i) => i,
        Err(page) => return page,
    };
    let user = match asked_user(&p, &parts, &i).await {
        Ok(u) => u,
        Err(page) => return page,
    };
    let pending = match device_param(&i.params) {
        Some(key) => device::pending_at(&p, &key, now).await,
        None => Ok(None),
    };
    let pending = match pending {
        Ok(Some(found)) => found,
        Ok(None) => return bad("the device's request has expired or was already answered"),
        Err(e) => return page_flow_error(&p, e),
    };
    let allowed = form.get("allow").is_some() && form.get("deny").is_none();
    let grant = if allowed {
        match approved_grant(&pending, &user, now) {
            Ok(g) => Some(g),
            Err(e) => return page_flow_error(&p, e),
        }
    } else {
        None
    };
    match device::answer(&p, &pending, grant).await {
        Ok(true) => {}
        Ok(false) => return bad("the device's request was answered meanwhile"),
        Err(e) => return page_flow_error(&p, e),
    }
    p.inner.templates.render(
        "device_done.html",
        StatusCode::OK,
        json!({
            "css": STYLESHEET,
            "issuer": p.inner.issuer.as_str(),
            "client_name": pending.client.display_name(),
            "allowed": allowed,
        }),
        crate::pages::PAGE_CSP,
    )
}

fn approved_grant(pending: &Pending, user: &EndUser, now: UnixTime) -> Result<Grant, FlowError> {
    Ok(Grant {
        grant_id: crate::flow::issue::new_grant_id()?,
        client_id: pending.client.client_id.clone(),
        subject: Some(user.subject.clone()),
        scopes: pending.record.scopes.clone(),
        auth_time: Some(user.auth_time),
        sid: Some(user.session_id.clone()),
        acr: user.acr.clone(),
        amr: user.amr.clone(),
        claims_request: None,
        claims: Vec::new(),
        jkt: None,
        resources: Vec::new(),
        created_at: now,
    })
}

/// The code form, with a fresh double-submit CSRF cookie.
fn code_form(p: &Provider, status: StatusCode, user_code: &str, error: Option<&str>) -> Response {
    let csrf = match sesame_core::random::token() {
        Ok(t) => t,
        Err(e) => return page_flow_error(p, e.into()),
    };
    let path = url::Url::parse(&p.inner.issuer.join(paths::DEVICE))
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| paths::DEVICE.to_owned());
    let secure = if p.inner.issuer.as_str().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let mut r = p.inner.templates.render(
        "device.html",
        status,
        json!({
            "css": STYLESHEET,
            "issuer": p.inner.issuer.as_str(),
            "action": p.inner.issuer.join(paths::DEVICE),
            "csrf_token": csrf,
            "user_code": user_code,
            "error": error,
        }),
        crate::pages::PAGE_CSP,
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={csrf}; Path={path}; Max-Age=3600; HttpOnly; SameSite=Lax{secure}"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The CSRF cookie the request carries.
fn csrf_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == CSRF_COOKIE)
        .map(|(_, value)| value.to_owned())
}
