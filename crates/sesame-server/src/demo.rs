//! `sesame demo`: a provider and the demo app, ready to click through.

use std::path::PathBuf;
use std::sync::Arc;

use sesame_core::{Clock, SystemClock};
use sesame_op::store::ClientStore;

use crate::admin::{NewClient, add_client};
use crate::app::AppConfig;
use crate::config::Config;
use crate::server::{self, ServerError};

/// Where and on which ports the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Holds the SQLite database and its key.
    pub data_dir: PathBuf,
    /// Host to bind and advertise.
    pub host: String,
    /// The provider's port (0: any free port).
    pub port: u16,
    /// The app's port (0: any free port).
    pub app_port: u16,
}

/// What the demo printed.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    /// The provider's issuer.
    pub provider: String,
    /// The app's URL.
    pub app: String,
    /// The demo user's name.
    pub username: String,
    /// The demo user's password (fresh on every start).
    pub password: String,
}

/// Starts everything and runs until `shutdown` resolves; `ready` receives what to print.
///
/// # Errors
/// When a port is taken or the database cannot be opened.
pub async fn run(
    options: DemoOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(&DemoInfo),
) -> Result<(), ServerError> {
    std::fs::create_dir_all(&options.data_dir).map_err(|source| ServerError::CreateDir {
        path: options.data_dir.clone(),
        source,
    })?;
    let bind = |port: u16| {
        let host = options.host.clone();
        async move {
            let listen = |source: std::io::Error| ServerError::Listen {
                addr: format!("{host}:{port}"),
                source,
                hint: " (choose another with --port/--app-port)",
            };
            let listener = tokio::net::TcpListener::bind((host.as_str(), port))
                .await
                .map_err(listen)?;
            let addr = listener.local_addr().map_err(listen)?;
            Ok::<_, ServerError>((listener, addr))
        }
    };
    let (op_listener, op_addr) = bind(options.port).await?;
    let (app_listener, app_addr) = bind(options.app_port).await?;
    let provider_url = format!("http://{}:{}", options.host, op_addr.port());
    let app_url = format!("http://{}:{}", options.host, app_addr.port());

    let db = options.data_dir.join("sesame.db");
    let config = Config {
        issuer: provider_url.clone(),
        listen: op_addr.to_string(),
        database: format!("sqlite://{}", db.display()),
        // The demo app listens on this machine: its back-channel logout URI
        // is a loopback address (S14).
        allow_private_outbound: true,
        ..Config::default()
    };
    let built = server::build(&config).await?;
    let store = Arc::clone(&built.store);

    // The demo user, with a fresh password each start.
    let password = sesame_core::random::token()?[..16].to_owned();
    let hash = sesame_op::secrets::hash_password(&password)?;
    let username = "demo".to_owned();
    let accounts = &built.accounts;
    if accounts.find_user(&username).await?.is_some() {
        accounts.set_password(&username, &hash).await?;
    } else {
        accounts
            .add_user(
                &username,
                &hash,
                Some("demo@example.com"),
                Some("Demo User"),
                SystemClock.now(),
            )
            .await?;
    }
    // The demo app's client, with a fresh secret each start.
    let _ = store
        .delete_client(&sesame_core::ClientId::new("demo-app"))
        .await;
    let registered = add_client(
        &store,
        &NewClient {
            name: "Sesame demo app".into(),
            client_id: Some("demo-app".into()),
            redirect_uris: vec![format!("{app_url}/callback")],
            post_logout_redirect_uris: vec![format!("{app_url}/")],
            backchannel_logout_uri: Some(format!("{app_url}/backchannel-logout")),
            ..NewClient::default()
        },
    )
    .await?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut op_stop = stop_rx.clone();
    let op_task = tokio::spawn(server::serve(built, op_listener, async move {
        let _ = op_stop.changed().await;
    }));
    let app_config = AppConfig {
        issuer: provider_url.clone(),
        client_id: registered.client_id,
        client_secret: registered.client_secret,
        scope: "openid profile email offline_access".into(),
        public_url: app_url.clone(),
        ..AppConfig::default()
    };
    let mut app_stop = stop_rx.clone();
    let app = crate::app::router(&app_config).await?;
    let app_task = tokio::spawn(async move {
        axum::serve(app_listener, app)
            .with_graceful_shutdown(async move {
                let _ = app_stop.changed().await;
            })
            .await
    });
    ready(&DemoInfo {
        provider: provider_url,
        app: app_url,
        username,
        password,
    });
    shutdown.await;
    let _ = stop_tx.send(true);
    let _ = app_task.await;
    op_task.await?
}
