//! Clients at rest: JSON in `data`, except the `client_secret_jwt` secret,
//! which is sealed with the [`EncryptionKey`] in `client_secret_sealed`
//! (bound to the client id, so a sealed secret cannot be moved to another
//! client).
//!
//! [`EncryptionKey`]: crate::EncryptionKey

use sesame_core::ClientSecret;
use sesame_op::model::Client;
use sesame_op::store::{StoreError, StoreResult};

use crate::store::{Arg, Cell, Col, SqlStore};

fn context(client_id: &str) -> String {
    format!("sesame_clients:{client_id}:client_secret_jwt_key")
}

impl SqlStore {
    /// A client's row: its JSON without the `client_secret_jwt` secret, and
    /// that secret sealed (`None` for every other client).
    pub(crate) fn client_row(&self, client: &Client) -> StoreResult<(String, Option<String>)> {
        let mut public = client.clone();
        let sealed = match public.client_secret_jwt_key.take() {
            Some(secret) => Some(
                self.key
                    .seal(secret.secret(), &context(client.client_id.as_str()))
                    .map_err(StoreError::new)?,
            ),
            None => None,
        };
        let data = serde_json::to_string(&public).map_err(StoreError::new)?;
        Ok((data, sealed))
    }

    /// A client from its row, the sealed secret opened. A secret still in the
    /// JSON (a row not yet re-sealed) is read from there.
    pub(crate) fn client_from_row(&self, data: &str, sealed: Option<&str>) -> StoreResult<Client> {
        let mut client: Client = serde_json::from_str(data)
            .map_err(|e| StoreError::new(format!("corrupt record: {e}")))?;
        if let Some(sealed) = sealed {
            let secret = self
                .key
                .open(sealed, &context(client.client_id.as_str()))
                .map_err(|e| {
                    StoreError::new(format!("client {}: {e}", client.client_id.as_str()))
                })?;
            client.client_secret_jwt_key = Some(ClientSecret::new(secret));
        }
        Ok(client)
    }

    /// A client from the cells of `SELECT data, client_secret_sealed`.
    pub(crate) fn client_from_cells(&self, row: Vec<Cell>) -> StoreResult<Client> {
        let mut cells = row.into_iter().map(Cell::text);
        let data = cells
            .next()
            .flatten()
            .ok_or_else(|| StoreError::new("corrupt record: a client without data"))?;
        let sealed = cells.next().flatten();
        self.client_from_row(&data, sealed.as_deref())
    }

    /// Seals the `client_secret_jwt` secrets that rows written before
    /// migration 20261124000002 hold in clear in their JSON. Idempotent, and
    /// safe with several instances connecting at once. Returns how many rows
    /// were sealed.
    pub(crate) async fn seal_legacy_client_secrets(&self) -> StoreResult<u64> {
        let rows = self
            .rows(
                "SELECT data FROM sesame_clients WHERE client_secret_sealed IS NULL \
                 AND data LIKE '%client_secret_jwt_key%'",
                &[],
                &[Col::Text],
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
