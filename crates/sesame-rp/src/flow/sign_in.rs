//! Signing the session in once a callback is verified.

use tower_sessions::Session;

use super::{LoginError, Verified};
use crate::client::OidcClient;
use crate::provision::provision;
use crate::session::{AUTH_KEY, AuthSession};

impl OidcClient {
    /// Provisions the user and signs the session in.
    pub(super) async fn sign_in(
        &self,
        session: &Session,
        v: Verified,
    ) -> Result<String, LoginError> {
        let now = self.now();
        let user_id = match &self.inner.users {
            Some(users) => Some(
                provision(users.as_ref(), &v.login)
                    .await
                    .map_err(|e| LoginError::Users(e.to_string()))?
                    .ok_or(LoginError::Refused)?,
            ),
            None => None,
        };
        // A new login cycles the session id (fixation); re-authenticating the
        // same user keeps it (no broken forms, no lost CSRF token).
        let previous: Option<AuthSession> = session.get(AUTH_KEY).await?;
        let same_user = previous
            .as_ref()
            .filter(|a| a.subject == v.login.subject && a.issuer == v.login.issuer);
        // Only a re-authentication of the same user keeps the login time;
        // another user's sign-in starts afresh (REVIEW S19).
        let login_at = same_user.map_or(now, |a| a.login_at);
        if same_user.is_none() {
            session.cycle_id().await?;
        }
        let auth = AuthSession {
            provider: self.name().to_owned(),
            issuer: v.login.issuer,
            subject: v.login.subject,
            sid: v.sid,
            claims: v.login.claims,
            id_token: v.id_token,
            access_token: v.access_token,
            access_expires_at: v.access_expires_at,
            refresh_token: v.refresh_token,
            login_at,
            id_token_iat: v.id_token_iat,
            user_id,
            external: v.external,
            dpop: v.dpop,
        };
        session.insert(AUTH_KEY, &auth).await?;
        if let Some(sid) = &auth.sid {
            // For front-channel logout by `sid`.
            self.inner
                .logouts
                .sid_signed_in(&auth.issuer, sid, now)
                .await;
        }
        tracing::info!(provider = %self.name(), issuer = %auth.issuer, subject = %auth.subject, "login completed");
        Ok(v.next)
    }
}
