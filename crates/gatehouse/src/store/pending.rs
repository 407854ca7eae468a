//! Pending authentications: a first factor passed, a step-up is still owed.

use super::{Store, StoreResult};
use crate::clock::Millis;
use crate::domain::session::PendingAuthentication;

impl Store {
    pub async fn insert_pending_authentication(
        &self,
        token_hash: &str,
        pending: &PendingAuthentication,
        expires_at: Millis,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO pending_authentications (token_hash, environment_id, user_id, auth_method, expires_at, used_at, created_at, organization_id, purpose) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8)",
        )
        .bind(token_hash)
        .bind(&pending.environment_id)
        .bind(&pending.user_id)
        .bind(pending.auth_method.as_str())
        .bind(expires_at)
        .bind(now)
        .bind(&pending.organization_id)
        .bind(&pending.purpose)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The pending authentication behind a token, if it is unused and unexpired.
    pub async fn find_pending_authentication(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<PendingAuthentication>> {
        let row = sqlx::query_as(
            "SELECT environment_id, user_id, auth_method, organization_id, purpose FROM pending_authentications \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.reader())
        .await?;
        Ok(row)
    }

    /// Spends a pending token, atomically; `None` if unknown, used or expired.
    pub async fn consume_pending_authentication(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<PendingAuthentication>> {
        let row = sqlx::query_as(
            "UPDATE pending_authentications SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING environment_id, user_id, auth_method, organization_id, purpose",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Stores a hosted sign-up waiting for its code: `user_id` for a new address, none for a
    /// decoy (`service::sign_up`).
    pub async fn insert_hosted_sign_up(
        &self,
        token_hash: &str,
        environment_id: &str,
        email: &str,
        user_id: Option<&str>,
        expires_at: Millis,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO hosted_sign_ups (token_hash, environment_id, email, user_id, expires_at, used_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6)",
        )
        .bind(token_hash)
        .bind(environment_id)
        .bind(email)
        .bind(user_id)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An unused, unexpired hosted sign-up of this environment: its address and user (none for
    /// a decoy).
    pub async fn find_hosted_sign_up(
        &self,
        token_hash: &str,
        environment_id: &str,
        now: Millis,
    ) -> StoreResult<Option<(String, Option<String>)>> {
        Ok(sqlx::query_as(
            "SELECT email, user_id FROM hosted_sign_ups \
             WHERE token_hash = $1 AND environment_id = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(environment_id)
        .bind(now)
        .fetch_optional(self.reader())
        .await?)
    }

    /// Spends a hosted sign-up, atomically; false if unknown, used or expired.
    pub async fn consume_hosted_sign_up(&self, token_hash: &str, now: Millis) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE hosted_sign_ups SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
