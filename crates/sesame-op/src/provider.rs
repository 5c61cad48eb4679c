//! The `Provider` handle and its builder.

use std::fmt;
use std::sync::Arc;

use sesame_core::{Clock, Issuer, JwsAlgorithm, Subject, SystemClock, UnixTime};

use crate::authn::{Authenticator, PasswordAuthenticator};
use crate::claims::{ClaimsSource, NoClaims, ScopeClaims};
use crate::keys::{self, Keys, KeysError};
use crate::model::Client;
use crate::pages::Templates;
use crate::store::Store;
use crate::subject::{self, PairwiseSalt, SubjectError};

mod dpop_nonce;
mod rotation;

pub(crate) use dpop_nonce::NonceCheck;
pub use dpop_nonce::{DPOP_NONCE_WINDOW, DpopNonce, DpopNonceKey};

/// Lifetimes and switches. Every field has a secure default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Authorization code lifetime (seconds). Default 60.
    pub code_ttl: i64,
    /// Access token lifetime. Default 3600.
    pub access_token_ttl: i64,
    /// ID token lifetime. Default 3600.
    pub id_token_ttl: i64,
    /// Refresh token lifetime (idle: each rotation starts it again). Default 30 days.
    pub refresh_token_ttl: i64,
    /// The longest a grant's refresh tokens may keep rotating, counted from
    /// the authorization (an absolute limit on top of `refresh_token_ttl`). Default 180 days.
    pub refresh_token_max_lifetime: i64,
    /// How long a Next key must have been published before `rotate_keys`
    /// promotes it (relying parties' JWKS caches must have seen it). Default
    /// 360 s: the JWKS `max-age` (300 s) plus the reload interval (60 s).
    pub key_publish_delay: i64,
    /// How long a consent is remembered. Default 90 days.
    pub consent_ttl: i64,
    /// How long a consent page stays valid. Default 10 minutes.
    pub interaction_ttl: i64,
    /// The algorithms the provider keeps keys for (and advertises). Default RS256, ES256, EdDSA.
    pub signing_algs: Vec<JwsAlgorithm>,
    /// Accept PKCE `plain`. Default false (S256 only).
    pub allow_plain_pkce: bool,
    /// Require PKCE on every authorization code request, as OAuth 2.1 does.
    /// Default false: the RFC 9700 §2.1.1 policy, under which public clients
    /// must send PKCE and a confidential client may instead send a `nonce`
    /// (the ID token then binds the code to the browser that asked for it).
    /// Per client: [`Client::require_pkce`](crate::Client::require_pkce).
    pub require_pkce: bool,
    /// Accept authorization requests only when pushed first (RFC 9126 §5,
    /// `require_pushed_authorization_requests`). Default false; per client:
    /// [`Client::require_par`](crate::Client::require_par).
    pub require_par: bool,
    /// The security profile every client is held to (a client may name its
    /// own, [`Client::profile`](crate::Client::profile)). Default none; see
    /// [`crate::profile`].
    pub profile: Option<sesame_core::SecurityProfile>,
    /// Refuse a confidential client's code request that carries neither
    /// PKCE nor a `nonce` (the two defences against code injection).
    /// Default true. RFC 9700 and OIDC Core do not require a provider to
    /// refuse it (the client is the one that must defend itself), and the
    /// OpenID certification plans send such requests: turn it off to
    /// accept them.
    pub require_pkce_or_nonce: bool,
    /// Accept the URL of the endpoint called as the sole `aud` of every
    /// client's assertions, as [`Client::legacy_assertion_audience`](crate::Client::legacy_assertion_audience)
    /// does for one client (OIDC Core §9 names the token endpoint). Default
    /// false: only the issuer (S15).
    pub legacy_assertion_audience: bool,
    /// How often keys are reloaded from the store (multi-instance rotation). Default 60 s.
    pub key_reload_interval: i64,
    /// How long retired keys stay published. Default 7 days.
    pub retired_key_retention: i64,
    /// Put the scope-released claims in the ID token too (as Keycloak and
    /// Google do), not only at userinfo. Default true.
    pub claims_in_id_token: bool,
    /// The `acr` values the provider's authentications produce, weakest
    /// first (advertised as `acr_values_supported`). A request's `acr_values`
    /// or essential `acr` claim is satisfied by an authentication whose `acr`
    /// ([`EndUser::acr`](crate::EndUser::acr)) is the value asked for or a
    /// later one in this list; the ID token then names the strongest value
    /// asked for that was met. An essential request that a fresh login could
    /// meet sends the user to log in again (step-up); one that cannot be met
    /// is `access_denied` (OIDC Core §5.5.1.1). Default empty.
    pub acr_values_supported: Vec<String>,
    /// Dynamic client registration (RFC 7591/7592). Default
    /// [`Registration::Disabled`].
    pub registration: Registration,
    /// The resource owner password credentials grant (RFC 6749 §4.3), for
    /// clients registered with the `password` grant type. Default false; when
    /// true the provider needs a [`PasswordAuthenticator`]
    /// ([`ProviderBuilder::with_password_authenticator`]).
    pub password_grant: bool,
    /// The salt of pairwise subject identifiers (OIDC Core §8.1). With one,
    /// discovery lists `pairwise` in `subject_types_supported` and clients
    /// may register `subject_type` pairwise; without one (the default) every
    /// subject is public. Store it and keep it: changing it changes every
    /// pairwise `sub`.
    pub pairwise_salt: Option<PairwiseSalt>,
    /// Let outbound requests to URLs a registrant chose (back-channel
    /// logout) reach loopback and private addresses. Default false: they
    /// reach only public addresses, checked at registration and, by
    /// resolved address, at send time (S14). Tests and demos on one machine
    /// turn it on; so does a deployment whose relying parties listen on a
    /// private network.
    pub allow_private_outbound: bool,
    /// Server-provided nonces in DPoP proofs (RFC 9449 §8, §9). Default
    /// [`DpopNonce::Off`] (see there why); [`ProviderBuilder::with_dpop_nonce`].
    pub dpop_nonce: DpopNonce,
}

/// Who may register clients at the registration endpoint ([`crate::paths::REGISTER`]).
///
/// While registration is disabled the registration routes are not mounted
/// (they answer 404 like any unknown path, and an application may use
/// `/register` for its own pages) and discovery does not advertise a
/// `registration_endpoint`.
///
/// ```
/// use sesame_op::{Registration, Settings, secrets};
///
/// let mut settings = Settings::default();
/// // Hand this token to the people allowed to register clients; keep only its hash.
/// let token = sesame_core::random::token()?;
/// settings.registration =
///     Registration::InitialAccessToken(vec![secrets::hash_generated_secret(&token)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Registration {
    /// No dynamic registration (the default).
    #[default]
    Disabled,
    /// Anyone may register a client, with no credential (OIDC Dynamic
    /// Registration's "open" mode). Clients registered this way are always
    /// third-party: their users see the consent page.
    Open,
    /// A registration request must carry one of these initial access tokens
    /// as a Bearer token (RFC 7591 §3). The list holds hashes, never the
    /// tokens: [`crate::secrets::hash_generated_secret`] of a random token
    /// (cheap to check), or [`crate::secrets::hash_password`] of a
    /// human-chosen one (each attempt then costs an Argon2 verification).
    InitialAccessToken(Vec<String>),
    /// A registration request must carry an initial access token that the
    /// builder's [`InitialAccessTokens`](crate::store::InitialAccessTokens)
    /// accepts ([`ProviderBuilder::with_initial_access_tokens`]): tokens
    /// issued while the provider runs, each with its own expiry.
    Issued,
}

impl Registration {
    /// Whether the registration endpoint is mounted and advertised.
    pub fn is_enabled(&self) -> bool {
        !matches!(self, Self::Disabled)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            code_ttl: 60,
            access_token_ttl: 3600,
            id_token_ttl: 3600,
            refresh_token_ttl: 30 * 86_400,
            refresh_token_max_lifetime: 180 * 86_400,
            key_publish_delay: 360,
            consent_ttl: 90 * 86_400,
            interaction_ttl: 600,
            signing_algs: vec![
                JwsAlgorithm::RS256,
                JwsAlgorithm::ES256,
                JwsAlgorithm::EdDSA,
            ],
            allow_plain_pkce: false,
            require_pkce: false,
            require_par: false,
            profile: None,
            require_pkce_or_nonce: true,
            legacy_assertion_audience: false,
            key_reload_interval: 60,
            retired_key_retention: 7 * 86_400,
            claims_in_id_token: true,
            acr_values_supported: Vec::new(),
            registration: Registration::Disabled,
            password_grant: false,
            pairwise_salt: None,
            allow_private_outbound: false,
            dpop_nonce: DpopNonce::Off,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) issuer: Issuer,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) authn: Arc<dyn Authenticator>,
    pub(crate) passwords: Option<Arc<dyn PasswordAuthenticator>>,
    pub(crate) initial_access_tokens: Option<Arc<dyn crate::store::InitialAccessTokens>>,
    pub(crate) claims: Arc<dyn ClaimsSource>,
    pub(crate) scopes: ScopeClaims,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys: Keys,
    pub(crate) settings: Settings,
    pub(crate) http: reqwest::Client,
    pub(crate) client_keys: crate::client_keys::ClientKeys,
    pub(crate) templates: Templates,
}

/// An OpenID Provider: cheap to clone, `Send + Sync`.
///
/// ```no_run
/// # async fn demo(authn: impl sesame_op::Authenticator) -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use sesame_op::{MemoryStore, Provider};
///
/// let provider = Provider::builder("https://op.example".parse()?)
///     .with_store(Arc::new(MemoryStore::new()))
///     .with_authenticator(authn)
///     .build()
///     .await?;
/// let app: axum::Router = provider.router();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Provider {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.inner.issuer)
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    assert_handle::<Provider>();
};

/// Builds a [`Provider`].
pub struct ProviderBuilder {
    issuer: Issuer,
    store: Option<Arc<dyn Store>>,
    authn: Option<Arc<dyn Authenticator>>,
    passwords: Option<Arc<dyn PasswordAuthenticator>>,
    initial_access_tokens: Option<Arc<dyn crate::store::InitialAccessTokens>>,
    claims: Arc<dyn ClaimsSource>,
    scopes: ScopeClaims,
    clock: Arc<dyn Clock>,
    settings: Settings,
    http: Option<reqwest::Client>,
    templates: Templates,
}

impl fmt::Debug for ProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderBuilder")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Why a provider could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `with_store` was not called.
    #[error("a store is required (with_store)")]
    NoStore,
    /// `with_authenticator` was not called.
    #[error("an authenticator is required (with_authenticator)")]
    NoAuthenticator,
    /// Keys could not be loaded or created.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// The outbound HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
    /// A template failed to compile.
    #[error("template: {0}")]
    Template(String),
    /// A setting is out of range.
    #[error("setting: {0}")]
    Setting(String),
}

impl Provider {
    /// Starts building a provider for `issuer` (taken from configuration,
    /// never from a request's Host header).
    pub fn builder(issuer: Issuer) -> ProviderBuilder {
        ProviderBuilder {
            issuer,
            store: None,
            authn: None,
            passwords: None,
            initial_access_tokens: None,
            claims: Arc::new(NoClaims),
            scopes: ScopeClaims::default(),
            clock: Arc::new(SystemClock),
            settings: Settings::default(),
            http: None,
            templates: Templates::default(),
        }
    }

    /// The issuer.
    pub fn issuer(&self) -> &Issuer {
        &self.inner.issuer
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The keys of `client` for a signature naming `kid` (inline `jwks`, or
    /// its `jwks_uri`, cached; see [`crate::client_keys`]).
    pub(crate) async fn client_keys(
        &self,
        client: &crate::model::Client,
        kid: Option<&str>,
    ) -> Result<sesame_core::KeySet, String> {
        crate::client_keys::keys_for(
            &self.inner.client_keys,
            &self.inner.http,
            self.inner.settings.allow_private_outbound,
            client,
            kid,
        )
        .await
    }

    pub(crate) fn now(&self) -> UnixTime {
        self.inner.clock.now()
    }

    /// The `sub` that `client` sees for the user whose own identifier is
    /// `local` ([`subject::subject_for`] with this provider's salt). Every
    /// `sub` that leaves the provider for a client goes through here.
    pub(crate) fn subject_for(
        &self,
        client: &Client,
        local: &Subject,
    ) -> Result<Subject, SubjectError> {
        subject::subject_for(client, local, self.inner.settings.pairwise_salt.as_ref())
    }

    /// Until when a revocation must be remembered: past anything still alive.
    pub(crate) fn revocation_horizon(&self, now: UnixTime) -> UnixTime {
        let s = &self.inner.settings;
        now + [
            s.code_ttl,
            s.access_token_ttl,
            s.refresh_token_ttl,
            s.id_token_ttl,
            s.refresh_token_max_lifetime,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}

impl ProviderBuilder {
    /// The storage backend (required).
    #[must_use]
    pub fn with_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The host application's login (required).
    #[must_use]
    pub fn with_authenticator(mut self, authn: impl Authenticator) -> Self {
        self.authn = Some(Arc::new(authn));
        self
    }

    /// How usernames and passwords are checked for the password grant
    /// (RFC 6749 §4.3). Needed when [`Settings::password_grant`] is on, and
    /// unused otherwise.
    ///
    /// ```no_run
    /// # async fn demo(
    /// #     authn: impl sesame_op::Authenticator,
    /// #     passwords: impl sesame_op::PasswordAuthenticator,
    /// # ) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use sesame_op::{MemoryStore, Provider, Settings};
    ///
    /// let mut settings = Settings::default();
    /// settings.password_grant = true;
    /// let provider = Provider::builder("https://op.example".parse()?)
    ///     .with_store(Arc::new(MemoryStore::new()))
    ///     .with_authenticator(authn)
    ///     .with_password_authenticator(passwords)
    ///     .with_settings(settings)
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_password_authenticator(mut self, passwords: impl PasswordAuthenticator) -> Self {
        self.passwords = Some(Arc::new(passwords));
        self
    }

    /// Where [`Registration::Issued`] checks initial access tokens.
    #[must_use]
    pub fn with_initial_access_tokens(
        mut self,
        tokens: Arc<dyn crate::store::InitialAccessTokens>,
    ) -> Self {
        self.initial_access_tokens = Some(tokens);
        self
    }

    /// Where user claims come from (default: none beyond `sub`).
    #[must_use]
    pub fn with_claims(mut self, claims: impl ClaimsSource) -> Self {
        self.claims = Arc::new(claims);
        self
    }

    /// Adds an application-defined scope and the claims it releases.
    #[must_use]
    pub fn with_scope(
        mut self,
        scope: &str,
        claims: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.scopes.insert(scope, claims);
        self
    }

    /// The clock (default: the system clock).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Lifetimes and switches.
    #[must_use]
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Whether outbound requests to registrant-chosen URLs may reach
    /// loopback and private addresses ([`Settings::allow_private_outbound`]).
    #[must_use]
    pub fn allow_private_outbound(mut self, allow: bool) -> Self {
        self.settings.allow_private_outbound = allow;
        self
    }

    /// The outbound HTTP client used for back-channel logout (default: 5 s
    /// timeouts, no redirects, no proxy, and unless private targets are
    /// allowed the [`crate::PublicAddresses`] resolver — install it in your
    /// own client too).
    #[must_use]
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Replaces a page template (`consent.html`, `logout.html`, `error.html`,
    /// `form_post.html`) with your own minijinja source.
    ///
    /// # Errors
    /// When the template does not compile.
    pub fn with_template(mut self, name: &str, source: &str) -> Result<Self, BuildError> {
        self.templates
            .replace(name, source)
            .map_err(|e| BuildError::Template(e.to_string()))?;
        Ok(self)
    }

    /// Builds the provider: creates missing signing keys and loads them.
    ///
    /// # Errors
    /// A missing store or authenticator, or a key/store failure.
    pub async fn build(self) -> Result<Provider, BuildError> {
        let store = self.store.ok_or(BuildError::NoStore)?;
        let authn = self.authn.ok_or(BuildError::NoAuthenticator)?;
        if self.settings.signing_algs.is_empty() {
            return Err(BuildError::Setting("signing_algs must not be empty".into()));
        }
        if self.settings.signing_algs.iter().any(|a| a.is_symmetric()) {
            return Err(BuildError::Setting(
                "signing_algs must be asymmetric".into(),
            ));
        }
        if let Registration::InitialAccessToken(hashes) = &self.settings.registration {
            if hashes.is_empty() {
                return Err(BuildError::Setting(
                    "registration needs at least one initial access token hash".into(),
                ));
            }
            if !hashes.iter().all(|h| crate::secrets::is_secret_hash(h)) {
                return Err(BuildError::Setting(
                    "initial access tokens must be given as hashes (secrets::hash_generated_secret)"
                        .into(),
                ));
            }
        }
        if self.settings.registration == Registration::Issued
            && self.initial_access_tokens.is_none()
        {
            return Err(BuildError::Setting(
                "Registration::Issued needs with_initial_access_tokens".into(),
            ));
        }
        if self.settings.password_grant && self.passwords.is_none() {
            return Err(BuildError::Setting(
                "password_grant needs a password authenticator (with_password_authenticator)"
                    .into(),
            ));
        }
        if self
            .settings
            .pairwise_salt
            .as_ref()
            .is_some_and(|salt| salt.len() < PairwiseSalt::MIN_LEN)
        {
            return Err(BuildError::Setting(format!(
                "pairwise_salt needs at least {} bytes",
                PairwiseSalt::MIN_LEN
            )));
        }
        dpop_nonce::check_setting(&self.settings.dpop_nonce)?;
        let now = self.clock.now();
        keys::ensure_keys(&*store, &self.settings.signing_algs, now).await?;
        let ring = keys::load(&*store, now).await?;
        let http = match self.http {
            Some(c) => c,
            None => {
                let mut http = reqwest::Client::builder()
                    .connect_timeout(std::time::Duration::from_secs(5))
                    .timeout(std::time::Duration::from_secs(5))
                    .redirect(reqwest::redirect::Policy::none())
                    // Direct connections: the resolver's check is what they reach.
                    .no_proxy();
                if !self.settings.allow_private_outbound {
                    http = http.dns_resolver(Arc::new(crate::PublicAddresses::new()));
                }
                http.build().map_err(|e| BuildError::Http(e.to_string()))?
            }
        };
        Ok(Provider {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                store,
                authn,
                passwords: self.passwords,
                initial_access_tokens: self.initial_access_tokens,
                claims: self.claims,
                scopes: self.scopes,
                clock: self.clock,
                keys: Keys::new(ring, self.settings.key_reload_interval),
                settings: self.settings,
                http,
                client_keys: crate::client_keys::ClientKeys::default(),
                templates: self.templates,
            }),
        })
    }
}
