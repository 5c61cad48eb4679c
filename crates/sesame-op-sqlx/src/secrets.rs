//! Provider-wide secrets in the database, sealed with the [`EncryptionKey`]:
//! one row per secret, created once and then shared by every instance.
//!
//! [`EncryptionKey`]: crate::EncryptionKey

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sesame_op::store::{StoreError, StoreResult};
use sesame_op::{DpopNonceKey, PairwiseSalt};

use crate::store::{Arg, Cell, Col, ConnectError, SqlStore};

const PAIRWISE_SALT: &str = "pairwise_salt";
const DPOP_NONCE_KEY: &str = "dpop_nonce_key";
/// A value sealed with the key the database was first opened with.
const KEY_CHECK: &str = "key_check";

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
            .secret_bytes(PAIRWISE_SALT, fresh.as_bytes(), "pairwise salt")
            .await?;
        Ok(PairwiseSalt::new(bytes))
    }

    /// The key DPoP nonces are derived with (`sesame_op::DpopNonce::Required`):
    /// 32 random bytes made on first use, then the same for every instance
    /// sharing the database, so that a nonce one instance gives out is
    /// accepted by all. Sealed with the encryption key like the pairwise salt.
    ///
    /// # Errors
    /// When the storage fails, or the stored key does not decrypt with this
    /// store's key.
    pub async fn dpop_nonce_key(&self) -> StoreResult<DpopNonceKey> {
        let fresh = DpopNonceKey::generate().map_err(StoreError::new)?;
        let bytes = self
            .secret_bytes(DPOP_NONCE_KEY, fresh.as_bytes(), "DPoP nonce key")
            .await?;
        Ok(DpopNonceKey::new(bytes))
    }

    /// Seals `value` under the store's encryption key for `context` (what
    /// it is and whose): for state the server hands to a browser to keep
    /// (the browser can neither read nor change it, nor move it to another
    /// context), and for the columns of crates that keep sealed values in
    /// tables of their own beside the store's.
    ///
    /// # Errors
    /// When the seal fails.
    pub fn seal_value(&self, value: &str, context: &str) -> StoreResult<String> {
        self.key.seal(value, context).map_err(StoreError::new)
    }

    /// Opens what [`SqlStore::seal_value`] sealed for `context`; `None` when
    /// it was changed, sealed for another context or under another key.
    pub fn open_value(&self, sealed: &str, context: &str) -> Option<String> {
        self.key.open(sealed, context).ok()
    }

    /// The bytes of the secret `name` (the `what` of error messages), storing
    /// `fresh` if there is none yet.
    async fn secret_bytes(&self, name: &str, fresh: &[u8], what: &str) -> StoreResult<Vec<u8>> {
        let stored = self.secret(name, &STANDARD.encode(fresh)).await?;
        STANDARD
            .decode(stored)
            .map_err(|_| StoreError::new(format!("the stored {what} is corrupt")))
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
            .stored_secret(name)
            .await?
            .ok_or_else(|| StoreError::new(format!("secret {name} vanished")))?;
        self.key
            .open(&stored, &context)
            .map_err(|e| StoreError::new(format!("secret {name}: {e}")))
    }

    /// The sealed value of the secret `name`, if there is one.
    async fn stored_secret(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(self
            .rows(
                "SELECT value FROM sesame_secrets WHERE name = $1",
                &[Arg::Text(name)],
                &[Col::Text],
            )
            .await?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(Cell::text))
    }

    /// Checks, when the store connects, that its key is the one the
    /// database's secrets were sealed with, so that a wrong key fails at
    /// once and clearly ([`ConnectError::WrongEncryptionKey`]) instead of at
    /// the first token request — and before anything is sealed with it.
    ///
    /// The first connection records a check value sealed with its key. A
    /// database sealed before the check existed is tested on what it already
    /// holds (a signing key, the pairwise salt) before the check is recorded.
    pub(crate) async fn check_encryption_key(&self) -> Result<(), ConnectError> {
        let context = format!("sesame_secrets:{KEY_CHECK}");
        if let Some(stored) = self.stored_secret(KEY_CHECK).await? {
            return self
                .key
                .open(&stored, &context)
                .map(drop)
                .map_err(|_| ConnectError::WrongEncryptionKey);
        }
        let signing = self
            .rows(
                "SELECT kid, private_key FROM sesame_keys ORDER BY kid LIMIT 1",
                &[],
                &[Col::Text, Col::Text],
            )
            .await?
            .into_iter()
            .next()
            .map(|r| r.into_iter().map(Cell::text).collect::<Vec<_>>());
        if let Some([Some(kid), Some(sealed)]) = signing.as_deref() {
            self.key
                .open(sealed, kid)
                .map_err(|_| ConnectError::WrongEncryptionKey)?;
        }
        if let Some(sealed) = self.stored_secret(PAIRWISE_SALT).await? {
            self.key
                .open(&sealed, &format!("sesame_secrets:{PAIRWISE_SALT}"))
                .map_err(|_| ConnectError::WrongEncryptionKey)?;
        }
        // Record the check; if another instance raced us with another key,
        // its check is the one stored, and ours fails to open it.
        let sealed = self
            .key
            .seal("sesame encryption key check", &context)
            .map_err(StoreError::new)?;
        self.exec(
            "INSERT INTO sesame_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[Arg::Text(KEY_CHECK), Arg::Text(&sealed)],
        )
        .await?;
        let stored = self
            .stored_secret(KEY_CHECK)
            .await?
            .ok_or_else(|| StoreError::new("the encryption key check vanished"))?;
        self.key
            .open(&stored, &context)
            .map(drop)
            .map_err(|_| ConnectError::WrongEncryptionKey)
    }
}
