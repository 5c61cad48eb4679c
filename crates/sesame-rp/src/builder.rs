//! `OidcClientBuilder`: the settings of an [`OidcClient`], checked at `build()`.

use std::fmt;
use std::sync::{Arc, RwLock};

use sesame_core::{
    ClientId, ClientSecret, Clock, DiscoveryError, IdTokenValidator, Issuer, JwsAlgorithm, KeySet,
    ProviderMetadata, RedirectUri, ResponseMode, Scopes, SigningKey, SystemClock, discovery_url,
};

use crate::client::{ClientAuth, Inner, OidcClient, ResponseType, RoutePaths};
use crate::jwks::JwksCache;
use crate::logout::{LogoutRegistry, MemoryLogoutRegistry};
use crate::outbound::{HttpError, default_client, get_bytes};
use crate::provision::Users;

mod checks;
mod dpop;
mod jarm;
mod par;
mod profile;

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
    assertion_audience: crate::client::AssertionAudience,
    metadata: Option<ProviderMetadata>,
    static_keys: Option<KeySet>,
    http: Option<reqwest::Client>,
    redirect_uri: Option<RedirectUri>,
    post_logout_redirect_uri: Option<String>,
    scopes: Scopes,
    auth_params: Vec<(String, String)>,
    response_type: ResponseType,
    form_post: bool,
    jarm: Option<crate::client::Jarm>,
    par: bool,
    /// The ID token allowlist set, else RS256 (the profile's under one).
    algorithms: Option<Vec<JwsAlgorithm>>,
    allow_hs256: bool,
    trusted_audiences: Vec<String>,
    leeway: i64,
    clock: Arc<dyn Clock>,
    fetch_userinfo: bool,
    userinfo_alg: Option<JwsAlgorithm>,
    userinfo_form_body: bool,
    paths: RoutePaths,
    logouts: Option<Arc<dyn LogoutRegistry>>,
    users: Option<Arc<dyn Users>>,
    metadata_ttl: Option<i64>,
    skip_issuer_check: bool,
    max_session_age: Option<i64>,
    device_only: bool,
    request_object: (Option<crate::RequestObject>, Option<SigningKey>),
    pub(crate) registration_issuer: Option<String>,
    pub(crate) frontchannel_sid_optional: bool,
    pub(crate) claims_sources: Vec<crate::claims_source::ClaimsSource>,
    dpop: Option<dpop::Mode>,
    profile: Option<sesame_core::SecurityProfile>,
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
            assertion_audience: crate::client::AssertionAudience::default(),
            metadata: None,
            static_keys: None,
            http: None,
            redirect_uri: None,
            post_logout_redirect_uri: None,
            scopes: Scopes::parse("openid").unwrap_or_default(),
            auth_params: Vec::new(),
            response_type: ResponseType::Code,
            form_post: false,
            jarm: None,
            par: false,
            algorithms: None,
            allow_hs256: false,
            trusted_audiences: Vec::new(),
            leeway: sesame_core::DEFAULT_LEEWAY,
            clock: Arc::new(SystemClock),
            fetch_userinfo: true,
            userinfo_alg: None,
            userinfo_form_body: false,
            paths: RoutePaths::default(),
            logouts: None,
            users: None,
            metadata_ttl: Some(86_400),
            skip_issuer_check: false,
            max_session_age: None,
            device_only: false,
            request_object: (None, None),
            registration_issuer: None,
            frontchannel_sid_optional: false,
            claims_sources: Vec::new(),
            dpop: None,
            profile: None,
        }
    }
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

    /// What client assertions name as their `aud` (default: the endpoint
    /// called). Use [`AssertionAudience::Issuer`](crate::AssertionAudience::Issuer)
    /// for providers that accept only their issuer, such as sesame-op on its
    /// defaults.
    #[must_use]
    pub fn with_assertion_audience(mut self, audience: crate::AssertionAudience) -> Self {
        self.assertion_audience = audience;
        self
    }

    /// The redirect URI registered at the provider (absolute; its path is served by the router).
    #[must_use]
    pub fn with_redirect_uri(mut self, uri: RedirectUri) -> Self {
        self.redirect_uri = Some(uri);
        self
    }

    /// A client that signs in only with the device flow
    /// ([`crate::DeviceAuthorization`]), as a CLI does: no redirect URI is
    /// needed. Its router's login cannot work (the provider knows no
    /// redirect URI for it and refuses the request); do not mount it.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = sesame_rp::OidcClient::builder("https://op.example".parse()?, "my-cli")
    ///     .with_auth_method(sesame_rp::ClientAuth::None)
    ///     .for_device_flow()
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn for_device_flow(mut self) -> Self {
        self.device_only = true;
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
    /// and the callback refuses them when they arrive any other way. With
    /// `code token` the front channel's access token is not used (no
    /// front-channel ID token binds it to the login): the code is redeemed
    /// and the token endpoint's tokens are kept.
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
    /// Back-channel logout tokens are held to the algorithms the provider's ID tokens
    /// have actually come with (this list until one has been seen).
    #[must_use]
    pub fn with_algorithms(mut self, algs: impl IntoIterator<Item = JwsAlgorithm>) -> Self {
        self.algorithms = Some(algs.into_iter().filter(|a| !a.is_symmetric()).collect());
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

    /// The provider signs this client's UserInfo answers with `alg` (the client's
    /// registered `userinfo_signed_response_alg`, OIDC Core §5.3.2): an unsigned
    /// answer, or one signed with another algorithm, is refused. Without it a
    /// signed answer must use one of the ID token algorithms.
    #[must_use]
    pub fn with_userinfo_signing_alg(mut self, alg: JwsAlgorithm) -> Self {
        self.userinfo_alg = Some(alg);
        self
    }

    /// Send the access token to UserInfo in a POST form body (RFC 6750 §2.2:
    /// `access_token=…`) instead of the `Authorization: Bearer` header, for
    /// providers that ask for it.
    ///
    /// ```
    /// # fn demo(b: sesame_rp::OidcClientBuilder) -> sesame_rp::OidcClientBuilder {
    /// b.with_userinfo_form_body()
    /// # }
    /// ```
    #[must_use]
    pub fn with_userinfo_form_body(mut self) -> Self {
        self.userinfo_form_body = true;
        self
    }

    /// Route paths.
    #[must_use]
    pub fn with_paths(mut self, paths: RoutePaths) -> Self {
        self.paths = paths;
        self
    }

    /// Sends a failed sign-in to `path` with `?error=CODE` (`invalid_request`,
    /// `invalid_token`, `access_denied` or the provider's code, `provider_error`,
    /// `server_error`) instead of answering with the failure page (4xx for a
    /// bad or forged response). The same as `RoutePaths::login_failed`; set it
    /// after `with_paths`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let oidc = sesame_rp::OidcClient::builder("https://op.example".parse()?, "app")
    ///     .with_client_secret("secret")
    ///     .with_redirect_uri("https://app.example/callback".parse()?)
    ///     .with_login_failed_redirect("/") // the home page shows ?error=
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_login_failed_redirect(mut self, path: impl Into<String>) -> Self {
        self.paths.login_failed = Some(path.into());
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

    /// Send the authorization request as a request object (OIDC Core §6), see [`crate::RequestObject`];
    /// signed with the key of `with_request_object_key`, else that of `with_private_key`.
    #[must_use]
    pub fn with_request_object(mut self, mode: crate::RequestObject) -> Self {
        self.request_object.0 = Some(mode);
        self
    }

    /// The key request objects are signed with (the client's authentication is unchanged).
    #[must_use]
    pub fn with_request_object_key(mut self, key: SigningKey) -> Self {
        self.request_object.1 = Some(key);
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
    pub async fn build(mut self) -> Result<OidcClient, BuildError> {
        self.apply_profile()?;
        if let Some(registered) = &self.registration_issuer
            && registered != self.issuer.as_str()
        {
            return Err(BuildError::Setting(format!(
                "the registration was made at {registered}, not at {}",
                self.issuer
            )));
        }
        let http = match &self.http {
            Some(h) => h.clone(),
            None => default_client().map_err(|e| BuildError::Setting(e.to_string()))?,
        };
        let metadata = self.provider_metadata(&http).await?;
        let redirect_uri = match self.redirect_uri.clone() {
            Some(uri) => uri,
            // Never sent: a device-flow client has no browser redirect.
            None if self.device_only => RedirectUri::new("http://localhost/")
                .map_err(|e| BuildError::Setting(e.to_string()))?,
            None => return Err(BuildError::NoRedirectUri),
        };
        let auth = self.auth_method()?;
        let validator = self.validator()?;
        let form_post = self.check_response_type(&metadata)?;
        let jarm = self.check_jarm(&metadata, form_post)?;
        let par = self.check_par(&metadata)?;
        self.check_endpoints(&metadata)?;
        let jwks_uri = metadata.jwks_uri.clone().unwrap_or_default();
        let private_key = self.private_key.map(Arc::new);
        let (mode, key) = self.request_object;
        let key = key.map(Arc::new).or_else(|| private_key.clone());
        let request_object =
            crate::request_object::settings(mode, key, &metadata).map_err(BuildError::Setting)?;
        let dpop = dpop::settings(self.dpop)?;
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
                private_key,
                assertion_audience: self.assertion_audience,
                metadata: RwLock::new((Arc::new(metadata), now)),
                metadata_ttl: if self.skip_issuer_check {
                    None
                } else {
                    self.metadata_ttl
                },
                http,
                jwks: JwksCache::new(jwks_uri, self.static_keys),
                validator,
                id_token_algs: RwLock::new(Vec::new()),
                redirect_uri,
                post_logout_redirect_uri: self.post_logout_redirect_uri,
                scopes: self.scopes,
                auth_params: self.auth_params,
                response_type: self.response_type,
                form_post,
                jarm,
                par,
                clock: self.clock,
                fetch_userinfo: self.fetch_userinfo,
                userinfo_alg: self.userinfo_alg,
                userinfo_form_body: self.userinfo_form_body,
                paths: self.paths,
                logouts: self
                    .logouts
                    .unwrap_or_else(|| Arc::new(MemoryLogoutRegistry::default())),
                users: self.users,
                max_session_age: self.max_session_age,
                request_object,
                frontchannel_sid_optional: self.frontchannel_sid_optional,
                claims_sources: self.claims_sources,
                dpop,
                require_iss: self.profile.is_some(),
            }),
        })
    }

    /// The metadata given, or discovered (with the Entra template allowance).
    async fn provider_metadata(
        &self,
        http: &reqwest::Client,
    ) -> Result<ProviderMetadata, BuildError> {
        Ok(match &self.metadata {
            Some(m) => m.clone(),
            None if self.skip_issuer_check => {
                let bytes = get_bytes(http, &discovery_url(&self.issuer)).await?;
                let mut m = ProviderMetadata::from_json(&bytes)?;
                if !m.issuer.contains("{tenantid}") {
                    m.validate(&self.issuer)?;
                }
                m.issuer = self.issuer.as_str().to_owned();
                m
            }
            None => crate::outbound::discover(http, &self.issuer)
                .await
                .map_err(|e| match e {
                    crate::outbound::DiscoverError::Http(e) => BuildError::Http(e),
                    crate::outbound::DiscoverError::Discovery(e) => BuildError::Discovery(e),
                })?,
        })
    }
}
