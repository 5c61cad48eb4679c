#![doc = include_str!("../README.md")]

mod api;
mod auth;
mod bearer;
mod builder;
mod claims_source;
mod client;
mod device;
mod dpop;
mod end_session;
mod external;
mod extract;
mod flow;
mod frontchannel;
mod gate;
mod jwks;
mod layer;
#[cfg(feature = "axum-login")]
mod login_backend;
mod logout;
mod metrics;
mod next;
pub mod outbound;
mod page;
mod providers;
mod provision;
mod refresh;
mod register;
mod request_object;
mod routes;
mod seen_jti;
mod session;
pub mod testing;
mod token_endpoint;
mod userinfo;
mod validate;
pub mod webfinger;

pub use api::{ApiToken, ApiTokenError};
pub use bearer::{BearerAuth, BearerClaims, BearerError, BearerService};
pub use builder::{BuildError, OidcClientBuilder};
pub use client::{AssertionAudience, ClientAuth, OidcClient, ResponseType, RoutePaths};
pub use device::{DeviceAuthorization, DeviceError, DevicePoll, DeviceTokens};
pub use end_session::LogoutReturn;
pub use external::{
    CLAIM_SOURCE_TIMEOUT, ClaimsSource, EXTERNAL_CLAIMS_DEADLINE, ExternalClaims, ExternalKind,
    ExternalRefusal, MAX_CLAIM_NAMES, MAX_CLAIM_SOURCES, MAX_DISTRIBUTED_FETCHES,
    MAX_DISTRIBUTED_RESPONSE, RefusedClaims,
};
pub use extract::{AccessToken, Claims, IdToken, NotSignedIn};
pub use flow::{JarmError, LoginError, SignedUserInfoError};
pub use layer::{RequireLogin, RequireLoginService};
#[cfg(feature = "axum-login")]
pub use login_backend::{
    BackendError, LoginTokens, OidcCredentials, SesameBackend, SesameUser, UserKey,
};
pub use logout::{LogoutRegistry, MAX_KNOWN_SIDS, MemoryLogoutRegistry};
pub use next::is_safe_next;
/// The outbound HTTP module under its former name.
#[doc(hidden)]
pub use outbound as http;
pub use outbound::default_client as default_http_client;
pub use providers::{OidcProviders, OidcProvidersBuilder};
pub use provision::{LoginClaims, Users, UsersError};
pub use refresh::{LeaseError, RefreshLease, SessionRefresh, SessionRefreshService};
pub use register::{ClientRegistration, RegistrationError, RegistrationRequest};
pub use request_object::RequestObject;
pub use seen_jti::{MAX_SEEN_JTIS, MemorySeenJti, SeenJti, SeenJtiError};
pub use session::csrf_token;
pub use webfinger::{WebFinger, WebFingerError};

/// How long a session lives without a request (hours), in [`session_layer`]
/// and [`session_layer_with`]; change it with `.with_expiry(..)` on the layer.
pub const SESSION_IDLE_HOURS: i64 = 8;

/// A session layer with the settings a relying party needs: an in-memory
/// store, cookie `sesame_rp`, `HttpOnly`, `SameSite=Lax` (Strict would drop
/// the session on the way back from the provider), `Secure` when `secure`,
/// ended after [`SESSION_IDLE_HOURS`] without a request.
/// Use [`session_layer_with`] and a shared store for several instances.
pub fn session_layer(
    secure: bool,
) -> tower_sessions::SessionManagerLayer<tower_sessions::MemoryStore> {
    session_layer_with(tower_sessions::MemoryStore::default(), secure)
}

/// [`session_layer`]'s settings on `store`: a store the app's instances
/// share (sesame-rp-store: SQLite, PostgreSQL, Redis), so a login at one
/// instance holds at the others and survives restarts.
///
/// ```no_run
/// # async fn demo(store: impl tower_sessions::SessionStore + Clone) {
/// let layer = sesame_rp::session_layer_with(store, true).with_expiry(
///     tower_sessions::Expiry::OnInactivity(tower_sessions::cookie::time::Duration::hours(1)),
/// );
/// # }
/// ```
pub fn session_layer_with<S: tower_sessions::SessionStore + Clone>(
    store: S,
    secure: bool,
) -> tower_sessions::SessionManagerLayer<S> {
    tower_sessions::SessionManagerLayer::new(store)
        .with_name("sesame_rp")
        .with_http_only(true)
        .with_same_site(tower_sessions::cookie::SameSite::Lax)
        .with_secure(secure)
        .with_expiry(tower_sessions::Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::hours(SESSION_IDLE_HOURS),
        ))
}
