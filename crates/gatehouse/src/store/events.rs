//! The event log. Store methods that change something call `record_in` with their
//! transaction, last, so an event exists if and only if its change committed; adding an event
//! to a use case is one `NewEvent` handed to the store method that makes the change.
//!
//! **Order without gaps.** `GET /events?after=…` walks an environment's events by `seq`, and a
//! reader must never see event N+1 committed while N is still to come, or it would move its
//! cursor past N for good. A database sequence does not give that on PostgreSQL (a transaction
//! can take 5, another 6 and commit first). So each writing transaction takes its numbers from
//! its environment's `event_counters` row with one `INSERT … ON CONFLICT DO UPDATE … RETURNING`:
//! the row stays locked until that transaction ends, so the next writer of the environment gets
//! its numbers only after the previous one is visible, and every snapshot holds a prefix of
//! the log. On SQLite the single writer connection serialises the same way. The cost is that
//! event-writing transactions of one environment queue for the few microseconds between that
//! statement and their commit; it is the last statement of each, and refreshes write no event.
//!
//! **Who.** An event that names no actor gets the one of the request being served, when its
//! handler has named one (`with_request_actor`): the console's operator or the API key, so a
//! `user.updated` made in the console says who made it, without every use case shared by the
//! API, the CLI and the console taking an actor it would only pass through.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use sqlx::AnyConnection;

use super::{Store, StoreResult};
use crate::clock::Millis;
use crate::domain::event::{Event, EventQuery, NewEvent};
use crate::domain::listing::ListOrder;
use crate::ids::new_id;

pub(super) const EVENT_COLUMNS: &str =
    "id, environment_id, seq, event, data, organization_id, actor, before_data, created_at";

/// Leaves out audit events (`domain::audit`) where a query asks for no type in particular.
pub(super) const NOT_AUDIT: &str = " AND event NOT LIKE 'gatehouse.%'";

tokio::task_local! {
    /// The actor of the request this task serves, once its handler knows it.
    static REQUEST_ACTOR: Arc<OnceLock<String>>;
}

/// Runs `work` (a request) with `slot` as its actor: events written inside it that name no
/// actor are recorded with the slot's key (`domain::audit::Actor::key`), once it is set.
pub async fn with_request_actor<F: Future>(slot: Arc<OnceLock<String>>, work: F) -> F::Output {
    REQUEST_ACTOR.scope(slot, work).await
}

fn request_actor() -> Option<String> {
    REQUEST_ACTOR.try_with(|slot| slot.get().cloned()).ok().flatten()
}

/// Writes `events` for `environment_id` inside the caller's transaction. Call it as the last
/// statement before the commit (it holds the environment's counter row until then).
pub(super) async fn record_in(
    conn: &mut AnyConnection,
    environment_id: &str,
    now: Millis,
    events: &[NewEvent],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO event_counters (environment_id, seq) VALUES ($1, $2) \
         ON CONFLICT (environment_id) DO UPDATE SET seq = event_counters.seq + $2 RETURNING seq",
    )
    .bind(environment_id)
    .bind(count)
    .fetch_one(&mut *conn)
    .await?;
    let mut sql = format!("INSERT INTO events ({EVENT_COLUMNS}) VALUES ");
    for i in 0..events.len() {
        let p = i * 9;
        if i > 0 {
            sql.push_str(", ");
        }
        let marks: Vec<String> = (1..=9).map(|k| format!("${}", p + k)).collect();
        sql.push_str(&format!("({})", marks.join(", ")));
    }
    let request_actor = request_actor();
    let mut query = sqlx::query(&sql);
    for (i, e) in events.iter().enumerate() {
        let seq = last - count + 1 + i64::try_from(i).unwrap_or(0);
        query = query
            .bind(new_id("event"))
            .bind(environment_id)
            .bind(seq)
            .bind(e.event)
            .bind(&e.data)
            .bind(&e.organization_id)
            .bind(e.actor.as_ref().or(request_actor.as_ref()))
            .bind(&e.before)
            .bind(now);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

impl Store {
    /// Records events that go with no other change (a failed sign-in), in one transaction.
    pub async fn record_events(&self, environment_id: &str, now: Millis, events: &[NewEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        record_in(&mut tx, environment_id, now, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The position of an event in its environment's log, if it is still kept.
    pub async fn event_seq(&self, environment_id: &str, id: &str) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT seq FROM events WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .fetch_optional(self.reader())
            .await?)
    }

    /// One page of events in log order (`Asc`) or against it; `has_more` says whether more
    /// match beyond the page.
    pub async fn list_events(&self, environment_id: &str, q: &EventQuery) -> StoreResult<(Vec<Event>, bool)> {
        let ascending = q.order == ListOrder::Asc;
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE environment_id = $1");
        let mut n = 1;
        let mut next = || {
            n += 1;
            n
        };
        if q.after_seq.is_some() {
            sql.push_str(&format!(" AND seq {} ${}", if ascending { ">" } else { "<" }, next()));
        }
        if q.events.is_empty() && q.audit {
            sql.push_str(" AND event LIKE 'gatehouse.%'");
        } else if q.events.is_empty() {
            sql.push_str(NOT_AUDIT);
        } else {
            let marks: Vec<String> = q.events.iter().map(|_| format!("${}", next())).collect();
            sql.push_str(&format!(" AND event IN ({})", marks.join(", ")));
        }
        if q.actor.is_some() {
            sql.push_str(&format!(" AND actor = ${}", next()));
        }
        if q.organization_id.is_some() {
            sql.push_str(&format!(" AND organization_id = ${}", next()));
        }
        if q.range_start.is_some() {
            sql.push_str(&format!(" AND created_at >= ${}", next()));
        }
        if q.range_end.is_some() {
            sql.push_str(&format!(" AND created_at < ${}", next()));
        }
        sql.push_str(if ascending { " ORDER BY seq ASC" } else { " ORDER BY seq DESC" });
        sql.push_str(&format!(" LIMIT {}", i64::from(q.limit) + 1));
        let mut query = sqlx::query_as::<_, Event>(&sql).bind(environment_id);
        if let Some(seq) = q.after_seq {
            query = query.bind(seq);
        }
        for e in &q.events {
            query = query.bind(e);
        }
        if let Some(actor) = &q.actor {
            query = query.bind(actor);
        }
        if let Some(org) = &q.organization_id {
            query = query.bind(org);
        }
        if let Some(t) = q.range_start {
            query = query.bind(t);
        }
        if let Some(t) = q.range_end {
            query = query.bind(t);
        }
        let mut events = query.fetch_all(self.reader()).await?;
        let has_more = events.len() > q.limit as usize;
        events.truncate(q.limit as usize);
        Ok((events, has_more))
    }
}
