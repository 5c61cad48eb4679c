//! `token_endpoint_auth_method` (RFC 7591 §2, OIDC Core §9).

wire_enum! {
    /// How a client authenticates at the token, introspection and revocation
    /// endpoints.
    #[derive(Default)]
    pub enum ClientAuthMethod {
        /// HTTP Basic with the client id and secret (the default, RFC 7591 §2).
        #[default]
        ClientSecretBasic = "client_secret_basic",
        /// `client_id` and `client_secret` in the form body.
        ClientSecretPost = "client_secret_post",
        /// A JWT signed with HMAC keyed by the client secret (RFC 7523).
        ClientSecretJwt = "client_secret_jwt",
        /// A JWT signed with the client's private key (RFC 7523).
        PrivateKeyJwt = "private_key_jwt",
        /// A public client: no secret; PKCE is then mandatory.
        None = "none",
    }
}

impl ClientAuthMethod {
    /// Whether the method authenticates with a client secret the provider issued.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            Self::ClientSecretBasic | Self::ClientSecretPost | Self::ClientSecretJwt
        )
    }

    /// Whether the method sends a JWT assertion (RFC 7523).
    pub fn is_assertion(self) -> bool {
        matches!(self, Self::ClientSecretJwt | Self::PrivateKeyJwt)
    }
}
