//! Passwordless sign-in with a passkey: `POST /login/passkey/options` (the
//! request options, the ceremony in a sealed cookie) and `POST
//! /login/passkey` (the browser's assertion, as the form field
//! `credential`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::pages::{login_error, signed_in};
use super::passkey::{self, PasskeyError, Relying};

use super::{CSRF_COOKIE, LoginForm, LoginState, cookie, pending_login, totp};

fn csrf_ok(headers: &HeaderMap, presented: &str) -> bool {
    super::csrf_matches(headers, CSRF_COOKIE, presented)
}

/// The options endpoints' check: the page's token in `X-Sesame-CSRF`.
fn header_csrf(headers: &HeaderMap) -> Result<(), Box<Response>> {
    let presented = headers
        .get("x-sesame-csrf")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if csrf_ok(headers, presented) {
        Ok(())
    } else {
        Err(Box::new(
            (StatusCode::FORBIDDEN, "the page expired: reload it").into_response(),
        ))
    }
}

/// The relying party of this issuer, or the 404 of an IP issuer.
fn relying(state: &LoginState) -> Result<Relying, Box<Response>> {
    Relying::of(&state.issuer).ok_or_else(|| {
        Box::new(
            (
                StatusCode::NOT_FOUND,
                "passkeys are off: the issuer is an IP address",
            )
                .into_response(),
        )
    })
}

/// What finishing a ceremony needs: the relying party (or the 404 of an IP
/// issuer), the browser's sealed ceremony cookie, and the time.
fn ceremony(
    state: &LoginState,
    headers: &HeaderMap,
) -> Result<(Relying, Option<String>, sesame_core::UnixTime), Box<Response>> {
    let rp = relying(state)?;
    Ok((rp, cookie(headers, passkey::AUTH_COOKIE), state.clock.now()))
}

/// A started sign-in ceremony's answer: its options, or 503.
fn options_answer(state: &LoginState, started: Result<(String, String), PasskeyError>) -> Response {
    match started {
        Ok((options, sealed)) => {
            super::json_with_cookie(state, options, passkey::AUTH_COOKIE, &sealed, "/login")
        }
        Err(PasskeyError::UnknownCredential) => {
            (StatusCode::NOT_FOUND, "this account has no passkey").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "passkey options failed");
            (StatusCode::SERVICE_UNAVAILABLE, "passkeys are unavailable").into_response()
        }
    }
}

/// `POST /login/passkey/options` (header `X-Sesame-CSRF`, the login
/// form's token).
pub(crate) async fn passkey_options(
    State(state): State<Arc<LoginState>>,
    headers: HeaderMap,
) -> Response {
    let rp = match header_csrf(&headers).and_then(|()| relying(&state)) {
        Ok(rp) => rp,
        Err(r) => return *r,
    };
    options_answer(&state, rp.start_sign_in(&state.accounts))
}

/// `POST /login/passkey`: `credential`, `csrf_token`, `return_to`.
#[tracing::instrument(name = "sesame.login.passkey", skip_all, fields(outcome = tracing::field::Empty))]
pub(crate) async fn post_passkey(
    State(state): State<Arc<LoginState>>,
    form: LoginForm,
) -> Response {
    let (return_to, headers) = (form.return_to.as_str(), &form.headers);
    let span = tracing::Span::current();
    if !form.csrf_ok {
        span.record("outcome", "csrf");
        return login_error(
            &state,
            StatusCode::FORBIDDEN,
            return_to,
            "The form expired. Please sign in again.",
        )
        .await;
    }
    let (rp, sealed, now) = match ceremony(&state, headers) {
        Ok(found) => found,
        Err(r) => return *r,
    };
    let checked = rp
        .finish_sign_in(
            &state.accounts,
            sealed.as_deref(),
            form.field("credential"),
            now,
        )
        .await;
    let key = match checked {
        Ok(key) => key,
        Err(PasskeyError::Store(e)) => {
            span.record("outcome", "error");
            tracing::error!(error = %e, "passkey sign-in storage failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable").into_response();
        }
        Err(e) => {
            span.record("outcome", "refused");
            tracing::info!(error = %e, "passkey sign-in refused");
            let message = match e {
                PasskeyError::NoCeremony | PasskeyError::Replayed => {
                    "The passkey request expired. Please try again."
                }
                PasskeyError::UnknownCredential => {
                    "This passkey is not registered here (it may have been removed)."
                }
                _ => "The passkey was not accepted.",
            };
            return login_error(&state, StatusCode::UNAUTHORIZED, return_to, message).await;
        }
    };
    let username = match state.accounts.find_user_by_subject(&key.subject).await {
        Ok(Some(u)) => u.username,
        Ok(None) => {
            return login_error(
                &state,
                StatusCode::UNAUTHORIZED,
                return_to,
                "This passkey's account is gone.",
            )
            .await;
        }
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable").into_response();
        }
    };
    span.record("outcome", "signed_in");
    let amr = passkey::amr_of(&key);
    let mut r = signed_in(&state, headers, &key.subject, &username, &amr, return_to).await;
    if let Some(c) = state.cookie_header(passkey::AUTH_COOKIE, "", 0, "/login") {
        r.headers_mut().append(axum::http::header::SET_COOKIE, c);
    }
    r
}

/// `POST /login/passkey/second/options` (header `X-Sesame-CSRF`): the
/// request options of a passkey as the second step, listing only the
/// pending login's user's passkeys.
pub(crate) async fn second_options(
    State(state): State<Arc<LoginState>>,
    headers: HeaderMap,
) -> Response {
    let rp = match header_csrf(&headers).and_then(|()| relying(&state)) {
        Ok(rp) => rp,
        Err(r) => return *r,
    };
    let (key, subject) = match pending_login(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "the sign-in expired").into_response(),
        Err(r) => return r,
    };
    options_answer(
        &state,
        rp.start_second_factor(&state.accounts, &subject, &key)
            .await,
    )
}

/// `POST /login/passkey/second`: `credential`, `csrf_token`, `return_to`,
/// with the pending login's cookie. One pending login, one session.
#[tracing::instrument(name = "sesame.login.passkey_second", skip_all, fields(outcome = tracing::field::Empty))]
pub(crate) async fn post_second(State(state): State<Arc<LoginState>>, form: LoginForm) -> Response {
    let (return_to, headers) = (form.return_to.as_str(), &form.headers);
    let span = tracing::Span::current();
    if !form.csrf_ok {
        span.record("outcome", "csrf");
        return super::pages::expired_login(&state, return_to).await;
    }
    let (key, subject) = match pending_login(&state, headers).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            span.record("outcome", "expired");
            return super::pages::expired_login(&state, return_to).await;
        }
        Err(r) => return r,
    };
    let (rp, sealed, now) = match ceremony(&state, headers) {
        Ok(found) => found,
        Err(r) => return *r,
    };
    let checked = rp
        .finish_second_factor(
            &state.accounts,
            &subject,
            &key,
            sealed.as_deref(),
            form.field("credential"),
            now,
        )
        .await;
    let passkey = match checked {
        Ok(p) => p,
        Err(PasskeyError::Store(e)) => {
            tracing::error!(error = %e, "passkey second step storage failed");
            return totp::unavailable();
        }
        Err(e) => {
            span.record("outcome", "refused");
            tracing::info!(user = %crate::ratelimit::log_name(&subject), error = %e, "passkey second step refused");
            let factors = totp::Factors::of(&state, &subject)
                .await
                .unwrap_or_default();
            return totp::factor_page(
                &state,
                StatusCode::UNAUTHORIZED,
                return_to,
                Some("The passkey was not accepted. Try again."),
                None,
                factors,
            )
            .await;
        }
    };
    let amr = ["pwd", passkey::amr_of(&passkey)[0], "mfa"];
    let pending = (key.as_str(), subject.as_str());
    let mut r = super::finish_pending_login(&state, headers, pending, &amr, return_to).await;
    if let Some(c) = state.cookie_header(passkey::AUTH_COOKIE, "", 0, "/login") {
        r.headers_mut().append(axum::http::header::SET_COOKIE, c);
    }
    r
}
