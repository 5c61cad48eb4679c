//! The routes of several providers ([`OidcProviders::router`]): the same
//! handlers as for one provider, with the provider named in the path.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_sessions::Session;

use super::LoginQuery;
use crate::auth::Clients;
use crate::next::is_safe_next;
use crate::page::{escape_html, html_page};
use crate::providers::OidcProviders;

impl OidcProviders {
    /// The routes: `GET {login}/{provider}`, `GET|POST {callback}/{provider}`,
    /// `POST {logout}`, `POST {backchannel_logout}/{provider}`,
    /// `GET {frontchannel_logout}/{provider}`, and `GET {login}`
    /// (a plain list of the providers, unless turned off). Needs a
    /// `tower_sessions` layer around it (see [`crate::session_layer`]).
    pub fn router(&self) -> Router {
        let p = self.paths();
        let under = |prefix: &str| format!("{}/{{provider}}", prefix.trim_end_matches('/'));
        let mut router = Router::new()
            .route(&under(&p.login), get(login))
            .route(&under(&p.callback), get(callback_get).post(callback_post))
            .route(&p.logout, post(logout))
            .route(&under(&p.backchannel_logout), post(backchannel_logout))
            .route(&under(&p.frontchannel_logout), get(frontchannel_logout));
        if self.serves_provider_list() {
            router = router.route(&p.login, get(chooser));
        }
        router.with_state(self.clone())
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
        Some(client) => super::login_with(client, &session, q).await,
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
    super::callback(
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
    super::callback(
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
    super::logout_with(&clients, &paths, &session, &headers, &body).await
}

async fn backchannel_logout(
    State(providers): State<OidcProviders>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    match providers.get(&name) {
        Some(client) => super::backchannel_logout_with(client, &body).await,
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
