//! Linked upstream identities, and the social sign-ins waiting for their provider's callback.

use super::{Store, StoreError, StoreResult};
use crate::clock::Millis;
use crate::domain::identity::Identity;

/// A redirect to a provider that awaits its callback (see `migrations/0004_social.sql`).
#[derive(Clone, sqlx::FromRow)]
pub struct SocialLogin {
    pub state_hash: String,
    pub browser_hash: String,
    pub environment_id: String,
    pub provider_id: String,
    pub request_id: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub expires_at: Millis,
    pub created_at: Millis,
}

impl std::fmt::Debug for SocialLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocialLogin")
            .field("environment_id", &self.environment_id)
            .field("provider_id", &self.provider_id)
            .finish_non_exhaustive()
    }
}

const IDENTITY_COLUMNS: &str = "id, environment_id, user_id, provider, idp_id, email, created_at, updated_at";

impl Store {
    /// Links an identity; `Conflict("user_identities.idp_id")` if that account is already linked.
    pub async fn insert_identity(&self, i: &Identity) -> StoreResult<()> {
        insert_identity_in(&self.pool, i).await
    }

    /// Links an identity to a user whose email was not yet verified, in one transaction: the
    /// provider has proven the address, so the email becomes verified and the password set
    /// before that proof (possibly by someone else, to pre-hijack the account) is removed.
    /// `Conflict("user_identities.idp_id")` if that account is already linked.
    pub async fn link_identity_claiming_user(&self, i: &Identity, now: Millis) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // The upstream proved the address: the account changes hands (see `claim_unverified_account`).
        let revoked = super::users::claim_account_in(&mut tx, &i.user_id, None, now).await?;
        insert_identity_in(&mut *tx, i).await?;
        super::events::record_in(&mut tx, &i.environment_id, now, &revoked).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn find_identity(
        &self,
        environment_id: &str,
        provider: &str,
        idp_id: &str,
    ) -> StoreResult<Option<Identity>> {
        let row = sqlx::query_as(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM user_identities WHERE environment_id = $1 AND provider = $2 AND idp_id = $3"
        ))
        .bind(environment_id)
        .bind(provider)
        .bind(idp_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row)
    }

    /// Records the email the provider last reported for a linked identity.
    pub async fn update_identity_email(&self, id: &str, email: Option<&str>, now: Millis) -> StoreResult<()> {
        sqlx::query("UPDATE user_identities SET email = $1, updated_at = $2 WHERE id = $3")
            .bind(email)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A user's identities, oldest first.
    pub async fn list_identities(&self, environment_id: &str, user_id: &str) -> StoreResult<Vec<Identity>> {
        let rows = sqlx::query_as(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM user_identities WHERE environment_id = $1 AND user_id = $2 ORDER BY id"
        ))
        .bind(environment_id)
        .bind(user_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows)
    }

    pub async fn insert_social_login(&self, s: &SocialLogin) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO social_logins (state_hash, browser_hash, environment_id, provider_id, request_id, nonce, \
             pkce_verifier, expires_at, used_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9)",
        )
        .bind(&s.state_hash)
        .bind(&s.browser_hash)
        .bind(&s.environment_id)
        .bind(&s.provider_id)
        .bind(&s.request_id)
        .bind(&s.nonce)
        .bind(&s.pkce_verifier)
        .bind(s.expires_at)
        .bind(s.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Spends a social sign-in by the hash of its `state`, atomically; `None` if unknown, used
    /// or expired.
    pub async fn consume_social_login(&self, state_hash: &str, now: Millis) -> StoreResult<Option<SocialLogin>> {
        let row = sqlx::query_as(
            "UPDATE social_logins SET used_at = $1 WHERE state_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING state_hash, browser_hash, environment_id, provider_id, request_id, nonce, pkce_verifier, \
             expires_at, created_at",
        )
        .bind(now)
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }
}

/// The insert of `insert_identity`, for use on the pool or inside a caller's transaction.
async fn insert_identity_in<'e, E>(executor: E, i: &Identity) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let inserted = sqlx::query(&format!(
        "INSERT INTO user_identities ({IDENTITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (environment_id, provider, idp_id) DO NOTHING RETURNING id"
    ))
    .bind(&i.id)
    .bind(&i.environment_id)
    .bind(&i.user_id)
    .bind(&i.provider)
    .bind(&i.idp_id)
    .bind(&i.email)
    .bind(i.created_at)
    .bind(i.updated_at)
    .fetch_optional(executor)
    .await?;
    match inserted {
        Some(_) => Ok(()),
        None => Err(StoreError::Conflict("user_identities.idp_id")),
    }
}
