//! Consents (with their expiry) and pending consent interactions.

use async_trait::async_trait;
use sesame_core::{ClientId, Subject, UnixTime};
use sesame_op::model::{Consent, Interaction};
use sesame_op::store::{ConsentStore, InteractionStore, StoreResult};

use crate::store::{Arg, SqlStore, from_json, to_json};

#[async_trait]
impl ConsentStore for SqlStore {
    async fn find_consent(
        &self,
        subject: &Subject,
        client_id: &ClientId,
        now: UnixTime,
    ) -> StoreResult<Option<Consent>> {
        self.one_text(
            "SELECT data FROM sesame_consents WHERE subject = $1 AND client_id = $2 AND expires_at > $3",
            &[Arg::Text(subject.as_str()), Arg::Text(client_id.as_str()), Arg::Int(now)],
        )
        .await?
        .map(|d| from_json(&d))
        .transpose()
    }

    async fn save_consent(&self, consent: &Consent) -> StoreResult<()> {
        let data = to_json(consent)?;
        self.exec(
            "INSERT INTO sesame_consents (subject, client_id, data, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (subject, client_id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
            &[
                Arg::Text(consent.subject.as_str()),
                Arg::Text(consent.client_id.as_str()),
                Arg::Text(&data),
                Arg::Int(consent.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn revoke_consent(&self, subject: &Subject, client_id: &ClientId) -> StoreResult<()> {
        self.exec(
            "DELETE FROM sesame_consents WHERE subject = $1 AND client_id = $2",
            &[Arg::Text(subject.as_str()), Arg::Text(client_id.as_str())],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl InteractionStore for SqlStore {
    async fn save_interaction(&self, key: &str, interaction: &Interaction) -> StoreResult<()> {
        let data = to_json(interaction)?;
        self.exec(
            "INSERT INTO sesame_interactions (token_key, data, expires_at) VALUES ($1, $2, $3)",
            &[
                Arg::Text(key),
                Arg::Text(&data),
                Arg::Int(interaction.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn take_interaction(&self, key: &str, now: UnixTime) -> StoreResult<Option<Interaction>> {
        let data = self
            .one_text(
                "DELETE FROM sesame_interactions WHERE token_key = $1 RETURNING data",
                &[Arg::Text(key)],
            )
            .await?;
        let Some(data) = data else { return Ok(None) };
        let i: Interaction = from_json(&data)?;
        Ok((i.expires_at > now).then_some(i))
    }
}
