//! The account page, `/account`: a signed-in user changes their password,
//! sets up TOTP (a QR code as SVG) and passkeys, sees and revokes the apps
//! they allowed, and signs out everywhere.
//!
//! Every form carries a CSRF token (double submit, cookie path `/account`).
//! Changing how the user signs in (TOTP, passkeys) needs a sign-in from the
//! last [`FRESH_SECONDS`] seconds: a session cookie taken from an unlocked
//! machine an hour ago cannot add an attacker's passkey. A password change
//! asks for the current password instead. No script runs on the page except
//! the WebAuthn ceremony (`/assets/passkey.js`, allowed by path in the CSP).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sesame_op::pages::Page;
use sesame_op::secrets::token_key;

use crate::accounts::LoginSession;
use crate::login::{LoginState, SESSION_COOKIE, cookie, passkey};

mod methods;
mod settings;

pub(crate) use methods::{
    confirm_totp, passkey_options, post_passkey, remove_passkey, remove_totp, start_totp,
};
pub(crate) use settings::{change_password, revoke_app, sign_out_everywhere, unlink};

/// The account forms' CSRF cookie (double submit).
const CSRF_COOKIE: &str = "sesame_account_csrf";
/// A TOTP enrolment in progress: its secret, sealed for the user (path
/// `/account`, [`ENROL_SECONDS`]).
const ENROL_COOKIE: &str = "sesame_totp_enrol";
/// How long a TOTP enrolment may wait for its first code.
const ENROL_SECONDS: i64 = 600;
pub(crate) use crate::login::{FRESH_SECONDS, SCRIPT_PATH};

/// The signed-in user of a request to the account page.
pub(crate) struct Account {
    /// The browser's account-page CSRF token, kept across pages (several
    /// tabs stay usable) once set.
    csrf: Option<String>,
    session: LoginSession,
    username: String,
}

impl Account {
    /// Whether the sign-in is recent enough to change sign-in methods.
    fn fresh(&self, now: i64) -> bool {
        now - self.session.auth_time <= FRESH_SECONDS
    }
}

/// The signed-in user, or `None` (no cookie, expired, or unknown user).
async fn account(state: &LoginState, headers: &HeaderMap) -> Result<Option<Account>, Response> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let session = match state
        .accounts
        .find_login_session(&token_key(&value), now)
        .await
    {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(None),
        Err(e) => return Err(unavailable(&e)),
    };
    match state.accounts.find_user_by_subject(&session.subject).await {
        Ok(Some(user)) => Ok(Some(Account {
            csrf: cookie(headers, CSRF_COOKIE).filter(|c| !c.is_empty()),
            session,
            username: user.username,
        })),
        Ok(None) => Ok(None),
        Err(e) => Err(unavailable(&e)),
    }
}

fn unavailable(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "account page storage failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the account page is unavailable",
    )
        .into_response()
}

/// To the login page, back here after.
fn to_login(state: &LoginState) -> Response {
    redirect(&format!("{}/login?return_to=%2Faccount", state.issuer))
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Back to the account page with a notice (one of [`notice_text`]'s).
fn done(state: &LoginState, what: &str) -> Response {
    redirect(&format!("{}/account?done={what}", state.issuer))
}

fn notice_text(done: &str) -> Option<&'static str> {
    Some(match done {
        "password" => "Your password was changed. Other sign-ins were ended.",
        "totp-off" => "Two-step sign-in is off.",
        "passkey" => "The passkey was added.",
        "passkey-removed" => "The passkey was removed.",
        "unlinked" => "The provider was unlinked: it no longer signs in to this account.",
        "revoked" => "The app's access was revoked.",
        _ => return None,
    })
}

/// A POST form, checked against the CSRF cookie: its fields, or a 403.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, Box<Response>> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let presented = form.get("csrf_token").map(String::as_str).unwrap_or("");
    if csrf_ok(headers, presented) {
        Ok(form)
    } else {
        Err(Box::new(
            (
                StatusCode::FORBIDDEN,
                "the form expired: reload the account page",
            )
                .into_response(),
        ))
    }
}

/// A form post to the account page, as an extractor: the signed-in user
/// (else the login page), the form's fields (CSRF checked, else a 403) and
/// the request's headers.
pub(crate) struct Posted {
    account: Account,
    form: HashMap<String, String>,
    headers: HeaderMap,
}

impl FromRequest<Arc<LoginState>> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<LoginState>) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(account) = account(state, &headers).await? else {
            return Err(to_login(state));
        };
        let form = form(&headers, &body).map_err(|r| *r)?;
        Ok(Self {
            account,
            form,
            headers,
        })
    }
}

/// A [`Posted`] form that changes how the user signs in: the sign-in must
/// also be recent (else the page with a note).
pub(crate) struct Fresh(Posted);

impl FromRequest<Arc<LoginState>> for Fresh {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<LoginState>) -> Result<Self, Response> {
        let posted = Posted::from_request(req, state).await?;
        if !posted.account.fresh(state.clock.now()) {
            let message = "Sign in again first: this change needs a recent sign-in.";
            let extra = Extra::refused(StatusCode::FORBIDDEN, message);
            return Err(page(state, &posted.account, extra).await);
        }
        Ok(Self(posted))
    }
}

/// A `Set-Cookie` of `name` on `/account` (an empty `value` and `max_age`
/// 0 clear it), for [`Extra::cookies`].
fn account_cookie(state: &LoginState, name: &str, value: &str, max_age: i64) -> Vec<HeaderValue> {
    state
        .cookie_header(name, value, max_age, "/account")
        .into_iter()
        .collect()
}

fn csrf_ok(headers: &HeaderMap, presented: &str) -> bool {
    crate::login::csrf_matches(headers, CSRF_COOKIE, presented)
}

#[derive(serde::Deserialize)]
pub(crate) struct AccountQuery {
    #[serde(default)]
    done: String,
}

/// What the page shows besides the always-there sections.
#[derive(Default)]
struct Extra {
    status: Option<StatusCode>,
    error: Option<String>,
    notice: Option<String>,
    enrolment: Option<Value>,
    recovery_codes: Vec<String>,
    cookies: Vec<HeaderValue>,
}

impl Extra {
    /// The page again with `status` and the error `message`.
    fn refused(status: StatusCode, message: &str) -> Self {
        Self {
            status: Some(status),
            error: Some(message.to_owned()),
            ..Self::default()
        }
    }
}

/// `GET /account`
pub(crate) async fn get_account(
    State(state): State<Arc<LoginState>>,
    headers: HeaderMap,
    Query(q): Query<AccountQuery>,
) -> Response {
    let account = match account(&state, &headers).await {
        Ok(Some(a)) => a,
        Ok(None) => return to_login(&state),
        Err(r) => return r,
    };
    let extra = Extra {
        notice: notice_text(&q.done).map(str::to_owned),
        ..Extra::default()
    };
    page(&state, &account, extra).await
}

/// The account page for `account`, with `extra`.
async fn page(state: &LoginState, account: &Account, extra: Extra) -> Response {
    let now = state.clock.now();
    let subject = account.session.subject.as_str();
    let accounts = &state.accounts;
    let (totp, left, passkeys, consents, links) = match tokio::try_join!(
        accounts.totp_secret(subject),
        accounts.recovery_codes_left(subject),
        accounts.passkeys_of(subject),
        state.store.consents_of(subject, now),
        accounts.upstream_links(subject),
    ) {
        Ok(found) => found,
        Err(e) => return unavailable(&e),
    };
    let mut apps = Vec::new();
    for c in consents {
        use sesame_op::store::ClientStore as _;
        let name = match state.store.find_client(&c.client_id).await {
            Ok(Some(client)) => client.display_name().to_owned(),
            _ => c.client_id.as_str().to_owned(),
        };
        apps.push(json!({
            "client_id": c.client_id.as_str(),
            "name": name,
            "scopes": c.scopes.to_string(),
        }));
    }
    let passkeys: Vec<Value> = passkeys
        .iter()
        .map(|p| {
            json!({
                "id": p.id_text(),
                "name": p.name,
                "synced": passkey::amr_of(p)[0] == "swk",
                "created": date(p.created_at),
                "last_used": p.last_used_at.map(date),
            })
        })
        .collect();
    let links: Vec<Value> = links
        .iter()
        .map(|l| {
            json!({
                "upstream": l.upstream,
                "issuer": l.issuer,
                "upstream_subject": l.upstream_subject,
                "created": date(l.created_at),
            })
        })
        .collect();
    // Linking another provider: its buttons carry a link token, and only on a
    // fresh sign-in.
    let link_buttons: Vec<Value> = match crate::login::upstream::link_token(state, subject) {
        Some(token) if account.fresh(now) => state
            .upstreams
            .buttons("/account")
            .into_iter()
            .map(|mut b| {
                let url = b["url"].as_str().unwrap_or_default();
                let q: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("link", "1")
                    .append_pair("link_token", &token)
                    .finish();
                b["url"] = Value::String(format!("{url}&{q}"));
                b
            })
            .collect(),
        _ => Vec::new(),
    };
    let csrf = match &account.csrf {
        Some(c) => c.clone(),
        None => sesame_core::random::token().unwrap_or_default(),
    };
    let passkeys_available = passkey::Relying::of(&state.issuer).is_some();
    let mut page = Page::new(&state.templates, "account.html")
        .with_status(extra.status.unwrap_or(StatusCode::OK))
        .with_csp(account_csp(&state.issuer));
    if let Some(c) = state.cookie_header(CSRF_COOKIE, &csrf, 3600, "/account") {
        page = page.with_cookie(c);
    }
    for c in extra.cookies {
        page = page.with_cookie(c);
    }
    let base = state.issuer.trim_end_matches('/');
    page.render(json!({
        "css": sesame_op::STYLESHEET,
        "issuer": state.issuer,
        "base": base,
        "username": account.username,
        "csrf_token": csrf,
        "fresh": account.fresh(now),
        "fresh_minutes": FRESH_SECONDS / 60,
        "reauth": format!("{base}/login?return_to=%2Faccount&login_hint={}", urlencode(&account.username)),
        "notice": extra.notice,
        "error": extra.error,
        "totp_enrolled": totp.is_some(),
        "recovery_left": left,
        "enrolment": extra.enrolment,
        "recovery_codes": extra.recovery_codes,
        "passkeys_available": passkeys_available,
        "passkeys": passkeys,
        "apps": apps,
        "links": links,
        "link_buttons": link_buttons,
        "script": format!("{base}{SCRIPT_PATH}"),
    }))
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A day as `YYYY-MM-DD` (UTC).
fn date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The page CSP: the default one, plus the WebAuthn script by its exact
/// URL and `fetch` to this origin (its options).
pub(crate) fn account_csp(issuer: &str) -> String {
    let script = format!("{}{SCRIPT_PATH}", issuer.trim_end_matches('/'));
    format!(
        "{}; script-src {script}; connect-src 'self'",
        sesame_op::pages::PAGE_CSP
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_796_083_200), "2026-12-01");
    }

    #[test]
    fn the_csp_allows_only_the_passkey_script() {
        let csp = account_csp("https://op.example/");
        assert!(csp.contains("script-src https://op.example/assets/passkey.js;"));
        assert!(csp.starts_with(sesame_op::pages::PAGE_CSP));
    }
}
