//! The builder's JARM options (JWT Secured Authorization Response Mode).

use sesame_core::{JwsAlgorithm, ProviderMetadata, ResponseMode};

use super::OidcClientBuilder;
use crate::BuildError;
use crate::client::Jarm;

impl OidcClientBuilder {
    /// Ask for a JWT-secured authorization response (JARM): `response_mode=jwt`
    /// (`form_post.jwt` with [`with_form_post`](Self::with_form_post) or a
    /// response type that returns tokens). The callback then accepts only a
    /// `response` JWT signed with a key from the provider's JWKS, under an
    /// algorithm of the ID token allowlist (or the one set with
    /// [`with_authorization_signed_response_alg`](Self::with_authorization_signed_response_alg)),
    /// with `iss` this provider, `aud` this client and an `exp` not past; a
    /// plain response is refused. Its parameters then go through the usual
    /// checks (`state`, `iss`, the code).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use sesame_rp::OidcClient;
    /// let oidc = OidcClient::builder("https://op.example".parse()?, "my-client")
    ///     .with_client_secret("secret")
    ///     .with_redirect_uri("https://app.example/callback".parse()?)
    ///     .with_jarm()
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_jarm(mut self) -> Self {
        self.jarm.get_or_insert_with(Jarm::default);
        self
    }

    /// The registered `authorization_signed_response_alg` (JARM §3): the
    /// only algorithm accepted on response JWTs. Turns JARM on.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use sesame_core::JwsAlgorithm;
    /// use sesame_rp::OidcClient;
    /// let oidc = OidcClient::builder("https://op.example".parse()?, "my-client")
    ///     .with_client_secret("secret")
    ///     .with_redirect_uri("https://app.example/callback".parse()?)
    ///     .with_authorization_signed_response_alg(JwsAlgorithm::ES256)
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_authorization_signed_response_alg(mut self, alg: JwsAlgorithm) -> Self {
        self.jarm.get_or_insert_with(Jarm::default).alg = Some(alg);
        self
    }

    /// JARM's settings, checked against the provider's metadata: the mode
    /// sent is offered, and so is the algorithm when one is set.
    pub(super) fn check_jarm(
        &self,
        metadata: &ProviderMetadata,
        form_post: bool,
    ) -> Result<Option<Jarm>, BuildError> {
        let Some(mut jarm) = self.jarm else {
            return Ok(None);
        };
        if let Some(alg) = jarm.alg
            && (alg.is_symmetric() || alg.as_str() == "none")
        {
            return Err(BuildError::Setting(format!(
                "authorization_signed_response_alg {alg}: JARM responses are checked with the provider's public keys"
            )));
        }
        jarm.mode = if form_post {
            ResponseMode::FormPostJwt
        } else {
            ResponseMode::Jwt
        };
        if let Some(modes) = &metadata.response_modes_supported
            && !modes.iter().any(|m| m == jarm.mode.as_str())
        {
            return Err(BuildError::Setting(format!(
                "the provider does not support response_mode={} (JARM)",
                jarm.mode
            )));
        }
        if let (Some(alg), Some(algs)) = (
            jarm.alg,
            &metadata.authorization_signing_alg_values_supported,
        ) && !algs.iter().any(|a| a == alg.as_str())
        {
            return Err(BuildError::Setting(format!(
                "the provider does not sign authorization responses with {alg}"
            )));
        }
        Ok(Some(jarm))
    }
}
