//! `object: "event"` (`GET /events`, and the body of every webhook delivery).

use serde::Serialize;

use super::time;
use crate::domain::event::Event as DomainEvent;

#[derive(Serialize)]
pub struct Event<'a> {
    object: &'static str,
    id: &'a str,
    event: &'a str,
    /// The payload as recorded (its shape is fixed when the event is written, in
    /// `domain::event`).
    data: serde_json::Value,
    created_at: String,
    context: serde_json::Map<String, serde_json::Value>,
}

impl<'a> From<&'a DomainEvent> for Event<'a> {
    fn from(e: &'a DomainEvent) -> Event<'a> {
        Event {
            object: "event",
            id: &e.id,
            event: &e.event,
            data: serde_json::from_str(&e.data).unwrap_or_else(|_| serde_json::Value::Object(serde_json::Map::new())),
            created_at: time(e.created_at),
            context: serde_json::Map::new(),
        }
    }
}
