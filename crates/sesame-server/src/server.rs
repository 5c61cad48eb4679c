//! `run(config, listener, shutdown)`: the whole server as a library function.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware::{self};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sesame_core::{Clock, Issuer, JwsAlgorithm, SystemClock};
use sesame_op::{Provider, Settings};
use sesame_op_sqlx::SqlStore;

use crate::config::{Config, DpopNonceMode, RegistrationMode};
use crate::connections::{self, BodyRules, Limits};
use crate::login::{self, LoginLimits, LoginState, ServerAuth, UserClaims};
use crate::ratelimit::endpoints::{TokenLimit, limit_token};
use crate::ratelimit::{Counters, TrustedProxies};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] crate::store::OpenError),
    /// The configured issuer is not a URL the provider can use.
    #[error("issuer: {0}")]
    Issuer(sesame_core::UrlError),
    /// A template could not be read or compiled.
    #[error(transparent)]
    Template(#[from] crate::login::TemplateError),
    /// The provider could not be built.
    #[error(transparent)]
    Provider(#[from] sesame_op::BuildError),
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] sesame_op::StoreError),
    /// The pairwise subject salt could not be read or created.
    #[error("pairwise subject salt: {0}")]
    PairwiseSalt(sesame_op::StoreError),
    /// The DPoP nonce key could not be read or created.
    #[error("DPoP nonce key: {0}")]
    DpopNonceKey(sesame_op::StoreError),
    /// A user could not be stored.
    #[error(transparent)]
    User(#[from] crate::accounts::UserError),
    /// A client could not be registered (the demo's).
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    /// The demo app could not start.
    #[error(transparent)]
    App(#[from] crate::app::AppError),
    /// The system's random source failed.
    #[error(transparent)]
    Random(#[from] sesame_core::random::RandomError),
    /// A directory could not be created.
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An address could not be listened on.
    #[error("cannot listen on {addr}: {source}{hint}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(std::io::Error),
    /// The rate-limit settings cannot be used (a bad proxy list, Redis unreachable).
    #[error("rate_limits: {0}")]
    RateLimits(String),
    /// An `[[upstream]]` entry cannot be used.
    #[error("upstream: {0}")]
    Upstream(String),
    /// A server task ended abnormally.
    #[error("a server task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

pub use crate::connections::{BODY_LIMIT, LOGIN_BODY_LIMIT};

/// A built server: the provider, its store, and the router to serve.
#[derive(Debug, Clone)]
pub struct Built {
    /// The provider.
    pub provider: Provider,
    /// The store.
    pub store: Arc<SqlStore>,
    /// The server's own tables (users, login sessions, second factors,
    /// passkeys, upstream links), over `store`, with the users cache.
    pub accounts: crate::accounts::Accounts,
    /// Everything to serve.
    pub router: Router,
    /// The listener's timeouts and limits.
    pub http: crate::config::Http,
    /// Seconds between scheduled key rotations (0: manual only).
    pub key_rotation_interval: i64,
}

/// The server's own pages: login (password, TOTP, passkeys, upstream
/// providers) and the account page.
fn pages() -> Router<Arc<LoginState>> {
    Router::new()
        .route("/", get(login::home))
        .route("/login", get(login::get_login).post(login::post_login))
        .route("/login/totp", post(login::post_totp))
        .route("/login/passkey/options", post(login::passkey_options))
        .route("/login/passkey", post(login::post_passkey))
        .route("/login/passkey/second/options", post(login::second_options))
        .route("/login/passkey/second", post(login::post_second))
        .route(crate::login::SCRIPT_PATH, get(login::script))
        .route("/account", get(crate::account::get_account))
        .route("/account/password", post(crate::account::change_password))
        .route("/account/totp/start", post(crate::account::start_totp))
        .route("/account/totp", post(crate::account::confirm_totp))
        .route("/account/totp/remove", post(crate::account::remove_totp))
        .route(
            "/account/passkeys/options",
            post(crate::account::passkey_options),
        )
        .route("/account/passkeys", post(crate::account::post_passkey))
        .route(
            "/account/passkeys/remove",
            post(crate::account::remove_passkey),
        )
        .route("/account/apps/revoke", post(crate::account::revoke_app))
        .route("/account/links/remove", post(crate::account::unlink))
        .route(
            "/account/sign-out-everywhere",
            post(crate::account::sign_out_everywhere),
        )
        .route("/upstream/{name}/login", get(login::upstream::start))
        .route("/upstream/{name}/callback", get(login::upstream::callback))
        .route(
            "/upstream/{name}/logged-out",
            get(login::upstream::logged_out),
        )
}

async fn healthz(State(store): State<Arc<SqlStore>>) -> Response {
    use sesame_op::store::ClientStore as _;
    match store
        .find_client(&sesame_core::ClientId::new("__healthz__"))
        .await
    {
        Ok(_) => "ok".into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// The client-address rule and the failure counters' store of `[rate_limits]`.
async fn rate_limit_stores(
    config: &Config,
    store: &Arc<SqlStore>,
) -> Result<(TrustedProxies, Counters), ServerError> {
    let limits = &config.rate_limits;
    let nets = limits
        .proxy_nets()
        .map_err(|e| ServerError::RateLimits(e.0))?;
    if config.trust_forwarded_for {
        tracing::warn!(
            "trust_forwarded_for is deprecated: it now means \"every peer is a trusted proxy\" \
             (the client address is the right-most X-Forwarded-For address not in \
             rate_limits.trusted_proxies); list your proxies in rate_limits.trusted_proxies instead"
        );
    }
    let proxies = TrustedProxies::new(nets, config.trust_forwarded_for);
    let counters = match &limits.redis {
        Some(url) => Counters::redis(url)
            .await
            .map_err(|e| ServerError::RateLimits(e.to_string()))?,
        None => Counters::Sql(Arc::clone(store)),
    };
    Ok((proxies, counters))
}

/// Builds the provider and router from configuration (opening the database).
///
/// # Errors
/// A bad configuration, an unreachable database, or unreadable templates.
pub async fn build(config: &Config) -> Result<Built, ServerError> {
    let store = Arc::new(crate::store::open(config).await?);
    build_with(config, store, Arc::new(SystemClock)).await
}

/// As [`build`], with a store opened by [`crate::store::open`] (which runs
/// the server's migrations too) and a clock (tests).
///
/// # Errors
/// As [`build`].
pub async fn build_with(
    config: &Config,
    store: Arc<SqlStore>,
    clock: Arc<dyn Clock>,
) -> Result<Built, ServerError> {
    let issuer = Issuer::new(config.issuer.clone()).map_err(ServerError::Issuer)?;
    let decoy_hash = sesame_op::secrets::decoy_password_hash()?;
    let (proxies, counters) = rate_limit_stores(config, &store).await?;
    let limits = &config.rate_limits;
    // One handle (one users cache) for the login pages and the claims.
    let accounts = crate::store::accounts(config, &store);
    let login = Arc::new(LoginState {
        store: Arc::clone(&store),
        accounts: accounts.clone(),
        issuer: config.issuer.clone(),
        secure: config.secure_cookies(),
        session_ttl: config.login_session_ttl,
        clock: Arc::clone(&clock),
        templates: login::templates(config.templates_dir.as_deref())?,
        limits: LoginLimits::new(limits, counters.clone()),
        proxies: proxies.clone(),
        decoy_hash,
        hashing: Arc::new(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        )),
        waiting: std::sync::atomic::AtomicUsize::new(0),
        password_acr: config.acr.password.clone(),
        mfa_acr: config.acr.mfa.clone(),
        upstreams: login::Upstreams::new(config, Arc::clone(&clock))
            .map_err(|e| ServerError::Upstream(e.0))?,
    });
    let settings = provider_settings(config, &store).await?;
    let mut builder = Provider::builder(issuer)
        .with_store(Arc::clone(&store) as Arc<dyn sesame_op::Store>)
        .with_authenticator(ServerAuth(Arc::clone(&login)))
        .with_password_authenticator(ServerAuth(Arc::clone(&login)))
        .with_claims(UserClaims(accounts.clone()))
        .with_clock(Arc::clone(&clock))
        .with_initial_access_tokens(Arc::clone(&store) as _)
        .with_scope("groups", ["groups"])
        .with_settings(settings);
    for (name, scope) in &config.scopes {
        builder = builder.with_scope(name, scope.claims.iter().cloned());
    }
    if let Some(dir) = &config.templates_dir {
        for name in [
            "consent.html",
            "logout.html",
            "error.html",
            "form_post.html",
        ] {
            let path = dir.join(name);
            if path.exists() {
                let source = std::fs::read_to_string(&path).map_err(|source| {
                    login::TemplateError::Read {
                        path: path.clone(),
                        source,
                    }
                })?;
                builder = builder.with_template(name, &source)?;
            }
        }
    }
    let provider = builder.build().await?;
    let _ = crate::metrics::handle();
    let token_limit = Arc::new(TokenLimit::new(limits, proxies, counters, clock));
    let router = provider
        .router()
        .merge(
            pages()
                // The form limit for the extractor too (L3).
                .layer(DefaultBodyLimit::max(LOGIN_BODY_LIMIT))
                .with_state(Arc::clone(&login)),
        )
        // After our end_session, on to an upstream's (`end_session = true`).
        .layer(middleware::from_fn_with_state(
            login,
            login::upstream::after_end_session,
        ))
        .route("/healthz", get(healthz).with_state(Arc::clone(&store)))
        .layer(middleware::from_fn_with_state(token_limit, limit_token))
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(middleware::from_fn_with_state(
            BodyRules {
                form_limit: LOGIN_BODY_LIMIT,
                limit: BODY_LIMIT,
                timeout: Duration::from_secs(config.http.body_timeout_seconds),
            },
            connections::limit_body,
        ));
    Ok(Built {
        provider,
        store,
        accounts,
        router,
        http: config.http.clone(),
        key_rotation_interval: config.key_rotation_interval,
    })
}

/// The provider's settings from `config`, with the secrets kept in `store`.
async fn provider_settings(config: &Config, store: &SqlStore) -> Result<Settings, ServerError> {
    let mut settings = Settings::default();
    settings.signing_algs = config
        .signing_algs
        .iter()
        .filter_map(|a| JwsAlgorithm::parse(a))
        .collect();
    settings.access_token_ttl = config.access_token_ttl;
    settings.refresh_token_ttl = config.refresh_token_ttl;
    settings.key_publish_delay = config.key_publish_delay;
    settings.password_grant = config.password_grant;
    settings.require_pkce = config.require_pkce;
    settings.require_par = config.require_par;
    settings.profile = config.profile;
    settings.require_pkce_or_nonce = config.require_pkce_or_nonce;
    settings.legacy_assertion_audience = config.legacy_assertion_audience;
    settings.acr_values_supported = config.acr.supported();
    settings.registration = match config.registration {
        RegistrationMode::Off => sesame_op::Registration::Disabled,
        RegistrationMode::Open => sesame_op::Registration::Open,
        RegistrationMode::Token => sesame_op::Registration::Issued,
    };
    settings.allow_private_outbound = config.allow_private_outbound;
    // Pairwise subjects: one salt for every instance on this database, kept in
    // it (sealed with the encryption key) so that backups and new instances agree.
    settings.pairwise_salt = Some(
        store
            .pairwise_salt()
            .await
            .map_err(ServerError::PairwiseSalt)?,
    );
    // DPoP nonces: derived with one key for every instance on this database.
    if config.dpop_nonce == DpopNonceMode::Required {
        settings.dpop_nonce = sesame_op::DpopNonce::Required(
            store
                .dpop_nonce_key()
                .await
                .map_err(ServerError::DpopNonceKey)?,
        );
    }
    Ok(settings)
}

/// Serves `router` on `listener` until `shutdown` resolves, with the
/// timeouts and limits of `[http]` (see [`crate::connections`]); requests in
/// flight then get `shutdown_grace_seconds` to finish before this returns.
/// Raises the soft open-file limit first. Sweeps expired rows every 5 minutes;
/// rotates keys on schedule (`key_rotation_interval`).
///
/// # Errors
/// None today: accept errors are logged and retried.
pub async fn serve(
    built: Built,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let tasks = crate::tasks::start(
        &built.store,
        &built.accounts,
        &built.provider,
        built.key_rotation_interval,
    );
    let fd_limit = connections::raise_fd_limit();
    let max_connections =
        connections::effective_max_connections(built.http.max_connections, fd_limit);
    tracing::info!(
        max_connections,
        configured = built.http.max_connections,
        fd_limit,
        "connection limit"
    );
    let limits = limits(&built.http, max_connections, "public");
    connections::serve(listener, built.router, limits, shutdown).await;
    tasks.abort();
    built.store.close().await;
    Ok(())
}

fn limits(http: &crate::config::Http, max_connections: usize, listener: &'static str) -> Limits {
    Limits {
        header_timeout: Duration::from_secs(http.header_timeout_seconds),
        idle_timeout: Duration::from_secs(http.idle_timeout_seconds),
        max_connections,
        shutdown_grace: Duration::from_secs(http.shutdown_grace_seconds),
        listener,
    }
}

/// Connections the metrics listener serves at once (a scraper or two).
const METRICS_CONNECTIONS: usize = 16;

/// Builds from configuration and serves: the body of `sesame serve`.
///
/// # Errors
/// As [`build`] and [`serve`].
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let built = build(&config).await?;
    let metrics = match &config.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Listen {
                    addr: addr.clone(),
                    source,
                    hint: " (metrics_listen)",
                })?,
        ),
        None => None,
    };
    tracing::info!(issuer = %config.issuer, listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), metrics = ?config.metrics_listen, "sesame is serving");
    let (stop_metrics, stopped) = tokio::sync::watch::channel(false);
    // The metrics listener has the same timeouts, and a small cap of its own.
    let metrics_limits = limits(&config.http, METRICS_CONNECTIONS, "metrics");
    let metrics = metrics.map(|listener| {
        let mut stopped = stopped.clone();
        tokio::spawn(connections::serve(
            listener,
            crate::metrics::router(),
            metrics_limits,
            async move {
                let _ = stopped.changed().await;
            },
        ))
    });
    let result = serve(built, listener, async move {
        shutdown.await;
        let _ = stop_metrics.send(true);
    })
    .await;
    if let Some(task) = metrics {
        task.await?;
    }
    result
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
