//! Storage traits. The provider holds one `Arc<dyn Store>`.
//!
//! `Ok(None)` means "not found"; `Err` means the storage itself failed (the
//! provider answers `server_error` / 500 and logs the detail). Secrets are
//! never stored: codes and tokens are keyed by [`crate::secrets::token_key`],
//! client secrets by their hash.

use async_trait::async_trait;
use sesame_core::{ClientId, Subject, UnixTime};

use crate::model::{
    AccessTokenRecord, Client, CodeRecord, CodeUse, Consent, DeviceAuthorization, Interaction,
    RefreshTokenRecord, RefreshUse, StoredKey,
};

mod memory;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use memory::MemoryStore;

/// The storage layer failed (connection lost, constraint violated …).
#[derive(Debug, thiserror::Error)]
#[error("storage error: {0}")]
pub struct StoreError(pub String);

impl StoreError {
    /// Wraps any error.
    pub fn new(error: impl std::fmt::Display) -> Self {
        Self(error.to_string())
    }
}

/// How long past a code's or token's expiry [`GrantStore::clients_of_session`]
/// still names its client: longer than a login session lives (30 days).
pub const SESSION_CLIENT_RETENTION: UnixTime = 30 * 86_400;

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Initial access tokens issued while the provider runs (RFC 7591 §3), for
/// [`Registration::Issued`](crate::Registration::Issued): an operator's tool
/// issues them (`sesame clients initial-access-token`), the registration
/// endpoint asks here. Stores keep only [`crate::secrets::token_key`] of each.
#[async_trait]
pub trait InitialAccessTokens: Send + Sync + 'static {
    /// Whether `token` is an issued initial access token that has not expired
    /// at `now`.
    async fn accepts(&self, token: &str, now: UnixTime) -> StoreResult<bool>;
}

/// Registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    /// The client with this id.
    async fn find_client(&self, client_id: &ClientId) -> StoreResult<Option<Client>>;
    /// Inserts or replaces a client.
    async fn save_client(&self, client: &Client) -> StoreResult<()>;
    /// Deletes a client; `false` if there was none.
    async fn delete_client(&self, client_id: &ClientId) -> StoreResult<bool>;
    /// Every client, ordered by id.
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;
}

/// What redeeming a code saves ([`GrantStore::redeem_code`]): the access
/// token and, when one was issued, the refresh token, each under its key
/// ([`crate::secrets::token_key`]).
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// The access token's key and record.
    pub access: (String, AccessTokenRecord),
    /// The refresh token's key and record.
    pub refresh: Option<(String, RefreshTokenRecord)>,
}

/// [`GrantStore::redeem_code`] in two steps: [`GrantStore::consume_code`],
/// then, when it was the first use, the saves.
///
/// # Errors
/// When the storage fails.
pub async fn redeem_code_in_steps<S: GrantStore + ?Sized>(
    store: &S,
    key: &str,
    now: UnixTime,
    tokens: &IssuedTokens,
) -> StoreResult<bool> {
    let Some(CodeUse::First(_)) = store.consume_code(key, now).await? else {
        return Ok(false);
    };
    let (access_key, access) = &tokens.access;
    store.save_access_token(access_key, access).await?;
    if let Some((refresh_key, refresh)) = &tokens.refresh {
        store.save_refresh_token(refresh_key, refresh).await?;
    }
    Ok(true)
}

/// Codes and tokens. Each consuming call must be atomic: two concurrent
/// uses of one code or refresh token must see one `First` and one replay.
#[async_trait]
pub trait GrantStore: Send + Sync + 'static {
    /// Stores a code under `key`.
    async fn save_code(&self, key: &str, code: &CodeRecord) -> StoreResult<()>;
    /// Consumes a code: the first call returns it, later ones report a replay.
    /// An expired code is `None` (and so is one never issued).
    async fn consume_code(&self, key: &str, now: UnixTime) -> StoreResult<Option<CodeUse>>;
    /// A live, unused code, read without consuming it: the token endpoint
    /// checks the request against it first, so that a bad request does not
    /// burn a good code (S26). The default finds nothing, and such a store's
    /// codes are then checked only once consumed.
    async fn find_code(&self, key: &str, now: UnixTime) -> StoreResult<Option<CodeRecord>> {
        let _ = (key, now);
        Ok(None)
    }

    /// Consumes the code `key` and saves the tokens minted from it: `true`
    /// when this call consumed it, and then `tokens` are saved; `false` when
    /// the code was not there to consume (used, expired, revoked, unknown),
    /// and then nothing is saved. The token endpoint calls it after checking
    /// the request against [`GrantStore::find_code`]'s copy, so only a store
    /// with `find_code` receives it. The default consumes, then saves, in two
    /// steps ([`redeem_code_in_steps`]); a store that can should do both in
    /// one atomic write (one round trip fewer, and no code spent without its
    /// tokens), still as atomic as `consume_code` against a concurrent use.
    async fn redeem_code(
        &self,
        key: &str,
        now: UnixTime,
        tokens: &IssuedTokens,
    ) -> StoreResult<bool> {
        redeem_code_in_steps(self, key, now, tokens).await
    }

    /// Stores an access token under `key`.
    async fn save_access_token(&self, key: &str, token: &AccessTokenRecord) -> StoreResult<()>;
    /// A live (unexpired, unrevoked) access token.
    async fn find_access_token(
        &self,
        key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<AccessTokenRecord>>;
    /// Revokes one access token; `false` if there was none.
    async fn revoke_access_token(&self, key: &str) -> StoreResult<bool>;

    /// Stores a refresh token under `key`.
    async fn save_refresh_token(&self, key: &str, token: &RefreshTokenRecord) -> StoreResult<()>;
    /// Uses a refresh token for rotation: the first call returns it and marks
    /// it used; a later call reports reuse.
    async fn use_refresh_token(&self, key: &str, now: UnixTime) -> StoreResult<Option<RefreshUse>>;
    /// A live, unused refresh token (for introspection and revocation).
    async fn find_refresh_token(
        &self,
        key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<RefreshTokenRecord>>;

    /// Revokes every code, access token and refresh token of a grant — also
    /// those saved after this call (a race with the request that issued them):
    /// the revocation is remembered until `until`, which the provider sets past
    /// the longest token lifetime.
    async fn revoke_grant(&self, grant_id: &str, until: UnixTime) -> StoreResult<()>;
    /// The clients that received a code or token in a provider session
    /// (the ones to notify at logout). Saving a code or token with a `sid`
    /// records (sid, client) for [`SESSION_CLIENT_RETENTION`] past its expiry,
    /// so the answer outlives the codes and tokens themselves (S5: a client
    /// whose tokens were swept is still notified).
    async fn clients_of_session(&self, sid: &str) -> StoreResult<Vec<ClientId>>;

    /// Records a JWT `jti` until `expires_at`; `false` if it was already recorded (a replay).
    async fn remember_jti(&self, key: &str, expires_at: UnixTime) -> StoreResult<bool>;

    /// Deletes what expired before `now`; returns how many records went.
    async fn sweep(&self, now: UnixTime) -> StoreResult<u64>;
}

/// Remembered consents.
#[async_trait]
pub trait ConsentStore: Send + Sync + 'static {
    /// The user's live consent to the client.
    async fn find_consent(
        &self,
        subject: &Subject,
        client_id: &ClientId,
        now: UnixTime,
    ) -> StoreResult<Option<Consent>>;
    /// Inserts or replaces a consent.
    async fn save_consent(&self, consent: &Consent) -> StoreResult<()>;
    /// Forgets the user's consent to the client.
    async fn revoke_consent(&self, subject: &Subject, client_id: &ClientId) -> StoreResult<()>;
}

/// Signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Every key, oldest first.
    async fn list_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Inserts or replaces a key (by kid).
    async fn save_key(&self, key: &StoredKey) -> StoreResult<()>;
    /// Deletes a key; `false` if there was none.
    async fn delete_key(&self, kid: &str) -> StoreResult<bool>;
    /// Adds `key` (a new key, usually `Active` or `Next`) unless its algorithm
    /// already has a key in `key.state`; `true` when it was added.
    ///
    /// Must be atomic across every process sharing the store: of several
    /// callers racing for one (algorithm, state), exactly one adds its key, so
    /// instances starting together on an empty database end with one Active
    /// and one Next key per algorithm. The default lists then saves, which is
    /// only right for a store no one else writes to at the same time: shared
    /// backends override it (a lock or a transaction around the two).
    async fn add_key_if_missing(&self, key: &StoredKey) -> StoreResult<bool> {
        let taken = self
            .list_keys()
            .await?
            .iter()
            .any(|k| k.alg == key.alg && k.state == key.state);
        if taken {
            return Ok(false);
        }
        self.save_key(key).await?;
        Ok(true)
    }

    /// Takes the lease `name` for `holder` until `now + ttl` unless another
    /// holder has it and it has not expired; `true` when `holder` has it now
    /// (taking it again while holding it renews it).
    ///
    /// Scheduled key rotation runs under the lease `key-rotation`, so that of
    /// several instances sharing the store one rotates at a time. Must be
    /// atomic across every process sharing the store. The default always
    /// grants it, which is only right for a store no one else writes to:
    /// shared backends override it (one conditional upsert).
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: UnixTime,
        ttl: i64,
    ) -> StoreResult<bool> {
        let _ = (name, holder, now, ttl);
        Ok(true)
    }

    /// Gives up the lease `name` if `holder` has it.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        let _ = (name, holder);
        Ok(())
    }
}

/// Authorization requests waiting on the consent page.
#[async_trait]
pub trait InteractionStore: Send + Sync + 'static {
    /// Stores an interaction under `key`.
    async fn save_interaction(&self, key: &str, interaction: &Interaction) -> StoreResult<()>;
    /// Removes and returns a live interaction (single use).
    async fn take_interaction(&self, key: &str, now: UnixTime) -> StoreResult<Option<Interaction>>;
}

/// How long past its expiry a device authorization is kept, so that a late
/// poll is told `expired_token` rather than `invalid_grant`; then
/// [`GrantStore::sweep`] deletes it.
pub const DEVICE_RETENTION: UnixTime = 3_600;

/// Device authorizations (RFC 8628), keyed by the
/// [`crate::secrets::token_key`] of the device code and found by that of the
/// user code. Updates are compare-and-swap on the record's revision, which
/// makes the device code single use across instances: of two concurrent
/// polls of an approved authorization, one moves it to `Redeemed` and gets
/// the tokens, the other's update fails.
#[async_trait]
pub trait DeviceStore: Send + Sync + 'static {
    /// Stores a new authorization under `key`; `false` (nothing stored) when
    /// a live one (unexpired at `now`) already has its
    /// [`DeviceAuthorization::user_code_key`].
    async fn save_device_authorization(
        &self,
        key: &str,
        record: &DeviceAuthorization,
        now: UnixTime,
    ) -> StoreResult<bool>;
    /// The authorization stored under `key`, expired or not (until swept).
    async fn find_device_authorization(
        &self,
        key: &str,
    ) -> StoreResult<Option<DeviceAuthorization>>;
    /// The live (unexpired at `now`) authorization with this user code key,
    /// and the key it is stored under.
    async fn find_device_by_user_code(
        &self,
        user_code_key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<(String, DeviceAuthorization)>>;
    /// Replaces the authorization under `key` with `record` if the stored
    /// one's revision is `record.revision - 1`; `false` (nothing changed)
    /// otherwise, or when there is none. Atomic across every process sharing
    /// the store.
    async fn update_device_authorization(
        &self,
        key: &str,
        record: &DeviceAuthorization,
    ) -> StoreResult<bool>;
}

/// Everything the provider stores.
pub trait Store:
    ClientStore + GrantStore + ConsentStore + KeyStore + InteractionStore + DeviceStore
{
}

impl<T: ClientStore + GrantStore + ConsentStore + KeyStore + InteractionStore + DeviceStore> Store
    for T
{
}
