//! The server's user accounts and login sessions.

use serde::Serialize;
use sesame_core::UnixTime;
use sesame_op::store::{StoreError, StoreResult};

use crate::store::{Arg, Col, SqlStore};

/// A user account (the password hash is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The login name.
    pub username: String,
    /// The stable `sub` claim (random, never reused).
    pub subject: String,
    /// `email`
    pub email: Option<String>,
    /// `name`
    pub name: Option<String>,
    /// The groups the user belongs to (released as `groups` under the
    /// `groups` scope), in the order they were given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Custom claims (released by the scopes the server configures for them).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// When the account was created.
    pub created_at: UnixTime,
}

/// The `attributes` column.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Attributes {
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    claims: serde_json::Map<String, serde_json::Value>,
}

/// A browser's login at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    /// The user's subject.
    pub subject: String,
    /// The provider session id (`sid`).
    pub sid: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When the session lapses.
    pub expires_at: UnixTime,
    /// How the user authenticated (RFC 8176 `amr` values, e.g. `pwd`,
    /// `otp`, `mfa`).
    pub amr: Vec<String>,
}

/// Why a user could not be added or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// The username is taken.
    #[error("a user named {0:?} already exists")]
    Duplicate(String),
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

const USER_COLUMNS: &str = "username, subject, email, name, created_at, attributes";
const USER_COLS: [Col; 6] = [
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Int,
    Col::Text,
];

fn user_of(row: Vec<crate::store::Cell>) -> User {
    let text = |i: usize| row.get(i).cloned().and_then(crate::store::Cell::text);
    let attributes: Attributes = text(5)
        .and_then(|a| serde_json::from_str(&a).ok())
        .unwrap_or_default();
    User {
        username: text(0).unwrap_or_default(),
        subject: text(1).unwrap_or_default(),
        email: text(2),
        name: text(3),
        groups: attributes.groups,
        claims: attributes.claims,
        created_at: row.get(4).map(crate::store::Cell::int).unwrap_or_default(),
    }
}

impl SqlStore {
    /// Adds a user with an already-hashed password (see `sesame_op::secrets::hash_password`).
    ///
    /// # Errors
    /// [`UserError::Duplicate`] when the username is taken.
    pub async fn add_user(
        &self,
        username: &str,
        password_hash: &str,
        email: Option<&str>,
        name: Option<&str>,
        now: UnixTime,
    ) -> Result<User, UserError> {
        let mut subject = [0u8; 16];
        sesame_core::random::fill(&mut subject).map_err(StoreError::new)?;
        let subject: String = subject.iter().map(|b| format!("{b:02x}")).collect();
        let result = self
            .exec(
                "INSERT INTO sesame_users (username, subject, password_hash, email, name, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    Arg::Text(username),
                    Arg::Text(&subject),
                    Arg::Text(password_hash),
                    Arg::OptText(email),
                    Arg::OptText(name),
                    Arg::Int(now),
                ],
            )
            .await;
        match result {
            Ok(_) => Ok(User {
                username: username.to_owned(),
                subject,
                email: email.map(str::to_owned),
                name: name.map(str::to_owned),
                groups: Vec::new(),
                claims: serde_json::Map::new(),
                created_at: now,
            }),
            Err(e) if self.find_user(username).await.ok().flatten().is_some() => {
                tracing::debug!(error = %e, "duplicate user");
                Err(UserError::Duplicate(username.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sets a user's groups and custom claims (replacing both); `false`
    /// when there is no such user. Their next tokens and userinfo answers
    /// carry the new values (within the cache TTL on other instances).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn set_user_attributes(
        &self,
        username: &str,
        groups: &[String],
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> StoreResult<bool> {
        let Some(user) = self.find_user(username).await? else {
            return Ok(false);
        };
        let attributes = serde_json::to_string(&Attributes {
            groups: groups.to_vec(),
            claims: claims.clone(),
        })
        .map_err(StoreError::new)?;
        let changed = self
            .exec(
                "UPDATE sesame_users SET attributes = $1 WHERE username = $2",
                &[Arg::Text(&attributes), Arg::Text(username)],
            )
            .await?;
        self.users.forget(user.subject.as_str());
        Ok(changed == 1)
    }

    /// The user with this username.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn find_user(&self, username: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM sesame_users WHERE username = $1");
        Ok(self
            .rows(&sql, &[Arg::Text(username)], &USER_COLS)
            .await?
            .into_iter()
            .next()
            .map(user_of))
    }

    /// The user with this subject.
    ///
    /// # Errors
    /// When the storage fails.
    ///
    /// Served from memory when [`SqlStore::with_cache_ttl`] is set.
    pub async fn find_user_by_subject(&self, subject: &str) -> StoreResult<Option<User>> {
        if let Some(user) = self.users.get(subject) {
            return Ok(Some(user));
        }
        let seen = self.users.generation();
        let sql = format!("SELECT {USER_COLUMNS} FROM sesame_users WHERE subject = $1");
        let user = self
            .rows(&sql, &[Arg::Text(subject)], &USER_COLS)
            .await?
            .into_iter()
            .next()
            .map(user_of);
        if let Some(u) = &user {
            self.users.put(subject.to_owned(), u.clone(), seen);
        }
        Ok(user)
    }

    /// The user and password hash for a login attempt.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        let sql =
            format!("SELECT {USER_COLUMNS}, password_hash FROM sesame_users WHERE username = $1");
        let mut cols = USER_COLS.to_vec();
        cols.push(Col::Text);
        let row = self
            .rows(&sql, &[Arg::Text(username)], &cols)
            .await?
            .into_iter()
            .next();
        Ok(row.map(|r| {
            let hash = r
                .get(USER_COLS.len())
                .cloned()
                .and_then(crate::store::Cell::text)
                .unwrap_or_default();
            (user_of(r), hash)
        }))
    }

    /// Every user, by username.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM sesame_users ORDER BY username");
        Ok(self
            .rows(&sql, &[], &USER_COLS)
            .await?
            .into_iter()
            .map(user_of)
            .collect())
    }

    /// Removes a user, their login sessions and their grants (every code,
    /// access and refresh token issued to them stops working); `false` if
    /// there was none.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn remove_user(&self, username: &str) -> StoreResult<bool> {
        let Some(user) = self.find_user(username).await? else {
            return Ok(false);
        };
        self.users.forget(user.subject.as_str());
        self.exec(
            "DELETE FROM sesame_login_sessions WHERE subject = $1",
            &[Arg::Text(&user.subject)],
        )
        .await?;
        self.revoke_grants_of(&user.subject).await?;
        self.remove_totp(&user.subject).await?;
        self.remove_passkeys_of(&user.subject).await?;
        self.exec(
            "DELETE FROM sesame_pending_logins WHERE subject = $1",
            &[Arg::Text(&user.subject)],
        )
        .await?;
        let removed = self
            .exec(
                "DELETE FROM sesame_users WHERE username = $1",
                &[Arg::Text(username)],
            )
            .await?
            > 0;
        self.users.forget(user.subject.as_str());
        Ok(removed)
    }

    /// Replaces a user's password hash, ends their login sessions and revokes
    /// their grants (what the old password granted, e.g. through the password
    /// grant, stops working); `false` if there is no such user.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn set_password(&self, username: &str, password_hash: &str) -> StoreResult<bool> {
        let Some(user) = self.find_user(username).await? else {
            return Ok(false);
        };
        self.exec(
            "UPDATE sesame_users SET password_hash = $1 WHERE username = $2",
            &[Arg::Text(password_hash), Arg::Text(username)],
        )
        .await?;
        self.exec(
            "DELETE FROM sesame_login_sessions WHERE subject = $1",
            &[Arg::Text(&user.subject)],
        )
        .await?;
        self.revoke_grants_of(&user.subject).await?;
        Ok(true)
    }

    /// Sets the `auth_time` of the login session `key` (a session that
    /// replaces one of the same sign-in keeps its time).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn set_login_session_auth_time(
        &self,
        key: &str,
        auth_time: UnixTime,
    ) -> StoreResult<()> {
        self.exec(
            "UPDATE sesame_login_sessions SET auth_time = $2 WHERE token_key = $1",
            &[Arg::Text(key), Arg::Int(auth_time)],
        )
        .await?;
        Ok(())
    }

    /// Ends every login session of `subject` (sign out everywhere);
    /// returns how many.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn end_login_sessions_of(&self, subject: &str) -> StoreResult<u64> {
        self.exec(
            "DELETE FROM sesame_login_sessions WHERE subject = $1",
            &[Arg::Text(subject)],
        )
        .await
    }

    /// The live consents `subject` gave, by client id.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn consents_of(
        &self,
        subject: &str,
        now: UnixTime,
    ) -> StoreResult<Vec<sesame_op::model::Consent>> {
        let rows = self
            .rows(
                "SELECT data FROM sesame_consents WHERE subject = $1 AND expires_at > $2 ORDER BY client_id",
                &[Arg::Text(subject), Arg::Int(now)],
                &[crate::store::Col::Text],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next()?.text())
            .filter_map(|d| serde_json::from_str(&d).ok())
            .collect())
    }

    /// Records a login session under `key` (the hash of the cookie value).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn create_login_session(&self, key: &str, session: &LoginSession) -> StoreResult<()> {
        self.exec(
            "INSERT INTO sesame_login_sessions (token_key, subject, sid, auth_time, expires_at, amr) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                Arg::Text(key),
                Arg::Text(&session.subject),
                Arg::Text(&session.sid),
                Arg::Int(session.auth_time),
                Arg::Int(session.expires_at),
                Arg::Text(&session.amr.join(" ")),
            ],
        )
        .await?;
        Ok(())
    }

    /// A live login session.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn find_login_session(
        &self,
        key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<LoginSession>> {
        let rows = self
            .rows(
                "SELECT subject, sid, auth_time, expires_at, amr FROM sesame_login_sessions WHERE token_key = $1 AND expires_at > $2",
                &[Arg::Text(key), Arg::Int(now)],
                &[Col::Text, Col::Text, Col::Int, Col::Int, Col::Text],
            )
            .await?;
        Ok(rows.into_iter().next().map(|r| {
            let text = |i: usize| {
                r.get(i)
                    .cloned()
                    .and_then(crate::store::Cell::text)
                    .unwrap_or_default()
            };
            LoginSession {
                subject: text(0),
                sid: text(1),
                auth_time: r.get(2).map(crate::store::Cell::int).unwrap_or_default(),
                expires_at: r.get(3).map(crate::store::Cell::int).unwrap_or_default(),
                amr: text(4).split_whitespace().map(str::to_owned).collect(),
            }
        }))
    }

    /// Ends a login session.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn delete_login_session(&self, key: &str) -> StoreResult<()> {
        self.exec(
            "DELETE FROM sesame_login_sessions WHERE token_key = $1",
            &[Arg::Text(key)],
        )
        .await?;
        Ok(())
    }

    /// Deletes expired login sessions.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn sweep_login_sessions(&self, now: UnixTime) -> StoreResult<u64> {
        self.exec(
            "DELETE FROM sesame_login_sessions WHERE expires_at <= $1",
            &[Arg::Int(now)],
        )
        .await
    }
}
