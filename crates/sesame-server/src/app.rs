//! `sesame app`: the demo relying-party app, pointed at any provider.
//!
//! Routes: `/` (HTML: a login button, or the user's claims and a logout
//! button), `/login`, `/callback`, `/logout` (POST), `/backchannel-logout`
//! (POST), `/me` (JSON of the session's claims, 401 when not logged in).

use std::future::Future;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use minijinja::Environment;
use serde_json::{Value, json};
use sesame_core::{Issuer, JwsAlgorithm};
use sesame_op::pages::Page;
use sesame_rp::{Claims, ClientAuth, OidcClient, RoutePaths};
use tower_sessions::Session;

/// Settings of the demo app.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The provider's issuer.
    pub issuer: String,
    /// The client id registered there.
    pub client_id: String,
    /// The client secret, if confidential.
    pub client_secret: Option<String>,
    /// `client_secret_basic` (default with a secret), `client_secret_post`, `none`.
    pub auth_method: Option<String>,
    /// Scopes to request.
    pub scope: String,
    /// The public base URL (default `http://{listen}`); the redirect URI is `{public_url}/callback`.
    pub public_url: String,
}

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AppError(pub String);

const SHELL_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'";

/// Builds the demo app's router (discovering the provider).
///
/// # Errors
/// Discovery failure or a bad setting.
pub async fn router(config: &AppConfig) -> Result<Router, AppError> {
    let issuer =
        Issuer::new(config.issuer.clone()).map_err(|e| AppError(format!("issuer: {e}")))?;
    let public = config.public_url.trim_end_matches('/').to_owned();
    let redirect = format!("{public}/callback")
        .parse()
        .map_err(|e| AppError(format!("public URL: {e}")))?;
    let mut paths = RoutePaths::default();
    paths.login_failed = Some("/".into());
    let mut builder = OidcClient::builder(issuer, config.client_id.clone())
        .with_redirect_uri(redirect)
        .with_post_logout_redirect_uri(format!("{public}/"))
        .with_scopes(&config.scope)
        .map_err(|e| AppError(e.to_string()))?
        .with_algorithms([
            JwsAlgorithm::RS256,
            JwsAlgorithm::PS256,
            JwsAlgorithm::ES256,
            JwsAlgorithm::ES384,
            JwsAlgorithm::EdDSA,
        ])
        .with_paths(paths);
    if let Some(secret) = &config.client_secret {
        builder = builder.with_client_secret(secret.clone());
    }
    if let Some(m) = &config.auth_method {
        let auth = ClientAuth::parse(m)
            .ok_or_else(|| AppError(format!("unsupported --auth-method {m:?}")))?;
        builder = builder.with_auth_method(auth);
    }
    let oidc = builder.build().await.map_err(|e| AppError(e.to_string()))?;
    let templates = {
        let mut env = Environment::new();
        env.add_template("app.html", include_str!("../templates/app.html"))
            .map_err(|e| AppError(e.to_string()))?;
        std::sync::Arc::new(env)
    };
    let secure = public.starts_with("https://");
    Ok(Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .merge(oidc.router())
        .layer(Extension(templates))
        .layer(Extension(oidc))
        .layer(sesame_rp::session_layer(secure)))
}

#[derive(serde::Deserialize)]
struct HomeQuery {
    error: Option<String>,
}

async fn home(
    claims: Option<Claims>,
    session: Session,
    Extension(oidc): Extension<OidcClient>,
    Extension(templates): Extension<std::sync::Arc<Environment<'static>>>,
    Query(q): Query<HomeQuery>,
) -> Response {
    let csrf = sesame_rp::csrf_token(&session).await.unwrap_or_default();
    let rows: Option<Vec<(String, String)>> = claims.as_ref().map(|c| {
        c.claims
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                )
            })
            .collect()
    });
    let ctx = json!({
        "css": sesame_op::STYLESHEET,
        "issuer": oidc.issuer().as_str(),
        "claims": rows,
        "display_name": claims.as_ref().map(|c| c.display_name().to_owned()),
        "csrf_token": csrf,
        "error": q.error,
    });
    Page::new(&templates, "app.html")
        .with_csp(SHELL_CSP)
        .render(ctx)
}

async fn me(claims: Option<Claims>) -> Response {
    match claims {
        Some(c) => {
            Json(json!({"iss": c.issuer, "sub": c.subject, "claims": c.claims})).into_response()
        }
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "not logged in"})),
        )
            .into_response(),
    }
}

/// Serves the demo app until `shutdown` resolves.
///
/// # Errors
/// When the app cannot be built or the listener fails.
pub async fn run(
    config: AppConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let app = router(&config).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| AppError(e.to_string()))
}
