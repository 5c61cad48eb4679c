//! Device authorizations (RFC 8628): a compare-and-swap on `revision`.

use async_trait::async_trait;
use sesame_core::UnixTime;
use sesame_op::model::DeviceAuthorization;
use sesame_op::store::{DeviceStore, StoreResult};

use crate::store::{Arg, Cell, Col, SqlStore, from_json, to_json};

/// A revision as the BIGINT column holds it.
fn revision(r: u64) -> i64 {
    i64::try_from(r).unwrap_or(i64::MAX)
}

#[async_trait]
impl DeviceStore for SqlStore {
    async fn save_device_authorization(
        &self,
        key: &str,
        record: &DeviceAuthorization,
        now: UnixTime,
    ) -> StoreResult<bool> {
        // An expired authorization no longer holds its user code.
        self.exec(
            "DELETE FROM sesame_device_authorizations WHERE user_code_key = $1 AND expires_at <= $2",
            &[Arg::Text(&record.user_code_key), Arg::Int(now)],
        )
        .await?;
        let data = to_json(record)?;
        let inserted = self
            .exec(
                "INSERT INTO sesame_device_authorizations (token_key, user_code_key, data, revision, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    Arg::Text(key),
                    Arg::Text(&record.user_code_key),
                    Arg::Text(&data),
                    Arg::Int(revision(record.revision)),
                    Arg::Int(record.expires_at),
                ],
            )
            .await?;
        Ok(inserted == 1)
    }

    async fn find_device_authorization(
        &self,
        key: &str,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        let data = self
            .one_text(
                "SELECT data FROM sesame_device_authorizations WHERE token_key = $1",
                &[Arg::Text(key)],
            )
            .await?;
        data.map(|d| from_json(&d)).transpose()
    }

    async fn find_device_by_user_code(
        &self,
        user_code_key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<(String, DeviceAuthorization)>> {
        let rows = self
            .rows(
                "SELECT token_key, data FROM sesame_device_authorizations \
                 WHERE user_code_key = $1 AND expires_at > $2",
                &[Arg::Text(user_code_key), Arg::Int(now)],
                &[Col::Text, Col::Text],
            )
            .await?;
        let Some(mut row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let (Some(data), Some(key)) = (
            row.pop().and_then(Cell::text),
            row.pop().and_then(Cell::text),
        ) else {
            return Ok(None);
        };
        Ok(Some((key, from_json(&data)?)))
    }

    async fn update_device_authorization(
        &self,
        key: &str,
        record: &DeviceAuthorization,
    ) -> StoreResult<bool> {
        let Some(before) = record.revision.checked_sub(1) else {
            return Ok(false);
        };
        let data = to_json(record)?;
        let updated = self
            .exec(
                "UPDATE sesame_device_authorizations SET data = $1, revision = $2 \
                 WHERE token_key = $3 AND revision = $4",
                &[
                    Arg::Text(&data),
                    Arg::Int(revision(record.revision)),
                    Arg::Text(key),
                    Arg::Int(revision(before)),
                ],
            )
            .await?;
        Ok(updated == 1)
    }
}
