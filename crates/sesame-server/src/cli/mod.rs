//! The `sesame` command line: `serve`, `migrate`, `demo` and `app` here;
//! `clients`, `users` and `keys` in their modules.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sesame_op_sqlx::SqlStore;

use crate::config::{Config, LogFormat, Overrides};

mod clients;
mod keys;
mod users;
mod words;

use clients::ClientsCommand;
use keys::KeysCommand;
use users::UsersCommand;

/// Sesame: an OpenID Provider.
#[derive(Debug, Parser)]
#[command(
    name = "sesame",
    version,
    about = "Sesame — an OpenID Provider with a CLI, a login UI and a demo"
)]
pub struct Cli {
    /// A TOML configuration file (SESAME_* environment variables and flags override it).
    #[arg(long, global = true, env = "SESAME_CONFIG")]
    pub config: Option<PathBuf>,
    /// The database: sqlite://FILE (default sqlite://sesame.db) or postgres://…
    #[arg(long, global = true)]
    pub database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the provider.
    ///
    /// Configuration keys (TOML via --config, or SESAME_KEY in the environment) include:
    ///   key_rotation_interval = "90d"   scheduled staged key rotation, one instance at a time
    ///                                   (seconds or 45s/30m/12h/90d; 0: only `sesame keys rotate`)
    ///   otlp_endpoint = "http://127.0.0.1:4318"   export traces over OTLP/HTTP (off by default)
    ///   [[upstream]] name, display_name, issuer, client_id, client_secret(_file), …
    ///                                   sign-in through another OpenID Provider (README: "Signing in
    ///                                   through another provider"); TOML only
    #[command(verbatim_doc_comment)]
    Serve {
        /// The issuer (the public base URL).
        #[arg(long)]
        issuer: Option<String>,
        /// The address to listen on.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Run a provider and the demo app together, with a demo user and client.
    Demo {
        /// Where the demo keeps its SQLite database.
        #[arg(long, default_value = ".sesame-demo")]
        data_dir: PathBuf,
        /// The provider's port.
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// The demo app's port.
        #[arg(long, default_value_t = 3000)]
        app_port: u16,
        /// The host to listen on and advertise.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
    /// Run the demo relying-party app alone, pointed at any provider.
    ///
    /// Examples:
    ///   sesame app --issuer https://op.example --client-id app --client-secret S
    ///   sesame app --issuer https://op.example --client-id hybrid --client-secret S \
    ///     --response-type "code id_token" --response-mode form_post --auth-param prompt=login
    ///   sesame app --issuer https://op.example --client-id api --auth-method private_key_jwt \
    ///     --private-key key.pem        # register PUBLIC_URL/jwks.json (printed at start)
    ///   sesame app --issuer https://op.example --register --scope "openid offline_access" --refresh
    ///   sesame app --issuer acct:alice@op.example --client-id app --client-secret S --request-object uri
    #[command(verbatim_doc_comment)]
    App(Box<AppArgs>),
}

#[derive(Debug, clap::Args)]
struct AppArgs {
    /// The provider's issuer.
    #[arg(long)]
    issuer: String,
    /// The client id registered there (or --register).
    #[arg(long)]
    client_id: Option<String>,
    /// The client secret.
    #[arg(long, env = "SESAME_APP_CLIENT_SECRET")]
    client_secret: Option<String>,
    /// client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt (with
    /// --private-key) or none.
    #[arg(long)]
    auth_method: Option<String>,
    /// A PKCS#8 PEM private key (RSA, P-256, P-384 or Ed25519) for private_key_jwt (RSA signs
    /// RS256, PS256 under --profile fapi2); its public JWK Set is printed at start and served at
    /// PUBLIC_URL/jwks.json.
    #[arg(long, value_name = "FILE")]
    private_key: Option<PathBuf>,
    /// What client assertions name as `aud`: endpoint (the token endpoint URL, OIDC Core §9;
    /// the default) or issuer (draft-ietf-oauth-rfc7523bis; what `sesame serve` accepts by default).
    #[arg(long, value_name = "endpoint|issuer")]
    assertion_audience: Option<String>,
    /// Scopes to request.
    #[arg(long, default_value = "openid profile email")]
    scope: String,
    /// code (default), id_token, "id_token token", "code id_token", "code token" or
    /// "code id_token token".
    #[arg(long, value_name = "RT")]
    response_type: Option<String>,
    /// query (the code flow's default) or form_post (always used with tokens in the
    /// response); fragment is not supported (a server cannot read it).
    #[arg(long, value_name = "MODE")]
    response_mode: Option<String>,
    /// An ID token algorithm to accept (repeat; default RS256, PS256, ES256, ES384, EdDSA).
    /// HS256 (keyed by the client secret) only when named.
    #[arg(long = "id-token-alg", value_name = "ALG")]
    id_token_algs: Vec<String>,
    /// An extra authorization request parameter, NAME=VALUE (repeat): prompt, max_age,
    /// claims, acr_values, ui_locales, login_hint … (not state, nonce, code_challenge*,
    /// redirect_uri, client_id, response_type, response_mode or scope).
    #[arg(long = "auth-param", value_name = "NAME=VALUE")]
    auth_params: Vec<String>,
    /// Refresh the session's tokens (sesame-rp's SessionRefresh) a minute before the access
    /// token expires; ask for offline_access in --scope to get a refresh token.
    #[arg(long)]
    refresh: bool,
    /// Send the access token to the UserInfo endpoint in a POST form body (RFC 6750 §2.2)
    /// instead of the Authorization header.
    #[arg(long)]
    userinfo_form_body: bool,
    /// DPoP (RFC 9449): sender-constrained tokens. The token requests carry a proof made
    /// with a key of the session's own (kept in --session-store), the access token must
    /// come back as token_type DPoP, and UserInfo is called with it and a proof.
    #[arg(long, env = "SESAME_APP_DPOP")]
    dpop: bool,
    /// Register the app at the provider's registration endpoint (RFC 7591) at start,
    /// instead of --client-id.
    #[arg(long)]
    register: bool,
    /// The initial access token the provider asks for with --register.
    #[arg(long, env = "SESAME_APP_INITIAL_ACCESS_TOKEN")]
    initial_access_token: Option<String>,
    /// Where sessions live: memory (default), sqlite://FILE, postgres://USER@HOST/DB or
    /// redis://HOST:PORT. A shared store also holds back-channel logouts and the refresh
    /// lease, so several app instances share logins and logouts, and restarts keep them.
    #[arg(long, value_name = "URL", env = "SESAME_APP_SESSION_STORE")]
    session_store: Option<String>,
    /// A claims provider trusted for aggregated and distributed claims (repeat): ISSUER (its
    /// keys from its discovery document) or ISSUER=JWKS_URL. Their JWTs must be signed with an
    /// --id-token-alg; /me lists the verified claims under "external", apart from the
    /// provider's own.
    #[arg(long = "claims-source", value_name = "ISSUER[=JWKS_URL]")]
    claims_sources: Vec<String>,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: String,
    /// The app's public base URL (default http://LISTEN); the redirect URI is PUBLIC_URL/callback.
    #[arg(long)]
    public_url: Option<String>,
    /// Export traces over OTLP/HTTP (protobuf) to this collector, e.g. http://127.0.0.1:4318
    /// (traces go to URL/v1/traces). Off by default.
    #[arg(long, value_name = "URL", env = "SESAME_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    #[command(flatten)]
    request: crate::app::request::RequestArgs,
}

impl AppArgs {
    /// The app's settings, with the key file read and the parameters split.
    fn config(self, public_url: String) -> Result<crate::app::AppConfig, Failure> {
        let private_key_pem = match &self.private_key {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                Failure::App(crate::app::AppError(format!(
                    "cannot read --private-key {}: {e}",
                    path.display()
                )))
            })?),
            None => None,
        };
        let mut auth_params = Vec::new();
        for p in &self.auth_params {
            let (name, value) = p.split_once('=').ok_or_else(|| {
                Failure::App(crate::app::AppError(format!(
                    "--auth-param {p:?}: use NAME=VALUE"
                )))
            })?;
            auth_params.push((name.to_owned(), value.to_owned()));
        }
        Ok(crate::app::AppConfig {
            issuer: self.issuer,
            client_id: self.client_id.unwrap_or_default(),
            client_secret: self.client_secret,
            auth_method: self.auth_method,
            scope: self.scope,
            public_url,
            response_type: self.response_type,
            response_mode: self.response_mode,
            id_token_algs: self.id_token_algs,
            auth_params,
            private_key_pem,
            assertion_audience: self.assertion_audience,
            refresh: self.refresh,
            userinfo_form_body: self.userinfo_form_body,
            dpop: self.dpop,
            register: self.register,
            initial_access_token: self.initial_access_token,
            session_store: self.session_store,
            request: self.request,
            claims_sources: self.claims_sources,
        })
    }
}

/// A failed command: one line for the user (exit code 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] crate::store::OpenError),
    /// A bad administrative request.
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    /// The server could not start or failed.
    #[error(transparent)]
    Server(#[from] crate::server::ServerError),
    /// The demo app could not start or failed.
    #[error(transparent)]
    App(#[from] crate::app::AppError),
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] sesame_op::StoreError),
    /// A user could not be added.
    #[error(transparent)]
    User(#[from] crate::accounts::UserError),
    /// A TOTP enrolment could not be made.
    #[error(transparent)]
    Totp(#[from] crate::login::totp::EnrolError),
    /// Key rotation failed.
    #[error(transparent)]
    Keys(#[from] sesame_op::KeysError),
    /// The system's random source failed.
    #[error(transparent)]
    Random(#[from] sesame_core::random::RandomError),
    /// An encryption key could not be made.
    #[error(transparent)]
    Crypt(#[from] sesame_op_sqlx::CryptError),
    /// Output could not be encoded.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The address is taken or invalid.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// No such client.
    #[error("no client with id {0:?}")]
    NoClient(String),
    /// No such user.
    #[error("no user named {0:?}")]
    NoUser(String),
    /// A flag's value breaks a rule.
    #[error("{0}")]
    Usage(&'static str),
}

async fn bind(addr: &str) -> Result<tokio::net::TcpListener, Failure> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Failure::Listen {
            addr: addr.to_owned(),
            source,
        })
}

/// What `init_tracing` set up that must be stopped at exit.
#[derive(Debug, Default)]
struct Tracing {
    #[cfg(feature = "otlp")]
    otlp: Option<crate::otlp::Otlp>,
}

impl Tracing {
    /// Exports the traces still queued.
    async fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(otlp) = self.otlp {
            otlp.shutdown().await;
        }
    }
}

/// Logs to stderr (and, with an OTLP endpoint, traces to it) for `service`.
fn init_tracing(
    config: &Config,
    otlp_endpoint: Option<&str>,
    service: &'static str,
) -> Result<Tracing, Failure> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let fmt = match config.log_format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Human => fmt.boxed(),
    };
    #[cfg_attr(not(feature = "otlp"), allow(unused_mut))]
    let mut tracing = Tracing::default();
    #[cfg(feature = "otlp")]
    let otlp = match otlp_endpoint {
        Some(endpoint) => {
            let (otlp, layer) = crate::otlp::Otlp::start(endpoint, service)
                .map_err(|e| Failure::Config(crate::config::ConfigError(e.to_string())))?;
            tracing.otlp = Some(otlp);
            Some(layer)
        }
        None => None,
    };
    #[cfg(not(feature = "otlp"))]
    {
        let _ = service;
        if let Some(endpoint) = otlp_endpoint {
            crate::config::check_otlp_endpoint(endpoint)?;
        }
    }
    let registry = tracing_subscriber::registry().with(fmt).with(filter);
    #[cfg(feature = "otlp")]
    let registry = registry.with(otlp);
    let _ = registry.try_init();
    Ok(tracing)
}

fn print_line(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::Runtime)
        .and_then(|runtime| runtime.block_on(execute(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprint_error(&failure.to_string());
            ExitCode::FAILURE
        }
    }
}

fn eprint_error(message: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
}

async fn open(config: &Config) -> Result<SqlStore, Failure> {
    Ok(crate::store::open(config).await?)
}

async fn execute(cli: Cli) -> Result<(), Failure> {
    let mut overrides = Overrides {
        database: cli.database.clone(),
        ..Overrides::default()
    };
    if let Command::Serve { issuer, listen } = &cli.command {
        overrides.issuer.clone_from(issuer);
        overrides.listen.clone_from(listen);
    }
    let needs_config = match &cli.command {
        Command::App { .. } | Command::Demo { .. } => false,
        Command::Keys(k) => k.needs_config(),
        _ => true,
    };
    let config = if needs_config {
        Config::load(cli.config.as_deref(), &overrides)?
    } else {
        Config::default()
    };
    let (otlp_endpoint, service) = match &cli.command {
        Command::App(args) => (args.otlp_endpoint.clone(), "sesame-app"),
        Command::Serve { .. } => (config.otlp_endpoint.clone(), "sesame"),
        _ => (None, "sesame"),
    };
    let tracing = init_tracing(&config, otlp_endpoint.as_deref(), service)?;
    let result = run_command(cli.command, config).await;
    tracing.shutdown().await;
    result
}

async fn run_command(command: Command, config: Config) -> Result<(), Failure> {
    match command {
        Command::Serve { .. } => {
            let listener = bind(&config.listen).await?;
            crate::server::run(config, listener, crate::server::shutdown_signal()).await?;
        }
        Command::Migrate => {
            open(&config).await?.close().await;
            print_line("migrations applied");
        }
        Command::Clients(c) => clients::run(&config, c).await?,
        Command::Users(c) => users::run(&config, c).await?,
        Command::Keys(c) => keys::run(&config, c).await?,
        Command::Demo {
            data_dir,
            port,
            app_port,
            host,
        } => {
            let options = crate::demo::DemoOptions {
                data_dir,
                host,
                port,
                app_port,
            };
            crate::demo::run(options, crate::server::shutdown_signal(), |info| {
                print_line("Sesame demo is running.");
                print_line(&format!(
                    "  Demo app:  {}   <- open this in a browser",
                    info.app
                ));
                print_line(&format!(
                    "  Provider:  {}   (discovery: {}{})",
                    info.provider,
                    info.provider,
                    sesame_core::WELL_KNOWN_PATH
                ));
                print_line(&format!(
                    "  Sign in as username: {}  password: {}",
                    info.username, info.password
                ));
                print_line("Press Ctrl-C to stop.");
            })
            .await?;
        }
        Command::App(args) => {
            let listen = args.listen.clone();
            let public_url = args
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{listen}"));
            let config = args.config(public_url.clone())?;
            let listener = bind(&listen).await?;
            let app = crate::app::start(&config).await?;
            if config.register {
                print_line(&format!("Registered client id {}", app.client_id));
            }
            if let Some(jwks) = &app.jwks {
                print_line(&format!(
                    "Public JWK Set (also at {public_url}/jwks.json): {}",
                    serde_json::to_string(jwks)?
                ));
            }
            print_line(&format!(
                "Demo app on {public_url} (redirect URI {public_url}/callback)"
            ));
            crate::app::serve(app.router, listener, crate::server::shutdown_signal()).await?;
        }
    }
    Ok(())
}
