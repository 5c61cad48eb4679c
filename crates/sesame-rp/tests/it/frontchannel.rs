//! Front-channel logout (OpenID Connect Front-Channel Logout 1.0) against
//! sesame-op, whose ID tokens carry the provider session's `sid`.
//!
//! The provider's logout page frames `GET /frontchannel-logout?iss=…&sid=…`;
//! framed cross-site, the request carries no `SameSite=Lax` session cookie,
//! so these tests send it from a cookie-less client, as a browser does.

use sesame_core::Issuer;
use sesame_rp::{OidcClient, OidcClientBuilder, OidcProviders};

use crate::support::*;

struct Rig {
    op: Op,
    rp: String,
    browser: reqwest::Client,
}

async fn rig_with(edit: impl FnOnce(OidcClientBuilder) -> OidcClientBuilder) -> Rig {
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |_| {}).await;
    let b = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_post_logout_redirect_uri(format!("{rp}/"));
    rp_app(edit(b).build().await.unwrap(), listener).await;
    Rig {
        op,
        rp,
        browser: browser(),
    }
}

async fn rig() -> Rig {
    rig_with(|b| b).await
}

impl Rig {
    /// Signs `browser` in as `user`; the session's `sid` (from the ID token).
    async fn sign_in(&self, browser: &reqwest::Client, user: &str) -> String {
        let (r, seen) = follow(browser, &format!("{}/account", self.rp), user).await;
        assert_eq!(r.status(), 200, "{seen:?}");
        let me = self.me(browser).await.unwrap();
        me["claims"]["sid"].as_str().unwrap().to_owned()
    }

    async fn me(&self, browser: &reqwest::Client) -> Option<serde_json::Value> {
        let r = browser.get(format!("{}/me", self.rp)).send().await.unwrap();
        match r.status().as_u16() {
            200 => Some(r.json().await.unwrap()),
            _ => None,
        }
    }

    /// The framed request, from a client without the RP's cookies.
    async fn frame(&self, query: &[(&str, &str)]) -> reqwest::Response {
        reqwest::Client::new()
            .get(format!("{}/frontchannel-logout", self.rp))
            .query(query)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn iss_and_sid_end_every_session_of_that_provider_session() {
    let rig = rig().await;
    let sid = rig.sign_in(&rig.browser, "alice").await;
    let other = browser();
    let other_sid = rig.sign_in(&other, "bob").await;
    assert_ne!(sid, other_sid);

    let r = rig.frame(&[("iss", &rig.op.base), ("sid", &sid)]).await;
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert!(h.get("x-frame-options").is_none(), "framable");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(&format!("frame-ancestors {}", rig.op.base)),
        "framable by the provider's origin only: {csp}"
    );
    assert!(!csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(r.text().await.unwrap().contains("signed out"));

    assert!(
        rig.me(&rig.browser).await.is_none(),
        "that sid's session ended"
    );
    assert!(
        rig.me(&other).await.is_some(),
        "another sid's session stays"
    );
}

#[tokio::test]
async fn another_issuer_or_an_unknown_sid_ends_nothing() {
    let rig = rig().await;
    let sid = rig.sign_in(&rig.browser, "alice").await;
    let other_op = format!("{}/other", rig.op.base);
    let r = rig.frame(&[("iss", &other_op), ("sid", &sid)]).await;
    assert_eq!(r.status(), 400, "another issuer");
    assert!(rig.me(&rig.browser).await.is_some(), "the session stays");
    // A sid this app never signed anyone in with: answered, nothing recorded.
    let r = rig
        .frame(&[("iss", &rig.op.base), ("sid", "made-up")])
        .await;
    assert_eq!(r.status(), 200);
    assert!(rig.me(&rig.browser).await.is_some(), "the session stays");
}

#[tokio::test]
async fn iss_and_sid_are_required_by_default() {
    let rig = rig().await;
    let sid = rig.sign_in(&rig.browser, "alice").await;
    for query in [
        vec![],
        vec![("iss", rig.op.base.as_str())],
        vec![("sid", sid.as_str())],
    ] {
        // Sent with the session's cookie: a request without iss and sid is refused.
        let r = rig
            .browser
            .get(format!("{}/frontchannel-logout", rig.rp))
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{query:?}");
        assert!(rig.me(&rig.browser).await.is_some(), "{query:?}: kept");
    }
}

#[tokio::test]
async fn without_required_sid_the_browsers_own_session_ends() {
    let rig = rig_with(|b| b.with_frontchannel_logout_session_required(false)).await;
    rig.sign_in(&rig.browser, "alice").await;
    let other = browser();
    rig.sign_in(&other, "bob").await;
    // Cookie-less (framed cross-site): nothing to end.
    assert_eq!(rig.frame(&[]).await.status(), 200);
    assert!(rig.me(&rig.browser).await.is_some());
    let r = rig
        .browser
        .get(format!("{}/frontchannel-logout", rig.rp))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        rig.me(&rig.browser).await.is_none(),
        "the browser's session"
    );
    assert!(rig.me(&other).await.is_some(), "not another browser's");
}

#[tokio::test]
async fn a_sid_sent_with_the_cookie_of_another_session_leaves_that_session() {
    let rig = rig().await;
    rig.sign_in(&rig.browser, "alice").await;
    let other = browser();
    let other_sid = rig.sign_in(&other, "bob").await;
    // alice's browser frames bob's logout: bob's session ends, not alice's.
    let r = rig
        .browser
        .get(format!("{}/frontchannel-logout", rig.rp))
        .query(&[("iss", rig.op.base.as_str()), ("sid", other_sid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(rig.me(&rig.browser).await.is_some());
    assert!(rig.me(&other).await.is_none());
}

#[tokio::test]
async fn multi_provider_apps_take_it_per_provider() {
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |c| {
        c.redirect_uris =
            vec![sesame_core::RedirectUri::new(format!("{rp}/callback/one")).unwrap()];
    })
    .await;
    let client = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_name("one")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback/one").parse().unwrap())
        .build()
        .await
        .unwrap();
    let providers = OidcProviders::builder()
        .with_provider(client)
        .build()
        .unwrap();
    rp_providers_app(providers, listener).await;
    let b = browser();
    let (r, seen) = follow(&b, &format!("{rp}/login/one?next=/me"), "alice").await;
    assert_eq!(r.status(), 200, "{seen:?}");
    let me: serde_json::Value = r.json().await.unwrap();
    let sid = me["claims"]["sid"].as_str().unwrap().to_owned();
    let frame = |provider: &'static str| {
        let url = format!("{rp}/frontchannel-logout/{provider}");
        let (iss, sid) = (op.base.clone(), sid.clone());
        async move {
            reqwest::Client::new()
                .get(url)
                .query(&[("iss", iss), ("sid", sid)])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(frame("two").await, 404, "unknown provider");
    assert_eq!(
        b.get(format!("{rp}/me")).send().await.unwrap().status(),
        200
    );
    assert_eq!(frame("one").await, 200);
    assert_eq!(
        b.get(format!("{rp}/me")).send().await.unwrap().status(),
        401
    );
}

/// Counts what reaches the registry.
#[derive(Default)]
struct Counting {
    inner: sesame_rp::MemoryLogoutRegistry,
    recorded: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait::async_trait]
impl sesame_rp::LogoutRegistry for Counting {
    async fn record(&self, issuer: &str, sid: Option<&str>, sub: Option<&str>, at: i64) {
        self.recorded
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.record(issuer, sid, sub, at).await;
    }
    async fn is_ended(&self, issuer: &str, sid: Option<&str>, sub: &str, login_at: i64) -> bool {
        self.inner.is_ended(issuer, sid, sub, login_at).await
    }
    async fn first_use_of_jti(&self, issuer: &str, jti: &str, expires_at: i64) -> bool {
        self.inner.first_use_of_jti(issuer, jti, expires_at).await
    }
    async fn sid_signed_in(&self, issuer: &str, sid: &str, at: i64) {
        self.inner.sid_signed_in(issuer, sid, at).await;
    }
    async fn knows_sid(&self, issuer: &str, sid: &str) -> bool {
        self.inner.knows_sid(issuer, sid).await
    }
}

#[tokio::test]
async fn made_up_sids_never_fill_the_registry() {
    let registry = Counting::default();
    let recorded = std::sync::Arc::clone(&registry.recorded);
    let rig = rig_with(|b| b.with_logout_registry(registry)).await;
    let sid = rig.sign_in(&rig.browser, "alice").await;
    for i in 0..50 {
        let made_up = format!("made-up-{i}");
        let r = rig.frame(&[("iss", &rig.op.base), ("sid", &made_up)]).await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(recorded.load(std::sync::atomic::Ordering::SeqCst), 0);
    rig.frame(&[("iss", &rig.op.base), ("sid", &sid)]).await;
    assert_eq!(recorded.load(std::sync::atomic::Ordering::SeqCst), 1);
}
