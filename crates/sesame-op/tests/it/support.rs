//! A provider on a real listener, a cookie-based test login, and a browser-like client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use sesame_core::{
    ClientId, Clock, Expected, IdTokenValidator, Issuer, JwkSet, JwsAlgorithm, KeySet, Nonce,
    RedirectUri, SessionId, Subject, TestClock, ValidatedIdToken,
};
use sesame_op::{
    AuthMethod, Authenticator, AuthnError, ClaimsError, ClaimsSource, Client, EndUser, GrantType,
    LoginRequest, MemoryStore, Provider, Store, secrets,
};

pub const REDIRECT: &str = "https://rp.example/callback";
pub const SECRET: &str = "a-very-long-client-secret-for-tests-0123456789";

/// Logged-in users by session cookie.
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<String, EndUser>>>);

pub struct CookieAuth {
    base: String,
    sessions: Sessions,
}

fn cookie(parts: &HeaderMap) -> Option<String> {
    let raw = parts.get(header::COOKIE)?.to_str().ok()?;
    raw.split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == "test_session")
        .map(|(_, v)| v.to_owned())
}

#[async_trait]
impl Authenticator for CookieAuth {
    async fn current_user(&self, parts: &Parts) -> Result<Option<EndUser>, AuthnError> {
        let Some(id) = cookie(&parts.headers) else {
            return Ok(None);
        };
        Ok(self.sessions.0.lock().unwrap().get(&id).cloned())
    }

    fn login_url(&self, request: &LoginRequest) -> String {
        let q = serde_urlencoded::to_string([("return_to", request.return_to.as_str())]).unwrap();
        format!("{}/test-login?{q}", self.base)
    }

    async fn logout(&self, parts: &Parts, _user: &EndUser) -> Result<HeaderMap, AuthnError> {
        if let Some(id) = cookie(&parts.headers) {
            self.sessions.0.lock().unwrap().remove(&id);
        }
        let mut h = HeaderMap::new();
        h.insert(
            header::SET_COOKIE,
            HeaderValue::from_static("test_session=; Path=/; Max-Age=0"),
        );
        Ok(h)
    }
}

/// An authenticator for providers that are only built, never browsed.
pub struct NoLogin;

#[async_trait]
impl Authenticator for NoLogin {
    async fn current_user(&self, _: &Parts) -> Result<Option<EndUser>, AuthnError> {
        Ok(None)
    }

    fn login_url(&self, _: &LoginRequest) -> String {
        String::new()
    }
}

/// Claims for every user: a name and a verified email.
pub struct Users;

/// Users removed during a test (each test uses its own names).
pub static REMOVED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[async_trait]
impl ClaimsSource for Users {
    async fn claims(&self, subject: &Subject) -> Result<Option<Map<String, Value>>, ClaimsError> {
        if subject.as_str() == "deleted"
            || REMOVED
                .lock()
                .unwrap()
                .iter()
                .any(|u| u == subject.as_str())
        {
            return Ok(None);
        }
        let v = json!({
            "name": format!("User {}", subject.as_str()),
            "email": format!("{}@example.com", subject.as_str()),
            "email_verified": true,
            "groups": ["staff"],
        });
        Ok(v.as_object().cloned())
    }
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    return_to: String,
    user: String,
    /// The `acr` the login reports (none by default).
    acr: Option<String>,
}

struct LoginState {
    sessions: Sessions,
    clock: TestClock,
}

/// `/test-login?return_to=…&user=alice`: logs in and returns to the provider.
async fn test_login(State(s): State<Arc<LoginState>>, Query(q): Query<LoginQuery>) -> Response {
    let id = sesame_core::random::token().unwrap();
    s.sessions.0.lock().unwrap().insert(
        id.clone(),
        EndUser {
            subject: Subject::new(q.user),
            auth_time: s.clock.now(),
            session_id: SessionId::new(format!("sid-{id}")),
            acr: q.acr,
            amr: Some(vec!["pwd".into()]),
        },
    );
    let mut r = Redirect::to(&q.return_to).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!("test_session={id}; Path=/; HttpOnly")).unwrap(),
    );
    r
}

pub struct Harness {
    pub base: String,
    pub provider: Provider,
    pub store: Arc<dyn Store>,
    pub clock: TestClock,
    pub browser: reqwest::Client,
    pub http: reqwest::Client,
}

pub async fn start() -> Harness {
    start_with(|b| b).await
}

pub async fn start_with(
    configure: impl FnOnce(sesame_op::ProviderBuilder) -> sesame_op::ProviderBuilder,
) -> Harness {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    start_on(store, configure).await
}

pub async fn start_on(
    store: Arc<dyn Store>,
    configure: impl FnOnce(sesame_op::ProviderBuilder) -> sesame_op::ProviderBuilder,
) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let clock = TestClock::at(sesame_core::SystemClock.now());
    let sessions = Sessions::default();
    let builder = Provider::builder(Issuer::new(base.clone()).unwrap())
        .with_store(Arc::clone(&store))
        .with_authenticator(CookieAuth {
            base: base.clone(),
            sessions: sessions.clone(),
        })
        .with_claims(Users)
        .with_scope("groups", ["groups"])
        .with_clock(clock.clone())
        // Relying parties in tests listen on 127.0.0.1 (S14).
        .allow_private_outbound(true);
    let provider = configure(builder).build().await.unwrap();
    let app = provider.router().route(
        "/test-login",
        get(test_login).with_state(Arc::new(LoginState {
            sessions,
            clock: clock.clone(),
        })),
    );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Harness {
        base,
        provider,
        store,
        clock,
        browser,
        http,
    }
}

impl Harness {
    /// Registers a confidential client (client_secret_basic unless changed).
    pub async fn client(&self, id: &str, edit: impl FnOnce(&mut Client)) -> Client {
        let mut c = Client::new(
            ClientId::new(id),
            vec![RedirectUri::new(REDIRECT).unwrap()],
            self.clock.now(),
        );
        c.client_secret_hash = Some(secrets::hash_generated_secret(SECRET));
        c.grant_types.push(GrantType::ClientCredentials);
        edit(&mut c);
        if c.token_endpoint_auth_method == AuthMethod::None {
            c.client_secret_hash = None;
        }
        self.store.save_client(&c).await.unwrap();
        c
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET /authorize with these parameters, with the browser's cookies.
    pub async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.browser
            .get(self.url("/authorize"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// Follows the login redirect as `user`.
    pub async fn login(&self, response: reqwest::Response, user: &str) -> reqwest::Response {
        self.login_with_acr(response, user, None).await
    }

    /// Follows the login redirect as `user`, an authentication with `acr`.
    pub async fn login_with_acr(
        &self,
        response: reqwest::Response,
        user: &str,
        acr: Option<&str>,
    ) -> reqwest::Response {
        let to = location(&response);
        assert!(
            to.contains("/test-login?"),
            "expected a login redirect, got {to}"
        );
        let acr = acr.map_or_else(String::new, |a| {
            format!(
                "&acr={}",
                url::form_urlencoded::byte_serialize(a.as_bytes()).collect::<String>()
            )
        });
        let back = self
            .browser
            .get(format!("{to}&user={user}{acr}"))
            .send()
            .await
            .unwrap();
        let to = location(&back);
        self.browser.get(to).send().await.unwrap()
    }

    /// Answers the consent page shown in `response`.
    pub async fn consent(&self, response: reqwest::Response, allow: bool) -> reqwest::Response {
        let html = response.text().await.unwrap();
        let interaction = hidden(&html, "interaction");
        let csrf = hidden(&html, "csrf_token");
        let button = if allow { "allow" } else { "deny" };
        self.browser
            .post(self.url("/consent"))
            .form(&[
                ("interaction", interaction.as_str()),
                ("csrf_token", csrf.as_str()),
                (button, "1"),
            ])
            .send()
            .await
            .unwrap()
    }

    /// A full code flow for `user` up to the redirect back to the client; returns its query.
    pub async fn code(
        &self,
        client_id: &str,
        user: &str,
        extra: &[(&str, &str)],
    ) -> HashMap<String, String> {
        let (verifier, mut params) = code_params(client_id);
        for (k, v) in extra {
            params.retain(|(name, _)| name != k);
            params.push(((*k).to_owned(), (*v).to_owned()));
        }
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut r = self.authorize(&pairs).await;
        if location_opt(&r).is_some_and(|l| l.contains("/test-login")) {
            r = self.login(r, user).await;
        }
        if r.status() == 200 {
            r = self.consent(r, true).await;
        }
        let mut q = redirect_params(&r);
        q.insert("code_verifier".into(), verifier);
        q
    }

    /// Redeems a code with client_secret_basic.
    pub async fn redeem(&self, client_id: &str, q: &HashMap<String, String>) -> reqwest::Response {
        self.http
            .post(self.url("/token"))
            .basic_auth(client_id, Some(SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", q["code"].as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", q["code_verifier"].as_str()),
            ])
            .send()
            .await
            .unwrap()
    }

    pub async fn jwks(&self) -> KeySet {
        let body = self
            .http
            .get(self.url("/jwks"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        KeySet::from_jwks(&JwkSet::from_json(&body).unwrap())
    }

    /// Validates an ID token as a relying party would.
    pub async fn validate(
        &self,
        client_id: &str,
        id_token: &str,
        nonce: Option<&str>,
    ) -> ValidatedIdToken {
        let n = nonce.map(Nonce::new);
        IdTokenValidator::new(
            Issuer::new(self.base.clone()).unwrap(),
            ClientId::new(client_id),
        )
        .with_algorithms([
            JwsAlgorithm::RS256,
            JwsAlgorithm::ES256,
            JwsAlgorithm::EdDSA,
        ])
        .validate(
            id_token,
            &self.jwks().await,
            self.clock.now(),
            &Expected {
                nonce: n.as_ref(),
                ..Expected::default()
            },
        )
        .unwrap()
    }

    pub async fn userinfo(&self, access_token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }
}

/// PKCE verifier and the parameters of a code request.
pub fn code_params(client_id: &str) -> (String, Vec<(String, String)>) {
    let verifier = sesame_core::CodeVerifier::random().unwrap();
    let challenge = verifier.challenge(sesame_core::PkceMethod::S256);
    let params = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email"),
        ("state", "st-123"),
        ("nonce", "nonce-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    (verifier.secret().to_owned(), params)
}

pub fn location_opt(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
}

pub fn location(r: &reqwest::Response) -> String {
    location_opt(r).unwrap_or_else(|| panic!("no Location header; status {}", r.status()))
}

/// The query parameters of a redirect to the client.
pub fn redirect_params(r: &reqwest::Response) -> HashMap<String, String> {
    let to = location(r);
    assert!(to.starts_with(REDIRECT), "redirect to {to}");
    let url = url::Url::parse(&to).unwrap();
    match url.fragment() {
        Some(f) => url::form_urlencoded::parse(f.as_bytes())
            .into_owned()
            .collect(),
        None => url.query_pairs().into_owned().collect(),
    }
}

pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

pub async fn json(r: reqwest::Response) -> Value {
    r.json().await.unwrap()
}
