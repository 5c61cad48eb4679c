//! `sesame app`: the demo relying-party app, pointed at any provider.
//!
//! Routes: `/` (HTML: a login button, or the user's claims and a logout
//! button; "You have been signed out" only when the provider returns the
//! logout's `state`), `/login`, `/callback` (a failed sign-in answers
//! sesame-rp's failure page: 4xx for a bad or forged response), `/logout` (POST),
//! `/backchannel-logout` (POST), `/frontchannel-logout` (GET, framed by the
//! provider's logout page with `iss` and `sid`), `/me` (JSON of the session's claims and a
//! fingerprint of its access token, 401 when not logged in), and `/jwks.json`
//! (the public key of `--private-key`, for `private_key_jwt`, and of the request
//! object key); `request.rs` adds request objects, JARM, PAR, `--profile` and
//! WebFinger.
//!
//! Every option maps to one of sesame-rp's builder methods: `response_type`
//! (`with_response_type`), `response_mode` (`with_form_post`; the implicit and
//! hybrid types always use form_post, `fragment` is not offered since the
//! server cannot read a fragment), `id_token_algs` (`with_algorithms`, HS256
//! through `with_hs256_id_tokens`), `auth_params` (`with_auth_param`),
//! `private_key` (`with_private_key`), `refresh` (the `SessionRefresh` layer),
//! `dpop` (`with_dpop_per_session`: a key per session, kept in the session store;
//! `/me` says `"dpop": true` when the session's token is DPoP-bound),
//! `register` (`OidcClient::register`, then `with_registration`) and
//! `claims_sources` (`with_claims_source`; `/me` shows the verified external
//! claims under `external`, the refused sources under `refused_external`).

mod claims;
mod logout;

mod sessions;

use std::future::Future;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use minijinja::Environment;
use serde_json::{Value, json};
use sesame_core::JwsAlgorithm;
use sesame_op::pages::Page;
use sesame_rp::{ApiToken, Claims, ClientAuth, LogoutReturn, OidcClient, ResponseType};
use tower_sessions::Session;

pub mod request;

/// Settings of the demo app.
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    /// The provider's issuer.
    pub issuer: String,
    /// The client id registered there (empty with `register`).
    pub client_id: String,
    /// The client secret, if confidential.
    pub client_secret: Option<String>,
    /// `client_secret_basic` (default with a secret), `client_secret_post`,
    /// `client_secret_jwt`, `private_key_jwt` (with `private_key`), `none`.
    pub auth_method: Option<String>,
    /// Scopes to request.
    pub scope: String,
    /// The public base URL (default `http://{listen}`); the redirect URI is `{public_url}/callback`.
    pub public_url: String,
    /// The `response_type` (default `code`).
    pub response_type: Option<String>,
    /// `query` (the code flow's default), `form_post`; `fragment` is refused.
    pub response_mode: Option<String>,
    /// The ID token algorithms accepted (empty: RS256, PS256, ES256, ES384, EdDSA).
    pub id_token_algs: Vec<String>,
    /// Extra authorization request parameters.
    pub auth_params: Vec<(String, String)>,
    /// A PKCS#8 PEM private key for `private_key_jwt`.
    pub private_key_pem: Option<String>,
    /// `endpoint` (default) or `issuer`: the `aud` of client assertions.
    pub assertion_audience: Option<String>,
    /// Install `SessionRefresh` (refresh tokens before the access token expires).
    pub refresh: bool,
    /// Send the access token to UserInfo in a form body (`with_userinfo_form_body`).
    pub userinfo_form_body: bool,
    /// DPoP-bound tokens (RFC 9449), a key per session (`with_dpop_per_session`).
    pub dpop: bool,
    /// Register the client dynamically (RFC 7591) at start.
    pub register: bool,
    /// The initial access token for `register`, if the provider asks for one.
    pub initial_access_token: Option<String>,
    /// Where sessions live: `memory` (default, `None`), `sqlite://FILE`,
    /// `postgres://…` or `redis://…` (shared by instances, kept over restarts).
    pub session_store: Option<String>,
    /// Request objects and WebFinger (`request.rs`).
    pub request: request::RequestArgs,
    /// Claims providers trusted for aggregated and distributed claims:
    /// `ISSUER` (discovered) or `ISSUER=JWKS_URL` (`with_claims_source`).
    pub claims_sources: Vec<String>,
}

/// The parameters sesame-rp sets itself, refused in `auth_params`.
pub const RESERVED_AUTH_PARAMS: [&str; 9] = [
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "redirect_uri",
    "client_id",
    "response_type",
    "response_mode",
    "scope",
];

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
    Ok(start(config).await?.router)
}

/// The app, and what it registered and published.
#[derive(Debug)]
pub struct App {
    /// The app's routes.
    pub router: Router,
    /// The client id in use (the registered one with `register`).
    pub client_id: String,
    /// The public JWK Set served at `/jwks.json` (with a private key).
    pub jwks: Option<sesame_core::JwkSet>,
}

/// The response type and whether form_post is asked for.
fn response(config: &AppConfig) -> Result<(ResponseType, bool), AppError> {
    let rt = match &config.response_type {
        None => ResponseType::Code,
        Some(t) => ResponseType::parse(t.trim()).ok_or_else(|| {
            AppError(format!(
                "--response-type {t:?}: use code, id_token, \"id_token token\", \"code id_token\", \"code token\" or \"code id_token token\""
            ))
        })?,
    };
    let form_post = match config.response_mode.as_deref() {
        None => false,
        Some("form_post") => true,
        Some("query") if rt == ResponseType::Code => false,
        Some("query") => {
            return Err(AppError(format!(
                "--response-mode query: response type {:?} returns tokens, which sesame-rp takes by form_post only",
                rt.as_str()
            )));
        }
        Some("fragment") => {
            return Err(AppError(
                "--response-mode fragment is not supported: a server-side app cannot read a URL fragment (use form_post)".into(),
            ));
        }
        Some(m) => {
            return Err(AppError(format!(
                "--response-mode {m:?}: use query or form_post"
            )));
        }
    };
    Ok((rt, form_post))
}

/// The ID token algorithms (HS256 apart), and whether HS256 is accepted.
fn algorithms(config: &AppConfig) -> Result<(Vec<JwsAlgorithm>, bool), AppError> {
    if config.id_token_algs.is_empty() {
        if let Some(profile) = config.request.profile {
            return Ok((profile.signing_algs().to_vec(), false));
        }
        return Ok((
            vec![
                JwsAlgorithm::RS256,
                JwsAlgorithm::PS256,
                JwsAlgorithm::ES256,
                JwsAlgorithm::ES384,
                JwsAlgorithm::EdDSA,
            ],
            false,
        ));
    }
    let mut algs = Vec::new();
    let mut hs256 = false;
    for a in &config.id_token_algs {
        match JwsAlgorithm::parse(a) {
            Some(JwsAlgorithm::HS256) => hs256 = true,
            Some(alg) if !alg.is_symmetric() => algs.push(alg),
            _ => {
                return Err(AppError(format!(
                    "--id-token-alg {a:?}: use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA or HS256"
                )));
            }
        }
    }
    if hs256 && config.client_secret.is_none() {
        return Err(AppError(
            "--id-token-alg HS256 needs --client-secret (the key)".into(),
        ));
    }
    Ok((algs, hs256))
}

fn check_auth_params(params: &[(String, String)]) -> Result<(), AppError> {
    for (name, _) in params {
        if name.is_empty() {
            return Err(AppError("--auth-param: use NAME=VALUE".into()));
        }
        if RESERVED_AUTH_PARAMS.contains(&name.as_str()) || name.starts_with("code_challenge") {
            return Err(AppError(format!(
                "--auth-param {name}: sesame-rp sets {name} itself"
            )));
        }
    }
    Ok(())
}

/// `--auth-method` (which needs `--private-key` for `private_key_jwt`) and
/// `--assertion-audience`.
fn authentication(
    config: &AppConfig,
    has_key: bool,
) -> Result<(Option<ClientAuth>, sesame_rp::AssertionAudience), AppError> {
    let audience = match config.assertion_audience.as_deref() {
        None | Some("endpoint") => sesame_rp::AssertionAudience::Endpoint,
        Some("issuer") => sesame_rp::AssertionAudience::Issuer,
        Some(other) => {
            return Err(AppError(format!(
                "unsupported --assertion-audience {other:?} (one of: endpoint, issuer)"
            )));
        }
    };
    let auth = match &config.auth_method {
        Some(m) => Some(
            ClientAuth::parse(m)
                .ok_or_else(|| AppError(format!("unsupported --auth-method {m:?}")))?,
        ),
        None => None,
    };
    if auth == Some(ClientAuth::PrivateKeyJwt) && !has_key {
        return Err(AppError(
            "--auth-method private_key_jwt needs --private-key FILE".into(),
        ));
    }
    Ok((auth, audience))
}

/// `--register` and `--client-id` exclude each other; an initial access
/// token goes with `--register`.
fn check_register_flags(config: &AppConfig) -> Result<(), AppError> {
    if config.register && !config.client_id.is_empty() {
        return Err(AppError(
            "--register registers a new client: give it or --client-id, not both".into(),
        ));
    }
    if config.initial_access_token.is_some() && !config.register {
        return Err(AppError(
            "--initial-access-token goes with --register".into(),
        ));
    }
    Ok(())
}

fn templates() -> Result<std::sync::Arc<Environment<'static>>, AppError> {
    let mut env = Environment::new();
    env.add_template("app.html", include_str!("../../templates/app.html"))
        .map_err(|e| AppError(e.to_string()))?;
    Ok(std::sync::Arc::new(env))
}

/// Builds the demo app (discovering the provider, registering when asked).
///
/// # Errors
/// Discovery or registration failure, or a bad setting.
pub async fn start(config: &AppConfig) -> Result<App, AppError> {
    let public = config.public_url.trim_end_matches('/').to_owned();
    let redirect: sesame_core::RedirectUri = format!("{public}/callback")
        .parse()
        .map_err(|e| AppError(format!("public URL: {e}")))?;
    let (response_type, form_post) = response(config)?;
    let (algs, hs256) = algorithms(config)?;
    check_auth_params(&config.auth_params)?;
    request::check_profile(config)?;
    let key = config
        .private_key_pem
        .as_deref()
        .map(|pem| request::private_key(pem, config.request.profile))
        .transpose()?;
    let (auth, assertion_audience) = authentication(config, key.is_some())?;
    let mut jwks = match &key {
        Some(k) => Some(sesame_core::JwkSet {
            keys: vec![k.public_jwk().map_err(|e| AppError(e.to_string()))?],
        }),
        None => None,
    };
    let request_object = request::setup(config)?;
    request::publish(request_object.as_ref(), &mut jwks)?;
    check_register_flags(config)?;
    let issuer = request::issuer(config).await?;
    let registration = if config.register {
        let mut request = sesame_rp::RegistrationRequest::new([redirect.clone()])
            .with_client_name("Sesame demo app")
            .with_post_logout_redirect_uris([format!("{public}/")
                .parse()
                .map_err(|e| AppError(format!("public URL: {e}")))?])
            .with_scope(config.scope.clone())
            .with_response_types([response_type]);
        request = logout::register_logout_uris(request, &public);
        let method = auth.or(key.as_ref().map(|_| ClientAuth::PrivateKeyJwt));
        if let Some(m) = method {
            request = request.with_auth_method(m);
        }
        if let Some(set) = &jwks {
            request = request.with_jwks(set);
        }
        request = self::request::register(request_object.as_ref(), request);
        if let Some(t) = &config.initial_access_token {
            request = request.with_initial_access_token(t.clone());
        }
        Some(
            OidcClient::register(&issuer, request)
                .await
                .map_err(|e| AppError(format!("registration failed: {e}")))?,
        )
    } else {
        if config.client_id.is_empty() {
            return Err(AppError("give --client-id, or --register".into()));
        }
        None
    };
    let store = sessions::open(config.session_store.as_deref()).await?;
    let mut builder = sessions::registry(
        OidcClient::builder(issuer, config.client_id.clone()),
        &store,
    );
    if let Some(r) = &registration {
        builder = builder.with_registration(r);
    }
    builder = claims::with_claims_sources(builder, &config.claims_sources, &algs)?;
    builder = builder
        .with_redirect_uri(redirect)
        .with_post_logout_redirect_uri(format!("{public}/"))
        .with_scopes(&config.scope)
        .map_err(|e| AppError(e.to_string()))?
        .with_algorithms(algs)
        .with_response_type(response_type)
        .with_assertion_audience(assertion_audience);
    if form_post {
        builder = builder.with_form_post();
    }
    if let Some(secret) = &config.client_secret {
        builder = builder.with_client_secret(secret.clone());
    }
    if hs256 {
        builder = builder.with_hs256_id_tokens();
    }
    if config.userinfo_form_body {
        builder = builder.with_userinfo_form_body();
    }
    if config.dpop {
        builder = builder.with_dpop_per_session();
    }
    for (name, value) in &config.auth_params {
        builder = builder.with_auth_param(name.clone(), value.clone());
    }
    if let Some(k) = key {
        builder = builder.with_private_key(k);
    }
    if let Some(auth) = auth {
        builder = builder.with_auth_method(auth);
    }
    builder = request::apply(&config.request, request_object, builder);
    let oidc = builder.build().await.map_err(|e| AppError(e.to_string()))?;
    let templates = templates()?;
    let secure = public.starts_with("https://");
    let client_id = oidc.client_id().as_str().to_owned();
    let mut pages = Router::new().route("/", get(home)).route("/me", get(me));
    if config.refresh {
        pages = pages.layer(sessions::refresh(&oidc, store.as_ref()));
    }
    let mut router = pages.merge(oidc.router());
    if let Some(set) = jwks.clone() {
        router = router.route("/jwks.json", get(move || async move { Json(set) }));
    }
    let router = router.layer(Extension(templates)).layer(Extension(oidc));
    Ok(App {
        router: sessions::layer(router, store, secure),
        client_id,
        jwks,
    })
}

async fn home(
    claims: Option<Claims>,
    session: Session,
    Extension(oidc): Extension<OidcClient>,
    Extension(templates): Extension<std::sync::Arc<Environment<'static>>>,
    logout: LogoutReturn,
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
            .chain(claims::external_rows(c))
            .collect()
    });
    let ctx = json!({
        "css": sesame_op::STYLESHEET,
        "issuer": oidc.issuer().as_str(),
        "claims": rows,
        "display_name": claims.as_ref().map(|c| c.display_name().to_owned()),
        "csrf_token": csrf,
        // Only the provider's return with this browser's logout state says so.
        "logged_out": claims.is_none() && logout == LogoutReturn::LoggedOut,
    });
    Page::new(&templates, "app.html")
        .with_csp(SHELL_CSP)
        .render(ctx)
}

async fn me(claims: Option<Claims>, token: Result<ApiToken, sesame_rp::NotSignedIn>) -> Response {
    match claims {
        Some(c) => {
            // A fingerprint (the at_hash form), never the token: it changes when the token is refreshed.
            let token = token.ok();
            let fingerprint = token
                .as_ref()
                .map(|t| sesame_core::token_hash(JwsAlgorithm::RS256, t.access_token().secret()));
            let mut body = json!({
                "iss": c.issuer,
                "sub": c.subject,
                "claims": c.claims,
                "access_token_hash": fingerprint,
                "dpop": token.as_ref().is_some_and(ApiToken::is_dpop),
            });
            if let (Some(b), Value::Object(ext)) = (body.as_object_mut(), claims::external_json(&c))
            {
                b.extend(ext);
            }
            Json(body).into_response()
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
    serve(app, listener, shutdown).await
}

/// Serves a started app until `shutdown` resolves.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    app: Router,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| AppError(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A provider that only publishes its discovery document.
    async fn provider() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let doc = json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/jwks"),
            "end_session_endpoint": format!("{base}/end_session"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        let app = Router::new().route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(doc) }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }

    /// The app at a provider; its base URL and a browser with cookies.
    async fn app() -> (String, reqwest::Client) {
        let issuer = provider().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = AppConfig {
            issuer,
            client_id: "app".into(),
            client_secret: Some("app-secret-app-secret-0123456789".into()),
            scope: "openid".into(),
            public_url: base.clone(),
            ..AppConfig::default()
        };
        tokio::spawn(run(config, listener, std::future::pending()));
        let b = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        (base, b)
    }

    #[tokio::test]
    async fn a_failed_sign_in_shows_the_failure_page() {
        let (app, b) = app().await;
        let r = b.get(format!("{app}/login")).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let r = b
            .get(format!("{app}/callback?code=x&state=forged"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "no redirect to /?error=");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        let html = r.text().await.unwrap();
        assert!(html.contains("Sign-in failed"), "{html}");
        assert!(html.contains("<a href=\"/\">Home</a>"), "{html}");
    }
}
