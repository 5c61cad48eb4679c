//! SQLite run in-line (rusqlite): the writer on a thread of its own that
//! commits the writes waiting for it together (group commit), and `SELECT`s
//! on the calling thread.
//!
//! Why not sqlx's SQLite driver, which the store used before: it runs each
//! connection on a worker thread and crosses to it and back for every
//! statement (two futex wake-ups and context switches per statement, ~33 per
//! sign-in), and it commits every write on its own. Here a write costs one
//! crossing to the writer in each direction however many writes wait with it,
//! and the writes that arrive while the writer is busy share one transaction:
//! one set of WAL frames for the pages they share and, with
//! `synchronous=full`, one `fsync`.
//!
//! What a caller is told is what is on disk: a write's result is sent after
//! its batch committed; if the commit fails, every write of the batch fails.
//! Each write runs under a savepoint of its own, so one write's error (a
//! constraint, a failed check) rolls back that write only.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::{ToSql, ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, Statement};
use sesame_op::store::{StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

use crate::sql::{Arg, Cell, Col};

/// Writes waiting for the writer; past it, callers wait for a slot.
const QUEUE: usize = 1024;
/// The most writes committed in one transaction.
const MAX_BATCH: usize = 256;
/// Reader connections kept open between reads (reads never wait while
/// holding one, so no more are in use at once than threads run reads).
const IDLE_READERS: usize = 8;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 128;

/// How much a commit waits for the disk (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `NORMAL` (the default): a commit is in the WAL file but not yet
    /// `fsync`ed. A crash of the process loses nothing; a power cut or an
    /// operating-system crash may lose the transactions committed since the
    /// last checkpoint (at most about half a second of writes: the
    /// checkpointer syncs the WAL every 500 ms), and never corrupts the
    /// database.
    #[default]
    Normal,
    /// `FULL`: every commit `fsync`s the WAL before it is reported; nothing
    /// reported is lost to a power cut. Group commit shares one `fsync`
    /// among the writes of a batch.
    Full,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

/// Where the database is and how to open it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// A file name, or the `file:` name of a shared in-memory database.
    pub(crate) path: PathBuf,
    /// A shared in-memory database (no reader connections: everything runs
    /// on the writer).
    pub(crate) memory: bool,
    pub(crate) durability: Durability,
}

/// The SQLite backend. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Lite {
    jobs: mpsc::Sender<Box<dyn Job>>,
    readers: Option<Arc<Readers>>,
}

impl std::fmt::Debug for Lite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lite")
            .field("readers", &self.readers.is_some())
            .finish_non_exhaustive()
    }
}

fn db(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e)
}

impl Lite {
    /// Opens the writer (its thread) and, for a file, the reader pool.
    pub(crate) fn open(target: &Target) -> StoreResult<Self> {
        let writer = open_writer(target).map_err(db)?;
        let (jobs, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("sesame-sqlite-writer".into())
            .spawn(move || write_loop(&writer, rx))
            .map_err(db)?;
        let readers = (!target.memory).then(|| {
            Arc::new(Readers {
                path: target.path.clone(),
                idle: Mutex::new(Vec::new()),
            })
        });
        Ok(Self { jobs, readers })
    }

    /// Runs `work` on the writer, in the next batch's transaction, and
    /// returns its result once the batch committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = Box::new(Work {
            work: Some(work),
            out: None,
            tx,
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::new("the SQLite writer has stopped"))?;
        rx.await
            .map_err(|_| StoreError::new("the SQLite writer has stopped"))?
    }

    /// Runs one statement on the writer; returns the rows it changed.
    pub(crate) async fn exec(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        let sql = sql.to_owned();
        let args = owned(args);
        self.write(move |c| execute(c, &sql, &args)).await
    }

    /// Runs `statements` in order as one write (one savepoint: all or none).
    pub(crate) async fn exec_all(
        &self,
        statements: &[(&str, &[Arg<'_>])],
    ) -> StoreResult<Vec<u64>> {
        let owned: Vec<(String, Vec<Value>)> = statements
            .iter()
            .map(|(sql, args)| ((*sql).to_owned(), owned(args)))
            .collect();
        self.write(move |c| {
            owned
                .iter()
                .map(|(sql, args)| execute(c, sql, args))
                .collect()
        })
        .await
    }

    /// Runs `guard`, then `then` in order only if `guard` changed a row, as
    /// one write (one savepoint: all or none); whether `guard` changed a row.
    pub(crate) async fn exec_guarded(
        &self,
        guard: (&str, &[Arg<'_>]),
        then: &[(&str, &[Arg<'_>])],
    ) -> StoreResult<bool> {
        let guard = (guard.0.to_owned(), owned(guard.1));
        let then: Vec<(String, Vec<Value>)> = then
            .iter()
            .map(|(sql, args)| ((*sql).to_owned(), owned(args)))
            .collect();
        self.write(move |c| {
            if execute(c, &guard.0, &guard.1)? == 0 {
                return Ok(false);
            }
            for (sql, args) in &then {
                execute(c, sql, args)?;
            }
            Ok(true)
        })
        .await
    }

    /// Runs a query: a plain `SELECT` on a reader in-line (files), anything
    /// else on the writer.
    pub(crate) async fn rows(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        columns: &[Col],
        read_only: bool,
    ) -> StoreResult<Vec<Vec<Cell>>> {
        if read_only && let Some(readers) = &self.readers {
            return readers.with(|c| query(c, sql, args, columns)).map_err(db);
        }
        let sql = sql.to_owned();
        let args = owned(args);
        let columns = columns.to_vec();
        self.write(move |c| query(c, &sql, &args, &columns)).await
    }

    /// Stops the writer after the writes queued before this call.
    pub(crate) async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Box::new(Stop(Some(tx)))).await.is_ok() {
            let _ = rx.await;
        }
        if let Some(r) = &self.readers
            && let Ok(mut idle) = r.idle.lock()
        {
            idle.clear();
        }
    }
}

fn open_writer(target: &Target) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if target.memory {
        flags |= OpenFlags::SQLITE_OPEN_MEMORY | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
    }
    let conn = Connection::open_with_flags(&target.path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", target.durability.pragma())?;
    if !target.memory {
        // Checkpoints run on a connection of their own (see store.rs); this
        // one only as a safety net, far away.
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        conn.pragma_update(None, "journal_size_limit", 67_108_864)?;
    }
    Ok(conn)
}

/// Reader connections to a file, used on the calling thread.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Runs `f` on an idle reader (a new one when none is idle). In WAL mode
    /// a read never waits for the writer, so this holds the thread for the
    /// statement's own few microseconds.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match taken {
            Some(c) => c,
            None => self.open()?,
        };
        let out = f(&conn);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_READERS
        {
            idle.push(conn);
        }
        out
    }
}

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Text(s) | Arg::OptText(Some(s)) => ValueRef::Text(s.as_bytes()),
            Arg::OptText(None) => ValueRef::Null,
            Arg::Int(i) => ValueRef::Integer(i),
        }))
    }
}

fn owned(args: &[Arg<'_>]) -> Vec<Value> {
    args.iter()
        .map(|a| match *a {
            Arg::Text(s) | Arg::OptText(Some(s)) => Value::Text(s.to_owned()),
            Arg::OptText(None) => Value::Null,
            Arg::Int(i) => Value::Integer(i),
        })
        .collect()
}

/// Binds `args` to `$N` placeholders by number (SQLite numbers named
/// parameters in order of appearance, which need not be `$1, $2…`).
fn bind<P: ToSql>(stmt: &mut Statement<'_>, args: &[P]) -> rusqlite::Result<()> {
    for i in 1..=stmt.parameter_count() {
        let n = stmt
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(i);
        let arg = n
            .checked_sub(1)
            .and_then(|k| args.get(k))
            .ok_or(rusqlite::Error::InvalidParameterCount(n, args.len()))?;
        stmt.raw_bind_parameter(i, arg)?;
    }
    Ok(())
}

/// Runs one statement to its end (a `RETURNING` clause's rows are read and
/// dropped) and returns the rows it changed.
pub(crate) fn execute<P: ToSql>(conn: &Connection, sql: &str, args: &[P]) -> rusqlite::Result<u64> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, args)?;
    let mut rows = stmt.raw_query();
    while rows.next()?.is_some() {}
    drop(rows);
    Ok(conn.changes())
}

/// Runs a query and reads each row's columns as `columns` says.
pub(crate) fn query<P: ToSql>(
    conn: &Connection,
    sql: &str,
    args: &[P],
    columns: &[Col],
) -> rusqlite::Result<Vec<Vec<Cell>>> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, args)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut cells = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            cells.push(match c {
                Col::Text => Cell::Text(row.get::<_, Option<String>>(i)?),
                Col::Int => Cell::Int(row.get::<_, i64>(i)?),
            });
        }
        out.push(cells);
    }
    Ok(out)
}

/// A write waiting for its batch.
trait Job: Send {
    /// Runs the write; `false` when it failed (and must be rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// The batch did not commit: the write is lost, say so.
    fn fail(&mut self, why: &str);
    /// Sends the result.
    fn reply(self: Box<Self>);
    /// The writer should stop after this batch.
    fn stops(&self) -> bool {
        false
    }
}

struct Work<T, F> {
    work: Option<F>,
    out: Option<StoreResult<T>>,
    tx: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Work<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        // A panic in one write must not take the writer thread (and every
        // later write) with it: it fails that write, which is rolled back.
        let out = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn))) {
            Ok(out) => out.map_err(db),
            Err(_) => Err(StoreError::new("the write panicked")),
        };
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn fail(&mut self, why: &str) {
        self.out = Some(Err(StoreError::new(format!(
            "the write was not committed: {why}"
        ))));
    }

    fn reply(self: Box<Self>) {
        let Self { out, tx, .. } = *self;
        let out = out.unwrap_or_else(|| Err(StoreError::new("the write did not run")));
        let _ = tx.send(out);
    }
}

/// Asks the writer to stop.
struct Stop(Option<oneshot::Sender<()>>);

impl Job for Stop {
    fn run(&mut self, _: &Connection) -> bool {
        true
    }
    fn fail(&mut self, _: &str) {}
    fn reply(mut self: Box<Self>) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
    fn stops(&self) -> bool {
        true
    }
}

/// The writer thread: takes what is queued (up to [`MAX_BATCH`]), commits it
/// as one transaction, replies, and starts over; it ends when every
/// [`Lite`] is dropped or one asks it to stop.
fn write_loop(conn: &Connection, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        drain(&mut rx, &mut batch);
        if batch.len() == 1 {
            // Let the threads that are running requests run first: under load
            // they queue more writes, which then share this transaction. When
            // nothing else is runnable this returns at once.
            std::thread::yield_now();
            drain(&mut rx, &mut batch);
        }
        commit(conn, &mut batch);
        let stop = batch.iter().any(|j| j.stops());
        for job in batch.drain(..) {
            job.reply();
        }
        if stop {
            break;
        }
    }
}

/// Moves what is queued into `batch`, up to [`MAX_BATCH`].
fn drain(rx: &mut mpsc::Receiver<Box<dyn Job>>, batch: &mut Vec<Box<dyn Job>>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

fn step(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = step(conn, "ROLLBACK");
    }
}

fn fail_all(batch: &mut [Box<dyn Job>], why: &str) {
    for job in batch {
        job.fail(why);
    }
}

/// Runs `batch` in one `BEGIN IMMEDIATE` transaction, each write under a
/// savepoint of its own, and commits it.
fn commit(conn: &Connection, batch: &mut [Box<dyn Job>]) {
    if let Err(e) = step(conn, "BEGIN IMMEDIATE") {
        fail_all(batch, &e.to_string());
        return;
    }
    if let [only] = batch {
        // One write: its transaction is its savepoint.
        let ok = only.run(conn);
        if !ok {
            rollback(conn);
        } else if conn.is_autocommit() {
            only.fail("SQLite rolled the transaction back");
        } else if let Err(e) = step(conn, "COMMIT") {
            rollback(conn);
            only.fail(&e.to_string());
        }
        return;
    }
    for i in 0..batch.len() {
        let ok = step(conn, "SAVEPOINT sesame_write").is_ok() && batch[i].run(conn);
        if conn.is_autocommit() {
            // An error that ends the transaction (I/O, disk full): the writes
            // before this one went with it; those after it never ran.
            fail_all(&mut batch[..i], "SQLite rolled the batch back");
            return;
        }
        let undo = !ok && step(conn, "ROLLBACK TO sesame_write").is_err();
        if undo || step(conn, "RELEASE sesame_write").is_err() {
            rollback(conn);
            fail_all(batch, "a savepoint failed");
            return;
        }
    }
    if let Err(e) = step(conn, "COMMIT") {
        rollback(conn);
        fail_all(batch, &e.to_string());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests;
