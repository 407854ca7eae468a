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
            "INSERT INTO pending_authentications (token_hash, environment_id, user_id, auth_method, expires_at, used_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6)",
        )
        .bind(token_hash)
        .bind(&pending.environment_id)
        .bind(&pending.user_id)
        .bind(pending.auth_method.as_str())
        .bind(expires_at)
        .bind(now)
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
            "SELECT environment_id, user_id, auth_method FROM pending_authentications \
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
             RETURNING environment_id, user_id, auth_method",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Stores a decoy pending sign-in (a hosted sign-up for a taken address).
    pub async fn insert_sign_up_decoy(
        &self,
        token_hash: &str,
        environment_id: &str,
        email: &str,
        expires_at: Millis,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sign_up_decoys (token_hash, environment_id, email, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(environment_id)
        .bind(email)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The address of an unexpired decoy of this environment.
    pub async fn find_sign_up_decoy(
        &self,
        token_hash: &str,
        environment_id: &str,
        now: Millis,
    ) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT email FROM sign_up_decoys WHERE token_hash = $1 AND environment_id = $2 AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(environment_id)
        .bind(now)
        .fetch_optional(self.reader())
        .await?)
    }
}
