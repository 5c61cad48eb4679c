//! Groups and custom claims (issue 13): `users add --group/--claim`,
//! `users update`, `[scopes.NAME] claims` in TOML; released only under
//! their scopes, to the ID token and userinfo.

use serde_json::{Value, json};

use crate::support::*;

const REDIRECT: &str = "https://rp.example/cb";

fn id_claims(tokens: &Value) -> Value {
    let payload = sesame_core::UnverifiedJws::parse(tokens["id_token"].as_str().unwrap())
        .unwrap()
        .insecure_payload()
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

async fn userinfo(base: &str, tokens: &Value) -> Value {
    reqwest::Client::new()
        .get(format!("{base}/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn groups_and_custom_claims_are_released_by_their_scopes() {
    let dir = TempDir::new();
    let db = dir.db();
    let run = |args: &[&str]| {
        let mut all = vec!["--database", db.as_str()];
        all.extend_from_slice(args);
        sesame(&all)
    };
    let (code, _, err) = run(&[
        "users",
        "add",
        "--username",
        "ann",
        "--password",
        "ann-password",
        "--group",
        "admins",
        "--group",
        "staff",
        "--claim",
        "department=Sales",
        "--claim",
        "level=3",
        "--claim",
        r#"roles=["editor","viewer"]"#,
    ]);
    assert_eq!(code, 0, "{err}");
    // Names the provider sets, or that have their own flag, are refused.
    for bad in ["sub=x", "groups=x", "email=a@b", "no-equals-sign", "=v"] {
        let (code, _, err) = run(&[
            "users",
            "add",
            "--username",
            "bad",
            "--password",
            "bad-password",
            "--claim",
            bad,
        ]);
        assert_eq!(code, 1, "{bad}");
        assert!(err.contains("--claim"), "{bad}: {err}");
    }
    let (code, out, err) = run(&[
        "clients",
        "add",
        "--name",
        "Roles",
        "--redirect-uri",
        REDIRECT,
        "--skip-consent",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let client: Value = serde_json::from_str(out.trim()).unwrap();
    let (id, secret) = (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    );
    let config = dir.0.join("sesame.toml");
    std::fs::write(
        &config,
        "[scopes.department]\nclaims = [\"department\", \"level\"]\n[scopes.roles]\nclaims = [\"roles\"]\n",
    )
    .unwrap();
    let (_server, base) = Running::serve(&db, &[("SESAME_CONFIG", config.to_str().unwrap())]).await;
    let discovery: Value = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["acr_values_supported"],
        json!(["urn:sesame:acr:password", "urn:sesame:acr:mfa"])
    );
    for scope in ["groups", "department", "roles"] {
        assert!(
            discovery["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(scope)),
            "{scope}: {discovery}"
        );
    }
    let sign_in = |scope: &'static str| {
        let (base, id, secret) = (base.clone(), id.clone(), secret.clone());
        async move {
            code_flow(
                &base,
                (&id, &secret),
                REDIRECT,
                scope,
                ("ann", "ann-password"),
            )
            .await
        }
    };

    // Only openid: none of them; the password sign-in's acr.
    let t = sign_in("openid").await;
    let (idt, info) = (id_claims(&t), userinfo(&base, &t).await);
    assert_eq!(idt["acr"], "urn:sesame:acr:password", "{idt}");
    assert_eq!(idt["amr"], json!(["pwd"]));
    for name in ["groups", "department", "level", "roles"] {
        assert!(
            idt.get(name).is_none() && info.get(name).is_none(),
            "{name}"
        );
    }
    // Each under its scope, with its JSON type.
    let t = sign_in("openid groups department roles").await;
    let (idt, info) = (id_claims(&t), userinfo(&base, &t).await);
    for claims in [&idt, &info] {
        assert_eq!(claims["groups"], json!(["admins", "staff"]), "{claims}");
        assert_eq!(claims["department"], "Sales");
        assert_eq!(claims["level"], 3);
        assert_eq!(claims["roles"], json!(["editor", "viewer"]));
    }
    let t = sign_in("openid groups").await;
    let info = userinfo(&base, &t).await;
    assert!(info.get("groups").is_some() && info.get("department").is_none());

    // users update: groups replaced, a claim removed, another added.
    let (code, _, err) = run(&[
        "users",
        "update",
        "--username",
        "ann",
        "--group",
        "staff",
        "--remove-claim",
        "level",
        "--claim",
        "department=Support",
    ]);
    assert_eq!(code, 0, "{err}");
    // The server caches users for cache_ttl (5 s by default).
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let t = sign_in("openid groups department").await;
    let info = userinfo(&base, &t).await;
    assert_eq!(info["groups"], json!(["staff"]));
    assert_eq!(info["department"], "Support");
    assert!(info.get("level").is_none());
    let (code, _, err) = run(&["users", "update", "--username", "nobody", "--no-groups"]);
    assert_eq!(code, 1);
    assert!(err.contains("nobody"), "{err}");
}

#[test]
fn scope_names_from_the_configuration_are_checked() {
    let dir = TempDir::new();
    let config = dir.0.join("sesame.toml");
    for (toml, want) in [
        ("[scopes.openid]\nclaims = [\"x\"]\n", "openid"),
        ("[scopes.\"a b\"]\nclaims = [\"x\"]\n", "not a scope name"),
        ("[scopes.x]\nclaims = [\"sub\"]\n", "sub"),
        ("[scopes.x]\nclaim = [\"y\"]\n", "claim"),
    ] {
        std::fs::write(&config, toml).unwrap();
        let (code, _, err) = sesame(&[
            "--config",
            config.to_str().unwrap(),
            "--database",
            &dir.db(),
            "serve",
        ]);
        assert_ne!(code, 0, "{toml}");
        assert!(err.contains(want), "{toml}: {err}");
    }
}

/// OIDC Core §10.1: a client added with `--id-token-alg HS256` gets ID
/// tokens keyed with its secret (mozilla-django-oidc's default algorithm),
/// and its HS256 ID tokens work as `id_token_hint` at logout; a client
/// without a secret cannot have them.
#[tokio::test]
async fn hs256_id_tokens_are_keyed_with_the_client_secret() {
    let dir = TempDir::new();
    let db = dir.db();
    let run = |args: &[&str]| {
        let mut all = vec!["--database", db.as_str()];
        all.extend_from_slice(args);
        sesame(&all)
    };
    let (code, _, err) = run(&[
        "users",
        "add",
        "--username",
        "hal",
        "--password",
        "hal-password",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&[
        "clients",
        "add",
        "--name",
        "Django",
        "--redirect-uri",
        REDIRECT,
        "--skip-consent",
        "--post-logout-redirect-uri",
        "https://rp.example/bye",
        "--id-token-alg",
        "HS256",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let client: Value = serde_json::from_str(out.trim()).unwrap();
    let (id, secret) = (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    );
    let (code, _, err) = run(&[
        "clients",
        "add",
        "--name",
        "SPA",
        "--redirect-uri",
        REDIRECT,
        "--public",
        "--id-token-alg",
        "HS256",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("--id-token-alg"), "{err}");

    let (_server, base) = Running::serve(&db, &[]).await;
    let t = code_flow(
        &base,
        (&id, &secret),
        REDIRECT,
        "openid",
        ("hal", "hal-password"),
    )
    .await;
    let id_token = t["id_token"].as_str().unwrap();
    let jws = sesame_core::UnverifiedJws::parse(id_token).unwrap();
    assert_eq!(jws.header().alg, sesame_core::JwsAlgorithm::HS256);
    let key =
        sesame_core::SigningKey::hmac(sesame_core::JwsAlgorithm::HS256, secret.as_bytes()).unwrap();
    let validated = sesame_core::IdTokenValidator::new(
        sesame_core::Issuer::new(base.clone()).unwrap(),
        sesame_core::ClientId::new(&id),
    )
    .with_algorithms([sesame_core::JwsAlgorithm::HS256])
    .with_hmac_secret(key)
    .validate(
        id_token,
        &sesame_core::KeySet::default(),
        sesame_core::Clock::now(&sesame_core::SystemClock),
        &sesame_core::Expected::default(),
    )
    .unwrap();
    assert!(!validated.claims.sub.as_str().is_empty());
    // The HS256 ID token is a valid hint at the end-session endpoint.
    let r = browser()
        .get(format!("{base}/end_session"))
        .query(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "https://rp.example/bye"),
        ])
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 400, "the hint was accepted");
    let page_or_redirect = r.status().is_success() || r.status().is_redirection();
    assert!(page_or_redirect, "{}", r.status());
    // A hint keyed with another secret is not.
    let forged = sesame_core::jws::sign(
        &sesame_core::SigningKey::hmac(sesame_core::JwsAlgorithm::HS256, &[7u8; 32]).unwrap(),
        Some("JWT"),
        &serde_json::from_slice::<Value>(&jws.insecure_payload().unwrap()).unwrap(),
    )
    .unwrap();
    let r = browser()
        .get(format!("{base}/end_session"))
        .query(&[("id_token_hint", forged.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a forged hint is refused");
}
