//! The password, the apps the user allowed, and signing out everywhere.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use sesame_core::{ClientId, Subject};
use sesame_op::store::ConsentStore as _;

use super::{CSRF_COOKIE, Extra, Fresh, Posted, done, page, redirect, to_login, unavailable};
use crate::login::{
    LoginState, SESSION_COOKIE, client_ip, credentials::Credentials, signed_in_again,
};

/// The shortest password accepted (the CLI's rule too).
const PASSWORD_MIN: usize = 8;

/// `POST /account/password`: `current_password`, `new_password`,
/// `confirm_password`. The current password is checked under the sign-in
/// limits (one budget with the login form); the change ends every session
/// and grant of the old password, then signs this browser in again.
pub(crate) async fn change_password(
    State(state): State<Arc<LoginState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Posted {
        account,
        form,
        headers,
    }: Posted,
) -> Response {
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let refuse = Extra::refused;
    let new = field("new_password");
    if new.chars().count() < PASSWORD_MIN {
        let extra = refuse(
            StatusCode::BAD_REQUEST,
            "The new password needs at least 8 characters.",
        );
        return page(&state, &account, extra).await;
    }
    if new != field("confirm_password") {
        let extra = refuse(StatusCode::BAD_REQUEST, "The two new passwords differ.");
        return page(&state, &account, extra).await;
    }
    let ip = client_ip(&state, &headers, Some(peer));
    let checked = state
        .check_credentials(&ip, &account.username, field("current_password"))
        .await;
    match checked {
        Ok(Credentials::Valid(user)) if user.subject == account.session.subject => {}
        Ok(Credentials::Valid(_) | Credentials::Invalid) => {
            let extra = refuse(
                StatusCode::UNAUTHORIZED,
                "The current password is not right.",
            );
            return page(&state, &account, extra).await;
        }
        Ok(Credentials::Limited(retry)) => {
            let message = format!(
                "Too many failed attempts. Wait {} seconds and try again.",
                retry.as_secs().max(1)
            );
            let extra = refuse(StatusCode::TOO_MANY_REQUESTS, &message);
            return page(&state, &account, extra).await;
        }
        Ok(Credentials::Busy) => {
            let extra = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is busy. Try again in a moment.",
            );
            return page(&state, &account, extra).await;
        }
        Err(e) => return unavailable(&e),
    }
    let hash = {
        let Ok(_permit) = state.hashing.acquire().await else {
            return unavailable(&"the hashing semaphore closed");
        };
        match tokio::task::spawn_blocking(move || sesame_op::secrets::hash_password(&new)).await {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => return unavailable(&e),
            Err(e) => return unavailable(&e),
        }
    };
    match state.accounts.set_password(&account.username, &hash).await {
        Ok(true) => {}
        Ok(false) => return to_login(&state),
        Err(e) => return unavailable(&e),
    }
    tracing::info!(user = %crate::ratelimit::log_name(&account.username), "password changed from the account page");
    // The change ended this session too: a new one, of the same sign-in
    // (its time and methods; a password change proves no second factor).
    let return_to = format!("{}/account?done=password", state.issuer);
    signed_in_again(
        &state,
        &headers,
        &account.session,
        &account.username,
        &return_to,
    )
    .await
}

/// `POST /account/apps/revoke`: `client_id`. Forgets the consent and
/// revokes every code and token the user's grants to that app hold.
pub(crate) async fn revoke_app(
    State(state): State<Arc<LoginState>>,
    Posted { account, form, .. }: Posted,
) -> Response {
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    let subject = account.session.subject.as_str();
    if let Err(e) = state
        .store
        .revoke_consent(&Subject::new(subject), &ClientId::new(&client_id))
        .await
    {
        return unavailable(&e);
    }
    match state.store.revoke_grants_to(subject, &client_id).await {
        Ok(n) => {
            tracing::info!(user = %crate::ratelimit::log_name(&account.username), client_id = %client_id, grants = n, "app revoked from the account page");
            done(&state, "revoked")
        }
        Err(e) => unavailable(&e),
    }
}

/// `POST /account/sign-out-everywhere`: ends every login session of the
/// user (this browser's too). Tokens already issued to apps are not
/// revoked here (the apps list does that).
pub(crate) async fn sign_out_everywhere(
    State(state): State<Arc<LoginState>>,
    Posted { account, .. }: Posted,
) -> Response {
    let ended = match state
        .accounts
        .end_login_sessions_of(&account.session.subject)
        .await
    {
        Ok(n) => n,
        Err(e) => return unavailable(&e),
    };
    tracing::info!(user = %crate::ratelimit::log_name(&account.username), sessions = ended, "signed out everywhere");
    let mut r = redirect(&format!("{}/login?return_to=%2Faccount", state.issuer));
    for (name, path) in [(SESSION_COOKIE, "/"), (CSRF_COOKIE, "/account")] {
        if let Some(c) = state.cookie_header(name, "", 0, path) {
            r.headers_mut().append(header::SET_COOKIE, c);
        }
    }
    r
}

/// `POST /account/links/remove`: `issuer`, `upstream_subject`. Unlinks one
/// of the user's upstream identities (its next sign-in makes a new
/// account). Needs a fresh sign-in, like every change of sign-in methods.
pub(crate) async fn unlink(
    State(state): State<Arc<LoginState>>,
    Fresh(Posted { account, form, .. }): Fresh,
) -> Response {
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (issuer, sub) = (field("issuer"), field("upstream_subject"));
    let subject = account.session.subject.as_str();
    let mine = match state.accounts.upstream_links(subject).await {
        Ok(links) => links
            .iter()
            .any(|l| l.issuer == issuer && l.upstream_subject == sub),
        Err(e) => return unavailable(&e),
    };
    if !mine {
        let extra = Extra::refused(StatusCode::NOT_FOUND, "No such linked provider.");
        return page(&state, &account, extra).await;
    }
    match state.accounts.remove_upstream_link(&issuer, &sub).await {
        Ok(_) => {
            tracing::info!(user = %crate::ratelimit::log_name(&account.username), issuer = %issuer, "upstream identity unlinked");
            done(&state, "unlinked")
        }
        Err(e) => unavailable(&e),
    }
}
