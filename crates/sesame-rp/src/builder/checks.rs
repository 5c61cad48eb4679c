//! The builder's checks at `build()`: the client authentication, the ID
//! token validator, and what the provider's metadata must support.

use super::*;

impl OidcClientBuilder {
    /// The authentication method, and the credentials it needs.
    pub(super) fn auth_method(&self) -> Result<ClientAuth, BuildError> {
        let auth = self.auth.unwrap_or(if self.secret.is_some() {
            ClientAuth::ClientSecretBasic
        } else {
            ClientAuth::None
        });
        if auth.uses_secret() && self.secret.is_none() {
            return Err(BuildError::Credentials(
                "this authentication method needs with_client_secret",
            ));
        }
        if auth == ClientAuth::PrivateKeyJwt && self.private_key.is_none() {
            return Err(BuildError::Credentials(
                "private_key_jwt needs with_private_key",
            ));
        }
        Ok(auth)
    }

    pub(super) fn validator(&self) -> Result<IdTokenValidator, BuildError> {
        let mut validator = IdTokenValidator::new(self.issuer.clone(), self.client_id.clone())
            .with_algorithms(
                self.algorithms
                    .clone()
                    .unwrap_or_else(|| vec![JwsAlgorithm::RS256]),
            )
            .with_trusted_audiences(self.trusted_audiences.clone())
            .with_leeway(self.leeway)
            .map_err(|e| BuildError::Setting(e.to_string()))?;
        if self.allow_hs256 {
            let secret = self.secret.as_ref().ok_or(BuildError::Credentials(
                "HS256 ID tokens need with_client_secret",
            ))?;
            let key = SigningKey::hmac(JwsAlgorithm::HS256, secret.secret().as_bytes())
                .map_err(|e| BuildError::Setting(e.to_string()))?;
            validator = validator.with_hmac_secret(key);
        }
        Ok(validator)
    }

    /// The response type is one the provider offers (and this crate
    /// completes); returns whether `response_mode=form_post` is used.
    pub(super) fn check_response_type(
        &self,
        metadata: &ProviderMetadata,
    ) -> Result<bool, BuildError> {
        if let Some(supported) = &metadata.response_types_supported
            && !supported
                .iter()
                .any(|t| ResponseType::parse(t) == Some(self.response_type))
        {
            return Err(BuildError::Setting(format!(
                "the provider does not support response_type={}",
                self.response_type.as_str()
            )));
        }
        let form_post = self.form_post || self.response_type != ResponseType::Code;
        if form_post
            && let Some(modes) = &metadata.response_modes_supported
            && !modes.iter().any(|m| m == ResponseMode::FormPost.as_str())
        {
            return Err(BuildError::Setting(
                "the provider does not support response_mode=form_post".into(),
            ));
        }
        Ok(form_post)
    }

    /// The endpoints a login needs are there and are URLs: the authorization
    /// endpoint always, the token endpoint when a code is redeemed.
    pub(super) fn check_endpoints(&self, metadata: &ProviderMetadata) -> Result<(), BuildError> {
        let check = |name: &str, value: Option<&str>| match value.map(url::Url::parse) {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(BuildError::Setting(format!(
                "the provider's {name} is not a URL: {e}"
            ))),
            None => Err(BuildError::Setting(format!(
                "the provider's metadata has no {name}"
            ))),
        };
        check(
            "authorization_endpoint",
            metadata.authorization_endpoint.as_deref(),
        )?;
        if self.response_type.has_code() {
            check("token_endpoint", metadata.token_endpoint.as_deref())?;
        }
        Ok(())
    }
}
