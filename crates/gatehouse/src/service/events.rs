//! The Events API: listing an environment's event log (`GET /events`). Events themselves are
//! written by the use cases that make the changes, through their store methods.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use super::auth::RequestInfo;
use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::domain::audit::Actor;
use crate::domain::environment::Environment;
use crate::domain::event::{Attempted, AuthenticationKind, Event, EventQuery, NewEvent, is_known_type};
use crate::domain::listing::ListOrder;
use crate::domain::user::User;

/// Who a request acts for, named once its handler has checked it (the console's `Change`,
/// the API's `ApiCaller`): every event the request writes without an actor of its own records
/// this one (`events.actor`, `gatehouse events --actor`, the console's Activity page).
#[derive(Clone, Debug, Default)]
pub struct RequestActor(Arc<OnceLock<String>>);

impl RequestActor {
    /// Names the actor; the first one named stays.
    pub fn set(&self, actor: &Actor) {
        let _ = self.0.set(actor.key().to_owned());
    }

    /// Runs `request` as this actor's.
    pub async fn scope<F: Future>(self, request: F) -> F::Output {
        crate::store::with_request_actor(self.0, request).await
    }
}

/// Days events are kept by default.
pub const DEFAULT_EVENTS_KEPT_DAYS: i64 = 30;

/// Event retention and webhook delivery settings.
#[derive(Clone, Debug)]
pub struct EventsConfig {
    /// Days events stay in the log before the housekeeping deletes them.
    pub kept_days: i64,
    /// Whether webhook endpoints may resolve to loopback, link-local or private addresses.
    pub webhooks_allow_private: bool,
    /// How long a webhook receiver has to answer, and the worker's pause between passes.
    pub webhook_timeout_ms: u64,
    pub webhook_poll_ms: u64,
}

impl Default for EventsConfig {
    fn default() -> EventsConfig {
        EventsConfig {
            kept_days: DEFAULT_EVENTS_KEPT_DAYS,
            webhooks_allow_private: false,
            webhook_timeout_ms: 10_000,
            webhook_poll_ms: 1_000,
        }
    }
}

/// `GET /events` as asked: filters still in wire form, checked by `list_events`.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub events: Vec<String>,
    pub organization_id: Option<String>,
    pub range_start: Option<String>,
    pub range_end: Option<String>,
    pub after: Option<String>,
    pub limit: u32,
    pub order: Option<ListOrder>,
    /// Only the audit events (`gatehouse.*`; `GET /events` lists them only when asked for by
    /// type), or only those of this actor.
    pub audit: bool,
    pub actor: Option<String>,
}

/// Parses an ISO-8601 / RFC 3339 time (`2024-01-01T00:00:00Z`, `2024-01-01T00:00:00.000Z`,
/// or a date alone, taken as its midnight UTC) into Unix milliseconds.
fn parse_time(field: &str, value: &str) -> Result<Millis> {
    use time::format_description::well_known::Rfc3339;
    let parsed = time::OffsetDateTime::parse(value, &Rfc3339).or_else(|_| {
        time::Date::parse(value, &time::macros::format_description!("[year]-[month]-[day]"))
            .map(|d| d.midnight().assume_utc())
    });
    match parsed {
        Ok(t) => Ok(Millis::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)),
        Err(_) => {
            Err(Error::validation(field, "invalid_date", format!("{field} must be an ISO-8601 date, not '{value}'.")))
        }
    }
}

impl Core {
    /// Records `authentication.<kind>_failed` for a refused sign-in (its own transaction: a
    /// refusal changes nothing else). `user` is the account tried, when there is one, else
    /// `email` the address typed, if any (a passkey or a provider that failed names nobody);
    /// `info` the client.
    pub(super) async fn record_failed_sign_in(
        &self,
        env_id: &str,
        kind: AuthenticationKind,
        user: Option<&User>,
        email: Option<&str>,
        info: Option<&RequestInfo>,
        error: (&str, &str),
    ) -> Result<()> {
        let ip = info.and_then(RequestInfo::ip_address);
        let who = Attempted {
            user_id: user.map(|u| u.id.as_str()),
            email: user.map(|u| u.email.as_str()).or(email),
            ip_address: ip.as_deref(),
            user_agent: info.and_then(|i| i.user_agent.as_deref()),
        };
        let event = NewEvent::authentication_failed(kind, who, error.0, error.1);
        self.store.record_events(env_id, self.now(), &[event]).await?;
        Ok(())
    }

    /// One page of the environment's events, oldest first unless `order` says otherwise.
    /// `after` is an event ID: the page continues right after it in log order, so a reader
    /// that saves the last ID it handled never misses or repeats an event (`store::events`).
    pub async fn list_events(&self, env: &Environment, filter: EventFilter) -> Result<(Vec<Event>, bool)> {
        for name in &filter.events {
            if !is_known_type(name) {
                return Err(Error::validation(
                    "events",
                    "unknown_event_type",
                    format!("'{name}' is not an event type Gatehouse records."),
                ));
            }
        }
        let range_start = filter.range_start.as_deref().map(|v| parse_time("range_start", v)).transpose()?;
        let range_end = filter.range_end.as_deref().map(|v| parse_time("range_end", v)).transpose()?;
        if let (Some(start), Some(end)) = (range_start, range_end)
            && start > end
        {
            return Err(Error::validation("range_end", "invalid_range", "range_end must not be before range_start."));
        }
        let after_seq = match &filter.after {
            None => None,
            Some(id) => Some(self.store.event_seq(&env.id, id).await?.ok_or_else(|| {
                Error::validation(
                    "after",
                    "invalid_cursor",
                    format!("No event '{id}' is kept; it may be older than the retention period."),
                )
            })?),
        };
        let query = EventQuery {
            events: filter.events,
            organization_id: filter.organization_id,
            range_start,
            range_end,
            after_seq,
            audit: filter.audit || filter.actor.is_some(),
            actor: filter.actor,
            limit: filter.limit,
            order: filter.order.unwrap_or(ListOrder::Asc),
        };
        Ok(self.store.list_events(&env.id, &query).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_dates() {
        assert_eq!(parse_time("t", "1970-01-01T00:00:01.500Z").unwrap(), 1500);
        assert_eq!(parse_time("t", "1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_time("t", "2024-01-01T01:00:00+01:00").unwrap(), 1_704_067_200_000);
        assert!(parse_time("t", "yesterday").is_err());
    }
}
