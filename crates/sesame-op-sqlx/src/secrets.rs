//! Provider-wide secrets in the database, sealed with the [`EncryptionKey`]:
//! one row per secret, created once and then shared by every instance.
//!
//! [`EncryptionKey`]: crate::EncryptionKey

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sesame_op::PairwiseSalt;
use sesame_op::store::{StoreError, StoreResult};

use crate::store::{Arg, SqlStore};

const PAIRWISE_SALT: &str = "pairwise_salt";

impl SqlStore {
    /// The salt of pairwise subject identifiers for this database
    /// (`sesame_op::Settings::pairwise_salt`): 32 random bytes made on first
    /// use, then the same for every instance sharing the database. It is
    /// stored sealed with the encryption key; without that key it cannot be
    /// read, and a new salt would change every pairwise `sub`.
    ///
    /// # Errors
    /// When the storage fails, or the stored salt does not decrypt with this
    /// store's key.
    pub async fn pairwise_salt(&self) -> StoreResult<PairwiseSalt> {
        let fresh = PairwiseSalt::generate().map_err(StoreError::new)?;
        let bytes = self
            .secret(PAIRWISE_SALT, &STANDARD.encode(fresh.as_bytes()))
            .await?;
        let bytes = STANDARD
            .decode(bytes)
            .map_err(|_| StoreError::new("the stored pairwise salt is corrupt"))?;
        Ok(PairwiseSalt::new(bytes))
    }

    /// The secret `name`, storing `candidate` (sealed) if there is none yet.
    /// Two instances racing here both end up with the first one stored.
    async fn secret(&self, name: &str, candidate: &str) -> StoreResult<String> {
        let context = format!("sesame_secrets:{name}");
        let sealed = self
            .key
            .seal(candidate, &context)
            .map_err(StoreError::new)?;
        self.exec(
            "INSERT INTO sesame_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[Arg::Text(name), Arg::Text(&sealed)],
        )
        .await?;
        let stored = self
            .rows(
                "SELECT value FROM sesame_secrets WHERE name = $1",
                &[Arg::Text(name)],
                &[crate::store::Col::Text],
            )
            .await?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(crate::store::Cell::text)
            .ok_or_else(|| StoreError::new(format!("secret {name} vanished")))?;
        self.key
            .open(&stored, &context)
            .map_err(|e| StoreError::new(format!("secret {name}: {e}")))
    }
}
