//! Sign-in through an upstream provider, its storage: pending logins
//! sealed and taken once (also when two callbacks race), expiry, links by
//! (issuer, sub), upstream sessions and logouts — on SQLite and PostgreSQL.

use sesame_op_sqlx::EncryptionKey;
use sesame_server::accounts::{Accounts, UpstreamLink, UpstreamLogin};

use super::{open, raw, sqlite_file};
use crate::support::{PgSchema, pg_url};

fn login(data: &str, expires_at: i64) -> UpstreamLogin {
    UpstreamLogin {
        browser_key: "browser-hash".into(),
        upstream: "corp".into(),
        link_subject: None,
        data: data.into(),
        expires_at,
    }
}

async fn exercise(accounts: &Accounts, url: &str) {
    let key = format!("state-{}", sesame_core::random::token().unwrap());
    accounts
        .save_upstream_login(&key, &login("{\"verifier\":\"SECRET-VERIFIER\"}", 100))
        .await
        .unwrap();
    // Sealed at rest.
    let rows = raw(
        url,
        "SELECT data, CAST(NULL AS TEXT) FROM sesame_upstream_logins WHERE state_key = $1",
        &[Some(key.as_str())],
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].0.contains("SECRET-VERIFIER"), "{rows:?}");
    // Two callbacks at once: one gets it, and only once.
    let (a, b) = tokio::join!(
        accounts.take_upstream_login(&key, 50),
        accounts.take_upstream_login(&key, 50)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.is_some() ^ b.is_some(), "taken once");
    let taken = a.or(b).unwrap();
    assert_eq!(taken, login("{\"verifier\":\"SECRET-VERIFIER\"}", 100));
    assert_eq!(accounts.take_upstream_login(&key, 50).await.unwrap(), None);
    // Expired: taken (gone) but not returned; the sweep removes the rest.
    accounts
        .save_upstream_login(&key, &login("x", 100))
        .await
        .unwrap();
    assert_eq!(accounts.take_upstream_login(&key, 100).await.unwrap(), None);
    assert_eq!(accounts.take_upstream_login(&key, 10).await.unwrap(), None);
    accounts
        .save_upstream_login(&key, &login("x", 100))
        .await
        .unwrap();
    assert_eq!(accounts.sweep_upstream_logins(100).await.unwrap(), 1);

    // Links: one local account per (issuer, sub), never two.
    let issuer = format!(
        "https://idp-{}.example",
        sesame_core::random::token().unwrap()
    );
    let link = |sub: &str, subject: &str| UpstreamLink {
        upstream: "corp".into(),
        issuer: issuer.clone(),
        upstream_subject: sub.into(),
        subject: subject.into(),
        created_at: 5,
    };
    assert_eq!(
        accounts.find_upstream_link(&issuer, "u1").await.unwrap(),
        None
    );
    assert!(
        accounts
            .add_upstream_link(&link("u1", "local-a"))
            .await
            .unwrap()
    );
    assert!(
        !accounts
            .add_upstream_link(&link("u1", "local-b"))
            .await
            .unwrap(),
        "already linked"
    );
    assert!(
        accounts
            .add_upstream_link(&link("u2", "local-a"))
            .await
            .unwrap()
    );
    assert_eq!(
        accounts
            .find_upstream_link(&issuer, "u1")
            .await
            .unwrap()
            .as_deref(),
        Some("local-a")
    );
    assert_eq!(
        accounts
            .find_upstream_link("https://other.example", "u1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(accounts.upstream_links("local-a").await.unwrap().len(), 2);
    assert!(accounts.remove_upstream_link(&issuer, "u1").await.unwrap());
    assert!(!accounts.remove_upstream_link(&issuer, "u1").await.unwrap());
    assert_eq!(
        accounts.upstream_links("local-a").await.unwrap(),
        vec![link("u2", "local-a")]
    );

    // Upstream sessions (sealed ID token) and logouts: taken once, expiring.
    accounts
        .save_upstream_session(&key, "corp", "ID.TOKEN.SECRET", 100)
        .await
        .unwrap();
    let rows = raw(
        url,
        "SELECT id_token, CAST(NULL AS TEXT) FROM sesame_upstream_sessions WHERE session_key = $1",
        &[Some(key.as_str())],
    )
    .await;
    assert!(!rows[0].0.contains("ID.TOKEN.SECRET"), "{rows:?}");
    assert_eq!(
        accounts.take_upstream_session(&key, 50).await.unwrap(),
        Some(("corp".into(), "ID.TOKEN.SECRET".into()))
    );
    assert_eq!(
        accounts.take_upstream_session(&key, 50).await.unwrap(),
        None
    );
    accounts
        .save_upstream_logout(&key, "https://app.example/bye", 100)
        .await
        .unwrap();
    assert_eq!(
        accounts.take_upstream_logout(&key, 100).await.unwrap(),
        None,
        "expired"
    );
    accounts
        .save_upstream_logout(&key, "https://app.example/bye", 100)
        .await
        .unwrap();
    assert_eq!(
        accounts
            .take_upstream_logout(&key, 50)
            .await
            .unwrap()
            .as_deref(),
        Some("https://app.example/bye")
    );
    assert_eq!(accounts.take_upstream_logout(&key, 50).await.unwrap(), None);
    accounts
        .save_upstream_session(&key, "corp", "t", 100)
        .await
        .unwrap();
    assert_eq!(accounts.sweep_upstream_sessions(100).await.unwrap(), 1);
}

#[tokio::test]
async fn upstream_storage_on_sqlite() {
    let (_store, accounts, _dir, url) = sqlite_file().await;
    exercise(&accounts, &url).await;
}

#[tokio::test]
async fn upstream_storage_on_postgres() {
    let Some(base) = pg_url("upstream_storage_on_postgres") else {
        return;
    };
    let schema = PgSchema::new(&base).await;
    let (store, accounts) = open(&schema.url, EncryptionKey::generate().unwrap()).await;
    exercise(&accounts, &schema.url).await;
    store.close().await;
    schema.drop_now().await;
}
