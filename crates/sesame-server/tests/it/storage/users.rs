//! Users and login sessions (`sesame_users`, `sesame_login_sessions`), and
//! S11: a new password or a removed user revokes the user's grants in the
//! provider's tables — on SQLite and PostgreSQL.

use sesame_op_sqlx::{EncryptionKey, SqlStore};
use sesame_server::accounts::{Accounts, LoginSession, UserError};

use super::{open, sqlite_file};
use crate::support::{PgSchema, pg_url};

async fn exercise(accounts: &Accounts) {
    let name = format!("u-{}", sesame_core::random::token().unwrap());
    let user = accounts
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
        accounts.add_user(&name, "x", None, None, 100).await,
        Err(UserError::Duplicate(_))
    ));
    assert_eq!(accounts.find_user(&name).await.unwrap().unwrap(), user);
    assert_eq!(
        accounts
            .find_user_by_subject(&user.subject)
            .await
            .unwrap()
            .unwrap(),
        user
    );
    let (u, hash) = accounts.user_credentials(&name).await.unwrap().unwrap();
    assert_eq!((u, hash.as_str()), (user.clone(), "$argon2id$fake"));
    assert!(accounts.list_users().await.unwrap().contains(&user));
    // Groups and custom claims: set, read back by name, subject and credentials.
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_value(serde_json::json!({"department": "Sales", "level": 3})).unwrap();
    let groups = vec!["admins".to_owned(), "staff".to_owned()];
    assert!(
        accounts
            .set_user_attributes(&name, &groups, &claims)
            .await
            .unwrap()
    );
    assert!(
        !accounts
            .set_user_attributes("nobody-here", &groups, &claims)
            .await
            .unwrap()
    );
    let with = accounts.find_user(&name).await.unwrap().unwrap();
    assert_eq!((&with.groups, &with.claims), (&groups, &claims));
    assert_eq!(
        accounts
            .find_user_by_subject(&user.subject)
            .await
            .unwrap()
            .unwrap(),
        with
    );
    assert_eq!(
        accounts.user_credentials(&name).await.unwrap().unwrap().0,
        with
    );
    assert!(
        accounts
            .set_user_attributes(&name, &[], &serde_json::Map::new())
            .await
            .unwrap()
    );
    assert_eq!(accounts.find_user(&name).await.unwrap().unwrap(), user);

    let session = LoginSession {
        subject: user.subject.clone(),
        sid: "sid-1".into(),
        auth_time: 100,
        expires_at: 200,
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
    };
    let key = format!("k-{name}");
    accounts.create_login_session(&key, &session).await.unwrap();
    assert_eq!(
        accounts.find_login_session(&key, 150).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        accounts.find_login_session(&key, 200).await.unwrap(),
        None,
        "expired"
    );
    // A new password ends the user's sessions.
    assert!(accounts.set_password(&name, "$argon2id$new").await.unwrap());
    assert_eq!(accounts.find_login_session(&key, 150).await.unwrap(), None);
    assert_eq!(
        accounts.user_credentials(&name).await.unwrap().unwrap().1,
        "$argon2id$new"
    );
    assert!(!accounts.set_password("nobody-here", "x").await.unwrap());
    assert!(accounts.remove_user(&name).await.unwrap());
    assert!(!accounts.remove_user(&name).await.unwrap());
    assert!(accounts.find_user(&name).await.unwrap().is_none());
}

#[tokio::test]
async fn users_and_login_sessions_on_sqlite() {
    let (_store, accounts, _dir, _) = sqlite_file().await;
    exercise(&accounts).await;
}

#[tokio::test]
async fn users_and_login_sessions_on_postgres() {
    let Some(base) = pg_url("users_and_login_sessions_on_postgres") else {
        return;
    };
    let schema = PgSchema::new(&base).await;
    let (store, accounts) = open(&schema.url, EncryptionKey::generate().unwrap()).await;
    exercise(&accounts).await;
    store.close().await;
    schema.drop_now().await;
}

/// Stores an access token, a refresh token and an unused code for `subject`;
/// returns their keys.
async fn tokens_of(store: &SqlStore, subject: &str, now: i64) -> [String; 3] {
    use sesame_core::{ClientId, RedirectUri, Scopes, SessionId, Subject};
    use sesame_op::model::{AccessTokenRecord, CodeRecord, Grant, RefreshTokenRecord};
    use sesame_op::store::GrantStore;
    let grant = Grant {
        grant_id: format!("g-{}", sesame_core::random::token().unwrap()),
        client_id: ClientId::new("rp"),
        subject: Some(Subject::new(subject)),
        scopes: Scopes::parse("openid offline_access").unwrap(),
        auth_time: Some(now),
        sid: Some(SessionId::new("sid-1")),
        acr: None,
        amr: None,
        claims_request: None,
        claims: Vec::new(),
        jkt: None,
        resources: Vec::new(),
        created_at: now,
    };
    let keys = [0, 1, 2].map(|i| format!("t{i}-{}", sesame_core::random::token().unwrap()));
    let (issued_at, expires_at) = (now, now + 3600);
    let at = AccessTokenRecord {
        grant: grant.clone(),
        issued_at,
        expires_at,
    };
    let rt = RefreshTokenRecord {
        grant: grant.clone(),
        issued_at,
        expires_at,
    };
    store.save_access_token(&keys[0], &at).await.unwrap();
    store.save_refresh_token(&keys[1], &rt).await.unwrap();
    let code = CodeRecord {
        grant,
        redirect_uri: RedirectUri::new("https://rp.example/cb").unwrap(),
        nonce: None,
        pkce: None,
        expires_at: now + 60,
    };
    store.save_code(&keys[2], &code).await.unwrap();
    keys
}

/// Whether the access token, the refresh token and the code still work.
async fn alive(store: &SqlStore, keys: &[String; 3], now: i64) -> [bool; 3] {
    use sesame_op::model::{CodeUse, RefreshUse};
    use sesame_op::store::GrantStore;
    let access = store
        .find_access_token(&keys[0], now)
        .await
        .unwrap()
        .is_some();
    let refresh = store
        .find_refresh_token(&keys[1], now)
        .await
        .unwrap()
        .is_some()
        && matches!(
            store.use_refresh_token(&keys[1], now).await.unwrap(),
            Some(RefreshUse::First(_))
        );
    let code = matches!(
        store.consume_code(&keys[2], now).await.unwrap(),
        Some(CodeUse::First(_))
    );
    [access, refresh, code]
}

/// S11: `users passwd` and `users remove` end the user's grants, not only
/// their login sessions; other users' tokens live on.
async fn password_change_and_removal_revoke_grants(accounts: &Accounts) {
    let now = 1_900_000_000;
    let mut users = Vec::new();
    for _ in 0..3 {
        let name = format!("u-{}", sesame_core::random::token().unwrap());
        let user = accounts
            .add_user(&name, "$argon2id$old", None, None, now)
            .await
            .unwrap();
        users.push((name, user.subject));
    }
    let store = accounts.store();
    let [(a, a_sub), (b, b_sub), (_, c_sub)] = &users[..] else {
        unreachable!()
    };
    let (ka, kb, kc) = (
        tokens_of(store, a_sub, now).await,
        tokens_of(store, b_sub, now).await,
        tokens_of(store, c_sub, now).await,
    );
    assert!(accounts.set_password(a, "$argon2id$new").await.unwrap());
    assert_eq!(
        alive(store, &ka, now).await,
        [false; 3],
        "after users passwd"
    );
    assert!(accounts.remove_user(b).await.unwrap());
    assert_eq!(
        alive(store, &kb, now).await,
        [false; 3],
        "after users remove"
    );
    assert_eq!(
        alive(store, &kc, now).await,
        [true; 3],
        "another user's grants"
    );
}

#[tokio::test]
async fn password_change_and_removal_revoke_grants_on_sqlite() {
    let (_store, accounts, _dir, _) = sqlite_file().await;
    password_change_and_removal_revoke_grants(&accounts).await;
}

#[tokio::test]
async fn password_change_and_removal_revoke_grants_on_postgres() {
    let Some(base) = pg_url("password_change_and_removal_revoke_grants_on_postgres") else {
        return;
    };
    let schema = PgSchema::new(&base).await;
    let (store, accounts) = open(&schema.url, EncryptionKey::generate().unwrap()).await;
    password_change_and_removal_revoke_grants(&accounts).await;
    store.close().await;
    schema.drop_now().await;
}
