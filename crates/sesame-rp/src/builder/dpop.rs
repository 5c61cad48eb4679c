//! The builder's DPoP switches (RFC 9449).

use sesame_core::dpop::DpopKey;

use super::{BuildError, OidcClientBuilder};
use crate::dpop::{Dpop, KeyMode};

/// What was asked for.
pub(super) enum Mode {
    /// A key made at `build()` for this client.
    Generated,
    /// The app's key.
    App(DpopKey),
    /// A fresh key per login, kept in the session.
    PerSession,
}

/// The client's DPoP settings from the builder's.
pub(super) fn settings(mode: Option<Mode>) -> Result<Option<Dpop>, BuildError> {
    let mode = match mode {
        None => return Ok(None),
        Some(Mode::Generated) => {
            KeyMode::App(DpopKey::generate().map_err(|e| BuildError::Setting(e.to_string()))?)
        }
        Some(Mode::App(key)) => KeyMode::App(key),
        Some(Mode::PerSession) => KeyMode::PerSession,
    };
    Ok(Some(Dpop::new(mode)))
}

impl OidcClientBuilder {
    /// Sender-constrained tokens with DPoP (RFC 9449): the token requests
    /// (code and refresh) carry a proof, the access token must come back as
    /// `token_type: DPoP`, and UserInfo and [`crate::ApiToken`] calls send it
    /// with `Authorization: DPoP` and a proof bound to it (`ath`). A server
    /// that answers `use_dpop_nonce` is asked once more with its nonce;
    /// the last nonce of each server is remembered.
    ///
    /// The proofs are signed with one ES256 key made at `build()` for this
    /// client: an app of several instances, or one whose sessions outlive a
    /// restart, gives them the same key with [`Self::with_dpop_key`], or
    /// uses [`Self::with_dpop_per_session`].
    ///
    /// A Bearer token from a provider that advertises DPoP
    /// (`dpop_signing_alg_values_supported`) fails the login
    /// ([`crate::LoginError::NotDpop`]); one from a provider that does not is
    /// accepted and used as a Bearer token (logged as a warning).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let oidc = sesame_rp::OidcClient::builder("https://op.example".parse()?, "app")
    ///     .with_client_secret("secret")
    ///     .with_redirect_uri("https://app.example/callback".parse()?)
    ///     .with_dpop()
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_dpop(mut self) -> Self {
        if self.dpop.is_none() {
            self.dpop = Some(Mode::Generated);
        }
        self
    }

    /// DPoP (see [`Self::with_dpop`]) with the app's own key, the same at
    /// every instance (ES256 or EdDSA; from configuration).
    ///
    /// ```
    /// # fn demo(b: sesame_rp::OidcClientBuilder) -> Result<sesame_rp::OidcClientBuilder, Box<dyn std::error::Error>> {
    /// use sesame_core::dpop::DpopKey;
    /// let key = DpopKey::generate()?; // or DpopKey::from_pkcs8_pem(alg, &pem)?
    /// Ok(b.with_dpop_key(key))
    /// # }
    /// ```
    #[must_use]
    pub fn with_dpop_key(mut self, key: DpopKey) -> Self {
        self.dpop = Some(Mode::App(key));
        self
    }

    /// DPoP (see [`Self::with_dpop`]) with a fresh ES256 key for each
    /// login, kept in the session (server-side, with the tokens), so that
    /// refreshes and API calls work after a restart or at another instance
    /// sharing the session store. The private key never reaches `Debug` or
    /// the logs.
    ///
    /// ```
    /// # fn demo(b: sesame_rp::OidcClientBuilder) -> sesame_rp::OidcClientBuilder {
    /// b.with_dpop_per_session()
    /// # }
    /// ```
    #[must_use]
    pub fn with_dpop_per_session(mut self) -> Self {
        self.dpop = Some(Mode::PerSession);
        self
    }
}
