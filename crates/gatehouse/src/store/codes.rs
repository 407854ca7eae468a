//! One-time codes and tokens: Magic Auth codes, email-verification codes, password-reset
//! tokens. Checked by hash; a sealed copy exists only for the API's GET endpoints.

use sqlx::Row as _;

use super::{Store, StoreResult};
use crate::clock::Millis;
use crate::domain::event::NewEvent;
use crate::domain::one_time_code::OneTimeCode;

const COLUMNS: &str = "id, kind, environment_id, user_id, email, code_hash, sealed_code, attempts, expires_at, used_at, created_at, updated_at";

impl Store {
    /// Stores a new code with its events (`magic_auth.created`…), in one transaction.
    pub async fn insert_one_time_code(&self, c: &OneTimeCode, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO one_time_codes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&c.id)
        .bind(&c.kind)
        .bind(&c.environment_id)
        .bind(&c.user_id)
        .bind(&c.email)
        .bind(&c.code_hash)
        .bind(&c.sealed_code)
        .bind(c.attempts)
        .bind(c.expires_at)
        .bind(c.used_at)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await?;
        super::events::record_in(&mut tx, &c.environment_id, c.created_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn find_one_time_code(
        &self,
        environment_id: &str,
        kind: &str,
        id: &str,
    ) -> StoreResult<Option<OneTimeCode>> {
        let row = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM one_time_codes WHERE environment_id = $1 AND kind = $2 AND id = $3"
        ))
        .bind(environment_id)
        .bind(kind)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row)
    }

    /// The newest code of a kind for a user; older ones no longer count.
    pub async fn latest_one_time_code(
        &self,
        environment_id: &str,
        kind: &str,
        user_id: &str,
    ) -> StoreResult<Option<OneTimeCode>> {
        let row = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM one_time_codes WHERE environment_id = $1 AND kind = $2 AND user_id = $3 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(environment_id)
        .bind(kind)
        .bind(user_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row)
    }

    /// A token looked up by its hash (password-reset links carry the token itself).
    pub async fn find_one_time_code_by_hash(&self, kind: &str, code_hash: &str) -> StoreResult<Option<OneTimeCode>> {
        let row = sqlx::query_as(&format!("SELECT {COLUMNS} FROM one_time_codes WHERE kind = $1 AND code_hash = $2"))
            .bind(kind)
            .bind(code_hash)
            .fetch_optional(self.reader())
            .await?;
        Ok(row)
    }

    /// Counts one attempt against a code, atomically, before it is compared; returns the new
    /// count, or `None` if the code is already used. At most the limit of comparisons ever run.
    pub async fn count_code_attempt(&self, id: &str, now: Millis) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "UPDATE one_time_codes SET attempts = attempts + 1, updated_at = $1 WHERE id = $2 AND used_at IS NULL RETURNING attempts",
        )
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get("attempts")).transpose().map_err(Into::into)
    }

    /// Marks a code used; false if it was already used or has expired.
    pub async fn consume_one_time_code(&self, id: &str, now: Millis) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE one_time_codes SET used_at = $1, updated_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Voids every open code of a kind for a user (after a reset, the other links die too).
    pub async fn void_one_time_codes(&self, kind: &str, user_id: &str, now: Millis) -> StoreResult<()> {
        sqlx::query("UPDATE one_time_codes SET used_at = $1, updated_at = $1 WHERE kind = $2 AND user_id = $3 AND used_at IS NULL")
            .bind(now)
            .bind(kind)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
