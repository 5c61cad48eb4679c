//! The server's migrations moved out of sesame-op-sqlx: a database migrated
//! before (every version in one bookkeeping table, applied by the store's
//! one migrator) opens with the split and keeps its rows, and a fresh
//! database gets every table, the provider's and the server's.

use sesame_op_sqlx::{EncryptionKey, SqlStore};
use sesame_server::accounts::LoginSession;

use super::{open, raw};
use crate::support::{PgSchema, TempDir, pg_url};

/// The SHA-384 (what sqlx checks) of each migration that moved, as
/// sesame-op-sqlx applied it: a deployment's `_sqlx_migrations` holds these,
/// so the files must never change.
const MOVED: [(i64, &str); 6] = [
    (
        20261123000002,
        "16e2f795b70a9b21dfcc8686f394961542d4587f475d50fec2437f8361e08802c125b7d30a55fe047641c06f157efcc8",
    ),
    (
        20261202000002,
        "ef59a58e3b9b59e1c42edf29517cceda7b68ee413e48637709dff643a792f370958ac56b13bc3cf125133f96d8b1cb86",
    ),
    (
        20261203000001,
        "1e8ffe058a8adaf5ee6c101213624eb27401a19c8dc25b0bff8724a1741552e35d430f8702d9d92e0aa68d40a5ad1218",
    ),
    (
        20261205000001,
        "239b8ccaf61bcb44d10ddd3e64a23f0c5d46c49c896333236f29062abe3ecae2c317adb23edcc497c9d45892adc9f025",
    ),
    (
        20261206000001,
        "0a08fc44c7a3e3ac2f4fdd050d5d420e1961c66135c4338d6d957feeea214d587d84f995beb538e753051eca04967fb8",
    ),
    (
        20261206000002,
        "2b60018d1365e1d53ab276b80c97e8a8dfba70ae9c47f140656f271afba0a51a6da96a926dcfa8d453260add264e6d42",
    ),
];

fn provider_migrations() -> sqlx::migrate::Migrator {
    sqlx::migrate!("../sesame-op-sqlx/migrations")
}

fn server_migrations() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_moved_migrations_are_byte_for_byte_what_was_applied() {
    let server = server_migrations();
    let found: Vec<(i64, String)> = server
        .iter()
        .map(|m| (m.version, hex(&m.checksum)))
        .collect();
    let pinned: Vec<(i64, String)> = MOVED.iter().map(|(v, c)| (*v, (*c).to_owned())).collect();
    assert_eq!(found, pinned);
    let provider: Vec<i64> = provider_migrations().iter().map(|m| m.version).collect();
    assert!(
        found.iter().all(|(v, _)| !provider.contains(v)),
        "no version in both sets"
    );
}

/// The migrator sesame-op-sqlx ran before the split: every version, in order.
fn the_old_single_migrator() -> sqlx::migrate::Migrator {
    let mut all: Vec<sqlx::migrate::Migration> = provider_migrations()
        .iter()
        .chain(server_migrations().iter())
        .cloned()
        .collect();
    all.sort_by_key(|m| m.version);
    sqlx::migrate::Migrator::with_migrations(all)
}

async fn count(url: &str, sql: &str) -> String {
    raw(url, sql, &[]).await.remove(0).0
}

/// Migrates `url` as a deployment before the split was, with a user and a
/// login session in it; then opens it with the split, twice.
async fn old_database_opens(url: &str) {
    let old = the_old_single_migrator();
    let user = "INSERT INTO sesame_users (username, subject, password_hash, email, name, created_at, attributes) \
                VALUES ('old', 'old-subject', '$argon2id$old', 'old@example.com', 'Old', 7, '{\"groups\":[\"staff\"]}')";
    let session = "INSERT INTO sesame_login_sessions (token_key, subject, sid, auth_time, expires_at, amr) \
                   VALUES ('old-key', 'old-subject', 'old-sid', 7, 4000000000, 'pwd otp mfa')";
    if url.starts_with("sqlite:") {
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        old.run(&pool).await.unwrap();
        for sql in [user, session] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        old.run(&pool).await.unwrap();
        for sql in [user, session] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let versions =
        "SELECT CAST(COUNT(*) AS TEXT), CAST(MAX(version) AS TEXT) FROM _sqlx_migrations";
    let before = raw(url, versions, &[]).await;
    assert_eq!(before[0].0, old.iter().count().to_string());

    let key = EncryptionKey::generate().unwrap();
    for round in 0..2 {
        let (store, accounts) = open(url, key.clone()).await;
        assert_eq!(raw(url, versions, &[]).await, before, "nothing re-applied");
        let user = accounts.find_user("old").await.unwrap().unwrap();
        assert_eq!(
            (user.subject.as_str(), user.groups.as_slice()),
            ("old-subject", ["staff".to_owned()].as_slice())
        );
        let session = accounts.find_login_session("old-key", 100).await.unwrap();
        assert_eq!(
            session.map(|s| s.amr),
            Some(vec!["pwd".into(), "otp".into(), "mfa".into()])
        );
        // New rows in the old tables, through the split.
        let name = format!("new-{round}");
        let added = accounts
            .add_user(&name, "$argon2id$new", None, None, 8)
            .await
            .unwrap();
        let fresh = LoginSession {
            subject: added.subject.clone(),
            sid: "s".into(),
            auth_time: 8,
            expires_at: 4_000_000_000,
            amr: vec!["pwd".into()],
        };
        accounts
            .create_login_session(&format!("k-{round}"), &fresh)
            .await
            .unwrap();
        accounts
            .enrol_totp(&added.subject, "JBSWY3DPEHPK3PXP", &[], 8)
            .await
            .unwrap();
        assert!(accounts.remove_user(&name).await.unwrap());
        store.close().await;
    }
}

#[tokio::test]
async fn a_database_migrated_before_the_split_opens_on_sqlite() {
    let dir = TempDir::new();
    old_database_opens(&dir.db()).await;
}

#[tokio::test]
async fn a_database_migrated_before_the_split_opens_on_postgres() {
    let Some(base) = pg_url("a_database_migrated_before_the_split_opens_on_postgres") else {
        return;
    };
    let schema = PgSchema::new(&base).await;
    old_database_opens(&schema.url).await;
    schema.drop_now().await;
}

/// Every table of both sets, as the migrations name them.
const TABLES: [&str; 26] = [
    "sesame_access_tokens",
    "sesame_clients",
    "sesame_codes",
    "sesame_consents",
    "sesame_device_authorizations",
    "sesame_initial_access_tokens",
    "sesame_interactions",
    "sesame_jtis",
    "sesame_keys",
    "sesame_leases",
    "sesame_login_sessions",
    "sesame_passkeys",
    "sesame_pending_logins",
    "sesame_rate_limits",
    "sesame_recovery_codes",
    "sesame_refresh_tokens",
    "sesame_revoked_grants",
    "sesame_secrets",
    "sesame_session_clients",
    "sesame_upstream_links",
    "sesame_upstream_logins",
    "sesame_upstream_logouts",
    "sesame_upstream_sessions",
    "sesame_user_totp",
    "sesame_users",
    "sesame_webauthn_users",
];

#[tokio::test]
async fn a_fresh_database_gets_every_table() {
    let dir = TempDir::new();
    let url = dir.db();
    // The server's own path: `sesame serve`, `sesame demo` and the CLI open here.
    let config = sesame_server::Config {
        database: url.clone(),
        ..sesame_server::Config::default()
    };
    let store: SqlStore = sesame_server::store::open(&config).await.unwrap();
    let tables: Vec<String> = raw(
        &url,
        "SELECT name, CAST(NULL AS TEXT) FROM sqlite_master WHERE type = 'table' AND name LIKE 'sesame_%' ORDER BY name",
        &[],
    )
    .await
    .into_iter()
    .map(|r| r.0)
    .collect();
    assert_eq!(tables, TABLES);
    let applied = provider_migrations().iter().count() + server_migrations().iter().count();
    assert_eq!(
        count(
            &url,
            "SELECT CAST(COUNT(*) AS TEXT), CAST(NULL AS TEXT) FROM _sqlx_migrations"
        )
        .await,
        applied.to_string()
    );
    // The columns later migrations added are there: attributes, amr.
    let accounts = sesame_server::store::accounts(&config, &store);
    let user = accounts
        .add_user("ann", "$argon2id$x", None, None, 1)
        .await
        .unwrap();
    assert!(
        accounts
            .set_user_attributes("ann", &["g".to_owned()], &serde_json::Map::new())
            .await
            .unwrap()
    );
    let session = LoginSession {
        subject: user.subject,
        sid: "s".into(),
        auth_time: 1,
        expires_at: 4_000_000_000,
        amr: vec!["pwd".into(), "hwk".into()],
    };
    accounts.create_login_session("k", &session).await.unwrap();
    assert_eq!(
        accounts.find_login_session("k", 2).await.unwrap(),
        Some(session)
    );
    store.close().await;
}
