//! Environments, their API keys, signing keys, redirect URIs and CORS origins.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{Store, StoreError, StoreResult, conflict};
use crate::clock::Millis;
use crate::domain::environment::{ApiKeyRecord, CorsOrigin, Environment, RedirectUri, Settings, StoredSigningKey};
use crate::domain::event::NewEvent;

pub struct NewEnvironment {
    pub environment: Environment,
    pub signing_key: StoredSigningKey,
    /// The redirect URIs it starts with (the first one default).
    pub redirect_uris: Vec<RedirectUri>,
    /// Its audit events (`gatehouse.environment.created`).
    pub events: Vec<NewEvent>,
}

const ENV_COLUMNS: &str = "id, name, client_id, settings, created_at, updated_at";

fn env_from_row(row: &AnyRow) -> StoreResult<Environment> {
    let settings: String = row.try_get("settings")?;
    let settings: Settings =
        serde_json::from_str(&settings).map_err(|e| StoreError::Corrupt(format!("environment settings: {e}")))?;
    Ok(Environment {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        client_id: row.try_get("client_id")?,
        settings,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn settings_json(settings: &Settings) -> StoreResult<String> {
    serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Creates an environment with its first signing key and default redirect URI, atomically.
    pub async fn insert_environment(&self, new: &NewEnvironment) -> StoreResult<()> {
        let env = &new.environment;
        let mut tx = self.begin().await?;
        sqlx::query(&format!("INSERT INTO environments ({ENV_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
            .bind(&env.id)
            .bind(&env.name)
            .bind(&env.client_id)
            .bind(settings_json(&env.settings)?)
            .bind(env.created_at)
            .bind(env.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict(e, "environments.name"))?;
        let key = &new.signing_key;
        sqlx::query(
            "INSERT INTO signing_keys (kid, environment_id, private_key, published_at, created_at, certificate) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.kid)
        .bind(&env.id)
        .bind(&key.private_key)
        .bind(key.published_at)
        .bind(key.created_at)
        .bind(&key.certificate)
        .execute(&mut *tx)
        .await?;
        for r in &new.redirect_uris {
            sqlx::query(
                "INSERT INTO redirect_uris (id, environment_id, uri, is_default, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&r.id)
            .bind(&env.id)
            .bind(&r.uri)
            .bind(i64::from(r.is_default))
            .bind(r.created_at)
            .bind(r.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        super::events::record_in(&mut tx, &env.id, env.created_at, &new.events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_environments(&self) -> StoreResult<Vec<Environment>> {
        let rows = sqlx::query(&format!("SELECT {ENV_COLUMNS} FROM environments ORDER BY created_at, id"))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(env_from_row).collect()
    }

    pub async fn find_environment_by_name(&self, name: &str) -> StoreResult<Option<Environment>> {
        let row = sqlx::query(&format!("SELECT {ENV_COLUMNS} FROM environments WHERE name = $1"))
            .bind(name)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(env_from_row).transpose()
    }

    pub async fn find_environment_by_client_id(&self, client_id: &str) -> StoreResult<Option<Environment>> {
        let row = sqlx::query(&format!("SELECT {ENV_COLUMNS} FROM environments WHERE client_id = $1"))
            .bind(client_id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(env_from_row).transpose()
    }

    pub async fn find_environment(&self, id: &str) -> StoreResult<Option<Environment>> {
        let row = sqlx::query(&format!("SELECT {ENV_COLUMNS} FROM environments WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(env_from_row).transpose()
    }

    /// Writes an environment's settings, with their audit events.
    pub async fn update_environment_settings(
        &self,
        id: &str,
        settings: &Settings,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE environments SET settings = $1, updated_at = $2 WHERE id = $3")
            .bind(settings_json(settings)?)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        super::events::record_in(&mut tx, id, now, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn insert_api_key(&self, key: &ApiKeyRecord, key_hash: &str, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, environment_id, key_hash, key_hint, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(&key.id)
        .bind(&key.environment_id)
        .bind(key_hash)
        .bind(&key.key_hint)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        super::events::record_in(&mut tx, &key.environment_id, key.created_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The environment an active API key belongs to, with the key's ID.
    pub async fn find_environment_by_api_key(&self, key_hash: &str) -> StoreResult<Option<(Environment, String)>> {
        let row = sqlx::query(
            "SELECT e.id, e.name, e.client_id, e.settings, e.created_at, e.updated_at, k.id AS key_id FROM api_keys k \
             JOIN environments e ON e.id = k.environment_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(|r| Ok((env_from_row(r)?, r.try_get("key_id")?))).transpose()
    }

    pub async fn list_api_keys(&self, environment_id: &str) -> StoreResult<Vec<ApiKeyRecord>> {
        let keys = sqlx::query_as(
            "SELECT id, environment_id, key_hint, created_at, revoked_at FROM api_keys WHERE environment_id = $1 ORDER BY created_at, id",
        )
        .bind(environment_id)
        .fetch_all(self.reader())
        .await?;
        Ok(keys)
    }

    /// Revokes an API key by ID; false if there was no such active key.
    pub async fn revoke_api_key(
        &self,
        environment_id: &str,
        id: &str,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND environment_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(environment_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::events::record_in(&mut tx, environment_id, now, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn insert_signing_key(
        &self,
        environment_id: &str,
        key: &StoredSigningKey,
        events: &[NewEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, environment_id, private_key, published_at, created_at, certificate) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.kid)
        .bind(environment_id)
        .bind(&key.private_key)
        .bind(key.published_at)
        .bind(key.created_at)
        .bind(&key.certificate)
        .execute(&mut *tx)
        .await?;
        super::events::record_in(&mut tx, environment_id, key.created_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the certificate of a key made before keys had one; the first writer wins.
    pub async fn set_signing_key_certificate(&self, kid: &str, certificate: &str) -> StoreResult<()> {
        sqlx::query("UPDATE signing_keys SET certificate = $1 WHERE kid = $2 AND certificate IS NULL")
            .bind(certificate)
            .bind(kid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// All signing keys of an environment, oldest first.
    /// Every signing key's ID and stored private key, across environments.
    pub async fn all_signing_keys(&self) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT kid, private_key FROM signing_keys ORDER BY kid").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("kid")?, r.try_get("private_key")?))).collect()
    }

    /// Replaces a signing key's stored private key if it is still `old` (sealing in place).
    pub async fn replace_signing_key(&self, kid: &str, old: &str, new: &str) -> StoreResult<()> {
        sqlx::query("UPDATE signing_keys SET private_key = $3 WHERE kid = $1 AND private_key = $2")
            .bind(kid)
            .bind(old)
            .bind(new)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn list_signing_keys(&self, environment_id: &str) -> StoreResult<Vec<StoredSigningKey>> {
        let keys = sqlx::query_as(
            "SELECT kid, private_key, published_at, created_at, certificate FROM signing_keys WHERE environment_id = $1 ORDER BY published_at, kid",
        )
        .bind(environment_id)
        .fetch_all(self.reader())
        .await?;
        Ok(keys)
    }

    /// Adds a redirect URI; the first one of an environment becomes its default.
    pub async fn insert_redirect_uri(
        &self,
        environment_id: &str,
        r: &RedirectUri,
        events: &[NewEvent],
    ) -> StoreResult<RedirectUri> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO redirect_uris (id, environment_id, uri, is_default, created_at, updated_at) \
             VALUES ($1, $2, $3, CASE WHEN EXISTS (SELECT 1 FROM redirect_uris WHERE environment_id = $2) THEN 0 ELSE 1 END, $4, $5) \
             ON CONFLICT (environment_id, uri) DO NOTHING RETURNING is_default",
        )
        .bind(&r.id)
        .bind(environment_id)
        .bind(&r.uri)
        .bind(r.created_at)
        .bind(r.updated_at)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Conflict("redirect_uris.uri"));
        };
        let stored = RedirectUri { is_default: row.try_get::<i64, _>("is_default")? != 0, ..r.clone() };
        super::events::record_in(&mut tx, environment_id, r.created_at, events).await?;
        tx.commit().await?;
        Ok(stored)
    }

    pub async fn list_redirect_uris(&self, environment_id: &str) -> StoreResult<Vec<RedirectUri>> {
        let rows = sqlx::query(
            "SELECT id, uri, is_default, created_at, updated_at FROM redirect_uris WHERE environment_id = $1 ORDER BY created_at, id",
        )
        .bind(environment_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RedirectUri {
                    id: r.try_get("id")?,
                    uri: r.try_get("uri")?,
                    is_default: super::get_bool(r, "is_default")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Removes a redirect URI by its ID; false if it was not there.
    pub async fn delete_redirect_uri(
        &self,
        environment_id: &str,
        id: &str,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM redirect_uris WHERE environment_id = $1 AND id = $2")
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

    pub async fn insert_cors_origin(
        &self,
        environment_id: &str,
        c: &CorsOrigin,
        events: &[NewEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO cors_origins (id, environment_id, origin, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (environment_id, origin) DO NOTHING RETURNING id",
        )
        .bind(&c.id)
        .bind(environment_id)
        .bind(&c.origin)
        .bind(c.created_at)
        .bind(c.updated_at)
        .fetch_optional(&mut *tx)
        .await?;
        if row.is_none() {
            return Err(StoreError::Conflict("cors_origins.origin"));
        }
        super::events::record_in(&mut tx, environment_id, c.created_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_cors_origins(&self, environment_id: &str) -> StoreResult<Vec<CorsOrigin>> {
        let origins = sqlx::query_as(
            "SELECT id, origin, created_at, updated_at FROM cors_origins WHERE environment_id = $1 ORDER BY created_at, id",
        )
        .bind(environment_id)
        .fetch_all(self.reader())
        .await?;
        Ok(origins)
    }

    /// Removes a CORS origin by its ID; false if it was not there.
    pub async fn delete_cors_origin(
        &self,
        environment_id: &str,
        id: &str,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM cors_origins WHERE environment_id = $1 AND id = $2")
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

    /// Every CORS origin of every environment (for answering preflights, which carry no client ID).
    pub async fn all_cors_origins(&self) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT environment_id, origin FROM cors_origins").fetch_all(self.reader()).await?;
        rows.iter().map(|r| Ok((r.try_get("environment_id")?, r.try_get("origin")?))).collect()
    }
}
