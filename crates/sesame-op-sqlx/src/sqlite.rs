//! Opening a SQLite database: sqlx's pool (one connection: it creates the
//! file in WAL mode and runs the migrations), the in-line writer and readers
//! ([`crate::lite`]), and for a file the background checkpointer.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::db::{ConnectError, Pool};
use crate::lite::{Durability, Lite, Target};

/// How often the background checkpointer copies the SQLite WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` on a connection of its own every
/// [`CHECKPOINT_EVERY`] until every clone of the store is dropped. PASSIVE never
/// waits for, nor blocks, the pool's reads and writes.
fn spawn_checkpointer(options: &SqliteConnectOptions, alive: &Arc<()>) {
    use sqlx::{ConnectOptions as _, Connection as _};
    let options = options.clone();
    let alive = Arc::downgrade(alive);
    tokio::spawn(async move {
        let mut conn: Option<sqlx::SqliteConnection> = None;
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.strong_count() == 0 {
                break;
            }
            if conn.is_none() {
                match options.connect().await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "SQLite checkpointer cannot connect");
                        continue;
                    }
                }
            }
            if let Some(c) = conn.as_mut()
                && let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut *c)
                    .await
            {
                tracing::warn!(error = %e, "SQLite checkpoint failed");
                conn = None;
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    });
}

/// `url` without its `synchronous=` parameter (ours, not sqlx's), and the
/// durability it asks for.
fn durability_of(url: &str) -> Result<(String, Durability), ConnectError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Durability::default()));
    };
    let mut durability = Durability::default();
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("synchronous", v)) if v.eq_ignore_ascii_case("normal") => {
                durability = Durability::Normal;
            }
            Some(("synchronous", v)) if v.eq_ignore_ascii_case("full") => {
                durability = Durability::Full;
            }
            Some(("synchronous", v)) => {
                return Err(ConnectError::UnsupportedUrl(format!(
                    "synchronous={v}: use synchronous=normal or synchronous=full"
                )));
            }
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, durability))
}

/// Opens a SQLite database: sqlx's pool (one connection, which creates the
/// file in WAL mode and migrates it), the in-line writer and readers, and
/// for a file the checkpointer.
pub(crate) async fn open(url: &str, alive: &Arc<()>) -> Result<Pool, ConnectError> {
    let (url, durability) = durability_of(url)?;
    let synchronous = match durability {
        Durability::Normal => SqliteSynchronous::Normal,
        Durability::Full => SqliteSynchronous::Full,
    };
    let options = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // After a burst, give the WAL file back down to 64 MiB.
        .pragma("journal_size_limit", "67108864");
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    let sqlx = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(Some(Duration::from_secs(30)))
        .connect_with(options.clone())
        .await?;
    let lite = Lite::open(&Target {
        path: options.get_filename().to_path_buf(),
        memory,
        durability,
    })?;
    if !memory {
        // Checkpoints (copying the WAL into the database, with an fsync) run
        // on a connection of their own, off the writer: on the writer they
        // stalled every write behind the fsync (measured: the core 10% idle
        // under load, p99 +60%).
        spawn_checkpointer(&options, alive);
    }
    Ok(Pool::Sqlite { lite, sqlx })
}
