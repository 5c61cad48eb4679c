//! The `sid` a client sees (S2): one per (login session, client), so that
//! two clients used in one single-sign-on session cannot link their users
//! by it (pairwise `sub`s would be pointless otherwise).
//!
//! The provider session id ([`crate::EndUser::session_id`]) stays inside the
//! provider: grants and the (sid, client) records keep it, and back-channel
//! logout derives each client's `sid` from it again, so no mapping is stored.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sesame_core::{ClientId, SessionId};

use crate::provider::Provider;

/// `base64url(HMAC-SHA-256(key, len(session) || session || len(client) || client))`,
/// lengths 8 bytes big-endian. The key is the pairwise salt when the provider
/// has one (a secret shared by its instances); without one every subject is
/// public and the key is a fixed label: the session id is random and never
/// leaves the provider, so one client's `sid` still tells nothing of another's.
pub(crate) fn client_sid(salt: Option<&[u8]>, session: &SessionId, client: &ClientId) -> SessionId {
    let key = hmac::Key::new(hmac::HMAC_SHA256, salt.unwrap_or(b"sesame sid"));
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(b"sesame-sid-v1");
    for part in [session.as_str(), client.as_str()] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    SessionId::new(URL_SAFE_NO_PAD.encode(ctx.sign().as_ref()))
}

impl Provider {
    /// The `sid` of provider session `session` as `client` sees it (ID
    /// tokens, logout tokens). Every `sid` that leaves the provider goes through here.
    pub(crate) fn sid_for(&self, client: &ClientId, session: &SessionId) -> SessionId {
        let salt = self.inner.settings.pairwise_salt.as_ref();
        client_sid(salt.map(|s| s.as_bytes()), session, client)
    }
}

/// Whether a verified `id_token_hint` belongs to `user`'s current provider
/// session: its `sid`, if it has one, is the one this session gives its
/// client. A hint from an earlier session of the same user is not enough to
/// sign out without asking.
pub(crate) fn hint_is_of_session(
    p: &Provider,
    hint: Option<&str>,
    client: &crate::model::Client,
    user: &crate::EndUser,
) -> bool {
    let sid = hint
        .and_then(|h| sesame_core::UnverifiedJws::parse(h).ok())
        .and_then(|j| j.insecure_payload().ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("sid").and_then(|s| s.as_str()).map(str::to_owned));
    sid.is_none_or(|sid| p.sid_for(&client.client_id, &user.session_id).as_str() == sid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_and_session_has_its_own_sid() {
        let s = SessionId::new("session-1");
        let a = client_sid(None, &s, &ClientId::new("a"));
        assert_eq!(a, client_sid(None, &s, &ClientId::new("a")), "stable");
        assert_ne!(a, client_sid(None, &s, &ClientId::new("b")), "per client");
        assert_ne!(
            a,
            client_sid(None, &SessionId::new("session-2"), &ClientId::new("a"))
        );
        assert_ne!(
            a,
            client_sid(Some(b"a salt of 16 bytes"), &s, &ClientId::new("a"))
        );
        assert_ne!(a.as_str(), "session-1");
        // Length-prefixed: moving bytes between the two parts changes the sid.
        assert_ne!(
            client_sid(None, &SessionId::new("ab"), &ClientId::new("c")),
            client_sid(None, &SessionId::new("a"), &ClientId::new("bc"))
        );
    }
}
