//! Upstream OAuth 2.0 / OpenID Connect providers of an environment (social login).

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{Store, StoreError, StoreResult, get_bool, get_opt_string};
use crate::clock::Millis;
use crate::domain::event::NewEvent;
use crate::domain::provider::StoredProvider;

const PROVIDER_COLUMNS: &str = "id, environment_id, name, kind, client_id, client_secret_sealed, scopes, display_name, \
     icon_url, issuer, authorize_url, token_url, userinfo_url, emails_url, jwks_url, is_enabled, created_at, updated_at";

fn provider_from_row(row: &AnyRow) -> StoreResult<StoredProvider> {
    Ok(StoredProvider {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        client_id: row.try_get("client_id")?,
        client_secret_sealed: row.try_get("client_secret_sealed")?,
        scopes: row.try_get("scopes")?,
        display_name: get_opt_string(row, "display_name")?,
        icon_url: get_opt_string(row, "icon_url")?,
        issuer: get_opt_string(row, "issuer")?,
        authorize_url: get_opt_string(row, "authorize_url")?,
        token_url: get_opt_string(row, "token_url")?,
        userinfo_url: get_opt_string(row, "userinfo_url")?,
        emails_url: get_opt_string(row, "emails_url")?,
        jwks_url: get_opt_string(row, "jwks_url")?,
        is_enabled: get_bool(row, "is_enabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Inserts a provider; `Conflict("oauth_providers.name")` if the environment has one by that name.
    pub async fn insert_provider(&self, p: &StoredProvider, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO oauth_providers ({PROVIDER_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (environment_id, name) DO NOTHING RETURNING id"
        ))
        .bind(&p.id)
        .bind(&p.environment_id)
        .bind(&p.name)
        .bind(&p.kind)
        .bind(&p.client_id)
        .bind(&p.client_secret_sealed)
        .bind(&p.scopes)
        .bind(&p.display_name)
        .bind(&p.icon_url)
        .bind(&p.issuer)
        .bind(&p.authorize_url)
        .bind(&p.token_url)
        .bind(&p.userinfo_url)
        .bind(&p.emails_url)
        .bind(&p.jwks_url)
        .bind(i64::from(p.is_enabled))
        .bind(p.created_at)
        .bind(p.updated_at)
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_none() {
            return Err(StoreError::Conflict("oauth_providers.name"));
        }
        super::events::record_in(&mut tx, &p.environment_id, p.created_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces every field of a provider but its ID, environment and creation time.
    /// Returns whether it existed.
    pub async fn update_provider(&self, p: &StoredProvider, events: &[NewEvent]) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE oauth_providers SET client_id = $1, client_secret_sealed = $2, scopes = $3, display_name = $4, \
             icon_url = $5, issuer = $6, authorize_url = $7, token_url = $8, userinfo_url = $9, emails_url = $10, \
             jwks_url = $11, is_enabled = $12, updated_at = $13 WHERE id = $14 AND environment_id = $15",
        )
        .bind(&p.client_id)
        .bind(&p.client_secret_sealed)
        .bind(&p.scopes)
        .bind(&p.display_name)
        .bind(&p.icon_url)
        .bind(&p.issuer)
        .bind(&p.authorize_url)
        .bind(&p.token_url)
        .bind(&p.userinfo_url)
        .bind(&p.emails_url)
        .bind(&p.jwks_url)
        .bind(i64::from(p.is_enabled))
        .bind(p.updated_at)
        .bind(&p.id)
        .bind(&p.environment_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        super::events::record_in(&mut tx, &p.environment_id, p.updated_at, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The environment's providers, in the order they were added.
    pub async fn list_providers(&self, environment_id: &str) -> StoreResult<Vec<StoredProvider>> {
        let rows = sqlx::query(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM oauth_providers WHERE environment_id = $1 ORDER BY created_at, id"
        ))
        .bind(environment_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(provider_from_row).collect()
    }

    pub async fn find_provider_by_name(&self, environment_id: &str, name: &str) -> StoreResult<Option<StoredProvider>> {
        let row = sqlx::query(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM oauth_providers WHERE environment_id = $1 AND name = $2"
        ))
        .bind(environment_id)
        .bind(name)
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(provider_from_row).transpose()
    }

    pub async fn find_provider(&self, environment_id: &str, id: &str) -> StoreResult<Option<StoredProvider>> {
        let row = sqlx::query(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM oauth_providers WHERE environment_id = $1 AND id = $2"
        ))
        .bind(environment_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(provider_from_row).transpose()
    }

    /// Deletes a provider (its users' identities stay, so re-adding it keeps their links).
    /// Returns whether it existed.
    pub async fn delete_provider(
        &self,
        environment_id: &str,
        id: &str,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM oauth_providers WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        super::events::record_in(&mut tx, environment_id, now, events).await?;
        tx.commit().await?;
        Ok(true)
    }
}
