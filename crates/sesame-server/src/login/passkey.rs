//! Passkeys (WebAuthn Level 3, through `webauthn_rp`): the relying party
//! of the server's own origin, its ceremonies, and what a verified passkey
//! says about a sign-in (RFC 8176 `amr`).
//!
//! Policy: user verification is required for every passkey (they sign in
//! without a password); the sign counter must grow when the authenticator
//! keeps one (a clone is refused); the backup flags are stored at each use.
//! The server half of a ceremony travels sealed in a cookie bound to what it
//! is for (sign-in, or registration by one user), and its challenge is
//! spent once in the provider's JWT-id table: a captured assertion with its
//! cookie does not sign in twice, and nothing an outsider starts is stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sesame_op::store::GrantStore as _;
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::{
    AllowedCredential, AllowedCredentials, AuthenticationVerificationOptions,
    DiscoverableCredentialRequestOptions, NonDiscoverableCredentialRequestOptions,
};
use webauthn_rp::request::register::{
    CredProtect, PublicKeyCredentialCreationOptions, PublicKeyCredentialUserEntity,
    RegistrationVerificationOptions, UserHandle64,
};
use webauthn_rp::request::{
    AsciiDomain, Credentials as _, ExtensionInfo, PublicKeyCredentialDescriptor, RpId,
    TimedCeremony as _,
};
use webauthn_rp::response::auth::error::AuthCeremonyErr;
use webauthn_rp::response::auth::ser_relaxed::{
    DiscoverableAuthenticationRelaxed64, NonDiscoverableAuthenticationRelaxed64,
};
use webauthn_rp::response::register::ser_relaxed::RegistrationRelaxed;
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::response::{AuthTransports, Backup, CredentialId, SentChallenge};
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthentication64, DiscoverableAuthenticationServerState,
    NonDiscoverableAuthentication64, NonDiscoverableAuthenticationServerState, Registration,
    RegistrationServerState,
};

use crate::accounts::{Accounts, Passkey};

/// The cookie of a sign-in ceremony (path `/login`).
pub(crate) const AUTH_COOKIE: &str = "sesame_passkey";
/// The cookie of a registration ceremony (path `/account`).
pub(crate) const REG_COOKIE: &str = "sesame_passkey_reg";
/// How long a ceremony lasts (the options' own timeout is five minutes).
pub(crate) const CEREMONY_SECONDS: i64 = 300;
/// The longest name a passkey may be given.
const NAME_MAX: usize = 64;

/// Why a ceremony failed. The `Display` text is for logs; the person sees a
/// plain sentence chosen by the page.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PasskeyError {
    /// The ceremony cookie is missing, expired, changed or for something else.
    #[error("no live ceremony")]
    NoCeremony,
    /// The browser's response does not parse.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// No passkey has this credential id.
    #[error("unknown credential")]
    UnknownCredential,
    /// The credential is registered already.
    #[error("credential already registered")]
    Duplicate,
    /// The ceremony's checks refused it (origin, RP id, challenge, user,
    /// signature, flags, counter, ...).
    #[error("refused: {0}")]
    Refused(String),
    /// This challenge was already used.
    #[error("challenge replayed")]
    Replayed,
    /// Storage or sealing failed.
    #[error("storage: {0}")]
    Store(#[from] sesame_op::store::StoreError),
}

/// The relying party: this server's host as RP ID, its origin as the only
/// origin accepted.
#[derive(Debug, Clone)]
pub(crate) struct Relying {
    rp_id: RpId,
    origin: String,
}

impl Relying {
    /// The relying party of `issuer`; `None` when its host is an IP
    /// address (WebAuthn has no RP ID for those: passkeys are then off).
    pub(crate) fn of(issuer: &str) -> Option<Self> {
        let url = url::Url::parse(issuer).ok()?;
        let url::Host::Domain(host) = url.host()? else {
            return None;
        };
        let rp_id = RpId::Domain(AsciiDomain::try_from(host.to_owned()).ok()?);
        Some(Self {
            rp_id,
            origin: url.origin().ascii_serialization(),
        })
    }

    /// Starts a passwordless sign-in: the options for the browser (JSON)
    /// and the sealed server half for the cookie.
    pub(crate) fn start_sign_in(
        &self,
        accounts: &Accounts,
    ) -> Result<(String, String), PasskeyError> {
        let (server, client) = DiscoverableCredentialRequestOptions::passkey(&self.rp_id)
            .start_ceremony()
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        package(
            accounts,
            serde_json::to_string(&client),
            server.encode(),
            SIGN_IN,
        )
    }

    /// Finishes a passwordless sign-in with the browser's `credential`
    /// (`PublicKeyCredential.toJSON()`) and the ceremony cookie: the passkey
    /// that signed, its use recorded.
    pub(crate) async fn finish_sign_in(
        &self,
        accounts: &Accounts,
        sealed: Option<&str>,
        credential: &str,
        now: i64,
    ) -> Result<Passkey, PasskeyError> {
        let state = unseal(accounts, sealed, SIGN_IN)?;
        let server = DiscoverableAuthenticationServerState::decode(state.as_slice())
            .map_err(|_| PasskeyError::NoCeremony)?;
        let response: DiscoverableAuthentication64 =
            parse::<DiscoverableAuthenticationRelaxed64>(credential)?.0;
        let stored = Stored::load(accounts, response.raw_id().into_inner()).await?;
        let challenge = server.sent_challenge();
        let verified =
            self.verified(&stored, |rp, cred, o| server.verify(rp, &response, cred, o))?;
        stored
            .spend_and_record(accounts, challenge, verified, now)
            .await
    }

    /// Checks an assertion of `stored` with `verify` (the ceremony's own
    /// check: challenge, origin (this one only), RP ID, user handle, flags,
    /// signature, counter; user verification recorded): its new dynamic
    /// state and whether that changed.
    fn verified(
        &self,
        stored: &Stored,
        verify: impl FnOnce(
            &RpId,
            &mut AuthenticatedCredential<'_, '_, 64, StoredKey>,
            &AuthenticationVerificationOptions<'_, '_, &str, &str>,
        ) -> Result<bool, AuthCeremonyErr>,
    ) -> Result<(DynamicState, bool), PasskeyError> {
        let mut cred = stored.credential()?;
        let origins = [self.origin.as_str()];
        let options = AuthenticationVerificationOptions {
            allowed_origins: &origins,
            update_uv: true,
            ..Default::default()
        };
        let changed = verify(&self.rp_id, &mut cred, &options)
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        Ok((cred.dynamic_state(), changed))
    }

    /// Starts a passkey as the second step of `subject`'s sign-in (their
    /// password was right; `pending` names that pending login): options
    /// listing only their passkeys, sealed for that pending login.
    pub(crate) async fn start_second_factor(
        &self,
        accounts: &Accounts,
        subject: &str,
        pending: &str,
    ) -> Result<(String, String), PasskeyError> {
        let mut allowed = AllowedCredentials::new();
        for p in accounts.passkeys_of(subject).await? {
            let Ok(id) = CredentialId::<&[u8]>::decode(p.credential_id.as_slice()) else {
                continue;
            };
            let Ok(transports) = AuthTransports::decode(0) else {
                continue;
            };
            allowed.push(AllowedCredential::from(PublicKeyCredentialDescriptor {
                id: CredentialId::<Vec<u8>>::from(id),
                transports,
            }));
        }
        let request = NonDiscoverableCredentialRequestOptions::second_factor(&self.rp_id, allowed)
            .map_err(|_| PasskeyError::UnknownCredential)?;
        let (server, client) = request
            .start_ceremony()
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let context = second_context(pending);
        package(
            accounts,
            serde_json::to_string(&client),
            server.encode(),
            &context,
        )
    }

    /// Finishes a passkey second step: the passkey, which must be
    /// `subject`'s.
    pub(crate) async fn finish_second_factor(
        &self,
        accounts: &Accounts,
        subject: &str,
        pending: &str,
        sealed: Option<&str>,
        credential: &str,
        now: i64,
    ) -> Result<Passkey, PasskeyError> {
        let state = unseal(accounts, sealed, &second_context(pending))?;
        let server = NonDiscoverableAuthenticationServerState::decode(state.as_slice())
            .map_err(|_| PasskeyError::NoCeremony)?;
        let response: NonDiscoverableAuthentication64 =
            parse::<NonDiscoverableAuthenticationRelaxed64>(credential)?.0;
        let stored = Stored::load(accounts, response.raw_id().into_inner()).await?;
        if stored.passkey.subject != subject {
            return Err(PasskeyError::UnknownCredential);
        }
        let challenge = server.sent_challenge();
        let verified =
            self.verified(&stored, |rp, cred, o| server.verify(rp, &response, cred, o))?;
        stored
            .spend_and_record(accounts, challenge, verified, now)
            .await
    }

    /// Starts registering a passkey for `subject` (`username` is what the
    /// authenticator shows): the options for the browser (JSON) and the
    /// sealed server half, bound to `subject`.
    pub(crate) async fn start_registration(
        &self,
        accounts: &Accounts,
        subject: &str,
        username: &str,
    ) -> Result<(String, String), PasskeyError> {
        let fresh = UserHandle64::new();
        let handle = accounts
            .webauthn_user_handle(subject, fresh.as_ref())
            .await?;
        let handle = <[u8; 64]>::try_from(handle.as_slice())
            .map_err(|_| PasskeyError::Refused("stored user handle is not 64 bytes".into()))?;
        let handle =
            UserHandle64::decode(handle).map_err(|e| PasskeyError::Refused(format!("{e:?}")))?;
        let exclude = accounts
            .passkeys_of(subject)
            .await?
            .into_iter()
            .filter_map(|p| {
                let id = CredentialId::<&[u8]>::decode(p.credential_id.as_slice()).ok()?;
                Some(PublicKeyCredentialDescriptor {
                    id: CredentialId::<Vec<u8>>::from(id),
                    // No transports are kept: the browser tries them all.
                    transports: AuthTransports::decode(0).ok()?,
                })
            })
            .collect();
        // The authenticator shows the username; one that the WebAuthn
        // username profile refuses is shown as "user".
        let name = match username.try_into() {
            Ok(name) => name,
            Err(_) => "user"
                .try_into()
                .map_err(|e| PasskeyError::Refused(format!("{e:?}")))?,
        };
        let user = PublicKeyCredentialUserEntity {
            name,
            id: &handle,
            display_name: None,
        };
        let mut options = PublicKeyCredentialCreationOptions::passkey(&self.rp_id, user, exclude);
        // credProtect is asked for but not enforced: authenticators without
        // the extension (many platform ones) would refuse the registration,
        // and every assertion requires user verification anyway.
        options.extensions.cred_protect =
            CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue);
        let (server, client) = options
            .start_ceremony()
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let context = reg_context(subject);
        package(
            accounts,
            serde_json::to_string(&client),
            server.encode(),
            &context,
        )
    }

    /// Finishes registering a passkey for `subject` named `name`.
    pub(crate) async fn finish_registration(
        &self,
        accounts: &Accounts,
        subject: &str,
        sealed: Option<&str>,
        credential: &str,
        name: &str,
        now: i64,
    ) -> Result<Passkey, PasskeyError> {
        let state = unseal(accounts, sealed, &reg_context(subject))?;
        let server = RegistrationServerState::<64>::decode(state.as_slice())
            .map_err(|_| PasskeyError::NoCeremony)?;
        let registration: Registration = parse::<RegistrationRelaxed>(credential)?.0;
        let challenge = server.sent_challenge();
        let origins = [self.origin.as_str()];
        let options = RegistrationVerificationOptions::<&str, &str> {
            allowed_origins: &origins,
            ..Default::default()
        };
        let registered = server
            .verify(&self.rp_id, &registration, &options)
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        spend(accounts, &challenge_key(challenge), now + CEREMONY_SECONDS).await?;
        let (id, _, _, static_state, dynamic_state, _) = registered.into_parts();
        let static_state = static_state
            .encode()
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let dynamic_state = dynamic_state
            .encode()
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let passkey = Passkey {
            credential_id: id.into_inner().to_vec(),
            subject: subject.to_owned(),
            name: clean_name(name),
            static_state,
            dynamic_state: dynamic_state.to_vec(),
            created_at: now,
            last_used_at: None,
        };
        if !accounts.add_passkey(&passkey).await? {
            return Err(PasskeyError::Duplicate);
        }
        Ok(passkey)
    }
}

/// The public key type of a stored passkey (Ed25519, P-256, P-384, RSA).
type StoredKey = CompressedPubKey<[u8; 32], [u8; 32], [u8; 48], Vec<u8>>;

/// A registered passkey as the checks need it: its row and decoded state.
struct Stored {
    passkey: Passkey,
    handle: UserHandle64,
    static_state: StaticState<StoredKey>,
    dynamic_state: DynamicState,
}

impl Stored {
    /// The passkey `raw_id` and its owner's user handle.
    async fn load(accounts: &Accounts, raw_id: &[u8]) -> Result<Self, PasskeyError> {
        let passkey = accounts
            .find_passkey(raw_id)
            .await?
            .ok_or(PasskeyError::UnknownCredential)?;
        let handle = accounts
            .find_webauthn_user_handle(&passkey.subject)
            .await?
            .and_then(|h| <[u8; 64]>::try_from(h.as_slice()).ok())
            .ok_or(PasskeyError::UnknownCredential)?;
        let handle = UserHandle64::decode(handle).map_err(|_| PasskeyError::UnknownCredential)?;
        let static_state = StaticState::decode(passkey.static_state.as_slice())
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let dynamic: [u8; 7] = passkey
            .dynamic_state
            .as_slice()
            .try_into()
            .map_err(|_| PasskeyError::UnknownCredential)?;
        let dynamic_state =
            DynamicState::decode(dynamic).map_err(|e| PasskeyError::Refused(e.to_string()))?;
        Ok(Self {
            passkey,
            handle,
            static_state,
            dynamic_state,
        })
    }

    /// The credential the library checks an assertion against.
    fn credential(&self) -> Result<AuthenticatedCredential<'_, '_, 64, StoredKey>, PasskeyError> {
        let id = CredentialId::<&[u8]>::decode(self.passkey.credential_id.as_slice())
            .map_err(|_| PasskeyError::UnknownCredential)?;
        AuthenticatedCredential::new(
            id,
            &self.handle,
            self.static_state.clone(),
            self.dynamic_state,
        )
        .map_err(|e| PasskeyError::Refused(e.to_string()))
    }

    /// After a verified assertion: spends the ceremony's `challenge` once
    /// and records the use (the new dynamic state when it changed, the time).
    async fn spend_and_record(
        self,
        accounts: &Accounts,
        challenge: SentChallenge,
        (dynamic_state, changed): (DynamicState, bool),
        now: i64,
    ) -> Result<Passkey, PasskeyError> {
        spend(accounts, &challenge_key(challenge), now + CEREMONY_SECONDS).await?;
        let new_state = dynamic_state
            .encode()
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let mut passkey = self.passkey;
        let recorded = accounts
            .passkey_used(
                &passkey.credential_id,
                &passkey.dynamic_state,
                changed.then_some(new_state.as_slice()),
                now,
            )
            .await?;
        if !recorded {
            // Another use of this passkey moved its counter meanwhile.
            return Err(PasskeyError::Replayed);
        }
        passkey.dynamic_state = new_state.to_vec();
        passkey.last_used_at = Some(now);
        Ok(passkey)
    }
}

/// The sealing context of passwordless sign-in ceremonies.
const SIGN_IN: &str = "passkey:sign-in";

/// The options for the browser (JSON) and the server half of a started
/// ceremony (its encoding) sealed for `context`.
fn package<E: std::fmt::Display>(
    accounts: &Accounts,
    options: Result<String, serde_json::Error>,
    state: Result<Vec<u8>, E>,
    context: &str,
) -> Result<(String, String), PasskeyError> {
    let options = options.map_err(|e| PasskeyError::Malformed(e.to_string()))?;
    let state = state.map_err(|e| PasskeyError::Refused(e.to_string()))?;
    let sealed = accounts
        .store()
        .seal_value(&URL_SAFE_NO_PAD.encode(state), context)?;
    Ok((options, sealed))
}

/// The server half of a ceremony from its cookie, sealed for `context`.
fn unseal(
    accounts: &Accounts,
    sealed: Option<&str>,
    context: &str,
) -> Result<Vec<u8>, PasskeyError> {
    sealed
        .and_then(|s| accounts.store().open_value(s, context))
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .ok_or(PasskeyError::NoCeremony)
}

/// The browser's response (`PublicKeyCredential.toJSON()`).
fn parse<'a, T: serde::Deserialize<'a>>(credential: &'a str) -> Result<T, PasskeyError> {
    serde_json::from_str(credential).map_err(|e| PasskeyError::Malformed(e.to_string()))
}

/// The sealing context of the second-step ceremony of one pending login.
fn second_context(pending: &str) -> String {
    format!("passkey:second-factor:{pending}")
}

/// The sealing context of `subject`'s registration ceremony: a cookie made
/// for one user does not open for another.
fn reg_context(subject: &str) -> String {
    format!("passkey:register:{subject}")
}

fn challenge_key(challenge: SentChallenge) -> String {
    format!("passkey-challenge:{:032x}", challenge.0)
}

/// Spends a ceremony's challenge once, across instances.
async fn spend(accounts: &Accounts, key: &str, expires_at: i64) -> Result<(), PasskeyError> {
    if accounts.store().remember_jti(key, expires_at).await? {
        Ok(())
    } else {
        Err(PasskeyError::Replayed)
    }
}

/// A passkey's name: trimmed, control characters dropped, at most
/// [`NAME_MAX`] characters, "Passkey" when empty.
fn clean_name(name: &str) -> String {
    let name: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(NAME_MAX)
        .collect();
    if name.is_empty() {
        "Passkey".to_owned()
    } else {
        name
    }
}

/// The RFC 8176 `amr` of a passwordless sign-in with `passkey`: `hwk` for
/// a device-bound key, `swk` for one that may be copied between devices
/// (backup eligible: a synced passkey), with `user` (verification was
/// required) and `mfa` (possession and the device's own verification).
pub(crate) fn amr_of(passkey: &Passkey) -> [&'static str; 3] {
    let synced = <[u8; 7]>::try_from(passkey.dynamic_state.as_slice())
        .ok()
        .and_then(|d| DynamicState::decode(d).ok())
        .is_some_and(|d| !matches!(d.backup, Backup::NotEligible));
    [if synced { "swk" } else { "hwk" }, "user", "mfa"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_issuer_has_no_relying_party() {
        assert!(Relying::of("http://127.0.0.1:8080").is_none());
        let rp = Relying::of("http://localhost:8080/op").expect("a domain");
        assert_eq!(rp.origin, "http://localhost:8080");
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("  "), "Passkey");
        assert_eq!(clean_name("a\u{0}b"), "ab");
        assert_eq!(clean_name(&"x".repeat(100)).len(), NAME_MAX);
    }
}
