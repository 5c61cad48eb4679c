//! `OidcClient`: one relying-party registration at one provider.

use std::fmt;
use std::sync::{Arc, RwLock};

use sesame_core::{
    ClientId, ClientSecret, Clock, DiscoveryError, IdTokenValidator, Issuer, JwsAlgorithm, KeySet,
    ProviderMetadata, RedirectUri, Scopes, SigningKey, SystemClock, UnixTime, discovery_url,
};

use crate::http::{HttpError, default_client, get_bytes};
use crate::jwks::JwksCache;
use crate::logout::{LogoutRegistry, MemoryLogoutRegistry};
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
/// PKCE as in the code flow. `code token` (no front-channel ID token to bind
/// the access token to) is refused by `build()`.
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
    /// Where to land after logout when the provider has no end-session endpoint. Default `/`.
    pub after_logout: String,
    /// Where to go after a failed login (the error is in the query). Default: a plain error answer.
    pub login_failed: Option<String>,
}

impl Default for RoutePaths {
    fn default() -> Self {
        Self {
            login: "/login".into(),
            callback: "/callback".into(),
            logout: "/logout".into(),
            backchannel_logout: "/backchannel-logout".into(),
            after_logout: "/".into(),
            login_failed: None,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) issuer: Issuer,
    pub(crate) client_id: ClientId,
    pub(crate) secret: Option<ClientSecret>,
    pub(crate) auth: ClientAuth,
    pub(crate) private_key: Option<Arc<SigningKey>>,
    pub(crate) metadata: RwLock<(Arc<ProviderMetadata>, UnixTime)>,
    pub(crate) metadata_ttl: Option<i64>,
    pub(crate) http: reqwest::Client,
    pub(crate) jwks: JwksCache,
    pub(crate) validator: IdTokenValidator,
    pub(crate) redirect_uri: RedirectUri,
    pub(crate) post_logout_redirect_uri: Option<String>,
    pub(crate) scopes: Scopes,
    pub(crate) auth_params: Vec<(String, String)>,
    pub(crate) response_type: ResponseType,
    pub(crate) form_post: bool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) fetch_userinfo: bool,
    pub(crate) paths: RoutePaths,
    pub(crate) logouts: Arc<dyn LogoutRegistry>,
    pub(crate) users: Option<Arc<dyn Users>>,
    pub(crate) max_session_age: Option<i64>,
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

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Fetching the discovery document failed.
    #[error("discovery failed: {0}")]
    Http(#[from] HttpError),
    /// The discovery document is unusable (e.g. its issuer differs).
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// `with_redirect_uri` was not called.
    #[error("a redirect URI is required (with_redirect_uri)")]
    NoRedirectUri,
    /// The authentication method needs a secret or a key that was not given.
    #[error("{0}")]
    Credentials(&'static str),
    /// A setting is invalid.
    #[error("{0}")]
    Setting(String),
}

/// Builds an [`OidcClient`] with secure defaults: code flow, PKCE S256,
/// `openid` scope, RS256 only, 60 s leeway, userinfo fetched when offered.
pub struct OidcClientBuilder {
    name: String,
    issuer: Issuer,
    client_id: ClientId,
    secret: Option<ClientSecret>,
    auth: Option<ClientAuth>,
    private_key: Option<SigningKey>,
    metadata: Option<ProviderMetadata>,
    static_keys: Option<KeySet>,
    http: Option<reqwest::Client>,
    redirect_uri: Option<RedirectUri>,
    post_logout_redirect_uri: Option<String>,
    scopes: Scopes,
    auth_params: Vec<(String, String)>,
    response_type: ResponseType,
    form_post: bool,
    algorithms: Vec<JwsAlgorithm>,
    allow_hs256: bool,
    trusted_audiences: Vec<String>,
    leeway: i64,
    clock: Arc<dyn Clock>,
    fetch_userinfo: bool,
    paths: RoutePaths,
    logouts: Option<Arc<dyn LogoutRegistry>>,
    users: Option<Arc<dyn Users>>,
    metadata_ttl: Option<i64>,
    skip_issuer_check: bool,
    max_session_age: Option<i64>,
    pub(crate) registration_issuer: Option<String>,
}

impl fmt::Debug for OidcClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcClientBuilder")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl OidcClient {
    /// Starts building a client of `issuer` registered as `client_id`.
    pub fn builder(issuer: Issuer, client_id: impl Into<String>) -> OidcClientBuilder {
        OidcClientBuilder {
            name: "default".into(),
            issuer,
            client_id: ClientId::new(client_id.into()),
            secret: None,
            auth: None,
            private_key: None,
            metadata: None,
            static_keys: None,
            http: None,
            redirect_uri: None,
            post_logout_redirect_uri: None,
            scopes: Scopes::parse("openid").unwrap_or_default(),
            auth_params: Vec::new(),
            response_type: ResponseType::Code,
            form_post: false,
            algorithms: vec![JwsAlgorithm::RS256],
            allow_hs256: false,
            trusted_audiences: Vec::new(),
            leeway: sesame_core::DEFAULT_LEEWAY,
            clock: Arc::new(SystemClock),
            fetch_userinfo: true,
            paths: RoutePaths::default(),
            logouts: None,
            users: None,
            metadata_ttl: Some(86_400),
            skip_issuer_check: false,
            max_session_age: None,
            registration_issuer: None,
        }
    }

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
        match discover(&self.inner.http, &self.inner.issuer).await {
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

async fn discover(http: &reqwest::Client, issuer: &Issuer) -> Result<ProviderMetadata, BuildError> {
    let bytes = get_bytes(http, &discovery_url(issuer)).await?;
    let metadata = ProviderMetadata::from_json(&bytes)?;
    metadata.validate(issuer)?;
    Ok(metadata)
}

impl OidcClientBuilder {
    /// A name for this provider, used in `/login/{name}` routes of a multi-provider app.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The client secret (for `client_secret_basic`, `client_secret_post`, `client_secret_jwt`).
    #[must_use]
    pub fn with_client_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(ClientSecret::new(secret.into()));
        self
    }

    /// The token endpoint authentication method. Default: `client_secret_basic`
    /// with a secret, `none` without.
    #[must_use]
    pub fn with_auth_method(mut self, auth: ClientAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// The private key for `private_key_jwt` (sets that method).
    #[must_use]
    pub fn with_private_key(mut self, key: SigningKey) -> Self {
        self.private_key = Some(key);
        self.auth = Some(ClientAuth::PrivateKeyJwt);
        self
    }

    /// The redirect URI registered at the provider (absolute; its path is served by the router).
    #[must_use]
    pub fn with_redirect_uri(mut self, uri: RedirectUri) -> Self {
        self.redirect_uri = Some(uri);
        self
    }

    /// Where the provider sends the browser after RP-initiated logout (registered there).
    #[must_use]
    pub fn with_post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uri = Some(uri.into());
        self
    }

    /// The scopes to request; `openid` is always included.
    ///
    /// # Errors
    /// When a scope has a forbidden character.
    pub fn with_scopes(mut self, scopes: &str) -> Result<Self, BuildError> {
        let mut parsed = Scopes::parse(scopes).map_err(|e| BuildError::Setting(e.to_string()))?;
        if !parsed.contains("openid") {
            parsed = Scopes::parse(&format!("openid {parsed}"))
                .map_err(|e| BuildError::Setting(e.to_string()))?;
        }
        self.scopes = parsed;
        Ok(self)
    }

    /// An extra authorization request parameter (`prompt`, `acr_values`,
    /// `login_hint`, `ui_locales`, `resource`, `claims`, `max_age`, or a provider's own).
    /// The protocol parameters Sesame sets itself cannot be overridden.
    #[must_use]
    pub fn with_auth_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.auth_params.push((name.into(), value.into()));
        self
    }

    /// The `response_type` (default [`ResponseType::Code`]). The implicit and
    /// hybrid types are opt-ins; they always use `response_mode=form_post`,
    /// and the callback refuses them when they arrive any other way.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use sesame_rp::{OidcClient, ResponseType};
    /// let oidc = OidcClient::builder("https://op.example".parse()?, "my-client")
    ///     .with_client_secret("secret")
    ///     .with_redirect_uri("https://app.example/callback".parse()?)
    ///     .with_response_type(ResponseType::CodeIdToken)
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_response_type(mut self, response_type: ResponseType) -> Self {
        self.response_type = response_type;
        self
    }

    /// Ask for `response_mode=form_post` with the code flow too (the
    /// provider POSTs the code to the callback instead of redirecting).
    #[must_use]
    pub fn with_form_post(mut self) -> Self {
        self.form_post = true;
        self
    }

    /// The ID token signing algorithms accepted (default RS256 only). Never taken from the token.
    #[must_use]
    pub fn with_algorithms(mut self, algs: impl IntoIterator<Item = JwsAlgorithm>) -> Self {
        self.algorithms = algs.into_iter().filter(|a| !a.is_symmetric()).collect();
        self
    }

    /// Also accept HS256 ID tokens keyed by the client secret (some providers
    /// sign with it for confidential clients). Off by default.
    #[must_use]
    pub fn with_hs256_id_tokens(mut self) -> Self {
        self.allow_hs256 = true;
        self
    }

    /// Audiences besides the client id that may appear in `aud`.
    #[must_use]
    pub fn with_trusted_audiences(
        mut self,
        auds: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.trusted_audiences = auds.into_iter().map(Into::into).collect();
        self
    }

    /// Clock-skew allowance in seconds (default 60, at most 300).
    #[must_use]
    pub fn with_leeway(mut self, seconds: i64) -> Self {
        self.leeway = seconds;
        self
    }

    /// The outbound HTTP client (proxy, custom CA, client certificate). Give it
    /// timeouts and turn redirects off, as [`crate::default_http_client`] does.
    #[must_use]
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Use these endpoints instead of discovery.
    #[must_use]
    pub fn with_metadata(mut self, metadata: ProviderMetadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Use these keys instead of fetching the JWKS.
    #[must_use]
    pub fn with_static_keys(mut self, keys: KeySet) -> Self {
        self.static_keys = Some(keys);
        self
    }

    /// The clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Whether to call the UserInfo endpoint after login (default: yes, when the provider has one).
    #[must_use]
    pub fn with_userinfo(mut self, fetch: bool) -> Self {
        self.fetch_userinfo = fetch;
        self
    }

    /// Route paths.
    #[must_use]
    pub fn with_paths(mut self, paths: RoutePaths) -> Self {
        self.paths = paths;
        self
    }

    /// Where back-channel logouts are recorded (default: in memory; use a
    /// shared one when the app runs several instances).
    #[must_use]
    pub fn with_logout_registry(mut self, registry: impl LogoutRegistry) -> Self {
        self.logouts = Some(Arc::new(registry));
        self
    }

    /// Local user provisioning (create/update/match users from claims).
    #[must_use]
    pub fn with_users(mut self, users: impl Users) -> Self {
        self.users = Some(Arc::new(users));
        self
    }

    /// Re-discover metadata after this many seconds (default one day; `None`: never).
    #[must_use]
    pub fn with_metadata_ttl(mut self, ttl: Option<i64>) -> Self {
        self.metadata_ttl = ttl;
        self
    }

    /// Microsoft Entra ID multi-tenant ("common"/"organizations") endpoints
    /// serve a discovery document whose `issuer` contains `{tenantid}`: accept
    /// that document, and validate tokens against the issuer given to
    /// `builder` (the tenant's own). Only use it for such providers.
    #[must_use]
    pub fn with_templated_discovery_issuer(mut self) -> Self {
        self.skip_issuer_check = true;
        self
    }

    /// Log the user out locally after this many seconds since login.
    #[must_use]
    pub fn with_max_session_age(mut self, seconds: i64) -> Self {
        self.max_session_age = Some(seconds);
        self
    }

    pub(crate) fn set_client_id(&mut self, client_id: &str) {
        self.client_id = ClientId::new(client_id);
    }

    /// Builds the client, discovering the provider unless metadata was given.
    ///
    /// # Errors
    /// Discovery failure, an issuer mismatch, or missing credentials.
    #[tracing::instrument(name = "sesame_rp.build", skip_all, fields(issuer = %self.issuer))]
    pub async fn build(self) -> Result<OidcClient, BuildError> {
        if let Some(registered) = &self.registration_issuer
            && registered != self.issuer.as_str()
        {
            return Err(BuildError::Setting(format!(
                "the registration was made at {registered}, not at {}",
                self.issuer
            )));
        }
        let http = match self.http {
            Some(h) => h,
            None => default_client().map_err(|e| BuildError::Setting(e.to_string()))?,
        };
        let metadata = match self.metadata {
            Some(m) => m,
            None if self.skip_issuer_check => {
                let bytes = get_bytes(&http, &discovery_url(&self.issuer)).await?;
                let mut m = ProviderMetadata::from_json(&bytes)?;
                if !m.issuer.contains("{tenantid}") {
                    m.validate(&self.issuer)?;
                }
                m.issuer = self.issuer.as_str().to_owned();
                m
            }
            None => discover(&http, &self.issuer).await?,
        };
        let redirect_uri = self.redirect_uri.ok_or(BuildError::NoRedirectUri)?;
        let auth = self.auth.unwrap_or(if self.secret.is_some() {
            ClientAuth::ClientSecretBasic
        } else {
            ClientAuth::None
        });
        match auth {
            ClientAuth::ClientSecretBasic
            | ClientAuth::ClientSecretPost
            | ClientAuth::ClientSecretJwt
                if self.secret.is_none() =>
            {
                return Err(BuildError::Credentials(
                    "this authentication method needs with_client_secret",
                ));
            }
            ClientAuth::PrivateKeyJwt if self.private_key.is_none() => {
                return Err(BuildError::Credentials(
                    "private_key_jwt needs with_private_key",
                ));
            }
            _ => {}
        }
        let mut validator = IdTokenValidator::new(self.issuer.clone(), self.client_id.clone())
            .with_algorithms(self.algorithms)
            .with_trusted_audiences(self.trusted_audiences)
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
        if self.response_type == ResponseType::CodeToken {
            return Err(BuildError::Setting(
                "response_type=code token is not supported: it has no front-channel ID token"
                    .into(),
            ));
        }
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
            && !modes.iter().any(|m| m == "form_post")
        {
            return Err(BuildError::Setting(
                "the provider does not support response_mode=form_post".into(),
            ));
        }
        let jwks_uri = metadata.jwks_uri.clone().unwrap_or_default();
        let now = self.clock.now();
        tracing::info!(
            provider = %self.name,
            issuer = %self.issuer,
            client_id = %self.client_id,
            auth = ?auth,
            response_type = self.response_type.as_str(),
            "relying party ready"
        );
        Ok(OidcClient {
            inner: Arc::new(Inner {
                name: self.name,
                issuer: self.issuer,
                client_id: self.client_id,
                secret: self.secret,
                auth,
                private_key: self.private_key.map(Arc::new),
                metadata: RwLock::new((Arc::new(metadata), now)),
                metadata_ttl: if self.skip_issuer_check {
                    None
                } else {
                    self.metadata_ttl
                },
                http,
                jwks: JwksCache::new(jwks_uri, self.static_keys),
                validator,
                redirect_uri,
                post_logout_redirect_uri: self.post_logout_redirect_uri,
                scopes: self.scopes,
                auth_params: self.auth_params,
                response_type: self.response_type,
                form_post,
                clock: self.clock,
                fetch_userinfo: self.fetch_userinfo,
                paths: self.paths,
                logouts: self
                    .logouts
                    .unwrap_or_else(|| Arc::new(MemoryLogoutRegistry::default())),
                users: self.users,
                max_session_age: self.max_session_age,
            }),
        })
    }
}
