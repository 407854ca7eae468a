//! Users.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{Store, StoreError, StoreResult, conflict, get_bool, get_opt_string};
use crate::clock::Millis;
use crate::domain::event::NewEvent;
use crate::domain::listing::{ListOrder, UserPage, UserQuery};
use crate::domain::user::{User, email_skeleton, stored_email_problems};
use crate::domain::user_search::search_keys;

/// Users of one environment whose addresses share a skeleton: `(id, email)` each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookAlikes {
    pub environment_id: String,
    pub skeleton: String,
    pub users: Vec<(String, String)>,
}

/// A stored address that Gatehouse would refuse today (`domain::user::stored_email_problems`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidEmail {
    pub environment_id: String,
    pub id: String,
    pub email: String,
    pub problems: Vec<&'static str>,
}

const USER_COLUMNS: &str = "id, environment_id, email, email_verified, first_name, last_name, profile_picture_url, \
     external_id, metadata, locale, password_hash, last_sign_in_at, created_at, updated_at";

/// The user columns qualified with the alias `u`, for joins (`user_from_row` reads them).
pub(super) const USER_COLUMNS_QUALIFIED: &str = "u.id, u.environment_id, u.email, u.email_verified, u.first_name, \
     u.last_name, u.profile_picture_url, u.external_id, u.metadata, u.locale, u.password_hash, u.last_sign_in_at, \
     u.created_at, u.updated_at";

pub(super) fn user_from_row(row: &AnyRow) -> StoreResult<User> {
    let metadata: String = row.try_get("metadata")?;
    let metadata = serde_json::from_str(&metadata).map_err(|e| StoreError::Corrupt(format!("user metadata: {e}")))?;
    Ok(User {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        email: row.try_get("email")?,
        email_verified: get_bool(row, "email_verified")?,
        first_name: get_opt_string(row, "first_name")?,
        last_name: get_opt_string(row, "last_name")?,
        profile_picture_url: get_opt_string(row, "profile_picture_url")?,
        external_id: get_opt_string(row, "external_id")?,
        metadata,
        locale: get_opt_string(row, "locale")?,
        password_hash: get_opt_string(row, "password_hash")?,
        last_sign_in_at: row.try_get("last_sign_in_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn metadata_json(user: &User) -> String {
    serde_json::Value::Object(user.metadata.clone()).to_string()
}

impl Store {
    /// Inserts a user with its events; `Conflict("users.email")` or `Conflict("users.external_id")`
    /// on duplicates, `Conflict("users.email_skeleton")` when another user's address looks the same
    /// (one conditional statement over the skeleton index).
    pub async fn insert_user(&self, u: &User, events: &[NewEvent]) -> StoreResult<()> {
        if self.find_user_by_email(&u.environment_id, &u.email).await?.is_some() {
            return Err(StoreError::Conflict("users.email"));
        }
        if let Some(ext) = &u.external_id
            && self.find_user_by_external_id(&u.environment_id, ext).await?.is_some()
        {
            return Err(StoreError::Conflict("users.external_id"));
        }
        let keys = search_keys(u);
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}, email_skeleton, search_email, search_name, search_last) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18 \
             WHERE NOT EXISTS (SELECT 1 FROM users WHERE environment_id = $2 AND email_skeleton = $15)"
        ))
        .bind(&u.id)
        .bind(&u.environment_id)
        .bind(&u.email)
        .bind(i64::from(u.email_verified))
        .bind(&u.first_name)
        .bind(&u.last_name)
        .bind(&u.profile_picture_url)
        .bind(&u.external_id)
        .bind(metadata_json(u))
        .bind(&u.locale)
        .bind(&u.password_hash)
        .bind(u.last_sign_in_at)
        .bind(u.created_at)
        .bind(u.updated_at)
        .bind(email_skeleton(&u.email))
        .bind(&keys.email)
        .bind(&keys.name)
        .bind(&keys.last_name)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, "users.email"))?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(self.look_alike_conflict(u).await?);
        }
        super::events::record_in(&mut tx, &u.environment_id, u.created_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Why a write guarded by the skeleton did nothing: the same address, or a look-alike.
    async fn look_alike_conflict(&self, u: &User) -> StoreResult<StoreError> {
        let same: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE environment_id = $1 AND email = $2")
            .bind(&u.environment_id)
            .bind(&u.email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(StoreError::Conflict(match same {
            Some(id) if id != u.id => "users.email",
            _ => "users.email_skeleton",
        }))
    }

    /// Whether another user of the environment has an address that looks like `email`
    /// (one lookup on the skeleton index).
    pub async fn email_look_alike_exists(&self, environment_id: &str, email: &str) -> StoreResult<bool> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE environment_id = $1 AND email_skeleton = $2 LIMIT 1")
                .bind(environment_id)
                .bind(email_skeleton(email))
                .fetch_optional(self.reader())
                .await?;
        Ok(found.is_some())
    }

    /// Fills in the skeleton of users stored before migration 10, in batches; returns how many.
    /// Looks per environment, so each probe is a lookup on the skeleton index (where missing
    /// skeletons sort together) rather than a scan of every user at each start.
    pub async fn backfill_email_skeletons(&self) -> StoreResult<u64> {
        let environments: Vec<String> = sqlx::query_scalar("SELECT id FROM environments").fetch_all(&self.pool).await?;
        let mut done = 0;
        for environment_id in &environments {
            done += self.backfill_email_skeletons_of(environment_id).await?;
        }
        Ok(done)
    }

    async fn backfill_email_skeletons_of(&self, environment_id: &str) -> StoreResult<u64> {
        let mut done = 0;
        loop {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT id, email FROM users WHERE environment_id = $1 AND email_skeleton IS NULL LIMIT 500",
            )
            .bind(environment_id)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(done);
            }
            let mut tx = self.begin().await?;
            for (id, email) in &rows {
                sqlx::query("UPDATE users SET email_skeleton = $1 WHERE id = $2")
                    .bind(email_skeleton(email))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            done += rows.len() as u64;
        }
    }

    /// Groups of users whose addresses look alike (same environment, same skeleton), each
    /// group's addresses in creation order; groups by environment, then first address.
    pub async fn email_look_alikes(&self) -> StoreResult<Vec<LookAlikes>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT u.environment_id, u.email_skeleton, u.id, u.email FROM users u \
             JOIN (SELECT environment_id, email_skeleton FROM users WHERE email_skeleton IS NOT NULL \
                   GROUP BY environment_id, email_skeleton HAVING COUNT(*) > 1) d \
               ON d.environment_id = u.environment_id AND d.email_skeleton = u.email_skeleton \
             ORDER BY u.environment_id, u.email_skeleton, u.created_at, u.id",
        )
        .fetch_all(self.reader())
        .await?;
        let mut groups: Vec<LookAlikes> = Vec::new();
        for (environment_id, skeleton, id, email) in rows {
            match groups.last_mut() {
                Some(g) if g.environment_id == environment_id && g.skeleton == skeleton => g.users.push((id, email)),
                _ => groups.push(LookAlikes { environment_id, skeleton, users: vec![(id, email)] }),
            }
        }
        Ok(groups)
    }

    /// Users whose stored address Gatehouse would refuse today (invisible characters, not NFC,
    /// mixed scripts…), by environment and ID. Reads every user, in pages.
    pub async fn invalid_emails(&self) -> StoreResult<Vec<InvalidEmail>> {
        let mut found = Vec::new();
        let mut after = (String::new(), String::new());
        loop {
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT environment_id, id, email FROM users \
                 WHERE environment_id > $1 OR (environment_id = $1 AND id > $2) \
                 ORDER BY environment_id, id LIMIT 1000",
            )
            .bind(&after.0)
            .bind(&after.1)
            .fetch_all(self.reader())
            .await?;
            let Some((environment_id, id, _)) = rows.last() else {
                return Ok(found);
            };
            after = (environment_id.clone(), id.clone());
            for (environment_id, id, email) in rows {
                let problems = stored_email_problems(&email);
                if !problems.is_empty() {
                    found.push(InvalidEmail { environment_id, id, email, problems });
                }
            }
        }
    }

    pub async fn find_user(&self, environment_id: &str, id: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1 AND id = $2"))
            .bind(environment_id)
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn find_user_by_email(&self, environment_id: &str, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1 AND email = $2"))
            .bind(environment_id)
            .bind(email)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn find_user_by_external_id(&self, environment_id: &str, external_id: &str) -> StoreResult<Option<User>> {
        let row =
            sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1 AND external_id = $2"))
                .bind(environment_id)
                .bind(external_id)
                .fetch_optional(self.reader())
                .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// One page of users. `after` walks in list order, `before` against it; the page itself is
    /// always returned in list order.
    pub async fn list_users(&self, environment_id: &str, q: &UserQuery) -> StoreResult<UserPage> {
        let mut sql = format!("SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1");
        let mut args: Vec<String> = Vec::new();
        if let Some(email) = &q.email {
            args.push(email.clone());
            sql.push_str(&format!(" AND email = ${}", args.len() + 1));
        }
        if let Some(org) = &q.organization_id {
            args.push(org.clone());
            sql.push_str(&format!(
                " AND id IN (SELECT user_id FROM organization_memberships WHERE organization_id = ${})",
                args.len() + 1
            ));
        }
        // Walking "after" in desc order means smaller IDs; "before" flips the direction.
        let forward = q.before.is_none();
        let ascending = (q.order == ListOrder::Asc) == forward;
        if let Some(cursor) = q.after.as_ref().filter(|_| forward).or(q.before.as_ref()) {
            args.push(cursor.clone());
            let op = if ascending { ">" } else { "<" };
            sql.push_str(&format!(" AND id {op} ${}", args.len() + 1));
        }
        sql.push_str(if ascending { " ORDER BY id ASC" } else { " ORDER BY id DESC" });
        sql.push_str(&format!(" LIMIT {}", i64::from(q.limit) + 1));
        let mut query = sqlx::query(&sql).bind(environment_id);
        for a in &args {
            query = query.bind(a);
        }
        let rows = query.fetch_all(self.reader()).await?;
        let has_more = rows.len() > q.limit as usize;
        let mut users = rows.iter().take(q.limit as usize).map(user_from_row).collect::<StoreResult<Vec<_>>>()?;
        if !forward {
            users.reverse();
        }
        Ok(UserPage { users, has_more })
    }

    /// Writes every mutable field of `u`, with its events; `Conflict("users.email_skeleton")`
    /// when its new address looks like another user's.
    pub async fn update_user(&self, u: &User, events: &[NewEvent]) -> StoreResult<()> {
        if events.is_empty() {
            if update_user_in(&self.pool, u).await? {
                return Ok(());
            }
            return self.refused_update(u).await;
        }
        let mut tx = self.begin().await?;
        if !update_user_in(&mut *tx, u).await? {
            tx.rollback().await?;
            return self.refused_update(u).await;
        }
        super::events::record_in(&mut tx, &u.environment_id, u.updated_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Why an update changed nothing: a look-alike address, or a user deleted meanwhile (no error).
    async fn refused_update(&self, u: &User) -> StoreResult<()> {
        let other: Option<String> = sqlx::query_scalar(
            "SELECT id FROM users WHERE environment_id = $1 AND email_skeleton = $2 AND id <> $3 LIMIT 1",
        )
        .bind(&u.environment_id)
        .bind(email_skeleton(&u.email))
        .bind(&u.id)
        .fetch_optional(&self.pool)
        .await?;
        match other {
            Some(_) => Err(StoreError::Conflict("users.email_skeleton")),
            None => Ok(()),
        }
    }

    /// Updates the user and ends all of their sessions in one transaction (password change),
    /// with its events.
    pub async fn update_user_revoking_sessions(&self, u: &User, now: Millis, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let mut all = super::sessions::end_user_sessions_in(&mut tx, &u.id, now).await?;
        if !update_user_in(&mut *tx, u).await? {
            tx.rollback().await?;
            return self.refused_update(u).await;
        }
        all.extend_from_slice(events);
        super::events::record_in(&mut tx, &u.environment_id, now, &all).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a rehashed password (after verifying an imported or outdated hash).
    pub async fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = $1, version = version + 1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes a user with their sessions, refresh tokens and codes, atomically; the events
    /// are written only if the user was there.
    pub async fn delete_user(
        &self,
        environment_id: &str,
        id: &str,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM authorization_codes WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM users WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            super::events::record_in(&mut tx, environment_id, now, events).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}

async fn update_user_in<'e, E>(executor: E, u: &User) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let keys = search_keys(u);
    // A new address must not look like another user's; an unchanged one stays as it is, even
    // beside a look-alike stored before the check existed.
    let updated = sqlx::query(
        "UPDATE users SET email = $1, email_verified = $2, first_name = $3, last_name = $4, profile_picture_url = $5, \
         external_id = $6, metadata = $7, locale = $8, password_hash = $9, last_sign_in_at = $10, updated_at = $11, \
         email_skeleton = $14, search_email = $15, search_name = $16, search_last = $17, version = version + 1 \
         WHERE id = $12 AND environment_id = $13 AND (email = $1 OR NOT EXISTS \
           (SELECT 1 FROM users o WHERE o.environment_id = $13 AND o.email_skeleton = $14 AND o.id <> $12))",
    )
    .bind(&u.email)
    .bind(i64::from(u.email_verified))
    .bind(&u.first_name)
    .bind(&u.last_name)
    .bind(&u.profile_picture_url)
    .bind(&u.external_id)
    .bind(metadata_json(u))
    .bind(&u.locale)
    .bind(&u.password_hash)
    .bind(u.last_sign_in_at)
    .bind(u.updated_at)
    .bind(&u.id)
    .bind(&u.environment_id)
    .bind(email_skeleton(&u.email))
    .bind(&keys.email)
    .bind(&keys.name)
    .bind(&keys.last_name)
    .execute(executor)
    .await
    .map_err(|e| conflict(e, "users.email"))?;
    Ok(updated.rows_affected() > 0)
}

impl Store {
    /// Hands an account whose email was never verified to whoever has just proved the address
    /// (an emailed code, a reset link, a verified upstream email), in one transaction: the email
    /// becomes verified, every session ends, and whatever an earlier holder could have set up to
    /// keep access goes: the password (replaced by `password_hash`, if the proof came with one),
    /// authenticator apps and their recovery codes, passkeys, and security sessions.
    /// `user` is the account as it stands after the claim (its password hash the new one); the
    /// events are written with it.
    pub async fn claim_unverified_account(&self, user: &User, now: Millis, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let mut all = claim_account_in(&mut tx, &user.id, user.password_hash.as_deref(), now).await?;
        all.extend_from_slice(events);
        super::events::record_in(&mut tx, &user.environment_id, now, &all).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The statements of `claim_unverified_account`, for use inside a caller's transaction.
/// Returns the `session.revoked` events of the live sessions it ended, for the caller to record.
pub(super) async fn claim_account_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    password_hash: Option<&str>,
    now: Millis,
) -> StoreResult<Vec<NewEvent>> {
    sqlx::query(
        "UPDATE users SET email_verified = 1, password_hash = $1, updated_at = $2, version = version + 1 WHERE id = $3",
    )
    .bind(password_hash)
    .bind(now)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    let revoked = super::sessions::end_user_sessions_in(conn, user_id, now).await?;
    for table in ["recovery_codes", "auth_factors", "passkeys", "security_sessions"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1")).bind(user_id).execute(&mut *conn).await?;
    }
    Ok(revoked)
}
