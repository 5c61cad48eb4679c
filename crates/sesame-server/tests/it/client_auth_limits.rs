//! Failed client authentication at introspection, revocation, PAR and
//! device authorization counts against the token endpoint's per-address
//! budget (issue 15): wrong secrets cannot be tried there without limit.

use crate::rate_limits::{prepare, server};

#[tokio::test]
async fn wrong_secrets_at_every_client_endpoint_share_one_budget_per_address() {
    let dir = crate::support::TempDir::new();
    let (id, secret) = prepare(&dir.db()).await;
    let s = server(&dir.db(), |c| {
        c.rate_limits.trusted_proxies = vec!["127.0.0.1/32".into()];
        c.rate_limits.token_failures_per_ip_per_minute = 4;
    })
    .await;
    let http = reqwest::Client::new();
    let post = |path: &str, xff: &'static str, secret: &str, form: &[(&str, &str)]| {
        http.post(format!("{}{path}", s.base))
            .header("x-forwarded-for", xff)
            .basic_auth(&id, Some(secret))
            .form(form)
            .send()
    };
    let attacker = "198.51.100.90";
    let mut seen = Vec::new();
    for (path, form) in [
        ("/introspect", &[("token", "x")][..]),
        ("/revoke", &[("token", "x")][..]),
        ("/par", &[("response_type", "code")][..]),
        ("/device_authorization", &[("scope", "openid")][..]),
    ] {
        let r = post(path, attacker, "wrong", form).await.unwrap();
        seen.push((path, r.status().as_u16()));
    }
    assert!(seen.iter().all(|(_, s)| *s == 401), "{seen:?}");
    // The budget is spent: every client endpoint, the token endpoint too,
    // refuses that address, even with the right secret.
    for path in ["/introspect", "/token"] {
        let r = post(path, attacker, &secret, &[("token", "x")])
            .await
            .unwrap();
        assert_eq!(r.status(), 429, "{path}");
        assert!(r.headers().contains_key("retry-after"));
    }
    // Another address is not limited.
    let r = post("/introspect", "198.51.100.91", &secret, &[("token", "x")])
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}
