//! `object: "webhook_endpoint"` (`/webhook_endpoints`), and Gatehouse's own
//! `webhook_delivery` (an endpoint's delivery log).

use serde::Serialize;

use super::time;
use crate::domain::webhook::{Delivery, WebhookEndpoint as DomainEndpoint};

#[derive(Serialize)]
pub struct WebhookEndpoint<'a> {
    object: &'static str,
    id: &'a str,
    endpoint_url: &'a str,
    /// Shown on every read, as WorkOS does: it signs the deliveries.
    secret: &'a str,
    status: &'static str,
    events: &'a [String],
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a DomainEndpoint> for WebhookEndpoint<'a> {
    fn from(e: &'a DomainEndpoint) -> WebhookEndpoint<'a> {
        WebhookEndpoint {
            object: "webhook_endpoint",
            id: &e.id,
            endpoint_url: &e.endpoint_url,
            secret: &e.secret,
            status: e.status(),
            events: &e.events,
            created_at: time(e.created_at),
            updated_at: time(e.updated_at),
        }
    }
}

#[derive(Serialize)]
pub struct WebhookDelivery<'a> {
    object: &'static str,
    id: &'a str,
    endpoint_id: &'a str,
    event_id: &'a str,
    event: &'a str,
    attempt: i64,
    /// The receiver's HTTP status, `null` when there was no answer.
    status_code: Option<i64>,
    succeeded: bool,
    error: Option<&'a str>,
    duration_ms: i64,
    created_at: String,
}

impl<'a> From<&'a Delivery> for WebhookDelivery<'a> {
    fn from(d: &'a Delivery) -> WebhookDelivery<'a> {
        WebhookDelivery {
            object: "webhook_delivery",
            id: &d.id,
            endpoint_id: &d.endpoint_id,
            event_id: &d.event_id,
            event: &d.event,
            attempt: d.attempt,
            status_code: d.status_code,
            succeeded: d.succeeded != 0,
            error: d.error.as_deref(),
            duration_ms: d.duration_ms,
            created_at: time(d.created_at),
        }
    }
}
