//! `client_secret_jwt` secrets are sealed at rest, rows from before are
//! re-sealed on connect, and a store opened with the wrong key fails at once.

use sesame_core::{ClientId, ClientSecret, RedirectUri};
use sesame_op::model::{AuthMethod, Client};
use sesame_op::store::ClientStore;
use sesame_op_sqlx::{ConnectError, EncryptionKey, SqlStore};

use crate::support::*;

const SECRET: &str = "hmac-shared-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

fn jwt_client(id: &str) -> Client {
    let mut c = Client::new(
        ClientId::new(id),
        vec![RedirectUri::new("https://rp.example/cb").unwrap()],
        1,
    );
    c.token_endpoint_auth_method = AuthMethod::ClientSecretJwt;
    c.client_secret_hash = Some(sesame_op::secrets::hash_generated_secret(SECRET));
    c.client_secret_jwt_key = Some(ClientSecret::new(SECRET));
    c
}

/// Runs SQL against the database directly, as someone with the database but not the key.
pub(crate) async fn raw(
    url: &str,
    sql: &str,
    args: &[Option<&str>],
) -> Vec<(String, Option<String>)> {
    use sqlx::Connection as _;
    macro_rules! run {
        ($conn:expr) => {{
            let mut q =
                sqlx::query_as::<_, (String, Option<String>)>(sqlx::AssertSqlSafe(sql.to_owned()));
            for a in args {
                q = q.bind(*a);
            }
            q.fetch_all(&mut $conn).await.unwrap()
        }};
    }
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        run!(c)
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        run!(c)
    }
}

async fn row(url: &str, id: &str) -> (String, Option<String>) {
    raw(
        url,
        "SELECT data, client_secret_sealed FROM sesame_clients WHERE client_id = $1",
        &[Some(id)],
    )
    .await
    .remove(0)
}

async fn exercise(url: &str) {
    let key = EncryptionKey::generate().unwrap();
    let store = SqlStore::connect(url, key.clone()).await.unwrap();
    let client = jwt_client("jwt");
    store.save_client(&client).await.unwrap();
    let plain = Client::new(ClientId::new("plain"), Vec::new(), 1);
    store.save_client(&plain).await.unwrap();

    // The row holds no secret in clear: not in the JSON, only sealed beside it.
    let (data, sealed) = row(url, "jwt").await;
    assert!(!data.contains(SECRET), "{data}");
    assert!(!data.contains("client_secret_jwt_key"), "{data}");
    let sealed = sealed.expect("the secret is sealed in its own column");
    assert!(
        sealed.starts_with("v2:aes256gcm:") && !sealed.contains(SECRET),
        "{sealed}"
    );
    assert_eq!(
        row(url, "plain").await.1,
        None,
        "other clients seal nothing"
    );

    // … and the store gives it back.
    let fresh = SqlStore::connect(url, key.clone()).await.unwrap();
    assert_eq!(
        fresh.find_client(&ClientId::new("jwt")).await.unwrap(),
        Some(client.clone())
    );
    assert!(fresh.list_clients().await.unwrap().contains(&client));
    // Switching the method away drops the sealed secret.
    let mut changed = client.clone();
    changed.token_endpoint_auth_method = AuthMethod::ClientSecretBasic;
    changed.client_secret_jwt_key = None;
    fresh.save_client(&changed).await.unwrap();
    assert_eq!(row(url, "jwt").await.1, None);
    fresh.save_client(&client).await.unwrap();

    // A sealed secret is bound to its client: moved to another row, it does not open.
    raw(
        url,
        "UPDATE sesame_clients SET client_secret_sealed = $1 WHERE client_id = 'plain' \
         RETURNING client_id, client_secret_sealed",
        &[row(url, "jwt").await.1.as_deref()],
    )
    .await;
    let reader = SqlStore::connect(url, key.clone()).await.unwrap();
    let e = reader
        .find_client(&ClientId::new("plain"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("could not be decrypted"), "{e}");

    // Another key: refused when connecting, with a message that says why.
    let err = SqlStore::connect(url, EncryptionKey::generate().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::WrongEncryptionKey), "{err}");
    assert!(err.to_string().contains("encryption key"), "{err}");
}

#[tokio::test]
async fn client_secret_jwt_secrets_are_sealed_on_sqlite() {
    let dir = tempdir::Dir::new();
    let url = format!("sqlite://{}/sesame.db", dir.path());
    exercise(&url).await;
    // Not in the file, nor in its write-ahead log.
    for file in ["sesame.db", "sesame.db-wal"] {
        let bytes = std::fs::read(format!("{}/{file}", dir.path())).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(SECRET), "{file}");
    }
}

#[tokio::test]
async fn client_secret_jwt_secrets_are_sealed_on_postgres() {
    let Some(base) = pg_url("client_secret_jwt_secrets_are_sealed_on_postgres") else {
        return;
    };
    let url = fresh_schema(&base).await;
    exercise(&url).await;
    drop_schema(&base, &url).await;
}

#[tokio::test]
async fn secrets_stored_in_clear_by_an_older_version_are_sealed_on_connect() {
    let dir = tempdir::Dir::new();
    let url = format!("sqlite://{}/sesame.db", dir.path());
    let key = EncryptionKey::generate().unwrap();
    let store = SqlStore::connect(&url, key.clone()).await.unwrap();
    store.close().await;
    // A row as the previous version wrote it: the secret inside the JSON.
    let legacy = serde_json::to_string(&jwt_client("old")).unwrap();
    assert!(legacy.contains(SECRET));
    raw(
        &url,
        "INSERT INTO sesame_clients (client_id, data, created_at) VALUES ('old', $1, 1) \
         RETURNING client_id, client_secret_sealed",
        &[Some(&legacy)],
    )
    .await;

    let store = SqlStore::connect(&url, key.clone()).await.unwrap();
    let (data, sealed) = row(&url, "old").await;
    assert!(!data.contains(SECRET), "re-sealed on connect: {data}");
    assert!(sealed.is_some());
    assert_eq!(
        store
            .find_client(&ClientId::new("old"))
            .await
            .unwrap()
            .unwrap()
            .client_secret_jwt_key,
        Some(ClientSecret::new(SECRET))
    );
    // Connecting again changes nothing.
    drop(SqlStore::connect(&url, key).await.unwrap());
    assert_eq!(row(&url, "old").await, (data, sealed));
}

#[tokio::test]
async fn a_database_from_before_the_key_check_still_refuses_a_wrong_key() {
    let dir = tempdir::Dir::new();
    let url = format!("sqlite://{}/sesame.db", dir.path());
    let key = EncryptionKey::generate().unwrap();
    let store = SqlStore::connect(&url, key.clone()).await.unwrap();
    let salt = store.pairwise_salt().await.unwrap();
    store.close().await;
    // As if written by a version without the check.
    raw(
        &url,
        "DELETE FROM sesame_secrets WHERE name = 'key_check' RETURNING name, value",
        &[],
    )
    .await;
    // A wrong key is caught on the sealed salt, and records no check of its own.
    let err = SqlStore::connect(&url, EncryptionKey::generate().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::WrongEncryptionKey), "{err}");
    let right = SqlStore::connect(&url, key).await.unwrap();
    assert_eq!(right.pairwise_salt().await.unwrap(), salt);
}
