//! Webhook endpoints and their deliveries: what is stored, the URL rules that need no network,
//! and the retry schedule.

use serde::Serialize;

use crate::clock::Millis;
use crate::domain::event::Event;

const SEC: Millis = 1000;
const MIN: Millis = 60 * SEC;
const HOUR: Millis = 60 * MIN;

/// How long an endpoint may fail the event at its head before it is disabled.
pub const DISABLE_AFTER_MS: Millis = 72 * HOUR;

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// A webhook endpoint (`we_…`). `secret` is the plaintext, opened by the service.
#[derive(Clone, Debug)]
pub struct WebhookEndpoint {
    pub id: String,
    pub environment_id: String,
    pub endpoint_url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub enabled: bool,
    /// The position in the event log up to which this endpoint has been served.
    pub cursor_seq: i64,
    /// Failed attempts at the event at the head, and when the first of them was.
    pub attempts: i64,
    pub failing_since: Option<Millis>,
    pub next_attempt_at: Millis,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl WebhookEndpoint {
    pub fn status(&self) -> &'static str {
        if self.enabled { "enabled" } else { "disabled" }
    }
}

/// One attempt to deliver an event to an endpoint.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Delivery {
    pub id: String,
    pub environment_id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event: String,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub succeeded: i64,
    pub duration_ms: i64,
    pub created_at: Millis,
}

/// The wait before the next attempt after `attempts` failures: 10 s doubling, at most an hour,
/// so three days of failures are about 80 attempts.
pub fn backoff_ms(attempts: i64) -> Millis {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    (10 * SEC).saturating_mul(1_i64 << exp).min(HOUR)
}

/// Why an endpoint URL is refused before any lookup.
pub fn check_url_shape(raw: &str) -> Result<url::Url, &'static str> {
    if raw.len() > MAX_URL_LEN {
        return Err("The endpoint URL is too long.");
    }
    let url = url::Url::parse(raw).map_err(|_| "The endpoint URL is not a valid URL.")?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("The endpoint URL must use https (or http).");
    }
    if url.host().is_none() {
        return Err("The endpoint URL has no host.");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("The endpoint URL must not contain credentials.");
    }
    if url.fragment().is_some() {
        return Err("The endpoint URL must not contain a fragment.");
    }
    Ok(url)
}

/// The body of a delivery: the event as `GET /events` shows it (`web::wire::Event` renders the
/// same; `web::wire::tests` checks they match).
#[derive(Serialize)]
struct Body<'a> {
    object: &'static str,
    id: &'a str,
    event: &'a str,
    data: serde_json::Value,
    created_at: String,
    context: serde_json::Map<String, serde_json::Value>,
}

/// The JSON a webhook delivery posts for `event`.
pub fn delivery_body(event: &Event) -> String {
    let data = serde_json::from_str(&event.data).unwrap_or_else(|_| serde_json::Value::Object(serde_json::Map::new()));
    let body = Body {
        object: "event",
        id: &event.id,
        event: &event.event,
        data,
        created_at: crate::clock::iso8601(event.created_at),
        context: serde_json::Map::new(),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour() {
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(2), 20_000);
        assert_eq!(backoff_ms(30), HOUR);
    }

    #[test]
    fn url_shapes() {
        assert!(check_url_shape("https://example.com/hooks").is_ok());
        assert!(check_url_shape("ftp://example.com/").is_err());
        assert!(check_url_shape("not a url").is_err());
        assert!(check_url_shape("https://user:pw@example.com/").is_err());
        assert!(check_url_shape(&format!("https://example.com/{}", "a".repeat(3000))).is_err());
    }
}
