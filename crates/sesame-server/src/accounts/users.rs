//! The server's user accounts (`sesame_users`).

use serde::Serialize;
use sesame_core::UnixTime;
use sesame_op::store::{StoreError, StoreResult};
use sesame_op_sqlx::{Arg, Cell, Col};

use super::Accounts;

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

fn user_of(row: Vec<Cell>) -> User {
    let text = |i: usize| row.get(i).cloned().and_then(Cell::text);
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
        created_at: row.get(4).map(Cell::int).unwrap_or_default(),
    }
}

impl Accounts {
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
            .store
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
            .store
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
            .store
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
    /// Served from memory when [`Accounts::new`]'s TTL is set.
    pub async fn find_user_by_subject(&self, subject: &str) -> StoreResult<Option<User>> {
        if let Some(user) = self.users.get(subject) {
            return Ok(Some(user));
        }
        let seen = self.users.generation();
        let sql = format!("SELECT {USER_COLUMNS} FROM sesame_users WHERE subject = $1");
        let user = self
            .store
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
            .store
            .rows(&sql, &[Arg::Text(username)], &cols)
            .await?
            .into_iter()
            .next();
        Ok(row.map(|r| {
            let hash = r
                .get(USER_COLS.len())
                .cloned()
                .and_then(Cell::text)
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
            .store
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
        self.store
            .exec(
                "DELETE FROM sesame_login_sessions WHERE subject = $1",
                &[Arg::Text(&user.subject)],
            )
            .await?;
        self.store.revoke_grants_of(&user.subject).await?;
        self.remove_totp(&user.subject).await?;
        self.remove_passkeys_of(&user.subject).await?;
        self.store
            .exec(
                "DELETE FROM sesame_pending_logins WHERE subject = $1",
                &[Arg::Text(&user.subject)],
            )
            .await?;
        let removed = self
            .store
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
        self.store
            .exec(
                "UPDATE sesame_users SET password_hash = $1 WHERE username = $2",
                &[Arg::Text(password_hash), Arg::Text(username)],
            )
            .await?;
        self.store
            .exec(
                "DELETE FROM sesame_login_sessions WHERE subject = $1",
                &[Arg::Text(&user.subject)],
            )
            .await?;
        self.store.revoke_grants_of(&user.subject).await?;
        Ok(true)
    }
}
