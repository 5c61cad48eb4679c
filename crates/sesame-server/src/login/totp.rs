//! TOTP (RFC 6238) as the second sign-in step: enrolment (a secret, its
//! `otpauth://` URI and ten recovery codes), and `POST /login/totp`, the step
//! a browser takes after its password was right for a user with TOTP.
//!
//! The policy (the code generation is `totp-rs`'s):
//! - SHA-1, 6 digits, 30-second steps (what every authenticator app does);
//!   the codes of the step before and after now are accepted too (clock
//!   drift, RFC 6238 §5.2);
//! - each code once: a code is accepted only for a step later than the last
//!   accepted one, a compare-and-set in the database, so a code seen by an
//!   onlooker or replayed to another instance is refused;
//! - failures count per user: 5 (`FAILURES`) in 300 seconds (`FAILURE_WINDOW`) and
//!   the step is refused until the window ends (the same counters as the
//!   password limits, shared by instances);
//! - recovery codes: ten of 50 random bits each, kept as SHA-256 hashes, each
//!   accepted once;
//! - the password step leaves a pending login (its cookie, `sesame_mfa`,
//!   lives 300 seconds, `PENDING_TTL`); it becomes one login session at most.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sesame_op::pages::Page;
use sesame_op::secrets::token_key;
use sesame_op::store::StoreError;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use super::{CSRF_COOKIE, LoginState};
use crate::accounts::Accounts;

/// The pending login's cookie (path `/login`).
pub(crate) const PENDING_COOKIE: &str = "sesame_mfa";
/// How long the second step may take, in seconds.
pub(crate) const PENDING_TTL: i64 = 300;
/// Wrong codes per user before the step is refused until the window ends.
pub(crate) const FAILURES: u32 = 5;
/// The window of [`FAILURES`], in seconds.
pub(crate) const FAILURE_WINDOW: i64 = 300;
/// The time step, in seconds.
const STEP: u64 = 30;
/// Recovery codes per enrolment.
const RECOVERY_CODES: usize = 10;
/// The amr of a sign-in with a password and a one-time code (RFC 8176).
pub(super) const AMR: [&str; 3] = ["pwd", "otp", "mfa"];

/// A new enrolment, to show to the user once.
#[derive(serde::Serialize)]
pub(crate) struct Enrolment {
    /// The shared secret, base32 (what authenticator apps accept typed in).
    pub(crate) secret: String,
    /// The `otpauth://totp/…` URI (what a QR code carries).
    pub(crate) otpauth_uri: String,
    /// Single-use codes for when the authenticator is lost.
    pub(crate) recovery_codes: Vec<String>,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment { .. }")
    }
}

/// Why an enrolment could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// The system's randomness failed.
    #[error("randomness failed")]
    Random,
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The secret or names were refused by the TOTP library.
    #[error("TOTP: {0}")]
    Totp(String),
}

/// The label of the issuer in authenticator apps: the issuer URL's host
/// (no `:`, which the otpauth format reserves).
fn issuer_label(issuer: &str) -> String {
    url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "sesame".to_owned())
}

fn totp_of(secret_b32: &str, issuer: &str, account: &str) -> Result<TOTP, String> {
    let bytes = Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .map_err(|e| e.to_string())?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        bytes,
        Some(issuer_label(issuer)),
        account.replace(':', "_"),
    )
    .map_err(|e| e.to_string())
}

/// A recovery code as typed: lower case, without spaces and dashes.
fn normalized(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The stored form of a recovery code: the hash of its normalized text.
fn recovery_key(code: &str) -> String {
    token_key(&normalized(code))
}

/// Ten random codes like `k3v9q-2mxp7` (50 bits each, base32 without
/// look-alike letters' ambiguity: RFC 4648's lower-case alphabet).
fn recovery_codes() -> Result<Vec<String>, EnrolError> {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            sesame_core::random::fill(&mut bytes).map_err(|_| EnrolError::Random)?;
            let chars: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
                .collect();
            Ok(format!("{}-{}", &chars[..5], &chars[5..]))
        })
        .collect()
}

/// A new secret: 160 bits, the HMAC-SHA-1 key size RFC 4226 §4
/// recommends, as base32.
pub(crate) fn new_secret() -> Result<String, EnrolError> {
    let mut raw = vec![0u8; 20];
    sesame_core::random::fill(&mut raw).map_err(|_| EnrolError::Random)?;
    match Secret::Raw(raw).to_encoded() {
        Secret::Encoded(s) => Ok(s),
        Secret::Raw(_) => Err(EnrolError::Totp("the secret did not encode".into())),
    }
}

/// The `otpauth://` URI of `secret` for `username` at `issuer` (what the
/// enrolment QR code carries).
pub(crate) fn otpauth_uri(
    secret: &str,
    issuer: &str,
    username: &str,
) -> Result<String, EnrolError> {
    Ok(totp_of(secret, issuer, username)
        .map_err(EnrolError::Totp)?
        .get_url())
}

/// The time step of `code` for `secret` near `now`, if it is a right code:
/// the account page's check before an enrolment is kept.
pub(crate) fn step_of(secret: &str, code: &str, now: i64) -> Option<i64> {
    let totp = totp_of(secret, "", "user").ok()?;
    matching_step(&totp, code.trim(), now)
}

/// Enrols `subject` (`username` names it in the authenticator app) with a
/// new secret and recovery codes, replacing an earlier enrolment.
pub(crate) async fn enrol(
    accounts: &Accounts,
    issuer: &str,
    subject: &str,
    username: &str,
    now: i64,
) -> Result<Enrolment, EnrolError> {
    enrol_with(accounts, issuer, subject, username, new_secret()?, now).await
}

/// Enrols `subject` with `secret` (base32) and new recovery codes,
/// replacing an earlier enrolment.
pub(crate) async fn enrol_with(
    accounts: &Accounts,
    issuer: &str,
    subject: &str,
    username: &str,
    secret: String,
    now: i64,
) -> Result<Enrolment, EnrolError> {
    let otpauth_uri = otpauth_uri(&secret, issuer, username)?;
    let codes = recovery_codes()?;
    let keys: Vec<String> = codes.iter().map(|c| recovery_key(c)).collect();
    accounts.enrol_totp(subject, &secret, &keys, now).await?;
    Ok(Enrolment {
        otpauth_uri,
        secret,
        recovery_codes: codes,
    })
}

/// The step whose code `code` is, among the steps next to `now`.
fn matching_step(totp: &TOTP, code: &str, now: i64) -> Option<i64> {
    let step = i64::try_from(STEP).ok()?;
    let current = now.div_euclid(step);
    let mut found = None;
    // Every candidate is computed and compared in constant time, so the
    // timing does not tell which step matched.
    for s in [current - 1, current, current + 1] {
        let at = u64::try_from(s.checked_mul(step)?).ok()?;
        let expected = totp.generate(at);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(s);
        }
    }
    found
}

/// What the code in the form proved.
pub(super) enum Checked {
    /// A right code, of a step not used before, or an unused recovery code.
    Accepted,
    /// A wrong, replayed or spent code.
    Refused,
}

/// Checks `code` for `subject`: a 6-digit TOTP code, else a recovery code.
pub(super) async fn check_code(
    state: &LoginState,
    subject: &str,
    code: &str,
    now: i64,
) -> Result<Checked, StoreError> {
    let code = code.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let Some(secret) = state.accounts.totp_secret(subject).await? else {
            return Ok(Checked::Refused);
        };
        let Ok(totp) = totp_of(&secret, &state.issuer, "") else {
            return Ok(Checked::Refused);
        };
        return Ok(match matching_step(&totp, code, now) {
            Some(step) if state.accounts.spend_totp_step(subject, step).await? => Checked::Accepted,
            _ => Checked::Refused,
        });
    }
    let accepted = state
        .accounts
        .spend_recovery_code(subject, &recovery_key(code), now)
        .await?;
    Ok(if accepted {
        Checked::Accepted
    } else {
        Checked::Refused
    })
}

/// The second factors a user has: a TOTP enrolment, passkeys (when this
/// issuer can have them).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(crate) struct Factors {
    pub(crate) totp: bool,
    pub(crate) passkey: bool,
}

impl Factors {
    /// Whether the password alone is not enough.
    pub(crate) fn any(self) -> bool {
        self.totp || self.passkey
    }

    /// `subject`'s factors.
    pub(crate) async fn of(state: &LoginState, subject: &str) -> Result<Self, StoreError> {
        let totp = state.accounts.totp_secret(subject).await?.is_some();
        let passkey = super::passkey::Relying::of(&state.issuer).is_some()
            && !state.accounts.passkeys_of(subject).await?.is_empty();
        Ok(Self { totp, passkey })
    }
}

/// The code page, with a fresh CSRF token (and `extra` cookies): a field
/// for the TOTP code and, for a user with passkeys, a passkey button.
pub(super) async fn code_page(
    state: &LoginState,
    status: StatusCode,
    return_to: &str,
    error: Option<&str>,
    extra: Option<axum::http::HeaderValue>,
) -> Response {
    let factors = Factors {
        totp: true,
        passkey: false,
    };
    factor_page(state, status, return_to, error, extra, factors).await
}

/// The second-step page for `factors`.
pub(super) async fn factor_page(
    state: &LoginState,
    status: StatusCode,
    return_to: &str,
    error: Option<&str>,
    extra: Option<axum::http::HeaderValue>,
    factors: Factors,
) -> Response {
    let csrf = sesame_core::random::token().unwrap_or_default();
    let base = state.issuer.trim_end_matches('/');
    let script = format!("{base}{}", crate::login::SCRIPT_PATH);
    let client = super::client::login_client(state, return_to).await;
    let csp = super::client::sign_in_csp(state, client.origin.as_ref(), factors.passkey);
    let mut page = Page::new(&state.templates, "totp.html")
        .with_status(status)
        .with_csp(csp);
    if let Some(c) = state.cookie_header(CSRF_COOKIE, &csrf, PENDING_TTL, "/login") {
        page = page.with_cookie(c);
    }
    if let Some(c) = extra {
        page = page.with_cookie(c);
    }
    page.render(json!({
        "css": sesame_op::STYLESHEET,
        "issuer": state.issuer,
        "action": format!("{}/login/totp", state.issuer),
        "csrf_token": csrf,
        "return_to": return_to,
        "error": error,
        "factors": factors,
        "base": base,
        "script": script,
    }))
}

pub(super) fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable").into_response()
}

/// After a right password for a user with a second factor: a pending
/// login and the page that asks for it.
pub(crate) async fn second_step(state: &LoginState, subject: &str, return_to: &str) -> Response {
    let factors = match Factors::of(state, subject).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "second-factor lookup failed");
            return unavailable();
        }
    };
    let Ok(value) = sesame_core::random::token() else {
        return unavailable();
    };
    let now = state.clock.now();
    if let Err(e) = state
        .accounts
        .create_pending_login(&token_key(&value), subject, now + PENDING_TTL)
        .await
    {
        tracing::error!(error = %e, "could not store the pending login");
        return unavailable();
    }
    let pending = state.cookie_header(PENDING_COOKIE, &value, PENDING_TTL, "/login");
    factor_page(state, StatusCode::OK, return_to, None, pending, factors).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors_match_their_step_only() {
        // RFC 6238 Appendix B: the SHA-1 key "12345678901234567890"; the
        // 8-digit code of T = 59 is 94287082, its last six digits 287082.
        let secret = match Secret::Raw(b"12345678901234567890".to_vec()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => unreachable!(),
        };
        let totp = totp_of(&secret, "https://id.example", "pia").unwrap();
        assert_eq!(totp.generate(59), "287082");
        // At 59 s (step 1) the code of step 1 is found, as step 1.
        assert_eq!(matching_step(&totp, "287082", 59), Some(1));
        // Still accepted one step later (drift), no longer two steps later.
        assert_eq!(matching_step(&totp, "287082", 89), Some(1));
        assert_eq!(matching_step(&totp, "287082", 120), None);
        assert_eq!(matching_step(&totp, "000000", 59), None);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_typed_loosely() {
        let codes = recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
        );
        assert_eq!(recovery_key("ABCDE-fghij"), recovery_key(" abcde fghij "));
        assert_ne!(recovery_key("abcde-fghij"), recovery_key("abcde-fghik"));
    }

    #[test]
    fn the_issuer_label_has_no_colon() {
        assert_eq!(issuer_label("http://127.0.0.1:8000"), "127.0.0.1");
        assert_eq!(issuer_label("https://id.example/tenant"), "id.example");
    }
}
