//! Clients at rest: JSON in `data`, except the `client_secret_jwt` secret,
//! which is sealed with the [`EncryptionKey`] in `client_secret_sealed`.
//!
//! The seal is bound to the row's key (S26): its associated data is the
//! `client_id` column, and a row whose JSON names another client is refused,
//! so a sealed secret cannot be moved to another client's row. Seals written
//! before that (no `v2:` prefix) were bound to the id inside the JSON; they
//! still open, since that id must now equal the row's key, and are re-sealed
//! the next time the client is saved.
//!
//! [`EncryptionKey`]: crate::EncryptionKey

use async_trait::async_trait;
use sesame_core::{ClientId, ClientSecret};
use sesame_op::model::Client;
use sesame_op::store::{ClientStore, StoreError, StoreResult};

use crate::store::{Arg, Cell, Col, SqlStore};

/// What marks a seal bound to the row key.
const V2: &str = "v2:";

/// The associated data of a `v2:` seal: the row's key.
fn row_context(row_key: &str) -> String {
    format!("sesame_clients.client_id={row_key}:client_secret_sealed")
}

/// The associated data of a seal from before `v2:` (the id in the JSON).
fn legacy_context(client_id: &str) -> String {
    format!("sesame_clients:{client_id}:client_secret_jwt_key")
}

impl SqlStore {
    /// A client's row: its JSON without the `client_secret_jwt` secret, and
    /// that secret sealed (`None` for every other client).
    pub(crate) fn client_row(&self, client: &Client) -> StoreResult<(String, Option<String>)> {
        let mut public = client.clone();
        let sealed = match public.client_secret_jwt_key.take() {
            Some(secret) => Some(format!(
                "{V2}{}",
                self.key
                    .seal(secret.secret(), &row_context(client.client_id.as_str()))
                    .map_err(StoreError::new)?
            )),
            None => None,
        };
        let data = serde_json::to_string(&public).map_err(StoreError::new)?;
        Ok((data, sealed))
    }

    /// A client from its row (`row_key` is the `client_id` column), the
    /// sealed secret opened. A secret still in the JSON (a row not yet
    /// re-sealed) is read from there.
    pub(crate) fn client_from_row(
        &self,
        row_key: &str,
        data: &str,
        sealed: Option<&str>,
    ) -> StoreResult<Client> {
        let mut client: Client = serde_json::from_str(data)
            .map_err(|e| StoreError::new(format!("corrupt record: {e}")))?;
        if client.client_id.as_str() != row_key {
            return Err(StoreError::new(format!(
                "corrupt record: the row of client {row_key} holds client {}",
                client.client_id.as_str()
            )));
        }
        if let Some(sealed) = sealed {
            let opened = match sealed.strip_prefix(V2) {
                Some(v2) => self.key.open(v2, &row_context(row_key)),
                None => self.key.open(sealed, &legacy_context(row_key)),
            };
            let secret = opened.map_err(|e| StoreError::new(format!("client {row_key}: {e}")))?;
            client.client_secret_jwt_key = Some(ClientSecret::new(secret));
        }
        Ok(client)
    }

    /// A client from the cells of `SELECT client_id, data, client_secret_sealed`.
    pub(crate) fn client_from_cells(&self, row: Vec<Cell>) -> StoreResult<Client> {
        let mut cells = row.into_iter().map(Cell::text);
        let (Some(Some(row_key)), Some(Some(data))) = (cells.next(), cells.next()) else {
            return Err(StoreError::new("corrupt record: a client without data"));
        };
        let sealed = cells.next().flatten();
        self.client_from_row(&row_key, &data, sealed.as_deref())
    }

    /// Seals the `client_secret_jwt` secrets that rows written before
    /// migration 20261124000002 hold in clear in their JSON. Idempotent, and
    /// safe with several instances connecting at once. Returns how many rows
    /// were sealed.
    pub(crate) async fn seal_legacy_client_secrets(&self) -> StoreResult<u64> {
        let rows = self
            .rows(
                "SELECT client_id, data FROM sesame_clients WHERE client_secret_sealed IS NULL \
                 AND data LIKE '%client_secret_jwt_key%'",
                &[],
                &[Col::Text, Col::Text],
            )
            .await?;
        let mut sealed_rows = 0;
        for row in rows {
            let client = self.client_from_cells(row)?;
            if client.client_secret_jwt_key.is_none() {
                continue;
            }
            let (data, sealed) = self.client_row(&client)?;
            sealed_rows += self
                .exec(
                    "UPDATE sesame_clients SET data = $1, client_secret_sealed = $2 \
                     WHERE client_id = $3 AND client_secret_sealed IS NULL",
                    &[
                        Arg::Text(&data),
                        Arg::OptText(sealed.as_deref()),
                        Arg::Text(client.client_id.as_str()),
                    ],
                )
                .await?;
        }
        if sealed_rows > 0 {
            tracing::info!(
                clients = sealed_rows,
                "sealed client_secret_jwt secrets stored in clear by an older version"
            );
        }
        Ok(sealed_rows)
    }
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn find_client(&self, client_id: &ClientId) -> StoreResult<Option<Client>> {
        if let Some(client) = self.clients.get(client_id.as_str()) {
            return Ok(Some(client));
        }
        let seen = self.clients.generation();
        let client: Option<Client> = self
            .rows(
                "SELECT client_id, data, client_secret_sealed FROM sesame_clients WHERE client_id = $1",
                &[Arg::Text(client_id.as_str())],
                &[Col::Text, Col::Text, Col::Text],
            )
            .await?
            .into_iter()
            .next()
            .map(|row| self.client_from_cells(row))
            .transpose()?;
        if let Some(c) = &client {
            self.clients
                .put(client_id.as_str().to_owned(), c.clone(), seen);
        }
        Ok(client)
    }

    async fn save_client(&self, client: &Client) -> StoreResult<()> {
        self.clients.forget(client.client_id.as_str());
        let (data, sealed) = self.client_row(client)?;
        self.exec(
            "INSERT INTO sesame_clients (client_id, data, created_at, client_secret_sealed) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (client_id) DO UPDATE SET data = excluded.data, \
             client_secret_sealed = excluded.client_secret_sealed",
            &[
                Arg::Text(client.client_id.as_str()),
                Arg::Text(&data),
                Arg::Int(client.created_at),
                Arg::OptText(sealed.as_deref()),
            ],
        )
        .await?;
        // Again after the write: a read in between may have cached the old row.
        self.clients.forget(client.client_id.as_str());
        Ok(())
    }

    async fn delete_client(&self, client_id: &ClientId) -> StoreResult<bool> {
        self.clients.forget(client_id.as_str());
        let deleted = self
            .exec(
                "DELETE FROM sesame_clients WHERE client_id = $1",
                &[Arg::Text(client_id.as_str())],
            )
            .await?
            > 0;
        self.clients.forget(client_id.as_str());
        Ok(deleted)
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.rows(
            "SELECT client_id, data, client_secret_sealed FROM sesame_clients ORDER BY client_id",
            &[],
            &[Col::Text, Col::Text, Col::Text],
        )
        .await?
        .into_iter()
        .map(|row| self.client_from_cells(row))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sesame_core::ClientId;
    use sesame_op::model::AuthMethod;

    use super::*;
    use crate::EncryptionKey;

    fn jwt_client(id: &str) -> Client {
        let mut c = Client::new(ClientId::new(id), Vec::new(), 1);
        c.token_endpoint_auth_method = AuthMethod::ClientSecretJwt;
        c.client_secret_jwt_key = Some(ClientSecret::new("shared-hmac-secret"));
        c
    }

    /// S26: new seals are bound to the row key; a row whose JSON names
    /// another client is refused; seals from before still open.
    #[tokio::test]
    async fn seals_are_bound_to_the_row_key_and_old_seals_still_open() {
        let key = EncryptionKey::generate().unwrap();
        let store = SqlStore::connect("sqlite::memory:", key.clone())
            .await
            .unwrap();
        let client = jwt_client("a");
        let (data, sealed) = store.client_row(&client).unwrap();
        let sealed = sealed.unwrap();
        assert!(sealed.starts_with("v2:aes256gcm:"), "{sealed}");
        assert!(!data.contains("shared-hmac-secret"));
        assert_eq!(
            store.client_from_row("a", &data, Some(&sealed)).unwrap(),
            client
        );
        // The row of client b holding a's JSON and seal: refused, not a's secret.
        let e = store
            .client_from_row("b", &data, Some(&sealed))
            .unwrap_err();
        assert!(e.to_string().contains("corrupt record"), "{e}");
        // b's own JSON with a's seal: the seal does not open under b's key.
        let (b_data, _) = store.client_row(&jwt_client("b")).unwrap();
        let e = store
            .client_from_row("b", &b_data, Some(&sealed))
            .unwrap_err();
        assert!(e.to_string().contains("could not be decrypted"), "{e}");

        // A seal written before v2 (bound to the id in the JSON) still opens.
        let old = key
            .seal("shared-hmac-secret", &legacy_context("a"))
            .unwrap();
        assert_eq!(
            store.client_from_row("a", &data, Some(&old)).unwrap(),
            client
        );
        assert!(
            store
                .client_from_row("a", &data, Some(&format!("{V2}{old}")))
                .is_err()
        );
    }
}
