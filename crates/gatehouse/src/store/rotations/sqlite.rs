//! Rotations on SQLite: a connection of their own, written without a thread hand-off.
//!
//! sqlx runs each SQLite connection on a thread of its own, so a statement through the pool is
//! a round trip between threads, and returning the connection to the pool is another (sqlx
//! pings it). At moderate load every hop wakes a parked thread, and those wake-ups cost a
//! refresh more CPU than the statement does (BENCHMARKS.md, "Refresh tail").
//!
//! So rotations use a `rusqlite` connection to the same file. A request whose rotation finds the
//! connection free applies it on its own thread, as it signs its token there: a single-row
//! UPDATE, tens of microseconds, that never waits (a busy timeout of zero, and this connection
//! never checkpoints). When the connection is in use, or the database is locked by another
//! writer (the pool's, or another process), the rotation goes to this writer's thread, which
//! applies everything waiting as one statement and may wait for the lock like any writer.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::oneshot;

use super::{Job, Rotation, answer, batch_from, update_sql};
use crate::store::{StoreError, StoreResult};

/// How long the writer thread waits for the database lock (the pool's writer's busy timeout),
/// in steps of `RETRY`.
const PATIENCE: Duration = Duration::from_secs(5);
/// SQLite's own busy handler sleeps 1, 2, 5, 10… ms between tries, so a lock held for a tenth
/// of a millisecond (another writer's statement) would stall every queued rotation for a
/// millisecond or more. The writer thread tries again this often instead.
const RETRY: Duration = Duration::from_micros(100);

#[derive(Clone)]
pub(crate) struct SqliteWriter {
    /// `None` once the store is closed.
    connection: Arc<Mutex<Option<Connection>>>,
    /// The statements for one rotation, the common case: staying in the session's
    /// organization, and switching.
    single: Arc<(String, String)>,
    /// To the writer thread, which ends when the last handle is dropped.
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter").finish_non_exhaustive()
    }
}

impl SqliteWriter {
    /// Opens the database at `path` (which the pool has already created and put in WAL mode)
    /// and starts the writer thread.
    pub fn open(path: &Path) -> StoreResult<SqliteWriter> {
        let opened =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .and_then(|connection| {
                    connection.execute_batch(
                        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
                    )?;
                    connection.busy_handler(None)?;
                    Ok(connection)
                });
        let connection = opened
            .map_err(|e| StoreError::Connect(format!("cannot open {} for refresh rotations: {e}", path.display())))?;
        let connection = Arc::new(Mutex::new(Some(connection)));
        let (jobs, queue) = mpsc::channel();
        let thread_connection = Arc::clone(&connection);
        std::thread::Builder::new()
            .name("gatehouse-rotations".into())
            .spawn(move || run(&thread_connection, &queue))
            .map_err(|e| StoreError::Connect(format!("cannot start the refresh writer: {e}")))?;
        let single = Arc::new((update_sql(1, false), update_sql(1, true)));
        Ok(SqliteWriter { connection, single, jobs })
    }

    pub async fn rotate(&self, row: Rotation) -> StoreResult<bool> {
        if let Ok(connection) = self.connection.try_lock()
            && let Some(connection) = connection.as_ref()
        {
            let sql = if row.switches_organization { &self.single.1 } else { &self.single.0 };
            match apply(connection, sql, &[&row]) {
                Ok(rotated) => return Ok(!rotated.is_empty()),
                Err(e) if is_busy(&e) => {}
                Err(e) => return Err(failed(&e)),
            }
        }
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { row, reply }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Closes the connection (`Store::close`): later rotations fail. Waits for a batch being
    /// written.
    pub async fn close(&self) {
        let connection = Arc::clone(&self.connection);
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(open) = connection.lock().unwrap_or_else(PoisonError::into_inner).take() {
                let _ = open.close();
            }
        })
        .await;
    }
}

/// The writer thread: applies what requests could not, in batches, until the last handle goes.
fn run(connection: &Mutex<Option<Connection>>, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let applied = batch_from(first, || queue.try_recv().ok());
        let rows: Vec<&Rotation> = applied.iter().map(|job| &job.row).collect();
        let result = match connection.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            Some(connection) => {
                let patient = connection.busy_handler(Some(wait_for_lock));
                let sql = update_sql(rows.len(), rows.iter().any(|row| row.switches_organization));
                let result = patient.and_then(|()| apply(connection, &sql, &rows));
                // Back to never waiting, for the requests' own writes.
                let _ = connection.busy_handler(None);
                result.map_err(|e| failed(&e))
            }
            None => Err(StoreError::Failed("the store is closed".into())),
        };
        answer(applied, result);
    }
}

/// Runs `sql` (`update_sql` for `rows`); returns the sessions whose token was rotated.
fn apply(connection: &Connection, sql: &str, rows: &[&Rotation]) -> rusqlite::Result<HashSet<String>> {
    let mut statement = connection.prepare_cached(sql)?;
    for (i, r) in rows.iter().enumerate() {
        let p = i * 8;
        statement.raw_bind_parameter(p + 1, &r.session_id)?;
        statement.raw_bind_parameter(p + 2, r.generation)?;
        statement.raw_bind_parameter(p + 3, &r.presented_hash)?;
        statement.raw_bind_parameter(p + 4, &r.next_hash)?;
        statement.raw_bind_parameter(p + 5, &r.claims)?;
        statement.raw_bind_parameter(p + 6, r.user_version)?;
        statement.raw_bind_parameter(p + 7, r.now)?;
        statement.raw_bind_parameter(p + 8, &r.organization_id)?;
    }
    let mut rotated = HashSet::new();
    let mut answer = statement.raw_query();
    while let Some(row) = answer.next()? {
        rotated.insert(row.get::<_, String>(0)?);
    }
    Ok(rotated)
}

/// The writer thread's busy handler: waits `RETRY` before each new try, `PATIENCE` in all.
fn wait_for_lock(tries: i32) -> bool {
    let waited = RETRY.saturating_mul(u32::try_from(tries).unwrap_or(u32::MAX));
    if waited >= PATIENCE {
        return false;
    }
    std::thread::sleep(RETRY);
    true
}

/// The database is locked by another writer: the request hands its rotation to the thread.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

fn failed(e: &rusqlite::Error) -> StoreError {
    StoreError::Failed(e.to_string())
}

fn stopped() -> StoreError {
    StoreError::Failed("the refresh writer stopped".into())
}
