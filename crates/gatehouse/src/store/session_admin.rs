//! Sessions as the console sees them: an environment's live sessions in pages, and ending all
//! of one user's sessions at once.

use super::sessions::SESSION_COLUMNS;
use super::{Store, StoreResult};
use crate::clock::Millis;
use crate::domain::event::NewEvent;
use crate::domain::listing::{Cursor, Page};
use crate::domain::session::Session;

impl Store {
    /// Ends every open session of a user of `environment_id`, with a `session.revoked` event
    /// for each live one, in one transaction; returns how many live sessions ended.
    pub async fn end_user_sessions(&self, environment_id: &str, user_id: &str, now: Millis) -> StoreResult<usize> {
        let mut tx = self.begin().await?;
        let owned: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        if owned.is_none() {
            tx.rollback().await?;
            return Ok(0);
        }
        let events: Vec<NewEvent> = super::sessions::end_user_sessions_in(&mut tx, user_id, now).await?;
        super::events::record_in(&mut tx, environment_id, now, &events).await?;
        tx.commit().await?;
        Ok(events.len())
    }

    /// One page of the environment's live sessions (not ended, not expired), newest first by
    /// default.
    pub async fn list_live_sessions(
        &self,
        environment_id: &str,
        now: Millis,
        cursor: &Cursor,
    ) -> StoreResult<Page<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE environment_id = $1 AND ended_at IS NULL AND expires_at > {now}"
        );
        super::organizations::fetch_page_as(self.reader(), sql, vec![environment_id.to_owned()], cursor, "id").await
    }
}
