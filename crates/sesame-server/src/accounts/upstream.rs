//! Signing in through another OpenID Provider (an upstream): the logins on
//! their way to the upstream and back (single use, sealed, bound to a
//! browser) and the links from an upstream identity, (issuer, sub), to a
//! local account.

use sesame_core::UnixTime;
use sesame_op::store::StoreResult;
use sesame_op_sqlx::{Arg, Cell, Col};

use super::Accounts;

/// A login started at an upstream, waiting for its callback.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamLogin {
    /// The SHA-256 of the browser cookie the login is bound to.
    pub browser_key: String,
    /// The upstream's configured name.
    pub upstream: String,
    /// The local account to link the upstream identity to (started by that
    /// account, signed in); `None`: sign in, or create an account.
    pub link_subject: Option<String>,
    /// The relying party's pending login (nonce, PKCE verifier, return
    /// path), sealed at rest.
    pub data: String,
    /// When it lapses.
    pub expires_at: UnixTime,
}

impl std::fmt::Debug for UpstreamLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamLogin")
            .field("upstream", &self.upstream)
            .field("link", &self.link_subject.is_some())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An upstream identity linked to a local account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpstreamLink {
    /// The upstream's configured name (when the link was made).
    pub upstream: String,
    /// The upstream's issuer.
    pub issuer: String,
    /// The upstream's `sub`.
    pub upstream_subject: String,
    /// The local account's subject.
    pub subject: String,
    /// When the link was made.
    pub created_at: UnixTime,
}

/// The associated data of a sealed pending upstream login: its row.
fn login_context(state_key: &str) -> String {
    format!("sesame_upstream_logins.state_key={state_key}:data")
}

impl Accounts {
    /// Records a login started at an upstream under `state_key` (the hash of
    /// its `state`), its `data` sealed.
    ///
    /// # Errors
    /// When the storage or the seal fails.
    pub async fn save_upstream_login(
        &self,
        state_key: &str,
        login: &UpstreamLogin,
    ) -> StoreResult<()> {
        let sealed = self.seal(&login.data, &login_context(state_key))?;
        self.store.exec(
            "INSERT INTO sesame_upstream_logins (state_key, browser_key, upstream, link_subject, data, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                Arg::Text(state_key),
                Arg::Text(&login.browser_key),
                Arg::Text(&login.upstream),
                Arg::OptText(login.link_subject.as_deref()),
                Arg::Text(&sealed),
                Arg::Int(login.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    /// Takes the login under `state_key`: deleted in the same statement that
    /// reads it, so a `state` is used once however many callbacks race; an
    /// expired one is taken too, and `None` is returned.
    ///
    /// # Errors
    /// When the storage fails or the seal does not open.
    pub async fn take_upstream_login(
        &self,
        state_key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<UpstreamLogin>> {
        let rows = self
            .store
            .rows(
                "DELETE FROM sesame_upstream_logins WHERE state_key = $1 RETURNING browser_key, upstream, link_subject, data, expires_at",
                &[Arg::Text(state_key)],
                &[Col::Text, Col::Text, Col::Text, Col::Text, Col::Int],
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let text = |i: usize| row.get(i).cloned().and_then(Cell::text);
        let expires_at = row.get(4).map(Cell::int).unwrap_or_default();
        if expires_at <= now {
            return Ok(None);
        }
        let data = self.open(&text(3).unwrap_or_default(), &login_context(state_key))?;
        Ok(Some(UpstreamLogin {
            browser_key: text(0).unwrap_or_default(),
            upstream: text(1).unwrap_or_default(),
            link_subject: text(2),
            data,
            expires_at,
        }))
    }

    /// Deletes expired upstream logins.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn sweep_upstream_logins(&self, now: UnixTime) -> StoreResult<u64> {
        self.store
            .exec(
                "DELETE FROM sesame_upstream_logins WHERE expires_at <= $1",
                &[Arg::Int(now)],
            )
            .await
    }

    /// The local subject linked to (`issuer`, `upstream_subject`).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn find_upstream_link(
        &self,
        issuer: &str,
        upstream_subject: &str,
    ) -> StoreResult<Option<String>> {
        self.store.one_text(
            "SELECT subject FROM sesame_upstream_links WHERE issuer = $1 AND upstream_subject = $2",
            &[Arg::Text(issuer), Arg::Text(upstream_subject)],
        )
        .await
    }

    /// Links (`link.issuer`, `link.upstream_subject`) to `link.subject`;
    /// `false` when that upstream identity is already linked (to anyone).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn add_upstream_link(&self, link: &UpstreamLink) -> StoreResult<bool> {
        let n = self
            .store
            .exec(
                "INSERT INTO sesame_upstream_links (issuer, upstream_subject, subject, upstream, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer, upstream_subject) DO NOTHING",
                &[
                    Arg::Text(&link.issuer),
                    Arg::Text(&link.upstream_subject),
                    Arg::Text(&link.subject),
                    Arg::Text(&link.upstream),
                    Arg::Int(link.created_at),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// The upstream identities linked to the local `subject`, oldest first.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn upstream_links(&self, subject: &str) -> StoreResult<Vec<UpstreamLink>> {
        let rows = self
            .store
            .rows(
                "SELECT upstream, issuer, upstream_subject, subject, created_at FROM sesame_upstream_links WHERE subject = $1 ORDER BY created_at, issuer, upstream_subject",
                &[Arg::Text(subject)],
                &[Col::Text, Col::Text, Col::Text, Col::Text, Col::Int],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let text = |i: usize| row.get(i).cloned().and_then(Cell::text).unwrap_or_default();
                UpstreamLink {
                    upstream: text(0),
                    issuer: text(1),
                    upstream_subject: text(2),
                    subject: text(3),
                    created_at: row.get(4).map(Cell::int).unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Removes the link of (`issuer`, `upstream_subject`); `false` if none.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn remove_upstream_link(
        &self,
        issuer: &str,
        upstream_subject: &str,
    ) -> StoreResult<bool> {
        let n = self
            .store
            .exec(
                "DELETE FROM sesame_upstream_links WHERE issuer = $1 AND upstream_subject = $2",
                &[Arg::Text(issuer), Arg::Text(upstream_subject)],
            )
            .await?;
        Ok(n == 1)
    }
}
