//! The server's passkeys (WebAuthn credentials): each user's WebAuthn user
//! handle and their credentials, public data only (see the migration).
//! The ceremony itself lives in `login/passkey.rs`; this stores its results.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sesame_core::UnixTime;
use sesame_op::store::{StoreError, StoreResult};
use sesame_op_sqlx::{Arg, Cell, Col};

use super::Accounts;

/// A registered passkey, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Passkey {
    /// The credential id (raw bytes).
    pub credential_id: Vec<u8>,
    /// Whose it is.
    pub subject: String,
    /// The name its owner gave it.
    pub name: String,
    /// What registration fixed (the public key among it), encoded by the
    /// WebAuthn library.
    pub static_state: Vec<u8>,
    /// What each use updates (flags, sign counter), encoded by the library.
    pub dynamic_state: Vec<u8>,
    /// When it was registered.
    pub created_at: UnixTime,
    /// When it last signed in, if ever.
    pub last_used_at: Option<UnixTime>,
}

impl Passkey {
    /// The credential id as base64url (how the CLI and pages name it).
    pub fn id_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.credential_id)
    }
}

impl std::fmt::Debug for Passkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkey")
            .field("credential_id", &self.id_text())
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

const PASSKEY_COLS: [Col; 7] = [
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Int,
    Col::Text,
];

const SELECT_PASSKEY: &str = "SELECT credential_id, subject, name, static_state, dynamic_state, created_at, CAST(last_used_at AS TEXT) FROM sesame_passkeys";

fn bytes(cell: Option<Cell>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(cell?.text()?).ok()
}

fn passkey_of(row: Vec<Cell>) -> Option<Passkey> {
    let mut cells = row.into_iter();
    Some(Passkey {
        credential_id: bytes(cells.next())?,
        subject: cells.next()?.text()?,
        name: cells.next()?.text()?,
        static_state: bytes(cells.next())?,
        dynamic_state: bytes(cells.next())?,
        created_at: cells.next()?.int(),
        last_used_at: cells.next()?.text().and_then(|t| t.parse().ok()),
    })
}

impl Accounts {
    /// `subject`'s WebAuthn user handle, made (from `fresh`, 64 random bytes)
    /// and kept on first use.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn webauthn_user_handle(&self, subject: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        let select = "SELECT user_handle FROM sesame_webauthn_users WHERE subject = $1";
        if let Some(found) = self.store.one_text(select, &[Arg::Text(subject)]).await? {
            return URL_SAFE_NO_PAD.decode(found).map_err(StoreError::new);
        }
        self.store.exec(
            "INSERT INTO sesame_webauthn_users (subject, user_handle) VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING",
            &[Arg::Text(subject), Arg::Text(&URL_SAFE_NO_PAD.encode(fresh))],
        )
        .await?;
        // Another request may have made it first: read back whichever won.
        let found = self.store.one_text(select, &[Arg::Text(subject)]).await?;
        let found =
            found.ok_or_else(|| StoreError::new(std::io::Error::other("user handle vanished")))?;
        URL_SAFE_NO_PAD.decode(found).map_err(StoreError::new)
    }

    /// `subject`'s WebAuthn user handle, if they have one.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn find_webauthn_user_handle(&self, subject: &str) -> StoreResult<Option<Vec<u8>>> {
        let found = self
            .store
            .one_text(
                "SELECT user_handle FROM sesame_webauthn_users WHERE subject = $1",
                &[Arg::Text(subject)],
            )
            .await?;
        found
            .map(|h| URL_SAFE_NO_PAD.decode(h).map_err(StoreError::new))
            .transpose()
    }

    /// The subject whose WebAuthn user handle is `handle`.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn subject_of_user_handle(&self, handle: &[u8]) -> StoreResult<Option<String>> {
        self.store
            .one_text(
                "SELECT subject FROM sesame_webauthn_users WHERE user_handle = $1",
                &[Arg::Text(&URL_SAFE_NO_PAD.encode(handle))],
            )
            .await
    }

    /// Stores a newly registered passkey; `false` if its credential id is
    /// already registered (to anyone).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn add_passkey(&self, passkey: &Passkey) -> StoreResult<bool> {
        let n = self
            .store
            .exec(
                "INSERT INTO sesame_passkeys (credential_id, subject, name, static_state, dynamic_state, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, NULL) ON CONFLICT (credential_id) DO NOTHING",
                &[
                    Arg::Text(&passkey.id_text()),
                    Arg::Text(&passkey.subject),
                    Arg::Text(&passkey.name),
                    Arg::Text(&URL_SAFE_NO_PAD.encode(&passkey.static_state)),
                    Arg::Text(&URL_SAFE_NO_PAD.encode(&passkey.dynamic_state)),
                    Arg::Int(passkey.created_at),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// `subject`'s passkeys, oldest first.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn passkeys_of(&self, subject: &str) -> StoreResult<Vec<Passkey>> {
        let sql = format!("{SELECT_PASSKEY} WHERE subject = $1 ORDER BY created_at, credential_id");
        let rows = self
            .store
            .rows(&sql, &[Arg::Text(subject)], &PASSKEY_COLS)
            .await?;
        Ok(rows.into_iter().filter_map(passkey_of).collect())
    }

    /// The passkey whose credential id is `credential_id`.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn find_passkey(&self, credential_id: &[u8]) -> StoreResult<Option<Passkey>> {
        let sql = format!("{SELECT_PASSKEY} WHERE credential_id = $1");
        let id = URL_SAFE_NO_PAD.encode(credential_id);
        let rows = self
            .store
            .rows(&sql, &[Arg::Text(&id)], &PASSKEY_COLS)
            .await?;
        Ok(rows.into_iter().find_map(passkey_of))
    }

    /// Records a use of a passkey: its new dynamic state (when it changed,
    /// as a compare-and-set from `old_state`, the state the use was checked
    /// against) and the time. `false` when another use changed the state
    /// first (two instances checking one counter: only one may move it).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn passkey_used(
        &self,
        credential_id: &[u8],
        old_state: &[u8],
        new_state: Option<&[u8]>,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let id = URL_SAFE_NO_PAD.encode(credential_id);
        let n = match new_state {
            Some(state) => {
                let (new, old) = (
                    URL_SAFE_NO_PAD.encode(state),
                    URL_SAFE_NO_PAD.encode(old_state),
                );
                self.store.exec(
                    "UPDATE sesame_passkeys SET dynamic_state = $2, last_used_at = $3 WHERE credential_id = $1 AND dynamic_state = $4",
                    &[Arg::Text(&id), Arg::Text(&new), Arg::Int(now), Arg::Text(&old)],
                )
                .await?
            }
            None => {
                self.store
                    .exec(
                        "UPDATE sesame_passkeys SET last_used_at = $2 WHERE credential_id = $1",
                        &[Arg::Text(&id), Arg::Int(now)],
                    )
                    .await?
            }
        };
        Ok(n == 1)
    }

    /// Removes one of `subject`'s passkeys; `false` if they have none by
    /// that id.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn remove_passkey(&self, subject: &str, credential_id: &[u8]) -> StoreResult<bool> {
        let n = self
            .store
            .exec(
                "DELETE FROM sesame_passkeys WHERE subject = $1 AND credential_id = $2",
                &[
                    Arg::Text(subject),
                    Arg::Text(&URL_SAFE_NO_PAD.encode(credential_id)),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Removes every passkey and the user handle of `subject` (the user is
    /// being removed).
    ///
    /// # Errors
    /// When the storage fails.
    pub(super) async fn remove_passkeys_of(&self, subject: &str) -> StoreResult<()> {
        self.store
            .exec(
                "DELETE FROM sesame_passkeys WHERE subject = $1",
                &[Arg::Text(subject)],
            )
            .await?;
        self.store
            .exec(
                "DELETE FROM sesame_webauthn_users WHERE subject = $1",
                &[Arg::Text(subject)],
            )
            .await?;
        Ok(())
    }
}
