//! Signing keys, sealed under the [`crate::EncryptionKey`] bound to each `kid`.

use async_trait::async_trait;
use sesame_core::{JwsAlgorithm, UnixTime};
use sesame_op::model::{KeyState, StoredKey};
use sesame_op::store::{KeyStore, StoreError, StoreResult};

#[cfg(feature = "postgres")]
use crate::store::bind;
use crate::store::{Arg, Cell, Col, Pool, SqlStore, db};

/// The PostgreSQL advisory lock held while a missing key is created ("SESAMEKY").
#[cfg(feature = "postgres")]
const KEY_CREATION_LOCK: i64 = 0x5345_5341_4d45_4b59;

/// Inserts a key unless its algorithm already has one in its state.
const INSERT_IF_MISSING: &str = "INSERT INTO sesame_keys (kid, alg, state, private_key, created_at, state_changed_at) \
     SELECT $1, $2, $3, $4, $5, $6 \
     WHERE NOT EXISTS (SELECT 1 FROM sesame_keys WHERE alg = $2 AND state = $3)";

/// A key's row: `kid`, `alg`, `state`, the sealed private key, and the times.
fn key_args<'a>(key: &'a StoredKey, sealed: &'a str) -> [Arg<'a>; 6] {
    [
        Arg::Text(&key.kid),
        Arg::Text(key.alg.as_str()),
        Arg::Text(key.state.as_str()),
        Arg::Text(sealed),
        Arg::Int(key.created_at),
        Arg::Int(key.state_changed_at),
    ]
}

fn parse_state(s: &str) -> StoreResult<KeyState> {
    Ok(match s {
        "next" => KeyState::Next,
        "active" => KeyState::Active,
        "retired" => KeyState::Retired,
        other => return Err(StoreError::new(format!("unknown key state {other:?}"))),
    })
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn list_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let rows = self
            .rows(
                "SELECT kid, alg, state, private_key, created_at, state_changed_at FROM sesame_keys ORDER BY created_at, kid",
                &[],
                &[Col::Text, Col::Text, Col::Text, Col::Text, Col::Int, Col::Int],
            )
            .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for r in rows {
            let text = |i: usize| r.get(i).cloned().and_then(Cell::text).unwrap_or_default();
            let kid = text(0);
            let alg = JwsAlgorithm::parse(&text(1))
                .ok_or_else(|| StoreError::new("unknown key algorithm"))?;
            let private_pem = self.key.open(&text(3), &kid).map_err(db)?;
            keys.push(StoredKey {
                alg,
                state: parse_state(&text(2))?,
                private_pem,
                created_at: r.get(4).map(Cell::int).unwrap_or_default(),
                state_changed_at: r.get(5).map(Cell::int).unwrap_or_default(),
                kid,
            });
        }
        Ok(keys)
    }

    async fn save_key(&self, key: &StoredKey) -> StoreResult<()> {
        let sealed = self.key.seal(&key.private_pem, &key.kid).map_err(db)?;
        self.exec(
            "INSERT INTO sesame_keys (kid, alg, state, private_key, created_at, state_changed_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (kid) DO UPDATE SET state = excluded.state, state_changed_at = excluded.state_changed_at",
            &key_args(key, &sealed),
        )
        .await?;
        Ok(())
    }

    async fn add_key_if_missing(&self, key: &StoredKey) -> StoreResult<bool> {
        let sealed = self.key.seal(&key.private_pem, &key.kid).map_err(db)?;
        let args = key_args(key, &sealed);
        let added: u64 = match self.pool {
            // Under a transaction-scoped advisory lock: READ COMMITTED alone would
            // let two racing `NOT EXISTS` checks both pass.
            #[cfg(feature = "postgres")]
            Pool::Postgres(ref p) => {
                let mut tx = p.begin().await.map_err(db)?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(KEY_CREATION_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                let n = bind(sqlx::query(INSERT_IF_MISSING), &args)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?
                    .rows_affected();
                tx.commit().await.map_err(db)?;
                n
            }
            // Every write on SQLite runs in the writer's BEGIN IMMEDIATE
            // transaction, which holds the database's write lock from before
            // the check: another process on the same file waits for the commit.
            #[cfg(feature = "sqlite")]
            Pool::Sqlite { .. } => self.exec(INSERT_IF_MISSING, &args).await?,
        };
        Ok(added > 0)
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: UnixTime,
        ttl: i64,
    ) -> StoreResult<bool> {
        // One statement, atomic on both backends: the row is written only when
        // it is new, ours, or expired (PostgreSQL re-checks the WHERE against
        // the row a racing transaction committed).
        let taken = self
            .exec(
                "INSERT INTO sesame_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE sesame_leases.holder = excluded.holder OR sesame_leases.expires_at <= $4",
                &[
                    Arg::Text(name),
                    Arg::Text(holder),
                    Arg::Int(now.saturating_add(ttl)),
                    Arg::Int(now),
                ],
            )
            .await?;
        Ok(taken > 0)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.exec(
            "DELETE FROM sesame_leases WHERE name = $1 AND holder = $2",
            &[Arg::Text(name), Arg::Text(holder)],
        )
        .await?;
        Ok(())
    }

    async fn delete_key(&self, kid: &str) -> StoreResult<bool> {
        Ok(self
            .exec("DELETE FROM sesame_keys WHERE kid = $1", &[Arg::Text(kid)])
            .await?
            > 0)
    }
}
