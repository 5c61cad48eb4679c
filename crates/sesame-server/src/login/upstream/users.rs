//! The local accounts of upstream identities, through sesame-rp's `Users`:
//! found by (upstream issuer, upstream sub) in the links table, created on
//! first use, or linked to the account that started the login signed in —
//! never found by email.

use async_trait::async_trait;
use serde_json::Value;
use sesame_core::UnixTime;
use sesame_rp::{LoginClaims, Users, UsersError};

use crate::accounts::{Accounts, UpstreamLink, UserError};
use crate::config::Upstream;

/// One callback's view of the local users.
pub(super) struct UpstreamUsers {
    pub(super) accounts: Accounts,
    pub(super) upstream: Upstream,
    /// The signed-in account that asked to link (`?link=1`).
    pub(super) link: Option<String>,
    pub(super) now: UnixTime,
}

fn users_error(e: impl std::fmt::Display) -> UsersError {
    UsersError(e.to_string())
}

/// A claim as text (non-empty).
fn text<'a>(login: &'a LoginClaims, claim: &str) -> Option<&'a str> {
    login
        .claims
        .get(claim)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The mapped email, only when the upstream says it is verified (the
/// server releases a user's email with `email_verified: true`).
fn verified_email<'a>(login: &'a LoginClaims, upstream: &Upstream) -> Option<&'a str> {
    let verified = match login.claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    text(login, &upstream.claims.email).filter(|_| verified)
}

/// A username from the mapped claim (or the email's local part), cut to
/// letters, digits and `._-`, at most 48 characters.
fn base_username(login: &LoginClaims, upstream: &Upstream) -> String {
    let raw = text(login, &upstream.claims.username)
        .or_else(|| text(login, &upstream.claims.email).and_then(|e| e.split('@').next()))
        .unwrap_or("user");
    let clean: String = raw
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(48)
        .collect();
    if clean.is_empty() {
        "user".into()
    } else {
        clean
    }
}

/// The mapped groups claim (strings only), when a mapping is configured.
fn groups(login: &LoginClaims, upstream: &Upstream) -> Option<Vec<String>> {
    let claim = upstream.claims.groups.as_deref()?;
    Some(match login.claims.get(claim) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .take(256)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    })
}

impl UpstreamUsers {
    /// Replaces the account's groups with the mapped ones (if mapped).
    async fn set_groups(&self, subject: &str, login: &LoginClaims) -> Result<(), UsersError> {
        let Some(groups) = groups(login, &self.upstream) else {
            return Ok(());
        };
        let Some(user) = self
            .accounts
            .find_user_by_subject(subject)
            .await
            .map_err(users_error)?
        else {
            return Ok(());
        };
        if user.groups != groups {
            self.accounts
                .set_user_attributes(&user.username, &groups, &user.claims)
                .await
                .map_err(users_error)?;
        }
        Ok(())
    }

    /// A new local account whose password can never match (the hash of a
    /// random secret nobody keeps); the username made unique.
    async fn new_account(&self, login: &LoginClaims) -> Result<String, UsersError> {
        let secret = sesame_core::random::token().map_err(users_error)?;
        let hash = tokio::task::spawn_blocking(move || sesame_op::secrets::hash_password(&secret))
            .await
            .map_err(users_error)?
            .map_err(users_error)?;
        let base = base_username(login, &self.upstream);
        let email = verified_email(login, &self.upstream);
        let name = text(login, &self.upstream.claims.name);
        for n in 1..=20u32 {
            let username = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            match self
                .accounts
                .add_user(&username, &hash, email, name, self.now)
                .await
            {
                Ok(user) => return Ok(user.subject),
                Err(UserError::Duplicate(_)) => continue,
                Err(e) => return Err(users_error(e)),
            }
        }
        let suffix = sesame_core::random::token().map_err(users_error)?;
        let username = format!("{base}-{}", &suffix[..8.min(suffix.len())]);
        self.accounts
            .add_user(&username, &hash, email, name, self.now)
            .await
            .map(|u| u.subject)
            .map_err(users_error)
    }
}

#[async_trait]
impl Users for UpstreamUsers {
    async fn find(&self, issuer: &str, subject: &str) -> Result<Option<String>, UsersError> {
        let Some(local) = self
            .accounts
            .find_upstream_link(issuer, subject)
            .await
            .map_err(users_error)?
        else {
            return Ok(None);
        };
        let exists = self
            .accounts
            .find_user_by_subject(&local)
            .await
            .map_err(users_error)?
            .is_some();
        if !exists {
            // The account was removed: the link goes with it.
            self.accounts
                .remove_upstream_link(issuer, subject)
                .await
                .map_err(users_error)?;
            return Ok(None);
        }
        if self.link.as_ref().is_some_and(|l| *l != local) {
            return Err(UsersError(
                "this upstream account is already linked to another local account".into(),
            ));
        }
        Ok(Some(local))
    }

    async fn create(&self, login: &LoginClaims) -> Result<Option<String>, UsersError> {
        let subject = match &self.link {
            Some(s) => {
                // The account that asked may have been removed since.
                let exists = self
                    .accounts
                    .find_user_by_subject(s)
                    .await
                    .map_err(users_error)?
                    .is_some();
                if !exists {
                    return Err(UsersError("the account to link is gone".into()));
                }
                s.clone()
            }
            None => self.new_account(login).await?,
        };
        let added = self
            .accounts
            .add_upstream_link(&UpstreamLink {
                upstream: self.upstream.name.clone(),
                issuer: login.issuer.clone(),
                upstream_subject: login.subject.clone(),
                subject: subject.clone(),
                created_at: self.now,
            })
            .await
            .map_err(users_error)?;
        if !added {
            return Err(UsersError(
                "this upstream account was linked by another sign-in at the same time".into(),
            ));
        }
        self.set_groups(&subject, login).await?;
        Ok(Some(subject))
    }

    /// The email domain allow-list: only a verified email counts.
    async fn verify_claims(&self, login: &LoginClaims) -> bool {
        let domains = &self.upstream.allowed_email_domains;
        if domains.is_empty() {
            return true;
        }
        let Some(email) = verified_email(login, &self.upstream) else {
            return false;
        };
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    async fn update(&self, user_id: &str, login: &LoginClaims) -> Result<(), UsersError> {
        self.set_groups(user_id, login).await
    }
}
