//! The `numbers` table in SQLite, a monotonic timestamp clock, and the write notifications that make
//! subscribed queries reactive.

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tokio::sync::watch;

/// The database, the clock and the write feed. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    pool: SqlitePool,
    clock: Arc<Clock>,
    writes: Arc<watch::Sender<u64>>,
}

/// A monotonic timestamp in nanoseconds since 1970, never lower than a value handed out before.
#[derive(Debug)]
pub struct Clock {
    last: AtomicU64,
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Clock {
    fn new() -> Clock {
        Clock { last: AtomicU64::new(now_nanos()) }
    }

    /// The latest timestamp handed out.
    pub fn current(&self) -> u64 {
        self.last.load(Ordering::SeqCst)
    }

    /// A new timestamp, strictly greater than every earlier one.
    pub fn next(&self) -> u64 {
        let now = now_nanos();
        let prev = self
            .last
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(last.max(now.saturating_sub(1)) + 1));
        prev.map_or(now, |last| last.max(now.saturating_sub(1)) + 1)
    }

    /// Moves the clock to at least `ts` (a client has seen it, e.g. before a restart).
    pub fn observe(&self, ts: u64) {
        self.last.fetch_max(ts, Ordering::SeqCst);
    }
}

impl Storage {
    /// Opens (creating if needed) the database at `url` (`sqlite::memory:` or `sqlite://path`).
    pub async fn open(url: &str) -> Result<Storage, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
        // One connection: writes are serialised, and an in-memory database is shared by every request.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS numbers (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 value REAL NOT NULL
             )",
        )
        .execute(&pool)
        .await?;
        let clock = Arc::new(Clock::new());
        let (writes, _) = watch::channel(clock.current());
        Ok(Storage { pool, clock, writes: Arc::new(writes) })
    }

    /// The timestamp clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// A receiver that changes after every committed write (its value is the write's timestamp).
    pub fn subscribe_writes(&self) -> watch::Receiver<u64> {
        self.writes.subscribe()
    }

    /// Inserts a number; returns `(id, commit timestamp)` and notifies subscribers.
    ///
    /// The timestamp is taken after the commit, so a query that reads the clock first and the table
    /// second never claims a timestamp whose writes it has not seen.
    pub async fn insert_number(&self, value: f64) -> Result<(i64, u64), sqlx::Error> {
        let row = sqlx::query("INSERT INTO numbers (value) VALUES (?) RETURNING id")
            .bind(value)
            .fetch_one(&self.pool)
            .await?;
        let id: i64 = row.try_get("id")?;
        let ts = self.clock.next();
        self.writes.send_replace(ts);
        Ok((id, ts))
    }

    /// The `count` most recent numbers, newest first (the seed's `.order("desc").take(count)`).
    pub async fn find_latest_numbers(&self, count: u32) -> Result<Vec<f64>, sqlx::Error> {
        let rows = sqlx::query("SELECT value FROM numbers ORDER BY id DESC LIMIT ?")
            .bind(i64::from(count))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| r.try_get::<f64, _>("value")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn inserts_and_reads_newest_first() {
        let storage = Storage::open("sqlite::memory:").await.unwrap();
        let mut writes = storage.subscribe_writes();
        let (_, ts1) = storage.insert_number(1.0).await.unwrap();
        let (_, ts2) = storage.insert_number(2.5).await.unwrap();
        storage.insert_number(3.0).await.unwrap();
        assert!(ts2 > ts1);
        assert!(writes.has_changed().unwrap());
        assert!(*writes.borrow_and_update() > ts2);
        assert_eq!(storage.find_latest_numbers(2).await.unwrap(), vec![3.0, 2.5]);
        assert_eq!(storage.find_latest_numbers(10).await.unwrap(), vec![3.0, 2.5, 1.0]);
        assert_eq!(storage.find_latest_numbers(0).await.unwrap(), Vec::<f64>::new());
    }

    #[test]
    fn clock_is_strictly_monotonic() {
        let clock = Clock::new();
        let a = clock.next();
        let b = clock.next();
        assert!(b > a);
        clock.observe(b + 1_000_000_000_000);
        assert!(clock.next() > b + 1_000_000_000_000);
        assert!(clock.current() > b);
    }
}
