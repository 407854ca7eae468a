//! The email outbox: messages wait here until the delivery worker has handed them to the SMTP
//! server, so a crash or an outage loses nothing and requests never wait for SMTP.

use super::{Store, StoreResult};
use crate::clock::Millis;
use crate::domain::outbox::OutboxEmail;

const COLUMNS: &str = "id, environment_id, kind, to_address, subject, sealed_body, status, attempts, next_attempt_at, \
     last_error, created_at, sent_at";

impl Store {
    pub async fn enqueue_email(&self, e: &OutboxEmail) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO email_outbox ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&e.id)
        .bind(&e.environment_id)
        .bind(&e.kind)
        .bind(&e.to_address)
        .bind(&e.subject)
        .bind(&e.sealed_body)
        .bind(&e.status)
        .bind(e.attempts)
        .bind(e.next_attempt_at)
        .bind(&e.last_error)
        .bind(e.created_at)
        .bind(e.sent_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes up to `limit` due messages for delivery: each gets a lease (`next_attempt_at`
    /// moves past `now + lease_ms`) so another process will not send it at the same time.
    pub async fn claim_due_emails(&self, now: Millis, lease_ms: Millis, limit: i64) -> StoreResult<Vec<OutboxEmail>> {
        let rows = sqlx::query_as(&format!(
            "UPDATE email_outbox SET next_attempt_at = $1, attempts = attempts + 1 \
             WHERE status = 'pending' AND next_attempt_at <= $2 AND id IN \
               (SELECT id FROM email_outbox WHERE status = 'pending' AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3) \
             RETURNING {COLUMNS}"
        ))
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Records a delivery. Bodies are dropped unless `keep_body` (the development outbox page).
    pub async fn mark_email_delivered(&self, id: &str, status: &str, keep_body: bool, now: Millis) -> StoreResult<()> {
        let sql = if keep_body {
            "UPDATE email_outbox SET status = $1, sent_at = $2, last_error = NULL WHERE id = $3"
        } else {
            "UPDATE email_outbox SET status = $1, sent_at = $2, last_error = NULL, sealed_body = NULL WHERE id = $3"
        };
        sqlx::query(sql).bind(status).bind(now).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// Records a failed attempt: retry at `retry_at`, or give up (`None`) and drop the body.
    pub async fn mark_email_failed(&self, id: &str, error: &str, retry_at: Option<Millis>) -> StoreResult<()> {
        match retry_at {
            Some(at) => {
                sqlx::query("UPDATE email_outbox SET last_error = $1, next_attempt_at = $2 WHERE id = $3")
                    .bind(error)
                    .bind(at)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE email_outbox SET last_error = $1, status = 'failed', sealed_body = NULL WHERE id = $2",
                )
                .bind(error)
                .bind(id)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    /// The most recent messages, newest first; of one environment when given.
    pub async fn list_emails(&self, environment_id: Option<&str>, limit: i64) -> StoreResult<Vec<OutboxEmail>> {
        let rows = match environment_id {
            Some(env) => {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM email_outbox WHERE environment_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
                ))
                .bind(env)
                .bind(limit)
                .fetch_all(self.reader())
                .await?
            }
            None => {
                sqlx::query_as(&format!("SELECT {COLUMNS} FROM email_outbox ORDER BY created_at DESC, id DESC LIMIT $1"))
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?
            }
        };
        Ok(rows)
    }

    /// A stored setting (SMTP configuration from the CLI), if set.
    pub async fn setting(&self, name: &str) -> StoreResult<Option<String>> {
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v)
    }

    pub async fn set_setting(&self, name: &str, value: Option<&str>) -> StoreResult<()> {
        match value {
            Some(v) => {
                sqlx::query(
                    "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2",
                )
                .bind(name)
                .bind(v)
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM server_secrets WHERE name = $1").bind(name).execute(&self.pool).await?;
            }
        }
        Ok(())
    }

    /// Stores the SMTP settings (the URL already sealed) and the From address with their audit
    /// events, in one transaction.
    pub async fn set_email_settings(
        &self,
        smtp_url_sealed: &str,
        from: &str,
        environment_id: &str,
        now: crate::clock::Millis,
        events: &[crate::domain::event::NewEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for (name, value) in [("smtp_url", smtp_url_sealed), ("email_from", from)] {
            sqlx::query(
                "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2",
            )
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        super::events::record_in(&mut tx, environment_id, now, events).await?;
        tx.commit().await?;
        Ok(())
    }
}
