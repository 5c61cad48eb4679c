//! Logs carry no secret, token, code or cookie; counters (feature `metrics`).

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use sesame_core::Issuer;
use sesame_rp::{
    AccessToken, BearerAuth, BearerClaims, IdToken, OidcClient, RequireLogin, SessionRefresh,
};
use tower_sessions::Session;

use crate::support::*;

/// An app with login, refresh (access tokens live 30 s: every request
/// refreshes), a bearer-protected API, and routes that reveal the tokens to
/// the test.
async fn app(op: &Op) -> String {
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |_| {}).await;
    let oidc = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_scopes("openid email offline_access")
        .unwrap()
        .build()
        .await
        .unwrap();
    let api = Router::new()
        .route(
            "/api",
            get(|c: BearerClaims| async move { format!("{:?}", c.subject) }),
        )
        .layer(BearerAuth::jwt(oidc.clone(), "https://api.example"));
    let app = Router::new()
        .route("/account", get(|| async { "ok" }))
        .route(
            "/id-token",
            get(|t: IdToken| async move { t.0.secret().to_owned() }),
        )
        .route(
            "/access-token",
            get(|t: AccessToken| async move { t.0.secret().to_owned() }),
        )
        .layer(RequireLogin::new(oidc.clone()))
        .layer(SessionRefresh::new(oidc.clone()))
        .route(
            "/csrf",
            get(|s: Session| async move { sesame_rp::csrf_token(&s).await.unwrap() }),
        )
        .merge(oidc.router())
        .layer(sesame_rp::session_layer(false))
        .merge(api);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    rp
}

/// Everything a run reveals that must never reach a log.
#[derive(Debug, Default)]
struct Secrets(Vec<(&'static str, String)>);

/// A login, a replayed callback, refreshes, bearer checks, a logout.
async fn exercise(op: &Op, rp: &str) -> Secrets {
    let mut secrets = Secrets::default();
    let b = browser();
    let callback = until_callback(
        &b,
        &format!("{rp}/login?next=/account"),
        "kim",
        &format!("{rp}/callback?"),
    )
    .await;
    let url = url::Url::parse(&callback).unwrap();
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "code" => secrets.0.push(("code", v.into_owned())),
            "state" => secrets.0.push(("state", v.into_owned())),
            _ => {}
        }
    }
    let r = b.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    secrets.0.push(("session cookie", value.to_owned()));
    // A replayed callback: a failure path.
    assert_eq!(b.get(&callback).send().await.unwrap().status(), 400);
    let get = |path: &str| {
        let b = b.clone();
        let url = format!("{rp}{path}");
        async move { b.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let id_token = get("/id-token").await;
    secrets.0.push(("id_token", id_token.clone()));
    secrets.0.push((
        "id_token signature",
        id_token.rsplit('.').next().unwrap().to_owned(),
    ));
    // Each request refreshes (30 s tokens): two access tokens.
    let access_token = get("/access-token").await;
    secrets.0.push(("access_token", access_token.clone()));
    secrets
        .0
        .push(("refreshed access_token", get("/access-token").await));
    let csrf = get("/csrf").await;
    secrets.0.push(("csrf token", csrf.clone()));
    // Bearer checks: refused tokens (opaque, an ID token) and a missing one.
    for token in [access_token, id_token.clone()] {
        let r = b
            .get(format!("{rp}/api"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    assert_eq!(
        b.get(format!("{rp}/api")).send().await.unwrap().status(),
        401
    );
    let r = b
        .post(format!("{rp}/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&op.base)
    );
    secrets.0.push(("client secret", SECRET.to_owned()));
    secrets
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The crate's logs, at TRACE, from every test of this binary: a global
/// subscriber (a scoped one races with other threads over tracing's global
/// level cache and can miss events).
fn captured_logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_env_filter("sesame_rp=trace")
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

#[tokio::test]
async fn logs_at_trace_level_carry_no_secret() {
    let logs = captured_logs();
    let op = start_op_with(|s| s.access_token_ttl = 30).await;
    let rp = app(&op).await;
    let secrets = exercise(&op, &rp).await;
    let out = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    // The steps are there...
    for step in [
        "sesame_rp.start_login",
        "sesame_rp.callback",
        "sesame_rp.token_request",
        "grant_type=\"authorization_code\"",
        "grant_type=\"refresh_token\"",
        "sesame_rp.userinfo",
        "JWKS fetched",
        "login completed",
        "unknown or already used login state",
        "tokens refreshed",
        "bearer token refused",
        "logged out",
    ] {
        assert!(out.contains(step), "no {step:?} in the logs:\n{out}");
    }
    // ...and no secret.
    for (name, value) in &secrets.0 {
        assert!(value.len() >= 16, "{name}: {value:?}");
        assert!(
            !out.contains(value.as_str()),
            "the {name} is in the logs:\n{out}"
        );
    }
}

#[cfg(feature = "metrics")]
#[test]
fn counters_for_logins_refreshes_and_bearer_checks() {
    use std::collections::HashMap;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let op = start_op_with(|s| s.access_token_ttl = 30).await;
                let rp = app(&op).await;
                exercise(&op, &rp).await;
                // A provider error for a pending login.
                let b = browser();
                let r = b.get(format!("{rp}/login?next=/")).send().await.unwrap();
                let url = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
                let state = url
                    .query_pairs()
                    .find(|(k, _)| k == "state")
                    .unwrap()
                    .1
                    .into_owned();
                let r = b
                    .get(format!("{rp}/callback"))
                    .query(&[
                        ("error", "access_denied"),
                        ("state", &state),
                        ("iss", &op.base),
                    ])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 401);
            });
    });
    let counters: HashMap<String, u64> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            match value {
                DebugValue::Counter(n) => {
                    Some((format!("{}{{{}}}", key.name(), labels.join(",")), n))
                }
                _ => None,
            }
        })
        .collect();
    let get = |k: &str| counters.get(k).copied().unwrap_or(0);
    assert_eq!(
        get("sesame_rp_logins_started_total{provider=default}"),
        2,
        "{counters:?}"
    );
    assert_eq!(
        get("sesame_rp_logins_completed_total{provider=default}"),
        1,
        "{counters:?}"
    );
    assert_eq!(
        get("sesame_rp_logins_failed_total{provider=default,reason=unknown_state}"),
        1,
        "the replayed callback: {counters:?}"
    );
    assert_eq!(
        get("sesame_rp_logins_failed_total{provider=default,reason=provider_error}"),
        1,
        "{counters:?}"
    );
    assert!(
        get("sesame_rp_token_refreshes_total{outcome=refreshed,provider=default}") >= 2,
        "{counters:?}"
    );
    assert_eq!(
        get("sesame_rp_bearer_checks_total{outcome=rejected}"),
        3,
        "{counters:?}"
    );
    assert_eq!(
        get("sesame_rp_bearer_checks_total{outcome=accepted}"),
        0,
        "{counters:?}"
    );
}
