//! The builder's PAR option (RFC 9126, pushed authorization requests).

use sesame_core::ProviderMetadata;

use super::OidcClientBuilder;
use crate::BuildError;

impl OidcClientBuilder {
    /// Push each authorization request first (RFC 9126): its parameters
    /// (a request object as `request`) are POSTed, with the client's
    /// authentication as at the token endpoint, to the provider's
    /// `pushed_authorization_request_endpoint`, and the browser is sent
    /// with only `client_id` and the `request_uri` it answers. Used anyway
    /// when discovery says `require_pushed_authorization_requests: true`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use sesame_rp::OidcClient;
    /// let oidc = OidcClient::builder("https://op.example".parse()?, "my-client")
    ///     .with_client_secret("secret")
    ///     .with_redirect_uri("https://app.example/callback".parse()?)
    ///     .with_par()
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_par(mut self) -> Self {
        self.par = true;
        self
    }

    /// Whether requests are pushed; an error when PAR is asked for or
    /// required and the provider has no endpoint for it.
    pub(super) fn check_par(&self, metadata: &ProviderMetadata) -> Result<bool, BuildError> {
        let required = metadata.require_pushed_authorization_requests == Some(true);
        if !(self.par || required) {
            return Ok(false);
        }
        match metadata.pushed_authorization_request_endpoint.as_deref().map(url::Url::parse) {
            Some(Ok(_)) => Ok(true),
            _ if required => Err(BuildError::Setting(
                "the provider requires pushed authorization requests but has no valid pushed_authorization_request_endpoint".into(),
            )),
            _ if let Some(profile) = self.profile => Err(BuildError::Setting(format!(
                "{} pushes every authorization request, but the provider has no valid pushed_authorization_request_endpoint",
                super::profile::title(profile)
            ))),
            _ => Err(BuildError::Setting(
                "with_par: the provider has no valid pushed_authorization_request_endpoint".into(),
            )),
        }
    }
}
