//! The device authorization grant's record (RFC 8628).

use serde::{Deserialize, Serialize};
use sesame_core::{ClientId, Scopes, UnixTime};

use super::Grant;

/// A device authorization (RFC 8628 §3.2), stored under the
/// [`crate::secrets::token_key`] of its `device_code` and findable by the
/// `token_key` of its normalised `user_code` ([`DeviceAuthorization::user_code_key`]).
///
/// Updates are compare-and-swap on [`DeviceAuthorization::revision`]
/// ([`crate::store::DeviceStore::update_device_authorization`]), so of two
/// instances polling or answering at once exactly one wins.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceAuthorization {
    /// The client that asked.
    pub client_id: ClientId,
    /// The scopes it asked for.
    pub scopes: Scopes,
    /// The `token_key` of the normalised user code (8 letters, no dash).
    pub user_code_key: String,
    /// The user code as shown to the user (`XXXX-XXXX`): the consent page
    /// repeats it so the user can check it matches the device. Short-lived
    /// and useless without a login, so it is kept (the device code is not).
    pub user_code: String,
    /// When the device code expires.
    pub expires_at: UnixTime,
    /// The least number of seconds between two polls; grows by 5 at each
    /// `slow_down` (RFC 8628 §3.5).
    pub interval: i64,
    /// When the device last polled.
    #[serde(default)]
    pub last_poll: Option<UnixTime>,
    /// Where the user's answer stands.
    pub state: DeviceState,
    /// Incremented by every update; a store replaces a record only over the
    /// revision before it.
    #[serde(default)]
    pub revision: u64,
}

/// No user code in `Debug` output.
impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .field("last_poll", &self.last_poll)
            .field("state", &self.state)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

/// The user's answer to a [`DeviceAuthorization`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeviceState {
    /// Not answered yet: polls get `authorization_pending`.
    Pending,
    /// Allowed: the next poll gets tokens for this grant.
    Approved(Box<Grant>),
    /// Denied: polls get `access_denied`.
    Denied,
    /// Tokens were issued; a later poll is a replay, and revokes the grant.
    Redeemed {
        /// The grant the tokens belong to.
        grant_id: String,
    },
}
