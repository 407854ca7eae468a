//! Two-factor records: TOTP factors and their challenges, recovery codes, passkeys, WebAuthn
//! ceremony state and the hosted account-security sessions.

use sqlx::{FromRow as _, Row as _};

use super::{Store, StoreResult, conflict};
use crate::clock::Millis;
use crate::domain::factor::{AuthChallenge, AuthFactor, StoredPasskey};
use crate::domain::session::SecuritySession;

/// A WebAuthn ceremony between its options and the browser's answer.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Ceremony {
    pub environment_id: String,
    /// Empty for a discoverable (username-less) sign-in.
    pub user_id: String,
    pub state: String,
}

const FACTOR_COLUMNS: &str = "id, environment_id, user_id, factor_type, secret_sealed, issuer, account, verified_at, \
     last_used_step, created_at, updated_at";
const CHALLENGE_COLUMNS: &str = "id, environment_id, factor_id, expires_at, verified_at, created_at, updated_at";
const PASSKEY_COLUMNS: &str =
    "id, environment_id, user_id, credential_id, name, credential, last_used_at, created_at, updated_at";

impl Store {
    pub async fn insert_auth_factor(&self, f: &AuthFactor) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO auth_factors ({FACTOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&f.id)
        .bind(&f.environment_id)
        .bind(&f.user_id)
        .bind(&f.factor_type)
        .bind(&f.secret_sealed)
        .bind(&f.issuer)
        .bind(&f.account)
        .bind(f.verified_at)
        .bind(f.last_used_step)
        .bind(f.created_at)
        .bind(f.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn find_auth_factor(&self, environment_id: &str, id: &str) -> StoreResult<Option<AuthFactor>> {
        let row =
            sqlx::query_as(&format!("SELECT {FACTOR_COLUMNS} FROM auth_factors WHERE id = $1 AND environment_id = $2"))
                .bind(id)
                .bind(environment_id)
                .fetch_optional(self.reader())
                .await?;
        Ok(row)
    }

    /// A user's factors, oldest first, verified or not.
    pub async fn list_auth_factors(&self, user_id: &str) -> StoreResult<Vec<AuthFactor>> {
        let rows = sqlx::query_as(&format!("SELECT {FACTOR_COLUMNS} FROM auth_factors WHERE user_id = $1 ORDER BY id"))
            .bind(user_id)
            .fetch_all(self.reader())
            .await?;
        Ok(rows)
    }

    pub async fn delete_auth_factor(&self, environment_id: &str, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM auth_factors WHERE id = $1 AND environment_id = $2")
            .bind(id)
            .bind(environment_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets enrolments that were started but never confirmed.
    pub async fn delete_unverified_factors(&self, user_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM auth_factors WHERE user_id = $1 AND verified_at IS NULL")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn mark_factor_verified(&self, id: &str, now: Millis) -> StoreResult<()> {
        sqlx::query("UPDATE auth_factors SET verified_at = $1, updated_at = $1 WHERE id = $2 AND verified_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that a code of time step `step` was accepted, atomically: `false` when a code of
    /// this step or a later one was already accepted (a replay, or a race with one).
    pub async fn consume_totp_step(&self, factor_id: &str, step: i64, now: Millis) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE auth_factors SET last_used_step = $1, updated_at = $2 \
             WHERE id = $3 AND (last_used_step IS NULL OR last_used_step < $1)",
        )
        .bind(step)
        .bind(now)
        .bind(factor_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_auth_challenge(&self, c: &AuthChallenge) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO auth_challenges ({CHALLENGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
            .bind(&c.id)
            .bind(&c.environment_id)
            .bind(&c.factor_id)
            .bind(c.expires_at)
            .bind(c.verified_at)
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn find_auth_challenge(&self, environment_id: &str, id: &str) -> StoreResult<Option<AuthChallenge>> {
        let row = sqlx::query_as(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM auth_challenges WHERE id = $1 AND environment_id = $2"
        ))
        .bind(id)
        .bind(environment_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row)
    }

    /// Marks a challenge verified, atomically; `false` if it already was or has expired.
    pub async fn consume_auth_challenge(&self, id: &str, now: Millis) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE auth_challenges SET verified_at = $1, updated_at = $1 \
             WHERE id = $2 AND verified_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces a user's recovery codes with new ones (hashes), in one transaction.
    pub async fn replace_recovery_codes(&self, user_id: &str, hashes: &[String], now: Millis) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        for hash in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (code_hash, user_id, used_at, created_at) VALUES ($1, $2, NULL, $3)",
            )
            .bind(hash)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_recovery_codes(&self, user_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&self.pool).await?;
        Ok(())
    }

    /// Spends a recovery code, atomically; `false` if unknown or already used.
    pub async fn consume_recovery_code(&self, user_id: &str, code_hash: &str, now: Millis) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE code_hash = $2 AND user_id = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(code_hash)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn count_unused_recovery_codes(&self, user_id: &str) -> StoreResult<i64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Inserts a passkey; `Conflict("passkeys.credential_id")` if the authenticator's credential
    /// is already registered in this environment.
    pub async fn insert_passkey(&self, p: &StoredPasskey) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            .bind(&p.id)
            .bind(&p.environment_id)
            .bind(&p.user_id)
            .bind(&p.credential_id)
            .bind(&p.name)
            .bind(&p.credential)
            .bind(p.last_used_at)
            .bind(p.created_at)
            .bind(p.updated_at)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict(e, "passkeys.credential_id"))?;
        Ok(())
    }

    pub async fn list_passkeys(&self, user_id: &str) -> StoreResult<Vec<StoredPasskey>> {
        let rows = sqlx::query_as(&format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY id"))
            .bind(user_id)
            .fetch_all(self.reader())
            .await?;
        Ok(rows)
    }

    pub async fn find_passkey_by_credential(
        &self,
        environment_id: &str,
        credential_id: &str,
    ) -> StoreResult<Option<StoredPasskey>> {
        let row = sqlx::query_as(&format!(
            "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE environment_id = $1 AND credential_id = $2"
        ))
        .bind(environment_id)
        .bind(credential_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row)
    }

    /// Records a sign-in with a passkey and its updated counter/flags.
    pub async fn update_passkey_use(&self, id: &str, credential: &str, now: Millis) -> StoreResult<()> {
        sqlx::query("UPDATE passkeys SET credential = $1, last_used_at = $2, updated_at = $2 WHERE id = $3")
            .bind(credential)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_passkey(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_webauthn_ceremony(
        &self,
        id_hash: &str,
        kind: &str,
        ceremony: &Ceremony,
        expires_at: Millis,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id_hash, environment_id, user_id, kind, state, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id_hash)
        .bind(&ceremony.environment_id)
        .bind(&ceremony.user_id)
        .bind(kind)
        .bind(&ceremony.state)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes a ceremony's state out of the store, atomically (a second answer finds nothing);
    /// `None` if unknown, of another kind, already used or expired.
    pub async fn consume_webauthn_ceremony(
        &self,
        id_hash: &str,
        kind: &str,
        now: Millis,
    ) -> StoreResult<Option<Ceremony>> {
        let row = sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE id_hash = $1 AND kind = $2 \
             RETURNING environment_id, user_id, state, expires_at",
        )
        .bind(id_hash)
        .bind(kind)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: i64 = row.try_get("expires_at")?;
        if expires_at <= now {
            return Ok(None);
        }
        Ok(Some(Ceremony::from_row(&row)?))
    }

    pub async fn insert_security_session(
        &self,
        token_hash: &str,
        session: &SecuritySession,
        expires_at: Millis,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO security_sessions (token_hash, environment_id, user_id, auth_method, request_id, expires_at, \
             used_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)",
        )
        .bind(token_hash)
        .bind(&session.environment_id)
        .bind(&session.user_id)
        .bind(session.auth_method.as_str())
        .bind(&session.request_id)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn find_security_session(&self, token_hash: &str, now: Millis) -> StoreResult<Option<SecuritySession>> {
        let row = sqlx::query_as(
            "SELECT environment_id, user_id, auth_method, request_id FROM security_sessions \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.reader())
        .await?;
        Ok(row)
    }

    /// Ends a security session, atomically, returning it; `None` if unknown, used or expired.
    pub async fn consume_security_session(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<SecuritySession>> {
        let row = sqlx::query_as(
            "UPDATE security_sessions SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING environment_id, user_id, auth_method, request_id",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }
}
