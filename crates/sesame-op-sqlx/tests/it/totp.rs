//! The TOTP second factor's storage: sealed secrets, one use per time step
//! (also when two connections race), single-use recovery codes, pending
//! logins — on SQLite and PostgreSQL.

use sesame_op_sqlx::{EncryptionKey, SqlStore};

use crate::support::*;

async fn exercise(store: &SqlStore, url: &str) {
    let name = format!("t-{}", sesame_core::random::token().unwrap());
    let user = store
        .add_user(&name, "$argon2id$x", None, None, 1)
        .await
        .unwrap();
    let subject = user.subject.as_str();
    assert_eq!(store.totp_secret(subject).await.unwrap(), None);
    let codes = vec!["k1".to_owned(), "k2".to_owned()];
    store
        .enrol_totp(subject, "JBSWY3DPEHPK3PXP", &codes, 10)
        .await
        .unwrap();
    assert_eq!(
        store.totp_secret(subject).await.unwrap().as_deref(),
        Some("JBSWY3DPEHPK3PXP")
    );
    // Sealed at rest: the column does not hold the secret.
    let rows = crate::client_secrets::raw(
        url,
        "SELECT secret, CAST(NULL AS TEXT) FROM sesame_user_totp WHERE subject = $1",
        &[Some(subject)],
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].0.contains("JBSWY3DPEHPK3PXP"), "{rows:?}");

    // Each step once, and never an earlier one after a later one.
    assert!(store.spend_totp_step(subject, 100).await.unwrap());
    assert!(
        !store.spend_totp_step(subject, 100).await.unwrap(),
        "replayed"
    );
    assert!(!store.spend_totp_step(subject, 99).await.unwrap(), "older");
    assert!(store.spend_totp_step(subject, 101).await.unwrap());
    // Two at once for the same step: exactly one wins.
    let (a, b) = tokio::join!(
        store.spend_totp_step(subject, 102),
        store.spend_totp_step(subject, 102)
    );
    assert!(
        a.unwrap() ^ b.unwrap(),
        "one of two racing uses of a step wins"
    );

    assert_eq!(store.recovery_codes_left(subject).await.unwrap(), 2);
    assert!(store.spend_recovery_code(subject, "k1", 20).await.unwrap());
    assert!(
        !store.spend_recovery_code(subject, "k1", 21).await.unwrap(),
        "spent"
    );
    assert!(
        !store
            .spend_recovery_code("someone-else", "k2", 21)
            .await
            .unwrap()
    );
    assert_eq!(store.recovery_codes_left(subject).await.unwrap(), 1);

    // A new enrolment replaces the secret, the step and the codes.
    store
        .enrol_totp(subject, "GEZDGNBVGY3TQOJQ", &["k3".to_owned()], 30)
        .await
        .unwrap();
    assert!(store.spend_totp_step(subject, 100).await.unwrap());
    assert!(!store.spend_recovery_code(subject, "k2", 31).await.unwrap());
    assert_eq!(store.recovery_codes_left(subject).await.unwrap(), 1);

    store.create_pending_login("p1", subject, 50).await.unwrap();
    assert_eq!(
        store.find_pending_login("p1", 49).await.unwrap().as_deref(),
        Some(subject)
    );
    assert_eq!(
        store.find_pending_login("p1", 50).await.unwrap(),
        None,
        "expired"
    );
    assert!(store.delete_pending_login("p1").await.unwrap());
    assert!(!store.delete_pending_login("p1").await.unwrap(), "once");

    assert!(store.remove_totp(subject).await.unwrap());
    assert_eq!(store.totp_secret(subject).await.unwrap(), None);
    assert!(!store.remove_totp(subject).await.unwrap());
    // Removing the user removes an enrolment too.
    store
        .enrol_totp(subject, "JBSWY3DPEHPK3PXP", &codes, 10)
        .await
        .unwrap();
    assert!(store.remove_user(&name).await.unwrap());
    assert_eq!(store.totp_secret(subject).await.unwrap(), None);
}

#[tokio::test]
async fn totp_storage_on_sqlite() {
    let dir = tempdir::Dir::new();
    let url = format!("sqlite://{}/sesame.db", dir.path());
    let store = SqlStore::connect(&url, EncryptionKey::generate().unwrap())
        .await
        .unwrap();
    exercise(&store, &url).await;
}

#[tokio::test]
async fn totp_storage_on_postgres() {
    let Some(base) = pg_url("totp_storage_on_postgres") else {
        return;
    };
    let url = fresh_schema(&base).await;
    let store = SqlStore::connect(&url, EncryptionKey::generate().unwrap())
        .await
        .unwrap();
    exercise(&store, &url).await;
    store.close().await;
    drop_schema(&base, &url).await;
}
