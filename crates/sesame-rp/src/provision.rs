//! Local users from claims: the counterpart of mozilla-django-oidc's
//! `filter_users_by_claims` / `create_user` / `update_user` / `verify_claims`
//! and dbd-django-oidc-client's `get_or_create_user_from_claims`.

use async_trait::async_trait;
use serde_json::{Map, Value};

/// The identity and claims of a completed login.
#[derive(Debug, Clone)]
pub struct LoginClaims {
    /// The provider's issuer.
    pub issuer: String,
    /// The `sub` claim.
    pub subject: String,
    /// ID token claims merged with UserInfo claims (UserInfo `sub` checked equal).
    pub claims: Map<String, Value>,
}

impl LoginClaims {
    /// `email`, if present.
    pub fn email(&self) -> Option<&str> {
        self.claims.get("email").and_then(Value::as_str)
    }

    /// Whether the provider says the email is verified (`true` or `"true"`).
    pub fn email_verified(&self) -> bool {
        match self.claims.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }
}

/// A failure in the application's user store.
#[derive(Debug, thiserror::Error)]
#[error("user provisioning failed: {0}")]
pub struct UsersError(pub String);

/// The application's users. Every method but the lookups has a default, so
/// an app implements only what it needs.
///
/// Users are found by (issuer, subject) — never by email, unless
/// [`Users::link_by_verified_email`] returns true, and then only when the
/// provider marks the email verified.
#[async_trait]
pub trait Users: Send + Sync + 'static {
    /// The local user id for this (issuer, subject), if known.
    async fn find(&self, issuer: &str, subject: &str) -> Result<Option<String>, UsersError>;

    /// Creates a local user from the claims; returns its id. `Ok(None)` refuses the login
    /// (the counterpart of `OIDC_CREATE_USER = False`).
    async fn create(&self, login: &LoginClaims) -> Result<Option<String>, UsersError>;

    /// Whether these claims may log in at all (e.g. require a domain or a group).
    async fn verify_claims(&self, login: &LoginClaims) -> bool {
        let _ = login;
        true
    }

    /// Refreshes a known user's profile from new claims.
    async fn update(&self, user_id: &str, login: &LoginClaims) -> Result<(), UsersError> {
        let _ = (user_id, login);
        Ok(())
    }

    /// Opt in to linking an existing local account by a *verified* email.
    fn link_by_verified_email(&self) -> bool {
        false
    }

    /// Finds a local user by email (called only when linking is on and the email is verified).
    async fn find_by_email(&self, email: &str) -> Result<Option<String>, UsersError> {
        let _ = email;
        Ok(None)
    }

    /// Records that `user_id` is now also known as (issuer, subject) after an email link.
    async fn link(&self, user_id: &str, login: &LoginClaims) -> Result<(), UsersError> {
        let _ = (user_id, login);
        Ok(())
    }
}

/// Runs the provisioning steps; `Ok(None)` means the login is refused.
pub(crate) async fn provision(
    users: &dyn Users,
    login: &LoginClaims,
) -> Result<Option<String>, UsersError> {
    if !users.verify_claims(login).await {
        return Ok(None);
    }
    if let Some(id) = users.find(&login.issuer, &login.subject).await? {
        users.update(&id, login).await?;
        return Ok(Some(id));
    }
    if users.link_by_verified_email()
        && login.email_verified()
        && let Some(email) = login.email()
        && let Some(id) = users.find_by_email(email).await?
    {
        users.link(&id, login).await?;
        users.update(&id, login).await?;
        return Ok(Some(id));
    }
    users.create(login).await
}
