//! Queued email: a message waits in the outbox until the delivery worker has handed it to the
//! SMTP server (or, in development without SMTP, to the log).

use crate::clock::Millis;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxEmail {
    pub id: String,
    pub environment_id: String,
    /// What the message is for: `magic_auth`, `email_verification`, `password_reset`.
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    /// The sealed text and HTML parts; cleared once delivered or given up on.
    pub sealed_body: Option<String>,
    /// `pending`, `sent`, `logged` (development without SMTP) or `failed` (gave up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub sent_at: Option<Millis>,
}
