//! Several providers in one app: a registry of named [`OidcClient`]s (its
//! routes are in `routes/many.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::builder::BuildError;
use crate::client::{OidcClient, RoutePaths};

/// Named providers, each with its own [`OidcClient`], behind one set of routes:
/// `GET /login/{provider}`, `GET|POST /callback/{provider}`, `POST /logout`
/// (ending the session at whichever provider the user signed in with) and
/// `POST /backchannel-logout/{provider}`, `GET /frontchannel-logout/{provider}`;
/// `GET /login` lists the providers.
///
/// Each client is named with [`crate::OidcClientBuilder::with_name`] and
/// registered at its provider with the redirect URI `…/callback/{name}`. A
/// login's `state` is bound to the provider it was started for: presented at
/// another provider's callback it is refused (and spent) before any call to
/// either provider — the mix-up attack — and RFC 9207's `iss` parameter is
/// checked as well.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use axum::{Router, routing::get};
/// use sesame_rp::{Claims, OidcClient, OidcProviders, RequireLogin, session_layer};
/// let google = OidcClient::builder("https://accounts.google.com".parse()?, "GOOGLE_ID")
///     .with_name("google")
///     .with_client_secret("GOOGLE_SECRET")
///     .with_redirect_uri("https://app.example/callback/google".parse()?)
///     .build().await?;
/// let corp = OidcClient::builder("https://sso.corp.example/realms/staff".parse()?, "app")
///     .with_name("corp")
///     .with_client_secret("CORP_SECRET")
///     .with_redirect_uri("https://app.example/callback/corp".parse()?)
///     .build().await?;
/// let providers = OidcProviders::builder().with_provider(google).with_provider(corp).build()?;
/// let app: Router = Router::new()
///     .route("/", get(|c: Claims| async move { format!("{} from {}", c.subject, c.issuer) }))
///     .layer(RequireLogin::for_providers(providers.clone()))
///     .merge(providers.router())
///     .layer(session_layer(true));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OidcProviders {
    inner: Arc<ProvidersInner>,
}

struct ProvidersInner {
    clients: BTreeMap<String, OidcClient>,
    paths: RoutePaths,
    chooser: bool,
}

const _: () = {
    const fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    assert_handle::<OidcProviders>();
};

impl fmt::Debug for OidcProviders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcProviders")
            .field("providers", &self.inner.clients.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Builds an [`OidcProviders`].
#[derive(Debug)]
pub struct OidcProvidersBuilder {
    clients: Vec<OidcClient>,
    paths: RoutePaths,
    chooser: bool,
}

impl OidcProviders {
    /// Starts an empty registry with the default paths and the built-in provider list at `/login`.
    pub fn builder() -> OidcProvidersBuilder {
        OidcProvidersBuilder {
            clients: Vec::new(),
            paths: RoutePaths::default(),
            chooser: true,
        }
    }

    /// The client named `name`.
    pub fn get(&self, name: &str) -> Option<&OidcClient> {
        self.inner.clients.get(name)
    }

    /// The providers' names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.clients.keys().map(String::as_str)
    }

    /// The clients, sorted by name.
    pub fn clients(&self) -> impl Iterator<Item = &OidcClient> {
        self.inner.clients.values()
    }

    /// The route paths: `login`, `callback`, `backchannel_logout` and `frontchannel_logout` are
    /// prefixes followed by `/{provider}`.
    pub fn paths(&self) -> &RoutePaths {
        &self.inner.paths
    }

    /// The path that starts a login at `provider` (relative to where the router is mounted).
    pub fn login_path(&self, provider: &str) -> String {
        format!(
            "{}/{provider}",
            self.inner.paths.login.trim_end_matches('/')
        )
    }

    /// Whether the built-in provider list is served at `GET {login}`.
    pub(crate) fn serves_provider_list(&self) -> bool {
        self.inner.chooser
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl OidcProvidersBuilder {
    /// Adds a provider under its client's name ([`crate::OidcClientBuilder::with_name`]).
    #[must_use]
    pub fn with_provider(mut self, client: OidcClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Route paths. `login`, `callback`, `backchannel_logout` and `frontchannel_logout` are prefixes
    /// (`/login` serves `/login/{provider}`); `logout`, `after_logout` and
    /// `login_failed` are used as they are. The clients' own paths are not used.
    #[must_use]
    pub fn with_paths(mut self, paths: RoutePaths) -> Self {
        self.paths = paths;
        self
    }

    /// Do not serve the built-in provider list at `GET {login}`: the
    /// application serves its own page there (with links to
    /// [`OidcProviders::login_path`]), which is where [`crate::RequireLogin`] sends browsers.
    #[must_use]
    pub fn without_provider_list(mut self) -> Self {
        self.chooser = false;
        self
    }

    /// Builds the registry.
    ///
    /// # Errors
    /// No provider; a name that is not 1–64 of `A-Z a-z 0-9 - _`, or used
    /// twice; a client whose redirect URI does not end in `{callback}/{name}`
    /// (every provider needs its own callback for the state binding to hold).
    pub fn build(self) -> Result<OidcProviders, BuildError> {
        if self.clients.is_empty() {
            return Err(BuildError::Setting(
                "a provider registry needs at least one provider".into(),
            ));
        }
        let mut clients = BTreeMap::new();
        let callback = self.paths.callback.trim_end_matches('/').to_owned();
        for client in self.clients {
            let name = client.name().to_owned();
            if !valid_name(&name) {
                return Err(BuildError::Setting(format!(
                    "provider name {name:?} must be 1-64 letters, digits, '-' or '_'"
                )));
            }
            let expected = format!("{callback}/{name}");
            let redirect = client.inner.redirect_uri.as_str();
            let path = url::Url::parse(redirect)
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            if !path.ends_with(&expected) {
                return Err(BuildError::Setting(format!(
                    "provider {name}: the redirect URI {redirect} must end in {expected}"
                )));
            }
            if clients.insert(name.clone(), client).is_some() {
                return Err(BuildError::Setting(format!(
                    "provider name {name:?} is used twice"
                )));
            }
        }
        Ok(OidcProviders {
            inner: Arc::new(ProvidersInner {
                clients,
                paths: self.paths,
                chooser: self.chooser,
            }),
        })
    }
}
