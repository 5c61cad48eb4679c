//! `grant_type` (RFC 6749 §4, RFC 8628).

wire_enum! {
    /// An OAuth grant type: the `grant_type` of a token request, and the
    /// `grant_types` a client is registered for.
    pub enum GrantType {
        /// `authorization_code` (RFC 6749 §4.1).
        AuthorizationCode = "authorization_code",
        /// `refresh_token` (RFC 6749 §6).
        RefreshToken = "refresh_token",
        /// `client_credentials` (RFC 6749 §4.4).
        ClientCredentials = "client_credentials",
        /// `implicit` (registration only: implicit and hybrid response types).
        Implicit = "implicit",
        /// `password` (RFC 6749 §4.3; off unless the provider enables it).
        Password = "password",
        /// The device authorization grant (RFC 8628 §3.4).
        DeviceCode = "urn:ietf:params:oauth:grant-type:device_code",
    }
}
