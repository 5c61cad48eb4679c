//! The device authorization grant (RFC 8628).
//!
//! A device that cannot show a browser posts to
//! [`crate::paths::DEVICE_AUTHORIZATION`] (authenticated as at the token
//! endpoint, public clients with their `client_id`) and gets a `device_code`
//! to poll the token endpoint with and a `user_code` for the user to type at
//! [`crate::paths::DEVICE`]. The user signs in there and allows or denies;
//! the device's next poll gets the tokens or `access_denied`.
//!
//! The device code is a 256-bit random value, stored only as its
//! [`token_key`]. The user code is [`USER_CODE_LEN`] letters from
//! [`USER_CODE_ALPHABET`] (20^8 ≈ 2^34.6 codes), shown as `XXXX-XXXX`, read
//! case- and dash-insensitively, and stored as the `token_key` of its
//! normalised form; guessing is bounded by the code's lifetime
//! ([`DEVICE_TTL`]) and by the verification page's per-address limit.

use serde_json::{Map, Value, json};
use sesame_core::{ErrorCode, UnixTime, random};

use super::{FlowError, Params, err};
use crate::model::{Client, DeviceAuthorization, DeviceState, Grant, GrantType};
use crate::provider::Provider;
use crate::secrets::token_key;

/// How long a device code lives: 10 minutes.
pub(crate) const DEVICE_TTL: UnixTime = 600;
/// The least interval between polls we ask for (RFC 8628 §3.2 default).
pub(crate) const DEVICE_INTERVAL: i64 = 5;
/// What each `slow_down` adds to the interval (RFC 8628 §3.5).
pub(crate) const SLOW_DOWN_STEP: i64 = 5;
/// The letters of user codes: consonants only (no vowels, so no words; no
/// letters that read as digits), RFC 8628 §6.1's example.
pub(crate) const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code.
pub(crate) const USER_CODE_LEN: usize = 8;

/// A fresh user code, `XXXX-XXXX`.
fn new_user_code() -> Result<String, FlowError> {
    let mut out = String::with_capacity(USER_CODE_LEN + 1);
    let mut buf = [0u8; 32];
    while out.len() < USER_CODE_LEN + 1 {
        random::fill(&mut buf)?;
        // 240 = 12 × 20: bytes past it are dropped, so every letter is equally likely.
        for b in buf.iter().filter(|b| **b < 240) {
            if out.len() == USER_CODE_LEN / 2 {
                out.push('-');
            }
            if out.len() == USER_CODE_LEN + 1 {
                break;
            }
            out.push(char::from(USER_CODE_ALPHABET[usize::from(*b % 20)]));
        }
    }
    Ok(out)
}

/// The user code as typed, normalised (upper case, dashes and spaces
/// dropped), if it can be one of ours.
pub(crate) fn normalise_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// The store key of a typed user code (`None` if it cannot be one).
pub(crate) fn user_code_key(typed: &str) -> Option<String> {
    normalise_user_code(typed).map(|c| token_key(&format!("user_code:{c}")))
}

/// The device authorization endpoint (RFC 8628 §3.1–3.2) for an
/// authenticated `client`: the JSON answer.
pub(crate) async fn authorize_device(
    p: &Provider,
    client: &Client,
    form: &Params,
    now: UnixTime,
) -> Result<Map<String, Value>, FlowError> {
    if let Some(name) = form.duplicate() {
        return Err(err(
            ErrorCode::InvalidRequest,
            &format!("{name} was given more than once"),
        ));
    }
    if !client.allows_grant(GrantType::DeviceCode) {
        return Err(err(
            ErrorCode::UnauthorizedClient,
            "the client may not use the device authorization grant",
        ));
    }
    // Unknown scopes are ignored, as at the authorization endpoint;
    // offline_access only for clients that may refresh.
    let scopes = super::grant::requested_scopes(p, client, form)?;
    let device_code = random::token()?;
    // A clash with a live user code is unlikely (2^34.6 codes); try again a few times.
    for _ in 0..4 {
        let user_code = new_user_code()?;
        let Some(user_code_key) = user_code_key(&user_code) else {
            return Err(FlowError::Internal(
                "a generated user code is malformed".into(),
            ));
        };
        let record = DeviceAuthorization {
            client_id: client.client_id.clone(),
            scopes: scopes.clone(),
            user_code_key,
            user_code: user_code.clone(),
            expires_at: now + DEVICE_TTL,
            interval: DEVICE_INTERVAL,
            last_poll: None,
            state: DeviceState::Pending,
            revision: 0,
        };
        if p.inner
            .store
            .save_device_authorization(&token_key(&device_code), &record, now)
            .await?
        {
            let uri = p.inner.issuer.join(crate::paths::DEVICE);
            let complete = format!(
                "{uri}?{}",
                serde_urlencoded::to_string([("user_code", &user_code)]).unwrap_or_default()
            );
            let mut out = Map::new();
            out.insert("device_code".into(), json!(device_code));
            out.insert("user_code".into(), json!(user_code));
            out.insert("verification_uri".into(), json!(uri));
            out.insert("verification_uri_complete".into(), json!(complete));
            out.insert("expires_in".into(), json!(DEVICE_TTL));
            out.insert("interval".into(), json!(DEVICE_INTERVAL));
            return Ok(out);
        }
    }
    Err(FlowError::Internal(
        "no free user code after four tries".into(),
    ))
}

/// A pending authorization found by the user code typed at the
/// verification page, with its client.
pub(crate) struct Pending {
    pub(crate) key: String,
    pub(crate) record: DeviceAuthorization,
    pub(crate) client: Client,
}

/// The pending, live authorization whose user code was typed.
pub(crate) async fn find_pending(
    p: &Provider,
    typed: &str,
    now: UnixTime,
) -> Result<Option<Pending>, FlowError> {
    let Some(code_key) = user_code_key(typed) else {
        return Ok(None);
    };
    find_pending_by(p, &code_key, now).await
}

async fn find_pending_by(
    p: &Provider,
    code_key: &str,
    now: UnixTime,
) -> Result<Option<Pending>, FlowError> {
    let Some((key, record)) = p
        .inner
        .store
        .find_device_by_user_code(code_key, now)
        .await?
    else {
        return Ok(None);
    };
    if record.state != DeviceState::Pending {
        return Ok(None);
    }
    let Some(client) = p.inner.store.find_client(&record.client_id).await? else {
        return Ok(None);
    };
    Ok(Some(Pending {
        key,
        record,
        client,
    }))
}

/// The pending authorization stored under `key` (the consent form names
/// it through its interaction).
pub(crate) async fn pending_at(
    p: &Provider,
    key: &str,
    now: UnixTime,
) -> Result<Option<Pending>, FlowError> {
    let Some(record) = p.inner.store.find_device_authorization(key).await? else {
        return Ok(None);
    };
    if record.expires_at <= now {
        return Ok(None);
    }
    find_pending_by(p, &record.user_code_key, now)
        .await
        .map(|found| found.filter(|f| f.key == key))
}

/// Records the user's answer: `Some(grant)` allows, `None` denies. `false`
/// when the authorization was answered or changed meanwhile.
pub(crate) async fn answer(
    p: &Provider,
    pending: &Pending,
    grant: Option<Grant>,
) -> Result<bool, FlowError> {
    let next = DeviceAuthorization {
        state: grant.map_or(DeviceState::Denied, |g| DeviceState::Approved(Box::new(g))),
        revision: pending.record.revision.saturating_add(1),
        ..pending.record.clone()
    };
    Ok(p.inner
        .store
        .update_device_authorization(&pending.key, &next)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_typeable_and_read_loosely() {
        for _ in 0..200 {
            let code = new_user_code().unwrap();
            assert_eq!(code.len(), 9, "{code}");
            assert_eq!(&code[4..5], "-");
            let bare = normalise_user_code(&code).unwrap();
            assert_eq!(bare, code.replace('-', ""));
            assert_eq!(
                user_code_key(&code.to_lowercase().replace('-', " ")),
                user_code_key(&code)
            );
        }
        assert_eq!(
            normalise_user_code("bcdf-ghjk").as_deref(),
            Some("BCDFGHJK")
        );
        // Vowels, digits, and the wrong length are never codes.
        assert_eq!(normalise_user_code("ABCD-FGHJ"), None);
        assert_eq!(normalise_user_code("BCDF-GHJ1"), None);
        assert_eq!(normalise_user_code("BCDF-GHJ"), None);
        assert_eq!(normalise_user_code("BCDF-GHJKL"), None);
    }
}
