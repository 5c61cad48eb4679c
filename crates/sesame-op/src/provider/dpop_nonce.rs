//! Server-provided DPoP nonces (RFC 9449 §8 and §9), made without shared
//! state.
//!
//! A nonce is the HMAC-SHA-256, under a [`DpopNonceKey`] every instance
//! holds, of the issuer and the number of the current
//! [`DPOP_NONCE_WINDOW`]: any instance computes the same nonce, and checks a
//! proof's nonce by computing it again. The current window's nonce and the
//! previous one are accepted, so a nonce lives one to two windows; a proof
//! with the previous window's nonce is answered with the current one in a
//! `DPoP-Nonce` header, and a proof without an accepted nonce with
//! `use_dpop_nonce` and the current one.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sesame_core::UnixTime;
use subtle::ConstantTimeEq;

use super::{Provider, ProviderBuilder};

/// How long one nonce window lasts, in seconds: a nonce is accepted in its
/// window and the next, so a client that made a request within the last
/// minute or two reuses its nonce, and a proof cannot be made more than two
/// minutes ahead of its use.
pub const DPOP_NONCE_WINDOW: i64 = 60;

/// Whether DPoP proofs must carry a nonce the provider gave out (RFC 9449
/// §8 at the token and PAR endpoints, §9 at userinfo).
///
/// The default is [`DpopNonce::Off`]: the RFC leaves nonces to the server,
/// and a client that does not implement the nonce retry (many do not yet)
/// fails every DPoP request against a provider that requires one, while
/// `iat`, `jti` replay and `ath` already bound what a captured proof is
/// worth. Turn it on when clients' keys may be used to make proofs ahead
/// of time (RFC 9449 §11.2); panva's openid-client, among others, retries
/// with the nonce.
///
/// ```
/// use sesame_op::{DpopNonce, DpopNonceKey};
///
/// // One instance: a fresh key. Several instances: the same stored key for
/// // all of them (sesame-op-sqlx keeps one in the database).
/// let nonces = DpopNonce::Required(DpopNonceKey::generate()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopNonce {
    /// Proofs need no nonce (the default); a nonce they carry is ignored.
    #[default]
    Off,
    /// Every proof must carry a current nonce, derived with this key.
    Required(DpopNonceKey),
}

/// The secret DPoP nonces are derived with: share it between the instances
/// of one provider, keep it secret (with it anyone can make nonces ahead of
/// time). `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct DpopNonceKey(Vec<u8>);

impl fmt::Debug for DpopNonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DpopNonceKey([redacted])")
    }
}

impl DpopNonceKey {
    /// The shortest key [`ProviderBuilder::build`] accepts.
    pub const MIN_LEN: usize = 32;

    /// A key from stored secret bytes (checked for length when the provider is built).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// 32 fresh random bytes.
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn generate() -> Result<Self, sesame_core::random::RandomError> {
        let mut bytes = vec![0u8; 32];
        sesame_core::random::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The key's bytes, for storing it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The nonce of `window` for `issuer`.
    fn nonce(&self, issuer: &str, window: i64) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let message = format!("sesame-dpop-nonce:{issuer}:{window}");
        URL_SAFE_NO_PAD.encode(hmac::sign(&key, message.as_bytes()))
    }
}

/// What a proof's nonce is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NonceCheck {
    /// Accepted; `renew`: a newer nonce to send back (`DPoP-Nonce`).
    Accepted { renew: Option<String> },
    /// Refused (`use_dpop_nonce`): why.
    Refused { why: &'static str },
}

impl Provider {
    /// The nonce a client should put in its next proof, when nonces are required.
    pub(crate) fn dpop_nonce(&self, now: UnixTime) -> Option<String> {
        match &self.inner.settings.dpop_nonce {
            DpopNonce::Off => None,
            DpopNonce::Required(key) => Some(key.nonce(
                self.inner.issuer.as_str(),
                now.div_euclid(DPOP_NONCE_WINDOW),
            )),
        }
    }

    /// Checks the `nonce` a verified proof carries (`None`: it has none).
    pub(crate) fn check_dpop_nonce(&self, nonce: Option<&str>, now: UnixTime) -> NonceCheck {
        let DpopNonce::Required(key) = &self.inner.settings.dpop_nonce else {
            return NonceCheck::Accepted { renew: None };
        };
        let issuer = self.inner.issuer.as_str();
        let window = now.div_euclid(DPOP_NONCE_WINDOW);
        let Some(nonce) = nonce else {
            return NonceCheck::Refused {
                why: "a DPoP proof must carry the nonce the server provides (DPoP-Nonce)",
            };
        };
        let current = key.nonce(issuer, window);
        let same = |a: &str, b: &str| bool::from(a.as_bytes().ct_eq(b.as_bytes()));
        if same(nonce, &current) {
            NonceCheck::Accepted { renew: None }
        } else if same(nonce, &key.nonce(issuer, window - 1)) {
            NonceCheck::Accepted {
                renew: Some(current),
            }
        } else {
            NonceCheck::Refused {
                why: "the DPoP proof's nonce is stale or unknown: use the one in DPoP-Nonce",
            }
        }
    }
}

impl ProviderBuilder {
    /// Whether DPoP proofs must carry a server-provided nonce
    /// ([`Settings::dpop_nonce`](crate::Settings::dpop_nonce); default off).
    ///
    /// ```no_run
    /// # async fn demo(authn: impl sesame_op::Authenticator) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use sesame_op::{DpopNonce, DpopNonceKey, MemoryStore, Provider};
    ///
    /// let provider = Provider::builder("https://op.example".parse()?)
    ///     .with_store(Arc::new(MemoryStore::new()))
    ///     .with_authenticator(authn)
    ///     .with_dpop_nonce(DpopNonce::Required(DpopNonceKey::generate()?))
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_dpop_nonce(mut self, nonce: DpopNonce) -> Self {
        self.settings.dpop_nonce = nonce;
        self
    }
}

/// Whether `nonce` can be built with: its key long enough.
pub(super) fn check_setting(nonce: &DpopNonce) -> Result<(), super::BuildError> {
    match nonce {
        DpopNonce::Required(key) if key.0.len() < DpopNonceKey::MIN_LEN => {
            Err(super::BuildError::Setting(format!(
                "the DPoP nonce key needs at least {} bytes",
                DpopNonceKey::MIN_LEN
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn nonces_depend_on_key_issuer_and_window_and_debug_hides_the_key() {
        let key = DpopNonceKey::new(vec![7u8; 32]);
        let other = DpopNonceKey::new(vec![8u8; 32]);
        let n = key.nonce("https://op.example", 10);
        assert_eq!(n, key.nonce("https://op.example", 10));
        assert_ne!(n, key.nonce("https://op.example", 11));
        assert_ne!(n, key.nonce("https://other.example", 10));
        assert_ne!(n, other.nonce("https://op.example", 10));
        assert_eq!(n.len(), 43);
        assert_eq!(format!("{key:?}"), "DpopNonceKey([redacted])");
        assert!(check_setting(&DpopNonce::Required(DpopNonceKey::new(vec![1u8; 31]))).is_err());
        assert!(check_setting(&DpopNonce::Required(key)).is_ok());
    }
}
