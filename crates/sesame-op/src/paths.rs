//! Endpoint paths: the one place the router and the discovery document read them from.

/// Discovery document.
pub const DISCOVERY: &str = sesame_core::WELL_KNOWN_PATH;
/// Authorization endpoint.
pub const AUTHORIZE: &str = "/authorize";
/// Consent form target.
pub const CONSENT: &str = "/consent";
/// Token endpoint.
pub const TOKEN: &str = "/token";
/// Pushed authorization requests (RFC 9126).
pub const PAR: &str = "/par";
/// Device authorization endpoint (RFC 8628 §3.1).
pub const DEVICE_AUTHORIZATION: &str = "/device_authorization";
/// The device flow's verification page (RFC 8628 §3.3): the user types the
/// user code here (form field `user_code`; `?user_code=` pre-fills it).
pub const DEVICE: &str = "/device";
/// The device flow's consent form target.
pub const DEVICE_CONSENT: &str = "/device/consent";
/// UserInfo endpoint.
pub const USERINFO: &str = "/userinfo";
/// JWKS.
pub const JWKS: &str = "/jwks";
/// RP-initiated logout.
pub const END_SESSION: &str = "/end_session";
/// Token introspection (RFC 7662).
pub const INTROSPECT: &str = "/introspect";
/// Token revocation (RFC 7009).
pub const REVOKE: &str = "/revoke";
/// Dynamic client registration (RFC 7591); mounted only when
/// [`crate::Settings::registration`] enables it.
pub const REGISTER: &str = "/register";
/// The client configuration endpoint (RFC 7592), one per registered client.
pub const REGISTER_CLIENT: &str = "/register/{client_id}";
