//! Requests waiting for the user — consent, sign-out confirmation, and the
//! login the provider asked the host app for — kept in the store, never in
//! the browser's parameters (REVIEW S1/M2).
//!
//! The browser carries only a random handle. Which kind of interaction it
//! is, and since when the user must have authenticated (`auth_after`), are
//! read back from the store: an inbound `sesame_auth_after` or `sesame_kind`
//! means nothing and is dropped.

use sesame_core::{Subject, UnixTime, random};
use subtle::ConstantTimeEq;

use super::{FlowError, Params};
use crate::model::{Interaction, InteractionKind};
use crate::provider::Provider;
use crate::secrets::token_key;

/// The parameter that brings the login handle back to the authorization
/// endpoint (the value is a random handle, meaningless without the store).
pub(crate) const LOGIN_HANDLE: &str = "sesame_login";

/// Names that are the provider's own and never part of a protocol request.
const INTERNAL: [&str; 3] = [LOGIN_HANDLE, "sesame_auth_after", "sesame_kind"];

/// A new interaction: its handle and its CSRF token.
pub(crate) struct Started {
    pub(crate) handle: String,
    pub(crate) csrf: String,
}

/// Stores an interaction and returns the handle the browser carries.
pub(crate) async fn start(
    p: &Provider,
    kind: InteractionKind,
    params: Vec<(String, String)>,
    subject: Subject,
    auth_after: Option<UnixTime>,
    now: UnixTime,
) -> Result<Started, FlowError> {
    let handle = random::token()?;
    let csrf = random::token()?;
    let record = Interaction {
        kind,
        params,
        subject,
        auth_after,
        csrf: csrf.clone(),
        expires_at: now + p.inner.settings.interaction_ttl,
    };
    p.inner
        .store
        .save_interaction(&token_key(&handle), &record)
        .await?;
    Ok(Started { handle, csrf })
}

/// Why a confirmation form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Unknown, expired or already answered.
    Expired,
    /// The form's CSRF token is not the interaction's.
    BadCsrf,
    /// An interaction of another kind (a consent handle on the sign-out form).
    WrongKind,
}

/// Takes (single use) the interaction behind a submitted form's handle and
/// checks its kind and CSRF token.
pub(crate) async fn redeem(
    p: &Provider,
    handle: &str,
    csrf: &str,
    kind: InteractionKind,
    now: UnixTime,
) -> Result<Result<Interaction, Refused>, FlowError> {
    let Some(i) = p
        .inner
        .store
        .take_interaction(&token_key(handle), now)
        .await?
    else {
        return Ok(Err(Refused::Expired));
    };
    if !bool::from(i.csrf.as_bytes().ct_eq(csrf.as_bytes())) {
        return Ok(Err(Refused::BadCsrf));
    }
    if i.kind != kind {
        return Ok(Err(Refused::WrongKind));
    }
    Ok(Ok(i))
}

/// An authorization request as it reaches the endpoint: the provider's own
/// names removed, and the `auth_after` of the login it comes back from —
/// only if the handle is one this provider stored for exactly these
/// parameters (single use).
pub(crate) async fn resume_authorize(
    p: &Provider,
    params: &Params,
    now: UnixTime,
) -> Result<(Params, Option<UnixTime>), FlowError> {
    let handle = params.get(LOGIN_HANDLE).map(str::to_owned);
    let clean = Params(
        params
            .0
            .iter()
            .filter(|(k, _)| !INTERNAL.contains(&k.as_str()))
            .cloned()
            .collect(),
    );
    let Some(handle) = handle else {
        return Ok((clean, None));
    };
    let auth_after = match p
        .inner
        .store
        .take_interaction(&token_key(&handle), now)
        .await?
    {
        Some(i) if i.kind == InteractionKind::Login && i.params == clean.0 => i.auth_after,
        _ => None,
    };
    Ok((clean, auth_after))
}
