//! The sign-in methods on the account page: TOTP enrolment (confirmed by a
//! first code before it is kept) and removal, passkey registration and
//! removal.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::{
    Account, ENROL_COOKIE, ENROL_SECONDS, Extra, Fresh, Posted, account, account_cookie, csrf_ok,
    done, page, unavailable,
};
use crate::login::passkey::{self, PasskeyError, Relying};
use crate::login::{LoginState, cookie, totp};
use crate::ratelimit::{blocked, limit_key};

fn enrol_context(subject: &str) -> String {
    format!("totp-enrol:{subject}")
}

/// The enrolment section: the secret and its QR code (SVG).
fn enrolment(
    state: &LoginState,
    account: &Account,
    secret: &str,
) -> Result<serde_json::Value, String> {
    let uri =
        totp::otpauth_uri(secret, &state.issuer, &account.username).map_err(|e| e.to_string())?;
    let qr = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| e.to_string())?;
    let svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(json!({ "secret": secret, "qr_svg": svg }))
}

/// `POST /account/totp/start`: a new secret, shown with its QR code; kept
/// (sealed) in a cookie until a first code confirms it.
pub(crate) async fn start_totp(
    State(state): State<Arc<LoginState>>,
    Fresh(Posted { account, .. }): Fresh,
) -> Response {
    match state.accounts.totp_secret(&account.session.subject).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            let extra = Extra {
                status: Some(StatusCode::CONFLICT),
                error: Some(
                    "Two-step sign-in is on already: turn it off first to set it up again.".into(),
                ),
                ..Extra::default()
            };
            return page(&state, &account, extra).await;
        }
        Err(e) => return unavailable(&e),
    }
    let secret = match totp::new_secret() {
        Ok(s) => s,
        Err(e) => return unavailable(&e),
    };
    let sealed = match state
        .store
        .seal_value(&secret, &enrol_context(&account.session.subject))
    {
        Ok(s) => s,
        Err(e) => return unavailable(&e),
    };
    let enrolment = match enrolment(&state, &account, &secret) {
        Ok(e) => e,
        Err(e) => return unavailable(&e),
    };
    let extra = Extra {
        enrolment: Some(enrolment),
        cookies: account_cookie(&state, ENROL_COOKIE, &sealed, ENROL_SECONDS),
        ..Extra::default()
    };
    page(&state, &account, extra).await
}

/// `POST /account/totp`: `totp`, the first code of the secret in the
/// enrolment cookie. A right code keeps the enrolment (its step spent, so
/// it does not also sign in) and shows the recovery codes once.
pub(crate) async fn confirm_totp(
    State(state): State<Arc<LoginState>>,
    Fresh(Posted {
        account,
        form,
        headers,
    }): Fresh,
) -> Response {
    let subject = account.session.subject.clone();
    let Some(secret) = cookie(&headers, ENROL_COOKIE)
        .and_then(|c| state.store.open_value(&c, &enrol_context(&subject)))
    else {
        let extra = Extra::refused(StatusCode::BAD_REQUEST, "The set-up expired. Start again.");
        return page(&state, &account, extra).await;
    };
    let now = state.clock.now();
    let limit = limit_key("login-totp", &subject);
    let counters = &state.limits.counters;
    if let Ok(c) = counters.read(&[&limit]).await
        && let Some(retry) = c.first().and_then(|c| blocked(c, now))
    {
        let extra = Extra {
            status: Some(StatusCode::TOO_MANY_REQUESTS),
            error: Some(format!(
                "Too many wrong codes. Wait {} seconds and try again.",
                retry.as_secs().max(1)
            )),
            enrolment: enrolment(&state, &account, &secret).ok(),
            ..Extra::default()
        };
        return page(&state, &account, extra).await;
    }
    let code = form.get("totp").map(String::as_str).unwrap_or("");
    let Some(step) = totp::step_of(&secret, code, now) else {
        if let Err(e) = counters
            .fail_with_limit(&limit, now, totp::FAILURE_WINDOW, totp::FAILURES)
            .await
        {
            tracing::error!(error = %e, "rate-limit counters unavailable: failure not counted");
        }
        let extra = Extra {
            status: Some(StatusCode::BAD_REQUEST),
            error: Some(
                "That code is not right. Check the app's clock and try the next one.".into(),
            ),
            enrolment: enrolment(&state, &account, &secret).ok(),
            ..Extra::default()
        };
        return page(&state, &account, extra).await;
    };
    let enrolled = totp::enrol_with(
        &state.accounts,
        &state.issuer,
        &subject,
        &account.username,
        secret,
        now,
    )
    .await;
    let enrolled = match enrolled {
        Ok(e) => e,
        Err(e) => return unavailable(&e),
    };
    if let Err(e) = state.accounts.spend_totp_step(&subject, step).await {
        return unavailable(&e);
    }
    tracing::info!(user = %crate::ratelimit::log_name(&account.username), "TOTP enrolled from the account page");
    let extra = Extra {
        notice: Some("Two-step sign-in is on.".into()),
        recovery_codes: enrolled.recovery_codes,
        cookies: account_cookie(&state, ENROL_COOKIE, "", 0),
        ..Extra::default()
    };
    page(&state, &account, extra).await
}

/// `POST /account/totp/remove`
pub(crate) async fn remove_totp(
    State(state): State<Arc<LoginState>>,
    Fresh(Posted { account, .. }): Fresh,
) -> Response {
    match state.accounts.remove_totp(&account.session.subject).await {
        Ok(_) => done(&state, "totp-off"),
        Err(e) => unavailable(&e),
    }
}

/// `POST /account/passkeys/options` (header `X-Sesame-CSRF`): the
/// creation options (JSON) of a new passkey for the signed-in user, the
/// ceremony's server half in a sealed cookie bound to them.
pub(crate) async fn passkey_options(
    State(state): State<Arc<LoginState>>,
    headers: HeaderMap,
) -> Response {
    let presented = headers
        .get("x-sesame-csrf")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !csrf_ok(&headers, presented) {
        return (StatusCode::FORBIDDEN, "the page expired: reload it").into_response();
    }
    let account = match account(&state, &headers).await {
        Ok(Some(a)) => a,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "not signed in").into_response(),
        Err(r) => return r,
    };
    if !account.fresh(state.clock.now()) {
        return (StatusCode::FORBIDDEN, "sign in again first").into_response();
    }
    let Some(rp) = Relying::of(&state.issuer) else {
        return (
            StatusCode::NOT_FOUND,
            "passkeys are off: the issuer is an IP address",
        )
            .into_response();
    };
    let started = rp
        .start_registration(&state.accounts, &account.session.subject, &account.username)
        .await;
    match started {
        Ok((options, sealed)) => crate::login::json_with_cookie(
            &state,
            options,
            passkey::REG_COOKIE,
            &sealed,
            "/account",
        ),
        Err(e) => unavailable(&e),
    }
}

/// `POST /account/passkeys`: `credential` (the browser's
/// `PublicKeyCredential.toJSON()`), `name`.
pub(crate) async fn post_passkey(
    State(state): State<Arc<LoginState>>,
    Fresh(Posted {
        account,
        form,
        headers,
    }): Fresh,
) -> Response {
    let Some(rp) = Relying::of(&state.issuer) else {
        return (
            StatusCode::NOT_FOUND,
            "passkeys are off: the issuer is an IP address",
        )
            .into_response();
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let sealed = cookie(&headers, passkey::REG_COOKIE);
    let finished = rp
        .finish_registration(
            &state.accounts,
            &account.session.subject,
            sealed.as_deref(),
            field("credential"),
            field("name"),
            state.clock.now(),
        )
        .await;
    let error = match finished {
        Ok(p) => {
            tracing::info!(user = %crate::ratelimit::log_name(&account.username), passkey = %p.id_text(), "passkey registered");
            let mut r = done(&state, "passkey");
            if let Some(c) = state.cookie_header(passkey::REG_COOKIE, "", 0, "/account") {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            return r;
        }
        Err(PasskeyError::Store(e)) => return unavailable(&e),
        Err(e) => e,
    };
    tracing::info!(user = %crate::ratelimit::log_name(&account.username), error = %error, "passkey registration refused");
    let message = match error {
        PasskeyError::NoCeremony => "The passkey request expired. Try again.",
        PasskeyError::Duplicate => "That passkey is registered already.",
        _ => "The passkey could not be added.",
    };
    let extra = Extra::refused(StatusCode::BAD_REQUEST, message);
    page(&state, &account, extra).await
}

/// `POST /account/passkeys/remove`: `id` (base64url). Needs a fresh
/// sign-in: a passkey may be the user's second factor.
pub(crate) async fn remove_passkey(
    State(state): State<Arc<LoginState>>,
    Fresh(Posted { account, form, .. }): Fresh,
) -> Response {
    let id = form
        .get("id")
        .and_then(|id| URL_SAFE_NO_PAD.decode(id).ok())
        .unwrap_or_default();
    match state
        .accounts
        .remove_passkey(&account.session.subject, &id)
        .await
    {
        Ok(true) => done(&state, "passkey-removed"),
        Ok(false) => {
            let extra = Extra::refused(StatusCode::NOT_FOUND, "No such passkey.");
            page(&state, &account, extra).await
        }
        Err(e) => unavailable(&e),
    }
}
