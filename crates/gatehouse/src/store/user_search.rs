//! The console's user search (`domain::user_search`): users whose email address, full name or
//! last name starts with a query, newest first, in pages that continue from a user ID.
//!
//! Two ways to answer, chosen per query so that no page reads much more than it shows:
//!
//! * **Few matches** (each key column has at most `NARROW` in range): each of the three index
//!   ranges (`(environment_id, key, id)`, index-only) gives its newest IDs past the cursor, at
//!   most a page and one each (the database sorts at most `NARROW`); the page is the newest of
//!   their union, de-duplicated here, and its users are read by ID.
//! * **Many matches**: walk the environment's users newest first (`users_by_environment`) and
//!   keep those with a key in range. More than `NARROW` of the users match, so a page of `n`
//!   reads about `n × users / NARROW` rows at most: 10,000 for a page of 50 at a million users,
//!   and far fewer for the broad queries that get here (a few letters).
//!
//! Ordering by key instead (the smallest matching key of each user) looks natural but is
//! unbounded: with addresses like `first.last@…`, the name key `first last` sorts before the
//! address, so the address range is full of users already shown, and a page had to skip them
//! all (1.5 s at 100,000 users).

use super::users::user_from_row;
use super::{Store, StoreResult};
use crate::domain::listing::UserPage;
use crate::domain::user_search::{SearchKeys, UserSearch, search_keys};

/// The key columns.
const KEY_COLUMNS: [&str; 3] = ["search_email", "search_name", "search_last"];

/// The most matches per key column answered from the key indexes.
pub const NARROW: usize = 5_000;

const USER_COLUMNS: &str = "id, environment_id, email, email_verified, first_name, last_name, profile_picture_url, \
     external_id, metadata, locale, password_hash, last_sign_in_at, created_at, updated_at";

/// The condition "some key is in `[$2, $3)`".
fn any_key_in_range() -> String {
    let parts: Vec<String> = KEY_COLUMNS.iter().map(|c| format!("({c} >= $2 AND {c} < $3)")).collect();
    format!("({})", parts.join(" OR "))
}

impl Store {
    /// One page of the users of `environment_id` with a key in `q.range`, newest first.
    pub async fn search_users(&self, environment_id: &str, q: &UserSearch) -> StoreResult<UserPage> {
        // Each range gives its size (capped) and its newest `limit + 1` past the cursor, in one
        // query: the range is read once, through its own index, in a subquery whose LIMIT caps
        // it and keeps the planners from merging it (asked directly, SQLite walks
        // `(environment_id, id)` from the cursor instead, which for a range with few keys past
        // the cursor reads every older user). Keys outside the cursor sort last rather than
        // being filtered out, so a range with nothing past the cursor still reports its size.
        // (Counting first, then reading the IDs, read each range twice: on PostgreSQL, before
        // the vacuum marks the pages all-visible, every entry is a heap fetch.)
        let backward = q.before.is_some();
        let cursor = if backward { q.before.as_ref() } else { q.after.as_ref() };
        let (cmp, order) = if backward { (">", "ASC") } else { ("<", "DESC") };
        let mut ids: Vec<String> = Vec::new();
        for col in KEY_COLUMNS {
            let mut sql = format!(
                "SELECT id, n FROM (SELECT id, COUNT(*) OVER () AS n FROM (SELECT id FROM users \
                 WHERE environment_id = $1 AND {col} >= $2 AND {col} < $3 LIMIT {}) capped) in_range ORDER BY ",
                NARROW + 1
            );
            if cursor.is_some() {
                sql.push_str(&format!("CASE WHEN id {cmp} $4 THEN 0 ELSE 1 END, "));
            }
            sql.push_str(&format!("id {order} LIMIT {}", i64::from(q.limit) + 1));
            let mut query =
                sqlx::query_as::<_, (String, i64)>(&sql).bind(environment_id).bind(&q.range.lo).bind(&q.range.hi);
            if let Some(c) = cursor {
                query = query.bind(c);
            }
            let rows = query.fetch_all(self.reader()).await?;
            if rows.first().is_some_and(|(_, n)| *n > NARROW as i64) {
                return self.scan_users(environment_id, q).await;
            }
            ids.extend(rows.into_iter().map(|(id, _)| id).filter(|id| match cursor {
                Some(c) if backward => id > c,
                Some(c) => id < c,
                None => true,
            }));
        }
        // Closest to the cursor first (newest first going forward, oldest first going back).
        if backward {
            ids.sort_unstable();
        } else {
            ids.sort_unstable_by(|a, b| b.cmp(a));
        }
        ids.dedup();
        let has_more = ids.len() > q.limit as usize;
        ids.truncate(q.limit as usize);
        let page = ids;
        if page.is_empty() {
            return Ok(UserPage { users: Vec::new(), has_more });
        }
        let marks: Vec<String> = (0..page.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1 AND id IN ({}) ORDER BY id DESC",
            marks.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(environment_id);
        for id in &page {
            query = query.bind(id);
        }
        let rows = query.fetch_all(self.reader()).await?;
        let users = rows.iter().map(user_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(UserPage { users, has_more })
    }

    /// The broad case: newest users first, keeping those with a key in range.
    async fn scan_users(&self, environment_id: &str, q: &UserSearch) -> StoreResult<UserPage> {
        let backward = q.before.is_some();
        let cursor = if backward { q.before.as_ref() } else { q.after.as_ref() };
        let mut sql = format!("SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1 AND {}", any_key_in_range());
        if cursor.is_some() {
            sql.push_str(if backward { " AND id > $4" } else { " AND id < $4" });
        }
        sql.push_str(if backward { " ORDER BY id ASC" } else { " ORDER BY id DESC" });
        sql.push_str(&format!(" LIMIT {}", i64::from(q.limit) + 1));
        let mut query = sqlx::query(&sql).bind(environment_id).bind(&q.range.lo).bind(&q.range.hi);
        if let Some(c) = cursor {
            query = query.bind(c);
        }
        let rows = query.fetch_all(self.reader()).await?;
        let has_more = rows.len() > q.limit as usize;
        let mut users = rows.iter().take(q.limit as usize).map(user_from_row).collect::<StoreResult<Vec<_>>>()?;
        if backward {
            users.reverse();
        }
        Ok(UserPage { users, has_more })
    }

    /// Fills in the search keys of users stored before migration 15, in batches; returns how many.
    /// Looks per environment, so each probe is a lookup on `users_by_search_email` (where the
    /// missing keys sort together) rather than a scan of every user at each start.
    pub async fn backfill_search_keys(&self) -> StoreResult<u64> {
        let environments: Vec<String> = sqlx::query_scalar("SELECT id FROM environments").fetch_all(&self.pool).await?;
        let mut done = 0;
        for environment_id in &environments {
            done += self.backfill_search_keys_of(environment_id).await?;
        }
        Ok(done)
    }

    async fn backfill_search_keys_of(&self, environment_id: &str) -> StoreResult<u64> {
        let mut done = 0;
        loop {
            let rows = sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1 AND search_email IS NULL LIMIT 500"
            ))
            .bind(environment_id)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(done);
            }
            let mut tx = self.begin().await?;
            for row in &rows {
                let user = user_from_row(row)?;
                let SearchKeys { email, name, last_name } = search_keys(&user);
                // An address always has a key; a blank one (never stored) gets "" so the batch ends.
                sqlx::query("UPDATE users SET search_email = $1, search_name = $2, search_last = $3 WHERE id = $4")
                    .bind(email.unwrap_or_default())
                    .bind(name)
                    .bind(last_name)
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            done += rows.len() as u64;
        }
    }
}
