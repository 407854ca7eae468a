//! `gatehouse emails` and `gatehouse email …`: recent deliveries, and the SMTP settings kept
//! in the database (environment variables take precedence over them).

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::json;

use super::Output;
use crate::clock::iso8601;
use crate::service::Core;
use crate::store::redact_url;

#[derive(Subcommand, Debug)]
pub(super) enum EmailCommand {
    /// Store the SMTP server and From address (the URL is sealed; it may hold a password).
    Configure {
        /// The SMTP server: smtp://user:pass@host:587?tls=required or smtps://host.
        #[arg(long = "smtp", value_name = "SMTP_URL")]
        smtp: String,
        /// The From address, e.g. "Acme <no-reply@acme.com>".
        #[arg(long = "from")]
        from: String,
    },
    /// Show how email is sent (passwords hidden).
    Show,
    /// Forget the stored SMTP settings.
    Clear,
}

pub(super) async fn run(core: &Core, out: &Output, command: EmailCommand) -> anyhow::Result<()> {
    match command {
        EmailCommand::Configure { smtp, from } => configure(core, out, &smtp, &from).await,
        EmailCommand::Show => {
            show(core, out);
            Ok(())
        }
        EmailCommand::Clear => clear(core, out).await,
    }
}

/// `gatehouse emails [--env NAME] [--limit N]`.
pub(super) async fn list(core: &Core, out: &Output, env: Option<&str>, limit: i64) -> anyhow::Result<()> {
    let env = match env {
        Some(name) => Some(super::env_named(core, name).await?),
        None => None,
    };
    let emails = core.list_emails(env.as_ref(), limit.clamp(1, 500)).await?;
    let list: Vec<_> = emails
        .iter()
        .map(|e| json!({"id": e.id, "kind": e.kind, "to": e.to_address, "subject": e.subject, "status": e.status,
            "attempts": e.attempts, "last_error": e.last_error, "created_at": iso8601(e.created_at), "sent_at": e.sent_at.map(iso8601)}))
        .collect();
    out.print(json!(list), || {
        if emails.is_empty() {
            return "No emails yet.".into();
        }
        emails
            .iter()
            .map(|e| {
                let error = e.last_error.as_deref().map(|x| format!("\n      last error: {x}")).unwrap_or_default();
                format!(
                    "{}  {:<8} {:<18} to {}  ({} attempt{}){error}",
                    iso8601(e.created_at),
                    e.status,
                    e.kind,
                    e.to_address,
                    e.attempts,
                    if e.attempts == 1 { "" } else { "s" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

async fn configure(core: &Core, out: &Output, smtp: &str, from: &str) -> anyhow::Result<()> {
    let parsed = url::Url::parse(smtp).with_context(|| "the SMTP URL must look like smtp://user:pass@host:587")?;
    if !matches!(parsed.scheme(), "smtp" | "smtps") {
        bail!("the SMTP URL must start with smtp:// or smtps://");
    }
    if from.parse::<lettre::message::Mailbox>().is_err() {
        bail!("--from must be an address like \"Acme <no-reply@acme.com>\"");
    }
    core.store_email_settings(smtp, from).await?;
    out.print(json!({"smtp_url": redact_url(smtp), "from": from}), || {
        format!("Email will be sent through {} as {from}. Restart the server to apply.", redact_url(smtp))
    });
    Ok(())
}

fn show(core: &Core, out: &Output) {
    let email = core.email_config();
    let smtp = email.smtp_url.as_deref().map(redact_url);
    out.print(json!({"smtp_url": smtp, "from": email.from}), || match &smtp {
        Some(url) => format!("SMTP  {url}\nFrom  {}", email.from),
        None => "No SMTP server: development emails go to the log and /dev/emails; production email is off.".into(),
    });
}

async fn clear(core: &Core, out: &Output) -> anyhow::Result<()> {
    core.clear_email_settings().await?;
    out.print(json!({"cleared": true}), || "Stored email settings removed.".into());
    Ok(())
}
