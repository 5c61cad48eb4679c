//! S14 at send time: back-channel logout reaches loopback and private
//! addresses only when the operator allows it. A real listener on
//! 127.0.0.1 shows what was (not) sent.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::routing::post;
use http::request::Parts;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sesame_core::{ClientId, RedirectUri, Scopes, SessionId, Subject};

use super::backchannel_notices;
use crate::model::{Client, CodeRecord, Grant};
use crate::store::{ClientStore as _, GrantStore as _};
use crate::{Authenticator, AuthnError, EndUser, LoginRequest, MemoryStore, Provider, Store};

struct NoLogin;

#[async_trait]
impl Authenticator for NoLogin {
    async fn current_user(&self, _: &Parts) -> Result<Option<EndUser>, AuthnError> {
        Ok(None)
    }

    fn login_url(&self, _: &LoginRequest) -> String {
        String::new()
    }
}

/// Every name is 127.0.0.1 (a DNS answer an attacker controls).
struct Loopback;

impl Resolve for Loopback {
    fn resolve(&self, _: Name) -> Resolving {
        let addr = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), 0);
        Box::pin(async move { Ok(Box::new(std::iter::once(addr)) as Addrs) })
    }
}

async fn sink() -> (u16, Arc<Mutex<usize>>) {
    let count = Arc::new(Mutex::new(0));
    let seen = Arc::clone(&count);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route(
        "/bc",
        post(move || {
            *seen.lock().unwrap() += 1;
            async { "ok" }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, count)
}

/// A provider whose session "sid" has one client per URI; logs out and
/// returns each delivery's result (the tasks have finished).
async fn logout(allow_private: bool, http: Option<reqwest::Client>, uris: &[String]) -> Vec<bool> {
    let store = Arc::new(MemoryStore::new());
    let mut builder = Provider::builder("https://op.example".parse().unwrap())
        .with_store(Arc::clone(&store) as Arc<dyn Store>)
        .with_authenticator(NoLogin)
        .allow_private_outbound(allow_private);
    if let Some(http) = http {
        builder = builder.with_http_client(http);
    }
    let p = builder.build().await.unwrap();
    let now = p.now();
    for (i, uri) in uris.iter().enumerate() {
        let id = ClientId::new(format!("rp{i}"));
        let mut c = Client::new(
            id.clone(),
            vec![RedirectUri::new("https://rp.example/cb").unwrap()],
            now,
        );
        c.backchannel_logout_uri = Some(uri.clone());
        store.save_client(&c).await.unwrap();
        let grant = Grant {
            grant_id: format!("g{i}"),
            client_id: id,
            subject: Some(Subject::new("alice")),
            scopes: Scopes::parse("openid").unwrap(),
            auth_time: Some(now),
            sid: Some(SessionId::new("sid")),
            acr: None,
            amr: None,
            claims_request: None,
            claims: Vec::new(),
            jkt: None,
            resources: Vec::new(),
            created_at: now,
        };
        let code = CodeRecord {
            grant,
            redirect_uri: RedirectUri::new("https://rp.example/cb").unwrap(),
            nonce: None,
            pkce: None,
            expires_at: now + 60,
        };
        store.save_code(&format!("code{i}"), &code).await.unwrap();
    }
    let notices = backchannel_notices(&p, &Subject::new("alice"), &SessionId::new("sid"), now)
        .await
        .unwrap();
    let handles = p.deliver_logout_notices(notices);
    let mut sent = Vec::new();
    for h in handles {
        sent.push(h.await.unwrap());
    }
    sent
}

#[tokio::test]
async fn logout_tokens_reach_private_addresses_only_when_allowed() {
    let (port, received) = sink().await;
    let uris = [
        format!("http://127.0.0.1:{port}/bc"),
        format!("http://[::ffff:127.0.0.1]:{port}/bc"),
        // A name the system resolver answers with 127.0.0.1.
        format!("http://localhost:{port}/bc"),
    ];
    assert_eq!(logout(false, None, &uris).await, [false, false, false]);
    assert_eq!(*received.lock().unwrap(), 0, "nothing was sent");

    // A name whose DNS answer is loopback, through an application's own
    // client with the public-address resolver installed.
    let own = reqwest::Client::builder()
        .dns_resolver(Arc::new(crate::PublicAddresses::wrapping(Loopback)))
        .no_proxy()
        .build()
        .unwrap();
    let named = [format!("http://rp.example:{port}/bc")];
    assert_eq!(logout(false, Some(own), &named).await, [false]);
    assert_eq!(*received.lock().unwrap(), 0, "nothing was sent");

    // The operator's switch: the same targets are reached.
    let allowed = [uris[0].clone(), uris[2].clone()];
    assert_eq!(logout(true, None, &allowed).await, [true, true]);
    assert_eq!(*received.lock().unwrap(), 2);
}
