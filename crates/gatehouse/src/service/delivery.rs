//! The delivery worker: drains the email outbox over SMTP with retries and backoff. Without
//! SMTP, development messages go to the log and the development outbox page instead.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use super::Core;
use crate::clock::Millis;
use crate::domain::outbox::OutboxEmail;

/// Attempts before a message is given up on (about two hours of retries).
const MAX_ATTEMPTS: i64 = 12;
/// How long a claimed message is reserved for the process sending it.
const LEASE_MS: Millis = 60_000;

/// The wait before attempt `attempts + 1`: 5 s doubling, at most 30 minutes.
pub fn backoff_ms(attempts: i64) -> Millis {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    (5_000_i64.saturating_mul(1_i64 << exp)).min(30 * 60_000)
}

enum Outcome {
    Sent,
    Logged,
    Retry(String),
    GiveUp(String),
}

/// Runs until the process ends.
pub async fn run(core: Core) {
    // The transport follows the configuration: settings saved in the console apply at once.
    let mut url: Option<String> = None;
    let mut transport = None;
    loop {
        let config = core.email_config();
        if config.smtp_url != url {
            url.clone_from(&config.smtp_url);
            transport = url.as_deref().and_then(build_transport);
        }
        if let Err(e) = drain(&core, transport.as_ref()).await {
            tracing::warn!(error = %e, "email delivery pass failed");
        }
        tokio::select! {
            () = core.outbox_ready.notified() => {},
            () = tokio::time::sleep(Duration::from_secs(2)) => {},
        }
    }
}

fn build_transport(url: &str) -> Option<AsyncSmtpTransport<Tokio1Executor>> {
    match AsyncSmtpTransport::<Tokio1Executor>::from_url(url) {
        Ok(builder) => Some(builder.timeout(Some(Duration::from_secs(20))).build()),
        Err(e) => {
            tracing::error!(error = %e, "the SMTP URL is not valid; emails will wait in the outbox");
            None
        }
    }
}

/// One pass: claim due messages and try each once.
pub async fn drain(core: &Core, transport: Option<&AsyncSmtpTransport<Tokio1Executor>>) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let due = core.store.claim_due_emails(core.now(), LEASE_MS, 20).await?;
        if due.is_empty() {
            return Ok(total);
        }
        total += due.len();
        for email in due {
            let outcome = deliver(core, transport, &email).await;
            let now = core.now();
            match outcome {
                Outcome::Sent => {
                    core.store.mark_email_delivered(&email.id, "sent", false, now).await?;
                    tracing::info!(email.id = %email.id, kind = %email.kind, "email sent");
                }
                Outcome::Logged => core.store.mark_email_delivered(&email.id, "logged", true, now).await?,
                Outcome::Retry(error) if email.attempts < MAX_ATTEMPTS => {
                    let at = now + backoff_ms(email.attempts);
                    tracing::warn!(email.id = %email.id, attempt = email.attempts, error = %error, "email not sent; will retry");
                    core.store.mark_email_failed(&email.id, &error, Some(at)).await?;
                }
                Outcome::Retry(error) | Outcome::GiveUp(error) => {
                    tracing::error!(email.id = %email.id, error = %error, "email given up on");
                    core.store.mark_email_failed(&email.id, &error, None).await?;
                }
            }
        }
    }
}

async fn deliver(core: &Core, transport: Option<&AsyncSmtpTransport<Tokio1Executor>>, email: &OutboxEmail) -> Outcome {
    let Some(body) = core.open_email_body(email) else {
        return Outcome::GiveUp("the message body cannot be opened (was GATEHOUSE_SECRET_KEY changed?)".into());
    };
    let Some(transport) = transport else {
        let development =
            core.store.find_environment(&email.environment_id).await.ok().flatten().is_some_and(|e| e.is_development());
        if !development {
            return Outcome::Retry("SMTP is not configured (set GATEHOUSE_SMTP_URL)".into());
        }
        // Development without SMTP: the log and the /dev/emails page are the mailbox.
        tracing::info!(
            to = %email.to_address,
            subject = %body.subject,
            "development email (no SMTP configured; also at /dev/emails):\n{}",
            body.text
        );
        return Outcome::Logged;
    };
    let from = match core.email_config().from.parse::<Mailbox>() {
        Ok(f) => f,
        Err(e) => return Outcome::Retry(format!("GATEHOUSE_EMAIL_FROM is not a valid address: {e}")),
    };
    let to = match email.to_address.parse::<Mailbox>() {
        Ok(t) => t,
        Err(e) => return Outcome::GiveUp(format!("invalid recipient: {e}")),
    };
    let message = match Message::builder()
        .from(from)
        .to(to)
        .subject(if body.subject.is_empty() { email.subject.clone() } else { body.subject.clone() })
        .multipart(MultiPart::alternative_plain_html(body.text, body.html))
    {
        Ok(m) => m,
        Err(e) => return Outcome::GiveUp(format!("the message could not be built: {e}")),
    };
    match transport.send(message).await {
        Ok(_) => Outcome::Sent,
        Err(e) if e.is_permanent() => Outcome::GiveUp(format!("the SMTP server refused the message: {e}")),
        Err(e) => Outcome::Retry(format!("SMTP: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(1), 5_000);
        assert_eq!(backoff_ms(2), 10_000);
        assert_eq!(backoff_ms(5), 80_000);
        assert_eq!(backoff_ms(12), 30 * 60_000);
    }
}
