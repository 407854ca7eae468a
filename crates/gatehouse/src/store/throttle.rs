//! Fixed-window attempt counters for throttling password guessing, updated atomically.

use sqlx::Row as _;

use super::{Store, StoreResult};
use crate::clock::Millis;

/// The state of one counter after recording an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Attempts in the current window, including this one.
    pub count: i64,
    pub window_start: Millis,
}

impl Store {
    /// Counts one attempt against `key` in a window of `window_ms`, in one statement, so that
    /// parallel requests cannot all slip under the limit before any of them is counted.
    pub async fn record_attempt(&self, key: &str, window_ms: Millis, now: Millis) -> StoreResult<Attempt> {
        let row = sqlx::query(
            "INSERT INTO throttle (key, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               count = CASE WHEN throttle.window_start <= $3 THEN 1 ELSE throttle.count + 1 END, \
               window_start = CASE WHEN throttle.window_start <= $3 THEN $2 ELSE throttle.window_start END \
             RETURNING count, window_start",
        )
        .bind(key)
        .bind(now)
        .bind(now - window_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(Attempt { count: row.try_get("count")?, window_start: row.try_get("window_start")? })
    }

    /// Gives back one counted attempt (a successful sign-in is not a guess).
    pub async fn refund_attempt(&self, key: &str) -> StoreResult<()> {
        sqlx::query("UPDATE throttle SET count = count - 1 WHERE key = $1 AND count > 0")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn clear_attempts(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM throttle WHERE key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }
}
