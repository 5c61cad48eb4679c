//! A sesame-op provider with a cookie login, an RP app, and a browser that follows redirects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use sesame_core::{ClientId, Clock, Issuer, RedirectUri, SessionId, Subject, SystemClock};
use sesame_op::{
    AuthMethod, Authenticator, AuthnError, ClaimsError, ClaimsSource, Client, EndUser, GrantType,
    LoginRequest, MemoryStore, Provider, Store, secrets,
};
use sesame_rp::{Claims, OidcClient, RequireLogin};
use tower_sessions::Session;

pub const SECRET: &str = "rp-test-secret-rp-test-secret-0123456789";

#[derive(Clone, Default)]
pub struct Sessions(pub Arc<Mutex<HashMap<String, EndUser>>>);

struct CookieAuth {
    base: String,
    sessions: Sessions,
}

fn cookie(h: &HeaderMap) -> Option<String> {
    h.get(header::COOKIE)?
        .to_str()
        .ok()?
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == "op_session")
        .map(|(_, v)| v.to_owned())
}

#[async_trait]
impl Authenticator for CookieAuth {
    async fn current_user(&self, parts: &Parts) -> Result<Option<EndUser>, AuthnError> {
        Ok(cookie(&parts.headers).and_then(|id| self.sessions.0.lock().unwrap().get(&id).cloned()))
    }

    fn login_url(&self, r: &LoginRequest) -> String {
        format!(
            "{}/op-login?{}",
            self.base,
            serde_urlencoded::to_string([("return_to", r.return_to.as_str())]).unwrap()
        )
    }

    async fn logout(&self, parts: &Parts, _: &EndUser) -> Result<HeaderMap, AuthnError> {
        if let Some(id) = cookie(&parts.headers) {
            self.sessions.0.lock().unwrap().remove(&id);
        }
        Ok(HeaderMap::new())
    }
}

struct Users;

#[async_trait]
impl ClaimsSource for Users {
    async fn claims(&self, s: &Subject) -> Result<Option<Map<String, Value>>, ClaimsError> {
        Ok(json!({"name": format!("User {}", s.as_str()), "email": format!("{}@example.com", s.as_str()), "email_verified": true})
            .as_object()
            .cloned())
    }
}

#[derive(serde::Deserialize)]
struct LoginQ {
    return_to: String,
    user: String,
}

async fn op_login(State(sessions): State<Sessions>, Query(q): Query<LoginQ>) -> Response {
    let id = sesame_core::random::token().unwrap();
    sessions.0.lock().unwrap().insert(
        id.clone(),
        EndUser {
            subject: Subject::new(q.user),
            auth_time: SystemClock.now(),
            session_id: SessionId::new(format!("sid-{id}")),
            acr: None,
            amr: None,
        },
    );
    let mut r = Redirect::to(&q.return_to).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!("op_session={id}; Path=/")).unwrap(),
    );
    r
}

pub struct Op {
    pub base: String,
    pub store: Arc<dyn Store>,
    /// Requests the provider received, per path.
    pub hits: Hits,
}

/// Requests counted per path.
#[derive(Clone, Default)]
pub struct Hits(Arc<Mutex<HashMap<String, usize>>>);

impl Hits {
    /// How many requests reached `path`.
    pub fn of(&self, path: &str) -> usize {
        self.0.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

pub async fn start_op() -> Op {
    start_op_with(|_| {}).await
}

pub async fn start_op_with(edit: impl FnOnce(&mut sesame_op::Settings)) -> Op {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let sessions = Sessions::default();
    let mut settings = sesame_op::Settings::default();
    // The relying parties of these tests listen on 127.0.0.1 (S14).
    settings.allow_private_outbound = true;
    edit(&mut settings);
    let provider = Provider::builder(Issuer::new(base.clone()).unwrap())
        .with_settings(settings)
        .with_store(Arc::clone(&store))
        .with_authenticator(CookieAuth {
            base: base.clone(),
            sessions: sessions.clone(),
        })
        .with_claims(Users)
        .build()
        .await
        .unwrap();
    let hits = Hits::default();
    let counted = hits.clone();
    let app = provider
        .router()
        .route("/op-login", get(op_login).with_state(sessions))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                *counted
                    .0
                    .lock()
                    .unwrap()
                    .entry(req.uri().path().to_owned())
                    .or_default() += 1;
                next.run(req)
            },
        ));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Op { base, store, hits }
}

impl Op {
    pub async fn register(&self, id: &str, rp_base: &str, edit: impl FnOnce(&mut Client)) {
        let mut c = Client::new(
            ClientId::new(id),
            vec![RedirectUri::new(format!("{rp_base}/callback")).unwrap()],
            SystemClock.now(),
        );
        c.client_secret_hash = Some(secrets::hash_generated_secret(SECRET));
        c.post_logout_redirect_uris = vec![RedirectUri::new(format!("{rp_base}/")).unwrap()];
        c.backchannel_logout_uri = Some(format!("{rp_base}/backchannel-logout"));
        c.grant_types.push(GrantType::ClientCredentials);
        c.skip_consent = true;
        edit(&mut c);
        if c.token_endpoint_auth_method == AuthMethod::None {
            c.client_secret_hash = None;
        }
        self.store.save_client(&c).await.unwrap();
    }
}

/// An RP app: `/` shows the user, `/me` is JSON, `/account` is protected.
pub async fn rp_app(oidc: OidcClient, listener: tokio::net::TcpListener) {
    async fn me(claims: Option<Claims>) -> Response {
        match claims {
            Some(c) => Json(
                json!({"sub": c.subject, "iss": c.issuer, "claims": c.claims,
                    "external": c.external(), "refused_external": c.refused_external()}),
            )
            .into_response(),
            None => (
                axum::http::StatusCode::UNAUTHORIZED,
                Json(json!({"error": "not signed in"})),
            )
                .into_response(),
        }
    }
    async fn csrf(session: Session) -> String {
        sesame_rp::csrf_token(&session).await.unwrap()
    }
    let app = Router::new()
        .route(
            "/account",
            get(|c: Claims| async move { format!("hello {}", c.subject) }),
        )
        .route("/api/data", axum::routing::post(|| async { "mutated" }))
        .layer(RequireLogin::new(oidc.clone()))
        .route("/me", get(me))
        .route("/csrf", get(csrf))
        .route(
            "/id-token",
            get(|t: sesame_rp::IdToken| async move { t.0.secret().to_owned() }),
        )
        .route(
            "/access-token",
            get(|t: sesame_rp::AccessToken| async move { t.0.secret().to_owned() }),
        )
        .route("/", get(|| async { "home" }))
        .route(
            "/logged-out",
            get(|r: sesame_rp::LogoutReturn| async move { format!("{r:?}") }),
        )
        .merge(oidc.router())
        .layer(axum::Extension(oidc))
        .layer(sesame_rp::session_layer(false));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

pub async fn rp_listener() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    (l, base)
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Follows redirects like a browser, logging in as `user` at the test login
/// page and allowing consent. Returns the last response and the URLs visited.
pub async fn follow(
    b: &reqwest::Client,
    start: &str,
    user: &str,
) -> (reqwest::Response, Vec<String>) {
    let mut url = start.to_owned();
    let mut seen = Vec::new();
    for _ in 0..20 {
        if url.contains("/op-login?") && !url.contains("&user=") {
            url = format!("{url}&user={user}");
        }
        seen.push(url.clone());
        let r = b.get(&url).send().await.unwrap();
        match r.headers().get(header::LOCATION) {
            Some(l) => {
                let l = l.to_str().unwrap();
                url = if l.starts_with('/') {
                    let u = url::Url::parse(&url).unwrap();
                    format!(
                        "{}://{}{l}",
                        u.scheme(),
                        u.host_str()
                            .zip(u.port())
                            .map(|(h, p)| format!("{h}:{p}"))
                            .unwrap()
                    )
                } else {
                    l.to_owned()
                };
            }
            None => return (r, seen),
        }
    }
    panic!("redirect loop: {seen:?}");
}

/// An RP app with several providers: `/account` is protected, `/me` is JSON.
pub async fn rp_providers_app(
    providers: sesame_rp::OidcProviders,
    listener: tokio::net::TcpListener,
) {
    async fn me(claims: Option<Claims>) -> Response {
        match claims {
            Some(c) => {
                Json(json!({"sub": c.subject, "iss": c.issuer, "claims": c.claims})).into_response()
            }
            None => (
                axum::http::StatusCode::UNAUTHORIZED,
                Json(json!({"error": "not signed in"})),
            )
                .into_response(),
        }
    }
    async fn csrf(session: Session) -> String {
        sesame_rp::csrf_token(&session).await.unwrap()
    }
    let app = Router::new()
        .route(
            "/account",
            get(
                |c: Claims, axum::Extension(client): axum::Extension<OidcClient>| async move {
                    format!("hello {} via {}", c.subject, client.name())
                },
            ),
        )
        .layer(sesame_rp::RequireLogin::for_providers(providers.clone()))
        .route("/me", get(me))
        .route("/csrf", get(csrf))
        .route(
            "/",
            get(|r: sesame_rp::LogoutReturn| async move { format!("{r:?}") }),
        )
        .merge(providers.router())
        .layer(axum::Extension(providers))
        .layer(sesame_rp::session_layer(false));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

/// Decodes the HTML escapes that minijinja and the test pages produce.
pub fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first POST form of a page: its action and its inputs (name, value).
pub fn post_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let start = html.find("<form method=\"post\" action=\"")?;
    let rest = &html[start + "<form method=\"post\" action=\"".len()..];
    let action = unescape(&rest[..rest.find('"')?]);
    let body = &rest[..rest.find("</form>")?];
    let mut fields = Vec::new();
    for chunk in body.split("<input ").skip(1) {
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            let s = chunk.find(&key)? + key.len();
            Some(unescape(&chunk[s..s + chunk[s..].find('"')?]))
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            fields.push((n, v));
        }
    }
    if body.contains("name=\"allow\"") {
        fields.push(("allow".into(), "1".into()));
    }
    Some((action, fields))
}

/// Follows the provider's redirects (signing in as `user`) and stops at the
/// redirect to the relying party's callback, without delivering it.
pub async fn until_callback(
    b: &reqwest::Client,
    start: &str,
    user: &str,
    callback: &str,
) -> String {
    let mut url = start.to_owned();
    for _ in 0..20 {
        if url.starts_with(callback) {
            return url;
        }
        if url.contains("/op-login?") && !url.contains("&user=") {
            url = format!("{url}&user={user}");
        }
        let r = b.get(&url).send().await.unwrap();
        let l = r.headers()[header::LOCATION].to_str().unwrap();
        url = url::Url::parse(&url).unwrap().join(l).unwrap().to_string();
    }
    panic!("no redirect to {callback}");
}

/// Like [`follow`], but also submits the provider's POST forms (form_post
/// responses, and the consent page with "allow"). Returns the final status,
/// body and the URLs visited (POSTs marked `POST `).
pub async fn follow_forms(
    b: &reqwest::Client,
    start: &str,
    user: &str,
) -> (u16, String, Vec<String>) {
    let mut seen = Vec::new();
    type Step = (String, Option<Vec<(String, String)>>);
    let mut next: Option<Step> = Some((start.to_owned(), None));
    for _ in 0..25 {
        let Some((mut url, form)) = next.take() else {
            break;
        };
        let r = match form {
            Some(fields) => {
                seen.push(format!("POST {url}"));
                b.post(&url).form(&fields).send().await.unwrap()
            }
            None => {
                if url.contains("/op-login?") && !url.contains("&user=") {
                    url = format!("{url}&user={user}");
                }
                seen.push(url.clone());
                b.get(&url).send().await.unwrap()
            }
        };
        if let Some(l) = r.headers().get(header::LOCATION) {
            let l = l.to_str().unwrap();
            let to = url::Url::parse(&url).unwrap().join(l).unwrap().to_string();
            next = Some((to, None));
            continue;
        }
        let status = r.status().as_u16();
        let html = r.text().await.unwrap();
        match post_form(&html) {
            Some((action, fields)) if status == 200 => {
                let to = url::Url::parse(&url)
                    .unwrap()
                    .join(&action)
                    .unwrap()
                    .to_string();
                next = Some((to, Some(fields)));
            }
            _ => return (status, html, seen),
        }
    }
    panic!("redirect loop: {seen:?}");
}
