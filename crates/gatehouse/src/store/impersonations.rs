//! Impersonation links (`service::impersonation`): a one-time token, then a one-time grant
//! held by the operator's browser. Each step is one conditional statement.

use sqlx::Row as _;

use super::{Store, StoreResult, get_opt_string};
use crate::clock::Millis;
use crate::domain::event::NewEvent;

/// A stored impersonation.
#[derive(Clone, Debug)]
pub struct Impersonation {
    pub environment_id: String,
    pub user_id: String,
    pub operator_email: String,
    pub reason: Option<String>,
    pub expires_at: Millis,
}

pub struct NewImpersonation<'a> {
    pub token_hash: &'a str,
    pub impersonation: &'a Impersonation,
    pub created_at: Millis,
}

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<Impersonation> {
    Ok(Impersonation {
        environment_id: row.try_get("environment_id")?,
        user_id: row.try_get("user_id")?,
        operator_email: row.try_get("operator_email")?,
        reason: get_opt_string(row, "reason")?,
        expires_at: row.try_get("expires_at")?,
    })
}

const RETURNING: &str = "RETURNING environment_id, user_id, operator_email, reason, expires_at";

impl Store {
    /// Keeps a new impersonation link with its (audit) events, in one transaction.
    pub async fn insert_impersonation(&self, new: &NewImpersonation<'_>, events: &[NewEvent]) -> StoreResult<()> {
        let i = new.impersonation;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO impersonations (token_hash, environment_id, user_id, operator_email, reason, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new.token_hash)
        .bind(&i.environment_id)
        .bind(&i.user_id)
        .bind(&i.operator_email)
        .bind(&i.reason)
        .bind(i.expires_at)
        .bind(new.created_at)
        .execute(&mut *tx)
        .await?;
        super::events::record_in(&mut tx, &i.environment_id, new.created_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spends an unexpired, unopened link and attaches the browser's grant to it.
    pub async fn open_impersonation(
        &self,
        token_hash: &str,
        grant_hash: &str,
        grant_expires_at: Millis,
        now: Millis,
    ) -> StoreResult<Option<Impersonation>> {
        let row = sqlx::query(&format!(
            "UPDATE impersonations SET opened_at = $1, grant_hash = $2, expires_at = $3 \
             WHERE token_hash = $4 AND opened_at IS NULL AND expires_at > $1 {RETURNING}"
        ))
        .bind(now)
        .bind(grant_hash)
        .bind(grant_expires_at)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Spends an unexpired grant of the environment.
    pub async fn use_impersonation_grant(
        &self,
        environment_id: &str,
        grant_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<Impersonation>> {
        let row = sqlx::query(&format!(
            "UPDATE impersonations SET grant_used_at = $1 \
             WHERE grant_hash = $2 AND environment_id = $3 AND grant_used_at IS NULL AND expires_at > $1 {RETURNING}"
        ))
        .bind(now)
        .bind(grant_hash)
        .bind(environment_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }
}
