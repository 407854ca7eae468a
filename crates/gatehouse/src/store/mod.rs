//! Storage: one implementation over sqlx's `Any` driver that serves SQLite (embedded, the
//! default) and PostgreSQL with the same SQL text.
//!
//! The schema uses only TEXT and BIGINT, `$n` placeholders, `ON CONFLICT` and `RETURNING`,
//! which both databases share. Each public method is one unit of work; methods that must be
//! atomic (consuming a code, rotating a refresh token, counting failed sign-ins) are single
//! conditional statements or one transaction inside the method, never spread across calls.
//!
//! SQLite runs in WAL mode with one writer connection and a few read-only ones: writes are
//! serialised by construction, so a read-then-write transaction can never fail with
//! `SQLITE_BUSY` half way, while plain reads run in parallel.

mod codes;
mod copy;
mod environments;
mod events;
mod factors;
mod housekeeping;
mod identities;
mod impersonations;
mod insights;
mod invitations;
mod organization_domains;
mod organizations;
mod outbox;
mod pending;
mod postgres_tls;
mod providers;
mod refresh_cache;
mod resources;
mod rotations;
mod session_admin;
mod sessions;
mod throttle;
mod throttled_history;
mod user_search;
mod users;
mod webhooks;

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor as _, Row as _};

pub use copy::{CopyError, CopyProgress, TABLES as COPY_TABLES, TableCopied};
pub use environments::NewEnvironment;
pub use events::with_request_actor;
pub use factors::Ceremony;
pub use housekeeping::PurgeReport;
pub use identities::SocialLogin;
pub use impersonations::{Impersonation, NewImpersonation};
pub use insights::{DailyCount, EmailTrouble, UserEvent};
pub use organization_domains::DomainChanges;
pub use refresh_cache::DEFAULT_ENTRIES as DEFAULT_REFRESH_CACHE_ENTRIES;
pub use resources::{ResourceDeletion, ResourceQuery, RoleDeletion};
pub use sessions::{AuthCode, CodeOutcome, NewAuthCode, RefreshContext};
pub use throttle::Attempt;
pub use users::{InvalidEmail, LookAlikes};
pub use webhooks::StoredEndpoint;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the name says which (`users.email`).
    #[error("conflict on {0}")]
    Conflict(&'static str),
    #[error("a stored value is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A write done on the caller's behalf (a batched insert) failed.
    #[error("a batched write failed: {0}")]
    Failed(String),
    /// The database URL asks for something that cannot be done, or connecting failed in a way
    /// the message explains (TLS).
    #[error("{0}")]
    Connect(String),
    /// The database records a migration this binary does not know: a newer Gatehouse upgraded
    /// it, and this older one must not run on its schema.
    #[error(
        "the database has migration {database} ({name}), newer than this binary's latest, migration {binary}: a newer \
         Gatehouse upgraded it. Run that version or a later one; downgrading is not supported (restore a backup \
         taken before the upgrade to go back)"
    )]
    NewerSchema { database: i64, name: String, binary: i64 },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The SQLite write-ahead log after a checkpoint, in frames (pages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalState {
    pub frames: i64,
    pub copied: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle shared by the whole server.
#[derive(Clone, Debug)]
pub struct Store {
    /// Every write, and reads that must see a transaction's own writes. On SQLite one connection.
    pool: AnyPool,
    /// Plain reads. On SQLite a separate pool of read-only connections, which WAL lets run in
    /// parallel with the writer; on PostgreSQL the same pool.
    readers: AnyPool,
    /// Batches the one write of every refresh (see `rotations`).
    rotations: rotations::RotationWriter,
    /// The context of refresh tokens this process issued (see `refresh_cache`).
    refresh_cache: std::sync::Arc<refresh_cache::RefreshCache>,
    backend: Backend,
}

/// Frames (4 KiB pages) in the SQLite write-ahead log above which a checkpoint rewinds it.
/// (32768 was tried for the refresh tail, issue 13.7: no change in p99, so the log stays small.)
const WAL_RESTART_FRAMES: i64 = 4096;
/// How long a restarting checkpoint may hold writes back waiting for the writer or readers.
const RESTART_PATIENCE_MS: u32 = 200;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../../migrations/0001_initial.sql")),
    (2, "email", include_str!("../../migrations/0002_email.sql")),
    (4, "social", include_str!("../../migrations/0004_social.sql")),
    (3, "mfa", include_str!("../../migrations/0003_mfa.sql")),
    (5, "refresh in sessions", include_str!("../../migrations/0005_refresh_in_sessions.sql")),
    (6, "expiry indexes", include_str!("../../migrations/0006_expiry_indexes.sql")),
    (7, "auth_time and certificates", include_str!("../../migrations/0007_auth_time_and_certificates.sql")),
    (8, "events", include_str!("../../migrations/0008_events.sql")),
    (9, "organizations", include_str!("../../migrations/0009_organizations.sql")),
    (10, "email skeletons", include_str!("../../migrations/0010_email_skeletons.sql")),
    (12, "audit and impersonation", include_str!("../../migrations/0012_audit_and_impersonation.sql")),
    (13, "organization domains", include_str!("../../migrations/0013_organization_domains.sql")),
    (15, "console search", include_str!("../../migrations/0015_console_search.sql")),
    (17, "throttled history", include_str!("../../migrations/0017_throttled_history.sql")),
    (19, "authorization resources", include_str!("../../migrations/0019_authorization_resources.sql")),
    (20, "event before", include_str!("../../migrations/0020_event_before.sql")),
    (21, "standalone factors", include_str!("../../migrations/0021_standalone_factors.sql")),
];

impl Store {
    /// Opens (creating if needed) the database at `url`: `sqlite://PATH` or `postgres://…`.
    /// `refresh_cache_entries` bounds the cache of issued refresh tokens (0 turns it off).
    pub async fn connect(url: &str, max_connections: u32, refresh_cache_entries: usize) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Connect(format!(
                "unsupported database URL scheme in `{}`: use sqlite:// or postgres://",
                redact_url(url)
            )));
        };
        let (pool, readers) = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") };
                let options = AnyConnectOptions::from_str(&url)?;
                // A connection to a local file cannot go stale, so acquiring one skips the
                // ping (a round trip to the connection's thread, doubling the hand-offs of
                // every statement).
                let writer = AnyPoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // Checkpoints run from `Store::checkpoint` on a reader, not inside a
                            // commit on the one writer, where they would stall every write.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                                 PRAGMA wal_autocheckpoint = 0;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options.clone())
                    .await?;
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                let readers = AnyPoolOptions::new()
                    .max_connections(u32::try_from(cores * 2).unwrap_or(4))
                    .min_connections(1)
                    .idle_timeout(None)
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA query_only = ON; PRAGMA busy_timeout = 5000;").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?;
                (writer, readers)
            }
            Backend::Postgres => {
                let target =
                    postgres_tls::prepare(url, |name| std::env::var(name).ok()).map_err(StoreError::Connect)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections.max(2))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(&target.url)
                    .await
                    .map_err(|e| match postgres_tls::explain(&e, &target) {
                        Some(message) => StoreError::Connect(message),
                        None => StoreError::Database(e),
                    })?;
                (pool.clone(), pool)
            }
        };
        let rotations = match backend {
            Backend::Sqlite => rotations::RotationWriter::sqlite(&sqlite_file(url)?)?,
            Backend::Postgres => rotations::RotationWriter::batched(pool.clone()),
        };
        let refresh_cache = std::sync::Arc::new(refresh_cache::RefreshCache::new(refresh_cache_entries));
        Ok(Store { pool, readers, rotations, refresh_cache, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for plain reads.
    fn reader(&self) -> &AnyPool {
        &self.readers
    }

    /// A write transaction on the writer pool. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), waiting for it if need be: refresh rotations write through a
    /// connection of their own (`rotations/sqlite.rs`), and a deferred transaction that read
    /// first would fail half way (`SQLITE_BUSY_SNAPSHOT`, no waiting) if a rotation committed
    /// before its first write. So would one beside another process on the same file.
    async fn begin(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// SQLite: copies the write-ahead log into the database, and returns the log's size and how
    /// much of it is copied (a change since the last call means writes came in). The server
    /// runs it every 100 ms while writes come in, else every second; a no-op on PostgreSQL.
    ///
    /// Each checkpoint syncs the log before copying it, and the kernel's write-back of the pages
    /// written since the last one holds up appends to the log meanwhile: after a second of
    /// refreshes that was 3 ms, a stall for every refresh; every 100 ms it is a tenth of that.
    ///
    /// A passive checkpoint never blocks the writer, but under steady writes it never catches up
    /// with it either, so SQLite can never rewind the log and it grows without bound (1.5 GB in
    /// 20 s of refresh load), every append extending the file. So once the log holds more than
    /// `WAL_RESTART_FRAMES`, a restarting checkpoint follows: it waits for the writer's current
    /// statement, copies the few frames the passive one left, waits for readers still on the
    /// log, and lets the next write start again at the beginning of the file. Writes wait while
    /// it runs, so it gives up after `RESTART_PATIENCE_MS` (and tries again at the next checkpoint)
    /// rather than stall them behind a slow reader for the usual five-second busy timeout.
    pub async fn checkpoint(&self) -> StoreResult<WalState> {
        if self.backend != Backend::Sqlite {
            return Ok(WalState::default());
        }
        let mut conn = self.readers.acquire().await?;
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *conn).await?;
        let frames: i64 = row.try_get(1)?;
        let state = WalState { frames, copied: row.try_get(2)? };
        if frames > WAL_RESTART_FRAMES {
            conn.execute(format!("PRAGMA busy_timeout = {RESTART_PATIENCE_MS}").as_str()).await?;
            let restarted = sqlx::query("PRAGMA wal_checkpoint(RESTART)").execute(&mut *conn).await;
            conn.execute("PRAGMA busy_timeout = 5000").await?;
            restarted?;
        }
        Ok(state)
    }

    /// Applies pending migrations; returns how many ran. Refuses (`StoreError::NewerSchema`),
    /// changing nothing, when the database records a migration newer than this binary's latest.
    pub async fn migrate(&self) -> StoreResult<usize> {
        self.pool
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await?;
        let binary = MIGRATIONS.iter().map(|(version, _, _)| *version).max().unwrap_or(0);
        let newest: Option<(i64, String)> =
            sqlx::query_as("SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        if let Some((database, name)) = newest
            && database > binary
        {
            return Err(StoreError::NewerSchema { database, name, binary });
        }
        let mut applied = 0;
        for (version, name, sql) in MIGRATIONS {
            let mut tx = self.begin().await?;
            let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_some() {
                continue;
            }
            // Comments go first: they may contain semicolons.
            for statement in strip_comments(sql).split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(*version)
                .bind(*name)
                .bind(0_i64)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            applied += 1;
        }
        Ok(applied)
    }

    /// How many of this binary's migrations the database lacks (one query; fails when the
    /// database cannot be reached). `/ready` uses it.
    pub async fn missing_migrations(&self) -> StoreResult<usize> {
        let latest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(self.reader()).await?;
        let latest = latest.unwrap_or(0);
        Ok(MIGRATIONS.iter().filter(|(version, _, _)| *version > latest).count())
    }

    /// The stored server secret `name`, if there is one (a start that finds it proposes none).
    pub async fn find_server_secret(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A server-wide secret (e.g. the key that derives rotated refresh tokens), created once.
    /// The server secret `name`, stored as `fresh` if there is none yet (every process that
    /// starts at once proposes one; the first insert wins and all read it back).
    pub async fn server_secret(&self, name: &str, fresh: &str) -> StoreResult<String> {
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(fresh)
            .execute(&self.pool)
            .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }

    /// Replaces a server secret's stored form if it is still `old` (one conditional update, so
    /// processes starting together convert it once).
    pub async fn replace_server_secret(&self, name: &str, old: &str, new: &str) -> StoreResult<()> {
        sqlx::query("UPDATE server_secrets SET value = $3 WHERE name = $1 AND value = $2")
            .bind(name)
            .bind(old)
            .bind(new)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores `value` under `name`, replacing what was there.
    pub async fn put_server_secret(&self, name: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores `value` under `name` (replacing what was there) with events of `environment_id`'s
    /// log, in one transaction (an operator link and its audit event).
    pub async fn put_server_secret_recording(
        &self,
        name: &str,
        value: &str,
        environment_id: &str,
        now: crate::clock::Millis,
        events: &[crate::domain::event::NewEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        events::record_in(&mut tx, environment_id, now, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The server secrets whose names start with `prefix`, as (name, value), by name. Compared
    /// as a leading substring, not as a `LIKE` pattern (`_` is plain) nor a range of names
    /// (PostgreSQL's collations may order punctuation unlike bytes).
    pub async fn server_secrets_named(&self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT name, value FROM server_secrets WHERE substr(name, 1, length($1)) = $1 ORDER BY name",
        )
        .bind(prefix)
        .fetch_all(self.reader())
        .await?)
    }

    /// Deletes the server secret `name` if it is still `value`; whether this call deleted it
    /// (one conditional statement, so a single-use value is taken once).
    pub async fn take_server_secret(&self, name: &str, value: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM server_secrets WHERE name = $1 AND value = $2")
            .bind(name)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn close(&self) {
        self.rotations.close().await;
        self.readers.close().await;
        self.pool.close().await;
    }
}

fn strip_comments(statement: &str) -> String {
    statement.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n").trim().to_owned()
}

/// The file a `sqlite://` URL names, as sqlx reads it.
fn sqlite_file(url: &str) -> StoreResult<std::path::PathBuf> {
    Ok(sqlx::sqlite::SqliteConnectOptions::from_str(url)?.get_filename().to_owned())
}

/// A database URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Maps a unique-constraint violation to `Conflict(name)`.
fn conflict(err: sqlx::Error, name: &'static str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(name),
        _ => StoreError::Database(err),
    }
}

fn get_opt_string(row: &AnyRow, col: &str) -> StoreResult<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

fn get_bool(row: &AnyRow, col: &str) -> StoreResult<bool> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}
