//! The TOTP second factor's storage: sealed secrets, one use per time step
//! (also when two connections race), single-use recovery codes, pending
//! logins — on SQLite and PostgreSQL.

use sesame_op_sqlx::EncryptionKey;
use sesame_server::accounts::Accounts;

use super::{open, raw, sqlite_file};
use crate::support::{PgSchema, pg_url};

async fn exercise(accounts: &Accounts, url: &str) {
    let name = format!("t-{}", sesame_core::random::token().unwrap());
    let user = accounts
        .add_user(&name, "$argon2id$x", None, None, 1)
        .await
        .unwrap();
    let subject = user.subject.as_str();
    assert_eq!(accounts.totp_secret(subject).await.unwrap(), None);
    let codes = vec!["k1".to_owned(), "k2".to_owned()];
    accounts
        .enrol_totp(subject, "JBSWY3DPEHPK3PXP", &codes, 10)
        .await
        .unwrap();
    assert_eq!(
        accounts.totp_secret(subject).await.unwrap().as_deref(),
        Some("JBSWY3DPEHPK3PXP")
    );
    // Sealed at rest: the column does not hold the secret.
    let rows = raw(
        url,
        "SELECT secret, CAST(NULL AS TEXT) FROM sesame_user_totp WHERE subject = $1",
        &[Some(subject)],
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].0.contains("JBSWY3DPEHPK3PXP"), "{rows:?}");

    // Each step once, and never an earlier one after a later one.
    assert!(accounts.spend_totp_step(subject, 100).await.unwrap());
    assert!(
        !accounts.spend_totp_step(subject, 100).await.unwrap(),
        "replayed"
    );
    assert!(
        !accounts.spend_totp_step(subject, 99).await.unwrap(),
        "older"
    );
    assert!(accounts.spend_totp_step(subject, 101).await.unwrap());
    // Two at once for the same step: exactly one wins.
    let (a, b) = tokio::join!(
        accounts.spend_totp_step(subject, 102),
        accounts.spend_totp_step(subject, 102)
    );
    assert!(
        a.unwrap() ^ b.unwrap(),
        "one of two racing uses of a step wins"
    );

    assert_eq!(accounts.recovery_codes_left(subject).await.unwrap(), 2);
    assert!(
        accounts
            .spend_recovery_code(subject, "k1", 20)
            .await
            .unwrap()
    );
    assert!(
        !accounts
            .spend_recovery_code(subject, "k1", 21)
            .await
            .unwrap(),
        "spent"
    );
    assert!(
        !accounts
            .spend_recovery_code("someone-else", "k2", 21)
            .await
            .unwrap()
    );
    assert_eq!(accounts.recovery_codes_left(subject).await.unwrap(), 1);

    // A new enrolment replaces the secret, the step and the codes.
    accounts
        .enrol_totp(subject, "GEZDGNBVGY3TQOJQ", &["k3".to_owned()], 30)
        .await
        .unwrap();
    assert!(accounts.spend_totp_step(subject, 100).await.unwrap());
    assert!(
        !accounts
            .spend_recovery_code(subject, "k2", 31)
            .await
            .unwrap()
    );
    assert_eq!(accounts.recovery_codes_left(subject).await.unwrap(), 1);

    accounts
        .create_pending_login("p1", subject, 50)
        .await
        .unwrap();
    assert_eq!(
        accounts
            .find_pending_login("p1", 49)
            .await
            .unwrap()
            .as_deref(),
        Some(subject)
    );
    assert_eq!(
        accounts.find_pending_login("p1", 50).await.unwrap(),
        None,
        "expired"
    );
    assert!(accounts.delete_pending_login("p1").await.unwrap());
    assert!(!accounts.delete_pending_login("p1").await.unwrap(), "once");

    assert!(accounts.remove_totp(subject).await.unwrap());
    assert_eq!(accounts.totp_secret(subject).await.unwrap(), None);
    assert!(!accounts.remove_totp(subject).await.unwrap());
    // Removing the user removes an enrolment too.
    accounts
        .enrol_totp(subject, "JBSWY3DPEHPK3PXP", &codes, 10)
        .await
        .unwrap();
    assert!(accounts.remove_user(&name).await.unwrap());
    assert_eq!(accounts.totp_secret(subject).await.unwrap(), None);
}

#[tokio::test]
async fn totp_storage_on_sqlite() {
    let (_store, accounts, _dir, url) = sqlite_file().await;
    exercise(&accounts, &url).await;
}

#[tokio::test]
async fn totp_storage_on_postgres() {
    let Some(base) = pg_url("totp_storage_on_postgres") else {
        return;
    };
    let schema = PgSchema::new(&base).await;
    let (store, accounts) = open(&schema.url, EncryptionKey::generate().unwrap()).await;
    exercise(&accounts, &schema.url).await;
    store.close().await;
    schema.drop_now().await;
}
