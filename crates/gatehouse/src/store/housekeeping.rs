//! The purge of what has expired: in batches of `BATCH` rows, each its own short statement
//! found through an expiry index (migration 6), so a purge never holds SQLite's only writer
//! for long however much has piled up; other writes run between batches. Each batch is timed
//! (`PurgeReport::longest_batch`): the longest is how long the purge held the writer at once.

use std::time::{Duration, Instant};

use super::{Store, StoreResult};
use crate::clock::Millis;

/// Rows deleted per statement.
pub const BATCH: i64 = 500;

const HOUR: Millis = 3600 * 1000;
const DAY: Millis = 24 * HOUR;

/// What one purge did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Rows deleted.
    pub removed: u64,
    /// Statements run (each its own transaction).
    pub batches: u32,
    /// The longest statement, from its start to its commit.
    pub longest_batch: Duration,
}

/// What `/metrics` reports about the store at scrape time.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreGauges {
    /// Connections open in the (writer) pool, and how many of them are idle.
    pub pool_size: u32,
    pub pool_idle: u32,
    /// Emails waiting to be sent, and the oldest one's creation time.
    pub outbox_pending: i64,
    pub outbox_oldest_created_at: Option<Millis>,
}

impl Store {
    /// Pool use and the outbox's depth, for `/metrics` (one indexed query).
    pub async fn gauges(&self) -> StoreResult<StoreGauges> {
        let (pending, oldest): (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM email_outbox WHERE status = 'pending'")
                .fetch_one(self.reader())
                .await?;
        Ok(StoreGauges {
            pool_size: self.pool.size(),
            pool_idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            outbox_pending: pending,
            outbox_oldest_created_at: oldest,
        })
    }

    /// SQLite: writes a consistent copy of the live database to `path` (`VACUUM INTO`: one read
    /// transaction, so the copy holds exactly the writes committed before it began, and writes
    /// go on meanwhile). The file must not exist. PostgreSQL has `pg_dump` for this.
    pub async fn backup_into(&self, path: &str) -> StoreResult<()> {
        if self.backend != super::Backend::Sqlite {
            return Err(super::StoreError::Connect(
                "backup copies the SQLite store; for PostgreSQL use pg_dump (see the README)".into(),
            ));
        }
        // On this store's writable connection (the readers are `query_only`, which refuses
        // VACUUM INTO), but it only reads the database: in WAL mode the server's writes go on.
        sqlx::query("VACUUM INTO $1").bind(path).execute(&self.pool).await?;
        Ok(())
    }

    /// Deletes expired authorization requests and codes, old throttle rows, pending sign-ins,
    /// one-time codes, social-login state, passkey ceremonies, two-factor challenges and
    /// security sessions, and sessions ended or expired more than `ended_sessions_kept` ago.
    /// Events and webhook deliveries older than `events_kept` go too. Returns what it did.
    pub async fn purge_expired(
        &self,
        now: Millis,
        ended_sessions_kept: Millis,
        events_kept: Millis,
    ) -> StoreResult<PurgeReport> {
        // (table, primary key, expiry column, rows older than this go)
        let plan: [(&str, &str, &str, Millis); 15] = [
            ("authorization_requests", "id", "expires_at", now),
            ("authorization_codes", "code_hash", "expires_at", now - DAY),
            ("throttle", "key", "window_start", now - DAY),
            ("pending_authentications", "token_hash", "expires_at", now - HOUR),
            ("hosted_sign_ups", "token_hash", "expires_at", now - HOUR),
            ("impersonations", "token_hash", "expires_at", now - HOUR),
            ("one_time_codes", "id", "expires_at", now - DAY),
            ("social_logins", "state_hash", "expires_at", now),
            ("webauthn_ceremonies", "id_hash", "expires_at", now - HOUR),
            ("auth_challenges", "id", "expires_at", now - HOUR),
            ("security_sessions", "token_hash", "expires_at", now - HOUR),
            ("sessions", "id", "ended_at", now - ended_sessions_kept),
            ("sessions", "id", "expires_at", now - ended_sessions_kept),
            ("events", "id", "created_at", now - events_kept),
            ("webhook_deliveries", "id", "created_at", now - events_kept),
        ];
        let mut report = PurgeReport::default();
        for (table, key, column, cutoff) in plan {
            let sql = format!(
                "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {column} < $1 LIMIT {BATCH})"
            );
            loop {
                // How long the batch holds the writer is measured, not a rule's "now".
                let started = Instant::now();
                let n = sqlx::query(&sql).bind(cutoff).execute(&self.pool).await?.rows_affected();
                report.longest_batch = report.longest_batch.max(started.elapsed());
                report.batches += 1;
                report.removed += n;
                if n < BATCH as u64 {
                    break;
                }
                // Let waiting writes (sign-ins, refreshes) take the writer between batches.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Ok(report)
    }
}
