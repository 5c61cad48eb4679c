//! The builder's security profile switch: the FAPI 2.0 client profile.

use sesame_core::{JwsAlgorithm, SecurityProfile};

use super::{BuildError, OidcClientBuilder, dpop};
use crate::client::{AssertionAudience, ClientAuth, ResponseType};

impl OidcClientBuilder {
    /// Follow a security profile's client rules. With
    /// [`SecurityProfile::Fapi2`] (the FAPI 2.0 Security Profile):
    ///
    /// - every authorization request is pushed (PAR, [`Self::with_par`]):
    ///   `build()` refuses a provider whose metadata has no
    ///   `pushed_authorization_request_endpoint`; PKCE S256 is sent, as always;
    /// - the client authenticates with `private_key_jwt` only: a key given
    ///   with [`Self::with_private_key`], of PS256, ES256 or EdDSA; a client
    ///   secret, another method or another algorithm fails `build()`; the
    ///   assertions name the issuer as their only `aud`;
    /// - tokens are DPoP-bound ([`Self::with_dpop`]; a key for the app unless
    ///   [`Self::with_dpop_key`] or [`Self::with_dpop_per_session`] chose one);
    /// - ID tokens, JARM responses and request objects are accepted or signed
    ///   with PS256, ES256 or EdDSA only (by default all three;
    ///   [`Self::with_algorithms`] may narrow them, naming another fails
    ///   `build()`); no HS256 ID tokens;
    /// - the authorization response must carry `iss` (RFC 9207), whatever
    ///   the provider advertises;
    /// - only `response_type=code`.
    ///
    /// A refresh answer without a refresh token (the profile's providers do
    /// not rotate them) keeps the session's, as for every client.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use sesame_core::{JwsAlgorithm, SecurityProfile, SigningKey};
    /// use sesame_rp::OidcClient;
    /// // The client's key, whose public half the provider has (jwks / jwks_uri).
    /// let key = SigningKey::generate(JwsAlgorithm::ES256)?;
    /// let oidc = OidcClient::builder("https://bank.example".parse()?, "my-client")
    ///     .with_private_key(key)
    ///     .with_redirect_uri("https://app.example/callback".parse()?)
    ///     .with_profile(SecurityProfile::Fapi2)
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_profile(mut self, profile: SecurityProfile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// Turns on what the profile needs and refuses what it forbids; run
    /// first in `build()`, so the usual checks then see the profile's
    /// settings (PAR's endpoint, the JARM mode).
    pub(super) fn apply_profile(&mut self) -> Result<(), BuildError> {
        let Some(profile) = self.profile else {
            return Ok(());
        };
        let allowed = profile.signing_algs();
        let name = title(profile);
        let refuse = |what: &str, alg: JwsAlgorithm| {
            Err(BuildError::Setting(format!(
                "{name} allows {} only, not {alg} ({what})",
                names(allowed)
            )))
        };
        if self.secret.is_some() {
            return Err(BuildError::Setting(format!(
                "{name} authenticates the client with private_key_jwt (with_private_key): remove the client secret"
            )));
        }
        match (self.auth, &self.private_key) {
            (Some(ClientAuth::PrivateKeyJwt), Some(key)) if !allowed.contains(&key.alg()) => {
                return refuse("the with_private_key key", key.alg());
            }
            (Some(ClientAuth::PrivateKeyJwt), Some(_)) => {}
            _ => {
                return Err(BuildError::Setting(format!(
                    "{name} needs private_key_jwt: with_private_key with a {} key",
                    names(allowed)
                )));
            }
        }
        if let Some(key) = &self.request_object.1
            && !allowed.contains(&key.alg())
        {
            return refuse("the request object key", key.alg());
        }
        if self.allow_hs256 {
            return refuse("with_hs256_id_tokens", JwsAlgorithm::HS256);
        }
        match &self.algorithms {
            None => self.algorithms = Some(allowed.to_vec()),
            Some(algs) => {
                if let Some(alg) = algs.iter().find(|a| !allowed.contains(a)) {
                    return refuse("with_algorithms, for ID tokens", *alg);
                }
            }
        }
        if let Some(alg) = self.jarm.and_then(|j| j.alg)
            && !allowed.contains(&alg)
        {
            return refuse("with_authorization_signed_response_alg", alg);
        }
        if self.response_type != ResponseType::Code {
            return Err(BuildError::Setting(format!(
                "{name} allows response_type=code only, not {}",
                self.response_type.as_str()
            )));
        }
        self.par = true;
        self.dpop.get_or_insert(dpop::Mode::Generated);
        self.assertion_audience = AssertionAudience::Issuer;
        Ok(())
    }
}

/// How errors name the profile.
pub(super) fn title(profile: SecurityProfile) -> &'static str {
    match profile {
        SecurityProfile::Fapi2 => "the FAPI 2.0 profile",
        _ => "the security profile",
    }
}

fn names(algs: &[JwsAlgorithm]) -> String {
    algs.iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
