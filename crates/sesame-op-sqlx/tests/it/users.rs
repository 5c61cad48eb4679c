use sesame_op_sqlx::{EncryptionKey, LoginSession, SqlStore, UserError};

use crate::support::*;

async fn exercise(store: &SqlStore) {
    let name = format!("u-{}", sesame_core::random::token().unwrap());
    let user = store
        .add_user(
            &name,
            "$argon2id$fake",
            Some("a@example.com"),
            Some("A"),
            100,
        )
        .await
        .unwrap();
    assert_eq!(user.subject.len(), 32);
    assert!(matches!(
        store.add_user(&name, "x", None, None, 100).await,
        Err(UserError::Duplicate(_))
    ));
    assert_eq!(store.find_user(&name).await.unwrap().unwrap(), user);
    assert_eq!(
        store
            .find_user_by_subject(&user.subject)
            .await
            .unwrap()
            .unwrap(),
        user
    );
    let (u, hash) = store.user_credentials(&name).await.unwrap().unwrap();
    assert_eq!((u, hash.as_str()), (user.clone(), "$argon2id$fake"));
    assert!(store.list_users().await.unwrap().contains(&user));

    let session = LoginSession {
        subject: user.subject.clone(),
        sid: "sid-1".into(),
        auth_time: 100,
        expires_at: 200,
    };
    let key = format!("k-{name}");
    store.create_login_session(&key, &session).await.unwrap();
    assert_eq!(
        store.find_login_session(&key, 150).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        store.find_login_session(&key, 200).await.unwrap(),
        None,
        "expired"
    );
    // A new password ends the user's sessions.
    assert!(store.set_password(&name, "$argon2id$new").await.unwrap());
    assert_eq!(store.find_login_session(&key, 150).await.unwrap(), None);
    assert_eq!(
        store.user_credentials(&name).await.unwrap().unwrap().1,
        "$argon2id$new"
    );
    assert!(!store.set_password("nobody-here", "x").await.unwrap());
    assert!(store.remove_user(&name).await.unwrap());
    assert!(!store.remove_user(&name).await.unwrap());
    assert!(store.find_user(&name).await.unwrap().is_none());
}

#[tokio::test]
async fn users_and_login_sessions_on_sqlite() {
    let (store, _dir) = sqlite_file().await;
    exercise(&store).await;
}

#[tokio::test]
async fn users_and_login_sessions_on_postgres() {
    let Some(base) = pg_url("users_and_login_sessions_on_postgres") else {
        return;
    };
    let url = fresh_schema(&base).await;
    let store = SqlStore::connect(&url, EncryptionKey::generate().unwrap())
        .await
        .unwrap();
    exercise(&store).await;
    store.close().await;
    drop_schema(&base, &url).await;
}
