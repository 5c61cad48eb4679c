//! Codes, access and refresh tokens, and the tombstones of revoked grants.

use async_trait::async_trait;
use sesame_core::{ClientId, UnixTime};
use sesame_op::model::{
    AccessTokenRecord, CodeRecord, CodeUse, Consent, Grant, RefreshTokenRecord, RefreshUse,
};
use sesame_op::store::{GrantStore, IssuedTokens, SESSION_CLIENT_RETENTION, StoreResult};

use crate::store::{Arg, Cell, Col, SqlStore, from_json, to_json};

const NOT_REVOKED: &str =
    "NOT EXISTS (SELECT 1 FROM sesame_revoked_grants r WHERE r.grant_id = t.grant_id)";

fn sid_of(grant: &Grant) -> Option<String> {
    grant.sid.as_ref().map(|s| s.as_str().to_owned())
}

/// The `subject` column: `""` for a grant without a user (`client_credentials`),
/// so that NULL means only "written before the column existed".
fn subject_of(grant: &Grant) -> Option<&str> {
    Some(
        grant
            .subject
            .as_ref()
            .map_or("", sesame_core::Subject::as_str),
    )
}

/// How far a session's client row may fall behind its latest token before it
/// is written again.
const SESSION_CLIENT_SLACK: UnixTime = 3600;

/// The tables holding a grant's codes and tokens.
const GRANT_TABLES: [&str; 3] = [
    "sesame_codes",
    "sesame_access_tokens",
    "sesame_refresh_tokens",
];

/// Records that a grant's client took part in its session (SQLite; see
/// [`SqlStore::insert_grant_row`]): `$1` sid, `$2` client, `$3` until, `$4`
/// the oldest `until` left alone.
const SESSION_ROW: &str = "INSERT INTO sesame_session_clients (sid, client_id, until_at) VALUES ($1, $2, $3) \
     ON CONFLICT (sid, client_id) DO UPDATE SET until_at = excluded.until_at \
     WHERE sesame_session_clients.until_at < $4";

/// A code's or token's row, as [`SqlStore::insert_grant_row`] writes it.
struct GrantRow<'a> {
    table: &'a str,
    single_use: bool,
    key: &'a str,
    grant: &'a Grant,
    sid: Option<&'a str>,
    data: &'a str,
    expires_at: UnixTime,
}

impl<'a> GrantRow<'a> {
    /// The row's `INSERT` and its seven arguments.
    fn insert(&self) -> (String, [Arg<'a>; 7]) {
        let table = self.table;
        let (used_column, used_value) = if self.single_use {
            (", used", ", 0")
        } else {
            ("", "")
        };
        let insert = format!(
            "INSERT INTO {table} (token_key, grant_id, client_id, sid, data, expires_at{used_column}, subject) \
             VALUES ($1, $2, $3, $4, $5, $6{used_value}, $7)"
        );
        let args = [
            Arg::Text(self.key),
            Arg::Text(&self.grant.grant_id),
            Arg::Text(self.grant.client_id.as_str()),
            Arg::OptText(self.sid),
            Arg::Text(self.data),
            Arg::Int(self.expires_at),
            Arg::OptText(subject_of(self.grant)),
        ];
        (insert, args)
    }

    /// [`SESSION_ROW`]'s arguments for session `sid`.
    fn session_args(&self, sid: &'a str) -> [Arg<'a>; 4] {
        let until = self.expires_at.saturating_add(SESSION_CLIENT_RETENTION);
        let behind = until.saturating_sub(SESSION_CLIENT_SLACK);
        [
            Arg::Text(sid),
            Arg::Text(self.grant.client_id.as_str()),
            Arg::Int(until),
            Arg::Int(behind),
        ]
    }
}

impl SqlStore {
    /// Inserts a code's or token's row into `table`, with `used` = 0 if it is
    /// `single_use` (codes, refresh tokens): `data` is the record as JSON.
    /// With it, records that `grant`'s client took part in its session (S5),
    /// until `expires_at` plus [`SESSION_CLIENT_RETENTION`]: on SQLite both in
    /// one write, on PostgreSQL in one statement.
    ///
    /// Every code and token of a session would otherwise rewrite the session's
    /// row (the new expiry is always a little later): the row is written when
    /// it is new or more than [`SESSION_CLIENT_SLACK`] behind, so the flows of
    /// the next hour of a session leave it alone. The retention (30 days) may
    /// so end up to an hour early: still far longer than a sign-in session
    /// (8 hours by default), which is what back-channel logout needs.
    async fn insert_grant_row(
        &self,
        table: &str,
        single_use: bool,
        key: &str,
        grant: &Grant,
        data: &str,
        expires_at: UnixTime,
    ) -> StoreResult<()> {
        let sid = sid_of(grant);
        let row = GrantRow {
            table,
            single_use,
            key,
            grant,
            sid: sid.as_deref(),
            data,
            expires_at,
        };
        let (insert, args) = row.insert();
        let Some(sid) = sid.as_deref() else {
            self.exec(&insert, &args).await?;
            return Ok(());
        };
        let session = row.session_args(sid);
        if self.pool.kind() == "postgres" {
            // One round trip: the session's row rides along in a
            // data-modifying CTE (PostgreSQL only), atomic with the insert.
            let both = format!(
                "WITH session AS (INSERT INTO sesame_session_clients (sid, client_id, until_at) \
                 VALUES ($4, $3, $8) ON CONFLICT (sid, client_id) DO UPDATE SET until_at = excluded.until_at \
                 WHERE sesame_session_clients.until_at < $9) {insert}"
            );
            let mut both_args = args.to_vec();
            both_args.extend([session[2], session[3]]);
            self.exec(&both, &both_args).await?;
            return Ok(());
        }
        self.exec_each(&[(SESSION_ROW, &session), (&insert, &args)])
            .await?;
        Ok(())
    }

    /// Uses the row `key` of `table` once (one atomic conditional update):
    /// `Ok(data)` for the first use of a live row, `Err(grant_id)` for a row
    /// already used, `None` for one unknown, expired or of a revoked grant.
    async fn consume_once(
        &self,
        table: &str,
        key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<Result<String, String>>> {
        let sql = format!(
            "UPDATE {table} SET used = 1 WHERE token_key = $1 AND used = 0 AND expires_at > $2 \
             AND grant_id NOT IN (SELECT grant_id FROM sesame_revoked_grants) RETURNING data"
        );
        if let Some(data) = self
            .one_text(&sql, &[Arg::Text(key), Arg::Int(now)])
            .await?
        {
            return Ok(Some(Ok(data)));
        }
        let rows = self
            .rows(
                &format!("SELECT grant_id, used FROM {table} WHERE token_key = $1"),
                &[Arg::Text(key)],
                &[Col::Text, Col::Int],
            )
            .await?;
        Ok(rows.into_iter().next().and_then(|mut r| {
            let used = r.get(1).map(Cell::int) == Some(1);
            let grant_id = r.swap_remove(0).text()?;
            used.then_some(Err(grant_id))
        }))
    }

    /// Revokes every grant of `subject` (S11: a new password or a removed
    /// user ends what the old password granted): each of its codes, access and
    /// refresh tokens stops working at once. Returns how many grants.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn revoke_grants_of(&self, subject: &str) -> StoreResult<usize> {
        self.revoke_grants_matching(subject, None).await
    }

    /// The live consents `subject` gave, by client id (the account page lists
    /// them, each with a revoke button: [`SqlStore::revoke_grants_to`]).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn consents_of(&self, subject: &str, now: UnixTime) -> StoreResult<Vec<Consent>> {
        let rows = self
            .rows(
                "SELECT data FROM sesame_consents WHERE subject = $1 AND expires_at > $2 ORDER BY client_id",
                &[Arg::Text(subject), Arg::Int(now)],
                &[Col::Text],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next()?.text())
            .filter_map(|d| serde_json::from_str(&d).ok())
            .collect())
    }

    /// Revokes every grant `subject` gave `client_id` (the user revoked the
    /// app on their account page): each of its codes, access and refresh
    /// tokens stops working at once. Returns how many grants.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn revoke_grants_to(&self, subject: &str, client_id: &str) -> StoreResult<usize> {
        self.revoke_grants_matching(subject, Some(client_id)).await
    }

    async fn revoke_grants_matching(
        &self,
        subject: &str,
        client_id: Option<&str>,
    ) -> StoreResult<usize> {
        // Grant id → the latest expiry among its rows (how long the tombstone must last).
        let mut grants: std::collections::BTreeMap<String, UnixTime> = Default::default();
        for table in GRANT_TABLES {
            // Rows written before the subject column existed hold it only in `data`.
            let rows = self
                .rows(
                    &format!(
                        "SELECT grant_id, expires_at, data FROM {table} WHERE subject = $1 OR subject IS NULL"
                    ),
                    &[Arg::Text(subject)],
                    &[Col::Text, Col::Int, Col::Text],
                )
                .await?;
            for row in rows {
                let mut cells = row.into_iter();
                let (Some(grant_id), Some(expires_at), Some(data)) = (
                    cells.next().and_then(Cell::text),
                    cells.next().map(|c| c.int()),
                    cells.next().and_then(Cell::text),
                ) else {
                    continue;
                };
                if !data_has_subject(&data, subject, client_id) {
                    continue;
                }
                let until = grants.entry(grant_id).or_insert(expires_at);
                *until = (*until).max(expires_at);
            }
        }
        for (grant_id, until) in &grants {
            self.revoke_grant(grant_id, *until).await?;
        }
        Ok(grants.len())
    }
}

/// Whether a stored record's grant is `subject`'s (to `client_id`, when
/// given).
fn data_has_subject(data: &str, subject: &str, client_id: Option<&str>) -> bool {
    #[derive(serde::Deserialize)]
    struct Record {
        grant: Grant,
    }
    serde_json::from_str::<Record>(data).is_ok_and(|r| {
        r.grant.subject.is_some_and(|s| s.as_str() == subject)
            && client_id.is_none_or(|c| r.grant.client_id.as_str() == c)
    })
}

#[async_trait]
impl GrantStore for SqlStore {
    async fn save_code(&self, key: &str, code: &CodeRecord) -> StoreResult<()> {
        let data = to_json(code)?;
        self.insert_grant_row(
            "sesame_codes",
            true,
            key,
            &code.grant,
            &data,
            code.expires_at,
        )
        .await
    }

    async fn consume_code(&self, key: &str, now: UnixTime) -> StoreResult<Option<CodeUse>> {
        Ok(match self.consume_once("sesame_codes", key, now).await? {
            Some(Ok(data)) => Some(CodeUse::First(Box::new(from_json(&data)?))),
            Some(Err(grant_id)) => Some(CodeUse::Replayed { grant_id }),
            None => None,
        })
    }

    /// On SQLite one write: the code's `UPDATE … WHERE used = 0`, then the
    /// tokens' rows only if it changed one. On PostgreSQL in steps (its
    /// `consume_code` and token inserts are one round trip each either way).
    async fn redeem_code(
        &self,
        key: &str,
        now: UnixTime,
        tokens: &IssuedTokens,
    ) -> StoreResult<bool> {
        #[cfg(feature = "sqlite")]
        if let crate::db::Pool::Sqlite { lite, .. } = &self.pool {
            return redeem_on_sqlite(lite, key, now, tokens).await;
        }
        sesame_op::store::redeem_code_in_steps(self, key, now, tokens).await
    }

    async fn find_code(&self, key: &str, now: UnixTime) -> StoreResult<Option<CodeRecord>> {
        self.one_text(
            "SELECT data FROM sesame_codes WHERE token_key = $1 AND used = 0 AND expires_at > $2 \
             AND grant_id NOT IN (SELECT grant_id FROM sesame_revoked_grants)",
            &[Arg::Text(key), Arg::Int(now)],
        )
        .await?
        .map(|d| from_json(&d))
        .transpose()
    }

    async fn save_access_token(&self, key: &str, token: &AccessTokenRecord) -> StoreResult<()> {
        let data = to_json(token)?;
        let table = "sesame_access_tokens";
        self.insert_grant_row(table, false, key, &token.grant, &data, token.expires_at)
            .await
    }

    async fn find_access_token(
        &self,
        key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        let sql = format!(
            "SELECT data FROM sesame_access_tokens t WHERE token_key = $1 AND expires_at > $2 AND {NOT_REVOKED}"
        );
        self.one_text(&sql, &[Arg::Text(key), Arg::Int(now)])
            .await?
            .map(|d| from_json(&d))
            .transpose()
    }

    async fn revoke_access_token(&self, key: &str) -> StoreResult<bool> {
        Ok(self
            .exec(
                "DELETE FROM sesame_access_tokens WHERE token_key = $1",
                &[Arg::Text(key)],
            )
            .await?
            > 0)
    }

    async fn save_refresh_token(&self, key: &str, token: &RefreshTokenRecord) -> StoreResult<()> {
        let data = to_json(token)?;
        let table = "sesame_refresh_tokens";
        self.insert_grant_row(table, true, key, &token.grant, &data, token.expires_at)
            .await
    }

    async fn use_refresh_token(&self, key: &str, now: UnixTime) -> StoreResult<Option<RefreshUse>> {
        Ok(
            match self.consume_once("sesame_refresh_tokens", key, now).await? {
                Some(Ok(data)) => Some(RefreshUse::First(Box::new(from_json(&data)?))),
                Some(Err(grant_id)) => Some(RefreshUse::Reused { grant_id }),
                None => None,
            },
        )
    }

    async fn find_refresh_token(
        &self,
        key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        let sql = format!(
            "SELECT data FROM sesame_refresh_tokens t WHERE token_key = $1 AND used = 0 AND expires_at > $2 AND {NOT_REVOKED}"
        );
        self.one_text(&sql, &[Arg::Text(key), Arg::Int(now)])
            .await?
            .map(|d| from_json(&d))
            .transpose()
    }

    async fn revoke_grant(&self, grant_id: &str, until: UnixTime) -> StoreResult<()> {
        let g = [Arg::Text(grant_id)];
        // The tombstone first: from this point nothing of the grant is usable.
        self.exec(
            "INSERT INTO sesame_revoked_grants (grant_id, until_at) VALUES ($1, $2) \
             ON CONFLICT (grant_id) DO UPDATE SET until_at = CASE WHEN excluded.until_at > sesame_revoked_grants.until_at \
             THEN excluded.until_at ELSE sesame_revoked_grants.until_at END",
            &[Arg::Text(grant_id), Arg::Int(until)],
        )
        .await?;
        self.exec("DELETE FROM sesame_access_tokens WHERE grant_id = $1", &g)
            .await?;
        self.exec("DELETE FROM sesame_refresh_tokens WHERE grant_id = $1", &g)
            .await?;
        Ok(())
    }

    async fn clients_of_session(&self, sid: &str) -> StoreResult<Vec<ClientId>> {
        Ok(self
            .texts(
                // Every code and token is in sesame_session_clients, kept 30 days
                // past its expiry; a refresh token may predate that table.
                "SELECT client_id FROM sesame_refresh_tokens WHERE sid = $1 \
                 UNION SELECT client_id FROM sesame_session_clients WHERE sid = $1 \
                 ORDER BY 1",
                &[Arg::Text(sid)],
            )
            .await?
            .into_iter()
            .map(ClientId::new)
            .collect())
    }

    async fn remember_jti(&self, key: &str, expires_at: UnixTime) -> StoreResult<bool> {
        let inserted = self
            .exec(
                "INSERT INTO sesame_jtis (token_key, expires_at) VALUES ($1, $2) ON CONFLICT (token_key) DO NOTHING",
                &[Arg::Text(key), Arg::Int(expires_at)],
            )
            .await?;
        Ok(inserted == 1)
    }

    async fn sweep(&self, now: UnixTime) -> StoreResult<u64> {
        let mut removed = 0;
        for (table, column) in [
            ("sesame_codes", "expires_at"),
            ("sesame_access_tokens", "expires_at"),
            ("sesame_refresh_tokens", "expires_at"),
            ("sesame_jtis", "expires_at"),
            ("sesame_interactions", "expires_at"),
            ("sesame_consents", "expires_at"),
            ("sesame_revoked_grants", "until_at"),
            ("sesame_session_clients", "until_at"),
            ("sesame_initial_access_tokens", "expires_at"),
        ] {
            removed += self
                .exec(
                    &format!("DELETE FROM {table} WHERE {column} <= $1"),
                    &[Arg::Int(now)],
                )
                .await?;
        }
        removed += self
            .exec(
                "DELETE FROM sesame_device_authorizations WHERE expires_at <= $1",
                &[Arg::Int(
                    now.saturating_sub(sesame_op::store::DEVICE_RETENTION),
                )],
            )
            .await?;
        Ok(removed)
    }
}

/// [`GrantStore::redeem_code`] on SQLite: one write, all or none.
#[cfg(feature = "sqlite")]
async fn redeem_on_sqlite(
    lite: &crate::lite::Lite,
    key: &str,
    now: UnixTime,
    tokens: &IssuedTokens,
) -> StoreResult<bool> {
    let consume = "UPDATE sesame_codes SET used = 1 WHERE token_key = $1 AND used = 0 \
                   AND expires_at > $2 AND grant_id NOT IN (SELECT grant_id FROM sesame_revoked_grants)";
    let (access_key, access) = &tokens.access;
    let access_data = to_json(access)?;
    let access_sid = sid_of(&access.grant);
    let refresh_data = tokens
        .refresh
        .as_ref()
        .map(|(_, r)| to_json(r))
        .transpose()?;
    let refresh_sid = tokens.refresh.as_ref().and_then(|(_, r)| sid_of(&r.grant));
    let mut rows = vec![GrantRow {
        table: "sesame_access_tokens",
        single_use: false,
        key: access_key,
        grant: &access.grant,
        sid: access_sid.as_deref(),
        data: &access_data,
        expires_at: access.expires_at,
    }];
    if let (Some((refresh_key, refresh)), Some(data)) = (&tokens.refresh, &refresh_data) {
        rows.push(GrantRow {
            table: "sesame_refresh_tokens",
            single_use: true,
            key: refresh_key,
            grant: &refresh.grant,
            sid: refresh_sid.as_deref(),
            data,
            expires_at: refresh.expires_at,
        });
    }
    let inserts: Vec<_> = rows.iter().map(GrantRow::insert).collect();
    let sessions: Vec<_> = rows
        .iter()
        .filter_map(|row| row.sid.map(|sid| row.session_args(sid)))
        .collect();
    let mut then: Vec<(&str, &[Arg<'_>])> = Vec::with_capacity(4);
    then.extend(sessions.iter().map(|a| (SESSION_ROW, a.as_slice())));
    then.extend(inserts.iter().map(|(sql, a)| (sql.as_str(), a.as_slice())));
    lite.exec_guarded((consume, &[Arg::Text(key), Arg::Int(now)]), &then)
        .await
}
