//! Throttled attempts per environment and UTC day (migration 17), added in batches from each
//! process's in-memory tally (`service::throttle_history`).

use super::{Store, StoreResult};

impl Store {
    /// Adds `tallies` (environment, day, refusals) to the daily counts, in one transaction.
    pub async fn add_throttled(&self, tallies: &[(String, i64, i64)]) -> StoreResult<()> {
        if tallies.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for (environment_id, day, n) in tallies {
            sqlx::query(
                "INSERT INTO throttled_daily (id, environment_id, day, count) VALUES ($4, $1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET count = throttled_daily.count + $3",
            )
            .bind(environment_id)
            .bind(*day)
            .bind(*n)
            .bind(format!("{environment_id}:{day}"))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The daily counts of `environment_id` from `first_day` on, as (day, count), oldest first.
    pub async fn throttled_by_day(&self, environment_id: &str, first_day: i64) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT day, count FROM throttled_daily WHERE environment_id = $1 AND day >= $2 ORDER BY day",
        )
        .bind(environment_id)
        .bind(first_day)
        .fetch_all(self.reader())
        .await?)
    }

    /// Deletes the daily counts of days before `first_kept_day`; returns how many.
    pub async fn purge_throttled_before(&self, first_kept_day: i64) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM throttled_daily WHERE day < $1")
            .bind(first_kept_day)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
