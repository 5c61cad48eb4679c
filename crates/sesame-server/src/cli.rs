//! The `sesame` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use sesame_core::{ClientId, Clock, JwsAlgorithm, SystemClock};
use sesame_op::store::{ClientStore, KeyStore};
use sesame_op_sqlx::SqlStore;

use crate::admin::{self, NewClient};
use crate::config::{Config, LogFormat, Overrides};

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
    App {
        /// The provider's issuer.
        #[arg(long)]
        issuer: String,
        /// The client id registered there.
        #[arg(long)]
        client_id: String,
        /// The client secret.
        #[arg(long, env = "SESAME_APP_CLIENT_SECRET")]
        client_secret: Option<String>,
        /// client_secret_basic, client_secret_post or none.
        #[arg(long)]
        auth_method: Option<String>,
        /// Scopes to request.
        #[arg(long, default_value = "openid profile email")]
        scope: String,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
        /// The app's public base URL (default http://LISTEN); the redirect URI is PUBLIC_URL/callback.
        #[arg(long)]
        public_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ClientsCommand {
    /// Register a client; the secret is printed once and stored hashed.
    Add(Box<ClientAdd>),
    /// List clients.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        /// The client id.
        client_id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove a client.
    Remove {
        /// The client id.
        client_id: String,
    },
}

#[derive(Debug, Args)]
struct ClientAdd {
    /// Display name (shown on the consent page).
    #[arg(long)]
    name: String,
    /// A redirect URI (repeat for several); matched exactly.
    #[arg(long = "redirect-uri", required = true)]
    redirect_uris: Vec<String>,
    /// A public client (no secret; PKCE required).
    #[arg(long)]
    public: bool,
    /// A post-logout redirect URI (repeat for several).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// A grant type (repeat): authorization_code, refresh_token, client_credentials,
    /// password (a confidential client, and `password_grant = true` in the configuration).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt or none.
    #[arg(long)]
    auth_method: Option<String>,
    /// RS256, ES256 or EdDSA.
    #[arg(long)]
    id_token_alg: Option<String>,
    /// A first-party client: no consent page.
    #[arg(long)]
    skip_consent: bool,
    /// Where to POST back-channel logout tokens.
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// public (default) or pairwise: a `sub` per sector (the one host of the redirect URIs).
    #[arg(long)]
    subject_type: Option<String>,
    /// An RFC 8707 resource (an API's absolute URI) the client may ask access tokens for (repeat).
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// A fixed client id (default: random).
    #[arg(long)]
    client_id: Option<String>,
    /// Print {"client_id": …, "client_secret": …}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user.
    Add {
        /// The login name.
        #[arg(long)]
        username: String,
        /// The password (stored as an Argon2id hash).
        #[arg(long, env = "SESAME_USER_PASSWORD")]
        password: String,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Full name.
        #[arg(long)]
        name: Option<String>,
    },
    /// List users.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user.
    Remove {
        /// The login name.
        #[arg(required_unless_present = "user")]
        username: Option<String>,
        /// The login name (alternative spelling).
        #[arg(long = "username", conflicts_with = "username")]
        user: Option<String>,
    },
    /// Set a user's password (their login sessions end).
    Passwd {
        /// The login name.
        #[arg(required_unless_present = "user")]
        username: Option<String>,
        /// The login name (alternative spelling).
        #[arg(long = "username", conflicts_with = "username")]
        user: Option<String>,
        /// The new password.
        #[arg(long, env = "SESAME_USER_PASSWORD")]
        password: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List signing keys.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Staged rotation: the published next key starts signing, the active one retires, a new next key is published.
    Rotate {
        /// Only this algorithm (default: every configured one).
        #[arg(long)]
        alg: Option<String>,
    },
    /// Add a signing key for an algorithm.
    Generate {
        /// RS256, PS256, ES256, ES384 or EdDSA.
        #[arg(long)]
        alg: String,
    },
    /// Print a fresh encryption key for SESAME_ENCRYPTION_KEY.
    EncryptionKey,
}

/// A failed command: one line for the user.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

fn print_line(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprint_error(&format!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprint_error(&message);
            ExitCode::FAILURE
        }
    }
}

fn eprint_error(message: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
}

async fn open(config: &Config) -> Result<SqlStore, Failure> {
    crate::store::open(config).await.map_err(|e| Failure(e.0))
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
    let needs_config = !matches!(
        cli.command,
        Command::App { .. } | Command::Demo { .. } | Command::Keys(KeysCommand::EncryptionKey)
    );
    let config = if needs_config {
        Config::load(cli.config.as_deref(), &overrides)?
    } else {
        Config::default()
    };
    init_tracing(&config);
    match cli.command {
        Command::Serve { .. } => {
            let listener = tokio::net::TcpListener::bind(&config.listen)
                .await
                .map_err(|e| Failure(format!("cannot listen on {}: {e}", config.listen)))?;
            crate::server::run(config, listener, crate::server::shutdown_signal()).await?;
        }
        Command::Migrate => {
            open(&config).await?.close().await;
            print_line("migrations applied");
        }
        Command::Clients(c) => clients(&config, c).await?,
        Command::Users(c) => users(&config, c).await?,
        Command::Keys(c) => keys(&config, c).await?,
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
        Command::App {
            issuer,
            client_id,
            client_secret,
            auth_method,
            scope,
            listen,
            public_url,
        } => {
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .map_err(|e| Failure(format!("cannot listen on {listen}: {e}")))?;
            let public_url = public_url.unwrap_or_else(|| format!("http://{listen}"));
            let config = crate::app::AppConfig {
                issuer,
                client_id,
                client_secret,
                auth_method,
                scope,
                public_url: public_url.clone(),
            };
            print_line(&format!(
                "Demo app on {public_url} (redirect URI {public_url}/callback)"
            ));
            crate::app::run(config, listener, crate::server::shutdown_signal()).await?;
        }
    }
    Ok(())
}

async fn clients(config: &Config, command: ClientsCommand) -> Result<(), Failure> {
    let store = open(config).await?;
    match command {
        ClientsCommand::Add(a) => {
            let registered = admin::add_client(
                &store,
                &NewClient {
                    name: a.name,
                    client_id: a.client_id,
                    redirect_uris: a.redirect_uris,
                    post_logout_redirect_uris: a.post_logout_redirect_uris,
                    grant_types: a.grant_types,
                    auth_method: a.auth_method,
                    public: a.public,
                    id_token_alg: a.id_token_alg,
                    skip_consent: a.skip_consent,
                    backchannel_logout_uri: a.backchannel_logout_uri,
                    subject_type: a.subject_type,
                    resources: a.resources,
                },
            )
            .await?;
            if a.json {
                print_line(&serde_json::to_string(&registered)?);
            } else {
                print_line(&format!("client_id:     {}", registered.client_id));
                match &registered.client_secret {
                    Some(s) => {
                        print_line(&format!("client_secret: {s}   (shown once; store it now)"))
                    }
                    None => print_line("client_secret: none (public client)"),
                }
            }
        }
        ClientsCommand::List { json } => {
            let clients = store.list_clients().await?;
            if json {
                let list: Vec<_> = clients.iter().map(client_json).collect();
                print_line(&serde_json::to_string_pretty(&list)?);
            } else {
                for c in clients {
                    print_line(&format!(
                        "{}\t{}\t{}",
                        c.client_id,
                        c.display_name(),
                        c.token_endpoint_auth_method.as_str()
                    ));
                }
            }
        }
        ClientsCommand::Show { client_id, json } => {
            let c = store
                .find_client(&ClientId::new(&client_id))
                .await?
                .ok_or_else(|| Failure(format!("no client with id {client_id:?}")))?;
            let v = client_json(&c);
            if json {
                print_line(&serde_json::to_string_pretty(&v)?);
            } else if let Some(obj) = v.as_object() {
                for (k, v) in obj {
                    print_line(&format!("{k}: {v}"));
                }
            }
        }
        ClientsCommand::Remove { client_id } => {
            if !store.delete_client(&ClientId::new(&client_id)).await? {
                return Err(Failure(format!("no client with id {client_id:?}")));
            }
            print_line(&format!("removed client {client_id}"));
        }
    }
    store.close().await;
    Ok(())
}

fn client_json(c: &sesame_op::Client) -> serde_json::Value {
    json!({
        "client_id": c.client_id.as_str(),
        "client_name": c.client_name,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types,
        "token_endpoint_auth_method": c.token_endpoint_auth_method.as_str(),
        "id_token_signed_response_alg": c.id_token_signed_response_alg,
        "skip_consent": c.skip_consent,
        "backchannel_logout_uri": c.backchannel_logout_uri,
        "subject_type": c.subject_type.as_str(),
        "allowed_resources": c.allowed_resources,
        "created_at": c.created_at,
    })
}

async fn users(config: &Config, command: UsersCommand) -> Result<(), Failure> {
    let store = open(config).await?;
    match command {
        UsersCommand::Add {
            username,
            password,
            email,
            name,
        } => {
            if username.trim().is_empty() || username.chars().any(char::is_whitespace) {
                return Err(Failure(
                    "--username must be non-empty and without spaces".into(),
                ));
            }
            if password.len() < 8 {
                return Err(Failure("--password must have at least 8 characters".into()));
            }
            let hash = sesame_op::secrets::hash_password(&password)?;
            let user = store
                .add_user(
                    &username,
                    &hash,
                    email.as_deref(),
                    name.as_deref(),
                    SystemClock.now(),
                )
                .await?;
            print_line(&format!(
                "added user {} (sub {})",
                user.username, user.subject
            ));
        }
        UsersCommand::List { json } => {
            let users = store.list_users().await?;
            if json {
                print_line(&serde_json::to_string_pretty(&users)?);
            } else {
                for u in users {
                    print_line(&format!(
                        "{}\t{}\t{}",
                        u.username,
                        u.email.unwrap_or_default(),
                        u.name.unwrap_or_default()
                    ));
                }
            }
        }
        UsersCommand::Remove { username, user } => {
            let username = username.or(user).unwrap_or_default();
            if !store.remove_user(&username).await? {
                return Err(Failure(format!("no user named {username:?}")));
            }
            print_line(&format!("removed user {username}"));
        }
        UsersCommand::Passwd {
            username,
            user,
            password,
        } => {
            let username = username.or(user).unwrap_or_default();
            if password.len() < 8 {
                return Err(Failure("--password must have at least 8 characters".into()));
            }
            let hash = sesame_op::secrets::hash_password(&password)?;
            if !store.set_password(&username, &hash).await? {
                return Err(Failure(format!("no user named {username:?}")));
            }
            print_line(&format!(
                "password changed for {username}; their sessions were ended"
            ));
        }
    }
    store.close().await;
    Ok(())
}

async fn keys(config: &Config, command: KeysCommand) -> Result<(), Failure> {
    if let KeysCommand::EncryptionKey = command {
        print_line(&sesame_op_sqlx::EncryptionKey::generate()?.to_base64());
        return Ok(());
    }
    match command {
        KeysCommand::List { json } => {
            let store = open(config).await?;
            let keys = store.list_keys().await?;
            if json {
                let v: Vec<_> = keys
                    .iter()
                    .map(|k| json!({"kid": k.kid, "alg": k.alg, "state": k.state, "created_at": k.created_at, "state_changed_at": k.state_changed_at}))
                    .collect();
                print_line(&serde_json::to_string_pretty(&v)?);
            } else {
                for k in keys {
                    print_line(&format!(
                        "{}\t{}\t{}\t{}",
                        k.kid,
                        k.alg,
                        k.state.as_str(),
                        k.created_at
                    ));
                }
            }
            store.close().await;
        }
        KeysCommand::Rotate { alg } => {
            let built = crate::server::build(config).await?;
            let algs: Vec<JwsAlgorithm> = match alg {
                Some(a) => vec![
                    JwsAlgorithm::parse(&a)
                        .filter(|a| !a.is_symmetric())
                        .ok_or_else(|| Failure(format!("unsupported --alg {a:?}")))?,
                ],
                None => config
                    .signing_algs
                    .iter()
                    .filter_map(|a| JwsAlgorithm::parse(a))
                    .collect(),
            };
            for alg in algs {
                match built.provider.rotate_keys(alg).await? {
                    sesame_op::Rotation::PublishedNext { usable_at } => print_line(&format!(
                        "published a next {alg} key; run `sesame keys rotate` again after {usable_at} (unix time) to make it sign"
                    )),
                    _ => print_line(&format!(
                        "rotated {alg}: the next key now signs; the previous key stays published until its tokens expire"
                    )),
                }
            }
            built.store.close().await;
        }
        KeysCommand::Generate { alg } => {
            let store = open(config).await?;
            let key = admin::generate_key(&store, &alg).await?;
            print_line(&format!(
                "generated {} key {} ({})",
                key.alg,
                key.kid,
                key.state.as_str()
            ));
            store.close().await;
        }
        KeysCommand::EncryptionKey => {}
    }
    Ok(())
}
