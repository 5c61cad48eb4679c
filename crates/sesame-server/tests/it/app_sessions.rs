//! `sesame app --session-store` (issue 15): two app processes on one store,
//! as behind a load balancer, against a real `sesame serve`. Signed in
//! through A, B sees the session; A killed, B serves it; A restarted, the
//! session is still there; the provider's back-channel logout POSTed to B
//! ends the session at both.

use std::time::{Duration, Instant};

use crate::app::{add_client, app_on, me, provider, refused, sign_in};
use crate::support::*;

/// The status of `/me` at `app` within `within`, once it is `want`.
async fn me_status_becomes(b: &reqwest::Client, app: &str, want: u16, within: Duration) {
    let start = Instant::now();
    loop {
        let status = b.get(format!("{app}/me")).send().await.unwrap().status();
        if status.as_u16() == want {
            return;
        }
        assert!(start.elapsed() < within, "{app}/me is {status}, not {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The user signs out at the provider (its confirmation form); it sends
/// the back-channel logout to the client's `backchannel_logout_uri`.
async fn sign_out_at_provider(b: &reqwest::Client, provider: &str) {
    let r = b
        .get(format!("{provider}/end_session"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let r = b
        .post(format!("{provider}/end_session"))
        .form(&[
            ("interaction", hidden(&html, "interaction")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("logout", "1".into()),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

async fn two_apps_share(store: &str) {
    let (_dir, db, _op, op) = provider(&[("SESAME_ALLOW_PRIVATE_OUTBOUND", "true")]).await;
    let (pa, pb) = (free_port(), free_port());
    let a_url = format!("http://127.0.0.1:{pa}");
    let b_url = format!("http://127.0.0.1:{pb}");
    // One public URL (A's), as behind a load balancer; logouts arrive at B.
    let logout_uri = format!("{b_url}/backchannel-logout");
    let (id, secret) = add_client(&db, &a_url, &["--backchannel-logout-uri", &logout_uri]);
    let args = [
        "--client-id",
        &id,
        "--client-secret",
        &secret,
        "--public-url",
        &a_url,
        "--session-store",
        store,
    ];
    let a = app_on(pa, &op, &args);
    let _b = app_on(pb, &op, &args);
    let browser = browser();
    sign_in(&browser, &a_url, &op).await;
    let at_a = me(&browser, &a_url).await;
    let at_b = me(&browser, &b_url).await;
    assert_eq!(at_a["sub"], at_b["sub"], "B serves the session made at A");
    assert_eq!(at_a["access_token_hash"], at_b["access_token_hash"]);

    drop(a);
    assert_eq!(
        me(&browser, &b_url).await["sub"],
        at_a["sub"],
        "A gone, B serves"
    );
    let _a = app_on(pa, &op, &args);
    assert_eq!(
        me(&browser, &a_url).await["sub"],
        at_a["sub"],
        "a restarted A still has the session"
    );

    sign_out_at_provider(&browser, &op).await;
    // Delivered to B, in the background: the session ends at A too.
    me_status_becomes(&browser, &a_url, 401, Duration::from_secs(10)).await;
    me_status_becomes(&browser, &b_url, 401, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn two_apps_on_one_postgres_store_share_login_and_logout() {
    let Some(base) = pg_url("two_apps_on_one_postgres_store_share_login_and_logout") else {
        return;
    };
    let schema = PgSchema::new(&base).await;
    two_apps_share(&schema.url).await;
    schema.drop_now().await;
}

#[tokio::test]
async fn two_apps_on_one_redis_store_share_login_and_logout() {
    let base = std::env::var("SESAME_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!(
        "sesame_app_test_{}:",
        sesame_core::random::token()
            .unwrap()
            .replace(['-', '_'], "")
    );
    two_apps_share(&format!("{base}/?key_prefix={prefix}")).await;
    // Nothing of the run is left behind.
    let mut conn = redis::Client::open(base)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "the sessions were in Redis");
    let _: i64 = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[test]
fn a_bad_session_store_is_one_error_line() {
    let line = refused(&["--client-id", "app", "--session-store", "mysql://db/app"]);
    assert!(line.contains("--session-store"), "{line}");
    assert!(line.contains("sqlite://FILE"), "{line}");
    let line = refused(&[
        "--client-id",
        "app",
        "--session-store",
        "redis://127.0.0.1:1",
    ]);
    assert!(line.contains("--session-store"), "{line}");
}

/// REVIEW S10 across instances: access tokens live 30 s, so every request
/// refreshes; requests on one session at A and B together send the refresh
/// token once: a second use would make the provider revoke the grant, and
/// the instance that sent it would end the session.
#[tokio::test]
async fn two_apps_refresh_one_session_once() {
    let Some(base) = pg_url("two_apps_refresh_one_session_once") else {
        return;
    };
    let schema = PgSchema::new(&base).await;
    let (_dir, db, _op, op) = provider(&[("SESAME_ACCESS_TOKEN_TTL", "30")]).await;
    let (pa, pb) = (free_port(), free_port());
    let a_url = format!("http://127.0.0.1:{pa}");
    let b_url = format!("http://127.0.0.1:{pb}");
    let grants = [
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
    ];
    let (id, secret) = add_client(&db, &a_url, &grants);
    let args = [
        "--client-id",
        &id,
        "--client-secret",
        &secret,
        "--public-url",
        &a_url,
        "--scope",
        "openid offline_access",
        "--refresh",
        "--session-store",
        &schema.url,
    ];
    let _a = app_on(pa, &op, &args);
    let _b = app_on(pb, &op, &args);
    let browser = browser();
    sign_in(&browser, &a_url, &op).await;
    for round in 0..3 {
        let (at_a, at_b) = tokio::join!(
            browser.get(format!("{a_url}/me")).send(),
            browser.get(format!("{b_url}/me")).send()
        );
        let (at_a, at_b) = (at_a.unwrap(), at_b.unwrap());
        assert_eq!(at_a.status(), 200, "round {round}");
        assert_eq!(at_b.status(), 200, "round {round}");
    }
    assert_eq!(
        me(&browser, &b_url).await["sub"],
        me(&browser, &a_url).await["sub"]
    );
    schema.drop_now().await;
}
