//! Several providers in one app: a registry of named [`OidcClient`]s.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_sessions::Session;

use crate::auth::Clients;
use crate::builder::BuildError;
use crate::client::{OidcClient, RoutePaths};
use crate::next::is_safe_next;
use crate::page::{escape_html, html_page};
use crate::routes::{self, LoginQuery};

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

    /// The routes: `GET {login}/{provider}`, `GET|POST {callback}/{provider}`,
    /// `POST {logout}`, `POST {backchannel_logout}/{provider}`,
    /// `GET {frontchannel_logout}/{provider}`, and `GET {login}`
    /// (a plain list of the providers, unless turned off). Needs a
    /// `tower_sessions` layer around it (see [`crate::session_layer`]).
    pub fn router(&self) -> Router {
        let p = &self.inner.paths;
        let under = |prefix: &str| format!("{}/{{provider}}", prefix.trim_end_matches('/'));
        let mut router = Router::new()
            .route(&under(&p.login), get(login))
            .route(&under(&p.callback), get(callback_get).post(callback_post))
            .route(&p.logout, post(logout))
            .route(&under(&p.backchannel_logout), post(backchannel_logout))
            .route(&under(&p.frontchannel_logout), get(frontchannel_logout));
        if self.inner.chooser {
            router = router.route(&p.login, get(chooser));
        }
        router.with_state(self.clone())
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

fn unknown_provider() -> Response {
    (StatusCode::NOT_FOUND, "unknown provider").into_response()
}

async fn login(
    State(providers): State<OidcProviders>,
    Path(name): Path<String>,
    session: Session,
    Query(q): Query<LoginQuery>,
) -> Response {
    match providers.get(&name) {
        Some(client) => routes::login_with(client, &session, q).await,
        None => unknown_provider(),
    }
}

async fn callback_get(
    State(providers): State<OidcProviders>,
    Path(name): Path<String>,
    session: Session,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(client) = providers.get(&name) else {
        return unknown_provider();
    };
    routes::callback(
        client,
        providers.paths(),
        &session,
        q.as_deref().unwrap_or(""),
        false,
    )
    .await
}

async fn callback_post(
    State(providers): State<OidcProviders>,
    Path(name): Path<String>,
    session: Session,
    body: Bytes,
) -> Response {
    let Some(client) = providers.get(&name) else {
        return unknown_provider();
    };
    routes::callback(
        client,
        providers.paths(),
        &session,
        std::str::from_utf8(&body).unwrap_or(""),
        true,
    )
    .await
}

async fn logout(
    State(providers): State<OidcProviders>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let paths = providers.paths().clone();
    let clients = Clients::Many(providers);
    routes::logout_with(&clients, &paths, &session, &headers, &body).await
}

async fn backchannel_logout(
    State(providers): State<OidcProviders>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    match providers.get(&name) {
        Some(client) => routes::backchannel_logout_with(client, &body).await,
        None => unknown_provider(),
    }
}

async fn frontchannel_logout(
    State(providers): State<OidcProviders>,
    Path(name): Path<String>,
    session: Session,
    RawQuery(q): RawQuery,
) -> Response {
    match providers.get(&name) {
        Some(client) => {
            crate::frontchannel::frontchannel_logout_with(
                client,
                &session,
                q.as_deref().unwrap_or(""),
            )
            .await
        }
        None => unknown_provider(),
    }
}

/// `GET {login}?next=…`: a plain page with one link per provider.
async fn chooser(State(providers): State<OidcProviders>, Query(q): Query<LoginQuery>) -> Response {
    let next = q.next.unwrap_or_else(|| "/".into());
    if !is_safe_next(&next) {
        return (
            StatusCode::BAD_REQUEST,
            "next must be a path on this site, like /account",
        )
            .into_response();
    }
    let query = serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
    let items: String = providers
        .names()
        .map(|name| {
            let href = format!("{}?{query}", providers.login_path(name));
            format!(
                "<li><a href=\"{}\">{}</a></li>\n",
                escape_html(&href),
                escape_html(name)
            )
        })
        .collect();
    html_page(
        StatusCode::OK,
        "Sign in",
        &format!("<h1>Sign in with</h1>\n<ul>\n{items}</ul>"),
    )
}
