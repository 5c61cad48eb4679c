//! The provider's view of a login: the session cookie, logout, the password
//! grant's check, and the user table's claims.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde_json::{Map, Value, json};
use sesame_core::{SessionId, Subject};
use sesame_op::secrets::token_key;
use sesame_op::{
    Authenticator, AuthnError, ClaimsError, ClaimsSource, EndUser, LoginRequest,
    PasswordAuthenticator, PasswordCheck, PasswordRequest, RequestInfo,
};

use super::credentials::Credentials;
use super::{LoginState, SESSION_COOKIE, client_ip, cookie};
use crate::accounts::Accounts;
use crate::ratelimit::log_name;

/// The authenticator the provider uses: the login-session cookie.
#[derive(Debug, Clone)]
pub struct ServerAuth(pub Arc<LoginState>);

#[async_trait]
impl Authenticator for ServerAuth {
    async fn current_user(&self, parts: &Parts) -> Result<Option<EndUser>, AuthnError> {
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let now = self.0.clock.now();
        let session = self
            .0
            .accounts
            .find_login_session(&token_key(&value), now)
            .await
            .map_err(|e| AuthnError(e.to_string()))?;
        Ok(session.map(|s| {
            let acr = if s.amr.iter().any(|m| m == "mfa") {
                &self.0.mfa_acr
            } else {
                &self.0.password_acr
            };
            EndUser {
                subject: Subject::new(s.subject),
                auth_time: s.auth_time,
                session_id: SessionId::new(s.sid),
                acr: Some(acr.clone()),
                amr: Some(s.amr),
            }
        }))
    }

    fn login_url(&self, request: &LoginRequest) -> String {
        let mut q: Vec<(&str, &str)> = vec![("return_to", request.return_to.as_str())];
        if let Some(hint) = &request.login_hint {
            q.push(("login_hint", hint));
        }
        if request.step_up {
            q.push(("step_up", "1"));
        }
        // No client name: the login page looks the client up from
        // `return_to`'s client_id, never from text in its own URL (S16).
        format!(
            "{}/login?{}",
            self.0.issuer,
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    }

    /// A session without a second factor steps up to `[acr] mfa` when the
    /// user has one (TOTP or a passkey).
    async fn can_step_up(&self, user: &EndUser, values: &[String]) -> bool {
        let mfa_done = user
            .amr
            .as_ref()
            .is_some_and(|amr| amr.iter().any(|m| m == "mfa"));
        if mfa_done || !values.contains(&self.0.mfa_acr) {
            return false;
        }
        super::totp::Factors::of(&self.0, user.subject.as_str())
            .await
            .is_ok_and(super::totp::Factors::any)
    }

    async fn logout(&self, parts: &Parts, _user: &EndUser) -> Result<HeaderMap, AuthnError> {
        if let Some(value) = cookie(&parts.headers, SESSION_COOKIE) {
            self.0
                .accounts
                .delete_login_session(&token_key(&value))
                .await
                .map_err(|e| AuthnError(e.to_string()))?;
        }
        let mut h = HeaderMap::new();
        if let Some(v) = self.0.cookie_header(SESSION_COOKIE, "", 0, "/") {
            h.insert(header::SET_COOKIE, v);
        }
        Ok(h)
    }
}

/// Claims from the user table (through the server's users cache: give it
/// the [`Accounts`] the login pages use, so their writes are seen at once).
#[derive(Debug, Clone)]
pub struct UserClaims(pub Accounts);

#[async_trait]
impl ClaimsSource for UserClaims {
    async fn claims(&self, subject: &Subject) -> Result<Option<Map<String, Value>>, ClaimsError> {
        let user = self
            .0
            .find_user_by_subject(subject.as_str())
            .await
            .map_err(|e| ClaimsError(e.to_string()))?;
        Ok(user.map(|u| {
            // Custom claims first: the standard ones below cannot be
            // overridden by them (the CLI refuses those names too).
            let mut m = u.claims;
            if !u.groups.is_empty() {
                m.insert("groups".into(), json!(u.groups));
            }
            m.insert("preferred_username".into(), json!(u.username));
            if let Some(name) = u.name {
                m.insert("name".into(), json!(name));
            }
            if let Some(email) = u.email {
                m.insert("email".into(), json!(email));
                // Set by an administrator of this provider.
                m.insert("email_verified".into(), json!(true));
            }
            m
        }))
    }
}

/// The password grant checks passwords like the login form: the same rate
/// limits (one budget for both), the same hash, the same decoy.
#[async_trait]
impl PasswordAuthenticator for ServerAuth {
    async fn check_password(
        &self,
        from: RequestInfo<'_>,
        request: PasswordRequest<'_>,
    ) -> Result<PasswordCheck, AuthnError> {
        let ip = client_ip(&self.0, from.headers, from.peer);
        let username = request.username.trim();
        let checked = self
            .0
            .check_credentials(&ip, username, request.password.to_owned())
            .await
            .map_err(|e| AuthnError(e.to_string()))?;
        Ok(match checked {
            Credentials::Valid(user) => {
                tracing::info!(username = %user.username, client_id = request.client_id.as_str(), "password grant");
                PasswordCheck::Valid(Subject::new(user.subject))
            }
            Credentials::Invalid => {
                tracing::info!(user = %log_name(username), ip = %ip, client_id = request.client_id.as_str(), "failed password grant");
                PasswordCheck::Invalid
            }
            Credentials::Limited(retry) => {
                tracing::info!(user = %log_name(username), ip = %ip, "password grant refused: too many failures");
                PasswordCheck::RateLimited {
                    retry_after: retry.as_secs().max(1),
                }
            }
            Credentials::Busy => {
                // The provider answers 429; the token layer makes it 503
                // temporarily_unavailable (see `server::limit_token`).
                if let Some(busy) = from
                    .extensions
                    .get::<crate::ratelimit::endpoints::LoginBusy>()
                {
                    busy.0.store(true, std::sync::atomic::Ordering::Release);
                }
                tracing::warn!("password grant refused: the login queue is full");
                PasswordCheck::RateLimited { retry_after: 1 }
            }
        })
    }
}
