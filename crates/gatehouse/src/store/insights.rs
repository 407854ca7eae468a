//! What the console's home page counts: events per type and day (from the index
//! `events_by_type`), email deliveries in trouble, counters over their limits, and a user's
//! recent refused sign-ins.

use super::{Store, StoreResult};
use crate::clock::Millis;

const DAY_MS: Millis = 86_400_000;

/// One count of events of one type on one UTC day (`day` = days since 1970-01-01).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyCount {
    pub event: String,
    pub day: i64,
    pub count: i64,
}

/// An event of a user's, as their console page lists it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserEvent {
    pub event: String,
    /// The payload's JSON text.
    pub data: String,
    pub created_at: Millis,
}

/// Emails of an environment that could not be delivered since a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmailTrouble {
    /// Given up on (no more attempts).
    pub failed: i64,
    /// Failed at least once and waiting for another attempt.
    pub retrying: i64,
    /// The newest error message, if any.
    pub last_error: Option<String>,
}

impl Store {
    /// Events of `types` in `environment_id` since `since`, counted per type and UTC day.
    pub async fn count_events_by_day(
        &self,
        environment_id: &str,
        types: &[&str],
        since: Millis,
    ) -> StoreResult<Vec<DailyCount>> {
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..types.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT event, created_at / {DAY_MS} AS day, COUNT(*) AS n FROM events \
             WHERE environment_id = $1 AND created_at >= $2 AND event IN ({}) \
             GROUP BY event, created_at / {DAY_MS} ORDER BY day, event",
            marks.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String, i64, i64)>(&sql).bind(environment_id).bind(since);
        for t in types {
            query = query.bind(*t);
        }
        let rows = query.fetch_all(self.reader()).await?;
        Ok(rows.into_iter().map(|(event, day, count)| DailyCount { event, day, count }).collect())
    }

    /// Outbox messages of `environment_id` created since `since` that failed or are retrying.
    pub async fn email_trouble(&self, environment_id: &str, since: Millis) -> StoreResult<EmailTrouble> {
        let (failed, retrying): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN status = 'pending' AND last_error IS NOT NULL THEN 1 ELSE 0 END), 0) \
             FROM email_outbox WHERE environment_id = $1 AND created_at >= $2",
        )
        .bind(environment_id)
        .bind(since)
        .fetch_one(self.reader())
        .await?;
        let last_error: Option<String> = sqlx::query_scalar(
            "SELECT last_error FROM email_outbox WHERE environment_id = $1 AND created_at >= $2 \
             AND last_error IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(environment_id)
        .bind(since)
        .fetch_optional(self.reader())
        .await?;
        Ok(EmailTrouble { failed, retrying, last_error })
    }

    /// Throttle counters whose key starts with `prefix`, whose window started after
    /// `window_after` and which counted at least `at_least` attempts.
    pub async fn count_throttle_counters(&self, prefix: &str, window_after: Millis, at_least: i64) -> StoreResult<i64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM throttle WHERE substr(key, 1, CAST($1 AS INTEGER)) = $2 AND window_start > $3 AND count >= $4",
        )
        .bind(i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX))
        .bind(prefix)
        .bind(window_after)
        .bind(at_least)
        .fetch_one(self.reader())
        .await?;
        Ok(n)
    }

    /// Among the newest `scan` events of `types`, those whose payload names `user_id`, newest
    /// first, `limit` at most. Events have no user column, so the scan is bounded: a user's
    /// entries older than the last `scan` such events are not found.
    pub async fn recent_events_of_user(
        &self,
        environment_id: &str,
        types: &[&str],
        user_id: &str,
        scan: u32,
        limit: u32,
    ) -> StoreResult<Vec<UserEvent>> {
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..types.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT event, data, created_at FROM \
             (SELECT seq, event, data, created_at FROM events \
              WHERE environment_id = $1 AND event IN ({}) ORDER BY created_at DESC LIMIT {scan}) recent \
             WHERE data LIKE $2 ORDER BY seq DESC LIMIT {limit}",
            marks.join(", ")
        );
        // IDs are `[0-9A-Za-z_]`; `_` matches itself among others, which a JSON key check makes exact enough.
        let pattern = format!("%\"user_id\":\"{user_id}\"%");
        let mut query = sqlx::query_as::<_, UserEvent>(&sql).bind(environment_id).bind(pattern);
        for t in types {
            query = query.bind(*t);
        }
        let mut events = query.fetch_all(self.reader()).await?;
        events.retain(|e| e.data.contains(&format!("\"user_id\":\"{user_id}\"")));
        Ok(events)
    }
}
