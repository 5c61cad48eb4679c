//! `RequireLogin`: the gate in front of protected routes.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower::Service;
use tower_sessions::Session;

use crate::auth::{self, Clients};
use crate::client::OidcClient;
use crate::gate::{Gate, next_of};
use crate::providers::OidcProviders;
use crate::routes::see_other;

/// Lets signed-in requests through; sends a browser's GET to the login
/// with a same-origin `next`, and answers everything else (XHR, API calls,
/// non-GET) with 401 JSON — so an expired session never silently performs a POST.
///
/// ```no_run
/// # async fn demo(oidc: sesame_rp::OidcClient) {
/// use axum::{Router, routing::get};
/// let app: Router = Router::new()
///     .route("/account", get(|| async { "secret" }))
///     .layer(sesame_rp::RequireLogin::new(oidc.clone()))
///     .merge(oidc.router())
///     .layer(sesame_rp::session_layer(false));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RequireLogin {
    clients: Clients,
}

impl RequireLogin {
    /// A gate that logs in with `client`.
    pub fn new(client: OidcClient) -> Self {
        Self {
            clients: Clients::One(client),
        }
    }

    /// A gate for an app with several providers: a session from any of them
    /// passes (while that provider is still configured); a browser is sent
    /// to the provider list (`GET /login`) with a same-origin `next`.
    /// Handlers may take `Extension<OidcClient>`: the client the user signed in with.
    ///
    /// ```no_run
    /// # fn demo(providers: sesame_rp::OidcProviders) {
    /// use axum::{Router, routing::get};
    /// let app: Router = Router::new()
    ///     .route("/account", get(|| async { "secret" }))
    ///     .layer(sesame_rp::RequireLogin::for_providers(providers.clone()))
    ///     .merge(providers.router())
    ///     .layer(sesame_rp::session_layer(false));
    /// # }
    /// ```
    pub fn for_providers(providers: OidcProviders) -> Self {
        Self {
            clients: Clients::Many(providers),
        }
    }
}

/// The service made by [`RequireLogin`].
#[derive(Debug, Clone)]
pub struct RequireLoginService<S> {
    inner: S,
    gate: RequireLogin,
}

crate::gate::gate_layer!(RequireLogin => RequireLoginService { gate });

fn wants_html(req: &Request<Body>) -> bool {
    let h = req.headers();
    let xhr = h
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest"));
    let accept = h
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let json_only = accept.contains("application/json") && !accept.contains("text/html");
    (req.method() == Method::GET || req.method() == Method::HEAD) && !xhr && !json_only
}

impl Gate for RequireLogin {
    async fn serve<S>(self, mut req: Request<Body>, mut inner: S) -> Result<Response, S::Error>
    where
        S: Service<Request<Body>, Response = Response> + Send + 'static,
        S::Future: Send + 'static,
    {
        let clients = self.clients;
        let Some(session) = req.extensions().get::<Session>().cloned() else {
            tracing::error!("RequireLogin needs a tower_sessions layer outside it");
            return Ok((StatusCode::INTERNAL_SERVER_ERROR, "session layer missing").into_response());
        };
        if let Some(auth) = auth::current(Some(&clients), &session).await {
            // Extractors downstream reuse what was just loaded and checked.
            if let Some(client) = clients.for_session(&auth) {
                req.extensions_mut().insert(client);
            }
            req.extensions_mut()
                .insert(auth::Loaded(std::sync::Arc::new(auth)));
            return inner.call(req).await;
        }
        if wants_html(&req) {
            let q = serde_urlencoded::to_string([("next", next_of(&req))]).unwrap_or_default();
            tracing::debug!("not signed in: redirecting to the login");
            return Ok(see_other(&format!("{}?{q}", clients.login_path())));
        }
        tracing::debug!(method = %req.method(), "not signed in: 401");
        let mut r = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "login_required", "login": clients.login_path()})),
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("OpenIDConnect"),
        );
        Ok(r)
    }
}
