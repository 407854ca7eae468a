//! Webhook endpoints, the delivery worker's claims and cursors, and the delivery log.
//!
//! An endpoint is worked by one process at a time: `claim_due_endpoints` takes the due ones with
//! a lease in one conditional `UPDATE … RETURNING` (the outer `lease_until < $now` is checked
//! again on the row it updates, so of two processes racing for an endpoint one gets it, on
//! both databases). Every later write of the worker names its lease (`lease_owner`), so a
//! process whose lease ran out cannot move a cursor another process now owns.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::events::{EVENT_COLUMNS, NOT_AUDIT};
use super::{Store, StoreError, StoreResult, conflict};
use crate::clock::Millis;
use crate::domain::event::{Event, NewEvent};
use crate::domain::webhook::{Delivery, WebhookEndpoint};

const ENDPOINT_COLUMNS: &str = "id, environment_id, endpoint_url, sealed_secret, events, status, cursor_seq, attempts, \
     failing_since, next_attempt_at, created_at, updated_at";
const DELIVERY_COLUMNS: &str =
    "id, environment_id, endpoint_id, event_id, event, attempt, status_code, error, succeeded, duration_ms, created_at";

/// An endpoint as stored: its secret still sealed.
pub struct StoredEndpoint {
    pub endpoint: WebhookEndpoint,
    pub sealed_secret: String,
}

fn endpoint_from_row(row: &AnyRow) -> StoreResult<StoredEndpoint> {
    let events: String = row.try_get("events")?;
    let events = serde_json::from_str(&events).map_err(|e| StoreError::Corrupt(format!("webhook events: {e}")))?;
    let status: String = row.try_get("status")?;
    Ok(StoredEndpoint {
        sealed_secret: row.try_get("sealed_secret")?,
        endpoint: WebhookEndpoint {
            id: row.try_get("id")?,
            environment_id: row.try_get("environment_id")?,
            endpoint_url: row.try_get("endpoint_url")?,
            secret: String::new(),
            events,
            enabled: status == "enabled",
            cursor_seq: row.try_get("cursor_seq")?,
            attempts: row.try_get("attempts")?,
            failing_since: row.try_get::<Option<i64>, _>("failing_since")?,
            next_attempt_at: row.try_get("next_attempt_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        },
    })
}

fn events_json(events: &[String]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".to_owned())
}

impl Store {
    /// Adds an endpoint that starts after the environment's latest event (only what happens
    /// from now on is delivered). `Conflict("webhook_endpoints.url")` for a URL already there.
    pub async fn insert_webhook_endpoint(
        &self,
        e: &WebhookEndpoint,
        sealed_secret: &str,
        events: &[NewEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let latest: Option<i64> = sqlx::query_scalar("SELECT seq FROM event_counters WHERE environment_id = $1")
            .bind(&e.environment_id)
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}, lease_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, $8, $9, $10, 0)"
        ))
        .bind(&e.id)
        .bind(&e.environment_id)
        .bind(&e.endpoint_url)
        .bind(sealed_secret)
        .bind(events_json(&e.events))
        .bind(e.status())
        .bind(latest.unwrap_or(0))
        .bind(e.next_attempt_at)
        .bind(e.created_at)
        .bind(e.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|err| conflict(err, "webhook_endpoints.url"))?;
        super::events::record_in(&mut tx, &e.environment_id, e.created_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn find_webhook_endpoint(&self, environment_id: &str, id: &str) -> StoreResult<Option<StoredEndpoint>> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE environment_id = $1 AND id = $2"
        ))
        .bind(environment_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    /// One page of an environment's endpoints by ID (creation order), `limit + 1` at most.
    pub async fn list_webhook_endpoints(
        &self,
        environment_id: &str,
        after: Option<&str>,
        ascending: bool,
        limit: u32,
    ) -> StoreResult<Vec<StoredEndpoint>> {
        let op = if ascending { ">" } else { "<" };
        let order = if ascending { "ASC" } else { "DESC" };
        let cursor = if after.is_some() { format!(" AND id {op} $2") } else { String::new() };
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE environment_id = $1{cursor} ORDER BY id {order} LIMIT {}",
            i64::from(limit) + 1
        );
        let mut query = sqlx::query(&sql).bind(environment_id);
        if let Some(a) = after {
            query = query.bind(a);
        }
        let rows = query.fetch_all(self.reader()).await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    /// Writes an endpoint's URL, events and status. Re-enabling an endpoint clears its failures
    /// and makes it due at once. `Conflict("webhook_endpoints.url")` for a URL already there.
    pub async fn update_webhook_endpoint(&self, e: &WebhookEndpoint, events: &[NewEvent]) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET endpoint_url = $1, events = $2, \
             attempts = CASE WHEN status = $3 THEN attempts ELSE 0 END, \
             failing_since = CASE WHEN status = $3 THEN failing_since ELSE NULL END, \
             next_attempt_at = CASE WHEN status = $3 THEN next_attempt_at ELSE $4 END, \
             status = $3, updated_at = $4 WHERE environment_id = $5 AND id = $6",
        )
        .bind(&e.endpoint_url)
        .bind(events_json(&e.events))
        .bind(e.status())
        .bind(e.updated_at)
        .bind(&e.environment_id)
        .bind(&e.id)
        .execute(&mut *tx)
        .await
        .map_err(|err| conflict(err, "webhook_endpoints.url"))?;
        super::events::record_in(&mut tx, &e.environment_id, e.updated_at, events).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes an endpoint with its (audit) events, in one transaction; false if it was not there.
    pub async fn delete_webhook_endpoint(
        &self,
        environment_id: &str,
        id: &str,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        super::events::record_in(&mut tx, environment_id, now, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes up to `limit` enabled endpoints that are due and not leased, leasing them to
    /// `owner` until `now + lease_ms`.
    pub async fn claim_due_endpoints(
        &self,
        owner: &str,
        now: Millis,
        lease_ms: Millis,
        limit: i64,
    ) -> StoreResult<Vec<StoredEndpoint>> {
        let rows = sqlx::query(&format!(
            "UPDATE webhook_endpoints SET lease_until = $1, lease_owner = $2 \
             WHERE id IN (SELECT id FROM webhook_endpoints WHERE status = 'enabled' AND next_attempt_at <= $3 \
                 AND lease_until < $3 ORDER BY next_attempt_at LIMIT {limit}) \
             AND status = 'enabled' AND lease_until < $3 \
             RETURNING {ENDPOINT_COLUMNS}"
        ))
        .bind(now + lease_ms)
        .bind(owner)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    /// Gives a claimed endpoint back (nothing more to deliver for now).
    pub async fn release_endpoint(&self, id: &str, owner: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE webhook_endpoints SET lease_until = 0, lease_owner = NULL WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The next events after the endpoint's cursor, of the types it subscribes to (all types
    /// if none are named), in log order.
    pub async fn events_for_endpoint(&self, e: &WebhookEndpoint, limit: i64) -> StoreResult<Vec<Event>> {
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE environment_id = $1 AND seq > $2");
        if e.events.is_empty() {
            // Subscribed to everything: WorkOS's types only (audit events by name alone).
            sql.push_str(NOT_AUDIT);
        } else {
            let marks: Vec<String> = (0..e.events.len()).map(|i| format!("${}", i + 3)).collect();
            sql.push_str(&format!(" AND event IN ({})", marks.join(", ")));
        }
        sql.push_str(&format!(" ORDER BY seq LIMIT {limit}"));
        let mut query = sqlx::query_as::<_, Event>(&sql).bind(&e.environment_id).bind(e.cursor_seq);
        for t in &e.events {
            query = query.bind(t);
        }
        Ok(query.fetch_all(self.reader()).await?)
    }

    /// The highest position in the environment's log (0 if none), to move a cursor past events
    /// the endpoint does not subscribe to.
    pub async fn latest_event_seq(&self, environment_id: &str) -> StoreResult<i64> {
        let latest: Option<i64> = sqlx::query_scalar("SELECT seq FROM event_counters WHERE environment_id = $1")
            .bind(environment_id)
            .fetch_optional(self.reader())
            .await?;
        Ok(latest.unwrap_or(0))
    }

    /// Records an attempt and moves the endpoint on: past `seq` on success (failures cleared),
    /// or to its next attempt on failure; `disable` turns it off (with its events). Nothing
    /// changes but the log if `owner` no longer holds the lease.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_delivery(
        &self,
        owner: &str,
        d: &Delivery,
        seq: i64,
        next_attempt_at: Millis,
        disable: bool,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        insert_delivery(&mut *tx, d).await?;
        let moved = if d.succeeded != 0 {
            sqlx::query(
                "UPDATE webhook_endpoints SET cursor_seq = $1, attempts = 0, failing_since = NULL \
                 WHERE id = $2 AND lease_owner = $3 AND cursor_seq < $1",
            )
            .bind(seq)
            .bind(&d.endpoint_id)
            .bind(owner)
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query(
                "UPDATE webhook_endpoints SET attempts = attempts + 1, failing_since = COALESCE(failing_since, $1), \
                 next_attempt_at = $2, status = CASE WHEN $3 = 1 THEN 'disabled' ELSE status END, \
                 lease_until = 0, lease_owner = NULL, updated_at = CASE WHEN $3 = 1 THEN $1 ELSE updated_at END \
                 WHERE id = $4 AND lease_owner = $5",
            )
            .bind(d.created_at)
            .bind(next_attempt_at)
            .bind(i64::from(disable))
            .bind(&d.endpoint_id)
            .bind(owner)
            .execute(&mut *tx)
            .await?
        };
        let moved = moved.rows_affected() == 1;
        if moved && disable {
            super::events::record_in(&mut tx, &d.environment_id, d.created_at, events).await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// Moves a claimed endpoint's cursor past events it does not subscribe to.
    pub async fn skip_to(&self, id: &str, owner: &str, seq: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE webhook_endpoints SET cursor_seq = $1 WHERE id = $2 AND lease_owner = $3 AND cursor_seq < $1",
        )
        .bind(seq)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a replay's attempt (the endpoint's cursor is not touched).
    pub async fn log_delivery(&self, d: &Delivery) -> StoreResult<()> {
        insert_delivery(&self.pool, d).await?;
        Ok(())
    }

    /// The newest deliveries to an endpoint, newest first.
    pub async fn list_deliveries(&self, endpoint_id: &str, limit: i64) -> StoreResult<Vec<Delivery>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT {limit}"
        ))
        .bind(endpoint_id)
        .fetch_all(self.reader())
        .await?)
    }

    pub async fn find_delivery(&self, environment_id: &str, id: &str) -> StoreResult<Option<Delivery>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE environment_id = $1 AND id = $2"
        ))
        .bind(environment_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?)
    }

    pub async fn find_event(&self, environment_id: &str, id: &str) -> StoreResult<Option<Event>> {
        Ok(sqlx::query_as(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE environment_id = $1 AND id = $2"))
            .bind(environment_id)
            .bind(id)
            .fetch_optional(self.reader())
            .await?)
    }
}

/// One row of the delivery log, on the pool or inside a caller's transaction.
async fn insert_delivery<'e, E>(executor: E, d: &Delivery) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(&format!(
        "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&d.id)
    .bind(&d.environment_id)
    .bind(&d.endpoint_id)
    .bind(&d.event_id)
    .bind(&d.event)
    .bind(d.attempt)
    .bind(d.status_code)
    .bind(&d.error)
    .bind(d.succeeded)
    .bind(d.duration_ms)
    .bind(d.created_at)
    .execute(executor)
    .await?;
    Ok(())
}
