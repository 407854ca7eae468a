//! Sessions, rotating refresh tokens, authorization requests and single-use authorization codes.

use sqlx::Row as _;

use super::{Store, StoreResult, get_opt_string};
use crate::clock::Millis;
use crate::domain::event::NewEvent;
use crate::domain::organization::Membership;
use crate::domain::session::{AuthMethod, Session};
use crate::domain::user::User;

/// A session's refresh state with everything a refresh needs: read in one query, or kept in
/// memory since this process issued the session's current token (see `refresh_cache`).
#[derive(Clone, Debug)]
pub struct RefreshContext {
    pub session: Session,
    pub user: User,
    /// The user row's `version` when `user` was read; the rotation re-checks it.
    pub user_version: i64,
    /// The generation of the session's current refresh token.
    pub generation: i64,
    /// The hash of the current token's secret; `None` for sessions without refresh tokens.
    pub refresh_hash: Option<String>,
    /// When the current token was issued by a rotation (`None`: the session's first token).
    pub refreshed_at: Option<Millis>,
    /// The access-token claims issued with the current token by that rotation.
    pub refresh_claims: Option<String>,
}

pub struct NewAuthCode {
    pub code_hash: String,
    pub environment_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub auth_method: AuthMethod,
    /// The organization the session will be in.
    pub organization_id: Option<String>,
    /// Set when an operator is signing in as the user.
    pub impersonator: Option<crate::domain::event::Impersonator>,
    pub expires_at: Millis,
    pub created_at: Millis,
}

#[derive(Debug, sqlx::FromRow)]
pub struct AuthCode {
    pub environment_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub auth_method: AuthMethod,
    /// When the code was issued: the end of the sign-in.
    pub created_at: Millis,
    pub organization_id: Option<String>,
    pub impersonator_email: Option<String>,
    pub impersonator_reason: Option<String>,
}

#[derive(Debug)]
pub enum CodeOutcome {
    Consumed(AuthCode),
    /// Already used: whatever session it produced has now been revoked.
    Replayed,
    Expired,
    Unknown,
}

/// A sign-in method is stored as its wire name (`Password`, `GoogleOAuth`…) and read back into
/// the enum, so rows deriving `FromRow` get an `AuthMethod`.
impl sqlx::Type<sqlx::Any> for AuthMethod {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for AuthMethod {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<AuthMethod, sqlx::error::BoxDynError> {
        <String as sqlx::Decode<'r, sqlx::Any>>::decode(value).map(AuthMethod::from)
    }
}

pub(super) const SESSION_COLUMNS: &str = "id, environment_id, user_id, auth_method, ip_address, user_agent, expires_at, ended_at, created_at, updated_at, auth_time, organization_id, impersonator_email, impersonator_reason";

/// Ends every session of `user_id` still open, inside the caller's transaction, and returns a
/// `session.revoked` event for each one that was still live (expired ones just end).
pub(super) async fn end_user_sessions_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    now: Millis,
) -> StoreResult<Vec<NewEvent>> {
    let ended: Vec<Session> = sqlx::query_as(&format!(
        "UPDATE sessions SET ended_at = $1, updated_at = $1 WHERE user_id = $2 AND ended_at IS NULL \
         RETURNING {SESSION_COLUMNS}"
    ))
    .bind(now)
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ended.iter().filter(|s| s.expires_at > now).map(|s| NewEvent::session(s, true, now)).collect())
}

/// The read of `find_refresh`: a session with its refresh state and its user.
static FIND_REFRESH_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT s.id AS s_id, s.environment_id AS s_environment_id, s.user_id AS s_user_id, \
         s.auth_method AS s_auth_method, s.ip_address AS s_ip_address, s.user_agent AS s_user_agent, \
         s.expires_at AS s_expires_at, s.ended_at AS s_ended_at, s.created_at AS s_created_at, \
         s.updated_at AS s_updated_at, s.auth_time AS s_auth_time, s.organization_id AS s_organization_id, \
         s.impersonator_email AS s_impersonator_email, s.impersonator_reason AS s_impersonator_reason, s.refresh_generation, s.refresh_hash, s.refreshed_at, s.refresh_claims, \
         u.version AS u_version, {} \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
        super::users::USER_COLUMNS_QUALIFIED
    )
});

impl Store {
    /// Starts a session with the hash of its first refresh token's secret, notes the user's
    /// sign-in time and writes the sign-in's events, in one transaction.
    /// `joined`: a membership the sign-in creates (auto-join by a verified domain), written in
    /// the same transaction.
    pub async fn start_session(
        &self,
        s: &Session,
        refresh_hash: &str,
        joined: Option<&Membership>,
        events: &[NewEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if let Some(m) = joined {
            super::organizations::insert_membership_in(&mut tx, m).await?;
        }
        sqlx::query(&format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}, refresh_generation, refresh_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, $15)"
        ))
        .bind(&s.id)
        .bind(&s.environment_id)
        .bind(&s.user_id)
        .bind(s.auth_method.as_str())
        .bind(&s.ip_address)
        .bind(&s.user_agent)
        .bind(s.expires_at)
        .bind(s.ended_at)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.auth_time)
        .bind(&s.organization_id)
        .bind(&s.impersonator_email)
        .bind(&s.impersonator_reason)
        .bind(refresh_hash)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE users SET last_sign_in_at = $1, version = version + 1 WHERE id = $2")
            .bind(s.created_at)
            .bind(&s.user_id)
            .execute(&mut *tx)
            .await?;
        super::events::record_in(&mut tx, &s.environment_id, s.created_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn find_session(&self, id: &str) -> StoreResult<Option<Session>> {
        let session = sqlx::query_as(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        Ok(session)
    }

    /// The refresh context this process kept when it issued the session's current token, if
    /// it still has it. Taken, not copied: the next call reads.
    pub fn take_cached_refresh(&self, session_id: &str) -> Option<RefreshContext> {
        self.refresh_cache.take(session_id)
    }

    /// A session's refresh state and user, in one query.
    pub async fn find_refresh(&self, session_id: &str) -> StoreResult<Option<RefreshContext>> {
        let row = sqlx::query(&FIND_REFRESH_SQL).bind(session_id).fetch_optional(self.reader()).await?;
        let Some(row) = row else { return Ok(None) };
        let session = Session {
            id: row.try_get("s_id")?,
            environment_id: row.try_get("s_environment_id")?,
            user_id: row.try_get("s_user_id")?,
            auth_method: row.try_get("s_auth_method")?,
            ip_address: get_opt_string(&row, "s_ip_address")?,
            user_agent: get_opt_string(&row, "s_user_agent")?,
            expires_at: row.try_get("s_expires_at")?,
            ended_at: row.try_get("s_ended_at")?,
            created_at: row.try_get("s_created_at")?,
            updated_at: row.try_get("s_updated_at")?,
            auth_time: row.try_get("s_auth_time")?,
            organization_id: get_opt_string(&row, "s_organization_id")?,
            impersonator_email: get_opt_string(&row, "s_impersonator_email")?,
            impersonator_reason: get_opt_string(&row, "s_impersonator_reason")?,
        };
        Ok(Some(RefreshContext {
            session,
            user: super::users::user_from_row(&row)?,
            user_version: row.try_get("u_version")?,
            generation: row.try_get("refresh_generation")?,
            refresh_hash: get_opt_string(&row, "refresh_hash")?,
            refreshed_at: row.try_get("refreshed_at")?,
            refresh_claims: get_opt_string(&row, "refresh_claims")?,
        }))
    }

    /// Rotates a session's refresh token in one conditional UPDATE: generation
    /// `context.generation` with secret hash `presented_hash` becomes the next generation with
    /// `next_hash`, unless another request rotated it first, the session is over, or the user
    /// has changed since `context` was read. Returns whether this call rotated it; if so, the
    /// new state is cached for the next rotation.
    pub async fn rotate_refresh(
        &self,
        context: &RefreshContext,
        presented_hash: &str,
        next_hash: &str,
        claims: &str,
        organization_id: Option<&str>,
        now: Millis,
    ) -> StoreResult<bool> {
        let rotated = self
            .rotations
            .rotate(super::rotations::Rotation {
                session_id: context.session.id.clone(),
                generation: context.generation,
                presented_hash: presented_hash.to_owned(),
                next_hash: next_hash.to_owned(),
                claims: claims.to_owned(),
                user_version: context.user_version,
                organization_id: organization_id.map(str::to_owned),
                switches_organization: context.session.organization_id.as_deref() != organization_id,
                now,
            })
            .await?;
        if rotated && self.refresh_cache.is_enabled() {
            let next = RefreshContext {
                generation: context.generation + 1,
                refresh_hash: Some(next_hash.to_owned()),
                refreshed_at: Some(now),
                refresh_claims: Some(claims.to_owned()),
                session: Session { organization_id: organization_id.map(str::to_owned), ..context.session.clone() },
                ..context.clone()
            };
            self.refresh_cache.put(&context.session.id, next);
        }
        Ok(rotated)
    }

    /// A user's sessions, newest first, `limit` at most, after the cursor when given.
    pub async fn list_user_sessions(
        &self,
        user_id: &str,
        limit: u32,
        after: Option<&str>,
        ascending: bool,
    ) -> StoreResult<(Vec<Session>, bool)> {
        let (op, dir) = if ascending { (">", "ASC") } else { ("<", "DESC") };
        let sql = match after {
            Some(_) => format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND id {op} $2 ORDER BY id {dir} LIMIT {}",
                limit + 1
            ),
            None => format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY id {dir} LIMIT {}",
                limit + 1
            ),
        };
        let mut query = sqlx::query_as(&sql).bind(user_id);
        if let Some(a) = after {
            query = query.bind(a);
        }
        let mut sessions: Vec<Session> = query.fetch_all(self.reader()).await?;
        let has_more = sessions.len() > limit as usize;
        sessions.truncate(limit as usize);
        Ok((sessions, has_more))
    }

    /// Ends a session of `environment_id`, with its events; false (and no events) if it was
    /// unknown or already over.
    pub async fn revoke_session(
        &self,
        environment_id: &str,
        id: &str,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $1, updated_at = $1 WHERE id = $2 AND environment_id = $3 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(environment_id)
        .execute(&mut *tx)
        .await?;
        let revoked = done.rows_affected() == 1;
        if revoked {
            super::events::record_in(&mut tx, environment_id, now, events).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    /// Stores the parameters of an `/authorize` request for the hosted pages.
    pub async fn insert_authorization_request(
        &self,
        id: &str,
        environment_id: &str,
        params: &str,
        expires_at: Millis,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_requests (id, environment_id, params, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(environment_id)
        .bind(params)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An unexpired authorization request: `(environment_id, params)`.
    pub async fn find_authorization_request(&self, id: &str, now: Millis) -> StoreResult<Option<(String, String)>> {
        let row =
            sqlx::query("SELECT environment_id, params FROM authorization_requests WHERE id = $1 AND expires_at > $2")
                .bind(id)
                .bind(now)
                .fetch_optional(self.reader())
                .await?;
        row.map(|r| Ok((r.try_get("environment_id")?, r.try_get("params")?))).transpose()
    }

    pub async fn insert_auth_code(&self, c: &NewAuthCode) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, environment_id, user_id, redirect_uri, code_challenge, auth_method, \
             expires_at, used_at, session_id, created_at, organization_id, impersonator_email, impersonator_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8, $9, $10, $11)",
        )
        .bind(&c.code_hash)
        .bind(&c.environment_id)
        .bind(&c.user_id)
        .bind(&c.redirect_uri)
        .bind(&c.code_challenge)
        .bind(c.auth_method.as_str())
        .bind(c.expires_at)
        .bind(c.created_at)
        .bind(&c.organization_id)
        .bind(c.impersonator.as_ref().map(|i| i.email.as_str()))
        .bind(c.impersonator.as_ref().and_then(|i| i.reason.as_deref()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a code used, atomically. A second use revokes the session the first one started.
    pub async fn consume_auth_code(&self, code_hash: &str, now: Millis) -> StoreResult<CodeOutcome> {
        let consumed = sqlx::query_as(
            "UPDATE authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING environment_id, user_id, redirect_uri, code_challenge, auth_method, created_at, organization_id, \
             impersonator_email, impersonator_reason",
        )
        .bind(now)
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(code) = consumed {
            return Ok(CodeOutcome::Consumed(code));
        }
        let row = sqlx::query("SELECT used_at, session_id FROM authorization_codes WHERE code_hash = $1")
            .bind(code_hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(CodeOutcome::Unknown);
        };
        let used_at: Option<Millis> = row.try_get("used_at")?;
        if used_at.is_none() {
            return Ok(CodeOutcome::Expired);
        }
        if let Some(session_id) = get_opt_string(&row, "session_id")?
            && let Some(session) = self.find_session(&session_id).await?
        {
            let events = [NewEvent::session(&session, true, now)];
            self.revoke_session(&session.environment_id, &session.id, now, &events).await?;
        }
        Ok(CodeOutcome::Replayed)
    }

    /// Records which session a consumed code produced, so a replay can revoke it.
    pub async fn attach_code_session(&self, code_hash: &str, session_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE authorization_codes SET session_id = $1 WHERE code_hash = $2")
            .bind(session_id)
            .bind(code_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
