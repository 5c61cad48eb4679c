//! `OidcClient`: one relying-party registration at one provider.

use std::fmt;
use std::sync::{Arc, RwLock};

use sesame_core::{
    ClientId, ClientSecret, Clock, IdTokenValidator, Issuer, JwsAlgorithm, ProviderMetadata,
    RedirectUri, Scopes, SigningKey, UnixTime,
};

use crate::jwks::JwksCache;
use crate::logout::LogoutRegistry;
use crate::provision::Users;

/// How the client authenticates at the provider's token endpoint: sesame-core's
/// [`ClientAuthMethod`](sesame_core::ClientAuthMethod), under its old name here.
pub use sesame_core::ClientAuthMethod as ClientAuth;

/// The `response_type` of the authorization request (sesame-core's
/// [`ResponseType`](sesame_core::ResponseType)).
///
/// The authorization code flow ([`ResponseType::Code`]) is the default and the
/// one to use. The others return an ID token (and, for `… token`, an access
/// token) through the browser; they are opt-ins for providers or setups that
/// need them, and always use `response_mode=form_post` so that the tokens
/// reach the server in a POST body rather than a URL. The front-channel ID
/// token must carry the login's `nonce`, `c_hash` when a code comes with it
/// and `at_hash` when an access token does; the code is then redeemed with
/// PKCE as in the code flow. With `code token` (no front-channel ID token to
/// bind the access token to) the front channel's access token is not used:
/// the code is redeemed and the token endpoint's tokens are kept.
pub use sesame_core::ResponseType;

/// Route paths the router mounts (relative to where it is nested).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RoutePaths {
    /// Starts a login. Default `/login`.
    pub login: String,
    /// The redirect URI's path. Default `/callback`.
    pub callback: String,
    /// POST to log out. Default `/logout`.
    pub logout: String,
    /// Back-channel logout endpoint. Default `/backchannel-logout`.
    pub backchannel_logout: String,
    /// Front-channel logout URI's path (GET, framed by the provider). Default `/frontchannel-logout`.
    pub frontchannel_logout: String,
    /// Where to land after logout when the provider has no end-session endpoint. Default `/`.
    pub after_logout: String,
    /// Where to redirect (303) after a failed login, with `?error=CODE`
    /// (see `OidcClientBuilder::with_login_failed_redirect`). Default: none, a
    /// failure page of its own (4xx for a bad or forged response, with links to
    /// `login` and `after_logout`).
    pub login_failed: Option<String>,
}

impl Default for RoutePaths {
    fn default() -> Self {
        Self {
            login: "/login".into(),
            callback: "/callback".into(),
            logout: "/logout".into(),
            backchannel_logout: "/backchannel-logout".into(),
            frontchannel_logout: "/frontchannel-logout".into(),
            after_logout: "/".into(),
            login_failed: None,
        }
    }
}

/// What a `private_key_jwt` or `client_secret_jwt` assertion names as its
/// `aud`. Providers differ: OIDC Core §9 says the token endpoint URL (what
/// most providers expect, and the default); draft-ietf-oauth-rfc7523bis says
/// the issuer only (what sesame-op accepts by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The URL of the endpoint called (the token endpoint, introspection …).
    #[default]
    Endpoint,
    /// The provider's issuer identifier.
    Issuer,
}

pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) issuer: Issuer,
    pub(crate) client_id: ClientId,
    pub(crate) secret: Option<ClientSecret>,
    pub(crate) auth: ClientAuth,
    pub(crate) private_key: Option<Arc<SigningKey>>,
    pub(crate) assertion_audience: AssertionAudience,
    pub(crate) metadata: RwLock<(Arc<ProviderMetadata>, UnixTime)>,
    pub(crate) metadata_ttl: Option<i64>,
    pub(crate) http: reqwest::Client,
    pub(crate) jwks: JwksCache,
    pub(crate) validator: IdTokenValidator,
    /// The algorithms this client's ID tokens have been signed with (a subset
    /// of the validator's allowlist): logout tokens are pinned to them.
    pub(crate) id_token_algs: RwLock<Vec<JwsAlgorithm>>,
    pub(crate) redirect_uri: RedirectUri,
    pub(crate) post_logout_redirect_uri: Option<String>,
    pub(crate) scopes: Scopes,
    pub(crate) auth_params: Vec<(String, String)>,
    pub(crate) response_type: ResponseType,
    pub(crate) form_post: bool,
    /// JWT-secured authorization responses (JARM), when asked for.
    pub(crate) jarm: Option<Jarm>,
    /// Authorization requests are pushed first (RFC 9126).
    pub(crate) par: bool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) fetch_userinfo: bool,
    /// The registered `userinfo_signed_response_alg`: UserInfo must come signed with it.
    pub(crate) userinfo_alg: Option<JwsAlgorithm>,
    /// UserInfo is asked with the access token in a POST form body (RFC 6750 §2.2).
    pub(crate) userinfo_form_body: bool,
    pub(crate) paths: RoutePaths,
    pub(crate) logouts: Arc<dyn LogoutRegistry>,
    pub(crate) users: Option<Arc<dyn Users>>,
    pub(crate) max_session_age: Option<i64>,
    pub(crate) request_object: Option<crate::request_object::Settings>,
    /// Front-channel logout without `iss` and `sid` is accepted (the browser's session).
    pub(crate) frontchannel_sid_optional: bool,
    /// Claims providers trusted for aggregated and distributed claims.
    pub(crate) claims_sources: Vec<crate::claims_source::ClaimsSource>,
    /// DPoP (RFC 9449): the key mode and the servers' nonces; none: off.
    pub(crate) dpop: Option<crate::dpop::Dpop>,
    /// The authorization response must carry `iss` (RFC 9207), whatever
    /// the provider advertises (a security profile's rule).
    pub(crate) require_iss: bool,
}

/// A relying party's registration at one provider: cheap to clone,
/// `Send + Sync`, no type parameters.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use sesame_rp::OidcClient;
/// let oidc = OidcClient::builder("https://accounts.example.com".parse()?, "my-client-id")
///     .with_client_secret("my-secret")
///     .with_redirect_uri("https://app.example/callback".parse()?)
///     .build()
///     .await?;
/// let app: axum::Router = oidc.router();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OidcClient {
    pub(crate) inner: Arc<Inner>,
}

const _: () = {
    const fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    assert_handle::<OidcClient>();
};

impl fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcClient")
            .field("issuer", &self.inner.issuer)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

impl OidcClient {
    /// The provider's issuer.
    pub fn issuer(&self) -> &Issuer {
        &self.inner.issuer
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.inner.client_id
    }

    /// The name given with `with_name` (used in multi-provider apps).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The provider metadata in use.
    pub fn metadata(&self) -> Arc<ProviderMetadata> {
        match self.inner.metadata.read() {
            Ok(m) => Arc::clone(&m.0),
            Err(p) => Arc::clone(&p.into_inner().0),
        }
    }

    /// The route paths.
    pub fn paths(&self) -> &RoutePaths {
        &self.inner.paths
    }

    pub(crate) fn now(&self) -> UnixTime {
        self.inner.clock.now()
    }

    /// Refreshes the metadata if its TTL has passed (keeping the old document if that fails).
    pub(crate) async fn fresh_metadata(&self) -> Arc<ProviderMetadata> {
        let now = self.now();
        let (current, at) = match self.inner.metadata.read() {
            Ok(m) => (Arc::clone(&m.0), m.1),
            Err(p) => {
                let m = p.into_inner();
                (Arc::clone(&m.0), m.1)
            }
        };
        let Some(ttl) = self.inner.metadata_ttl else {
            return current;
        };
        if now - at < ttl {
            return current;
        }
        match crate::outbound::discover(&self.inner.http, &self.inner.issuer).await {
            Ok(m) => {
                tracing::debug!(provider = %self.name(), "provider metadata refreshed");
                let m = Arc::new(m);
                if let Ok(mut slot) = self.inner.metadata.write() {
                    *slot = (Arc::clone(&m), now);
                }
                m
            }
            Err(e) => {
                tracing::warn!(error = %e, "metadata refresh failed; keeping the cached document");
                current
            }
        }
    }
}

/// A client's JARM settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Jarm {
    /// The `authorization_signed_response_alg`: the only algorithm accepted
    /// (else the ID token allowlist).
    pub(crate) alg: Option<sesame_core::JwsAlgorithm>,
    /// The `response_mode` sent: `jwt` or `form_post.jwt`.
    pub(crate) mode: sesame_core::ResponseMode,
}

impl Default for Jarm {
    fn default() -> Self {
        Self {
            alg: None,
            mode: sesame_core::ResponseMode::Jwt,
        }
    }
}
