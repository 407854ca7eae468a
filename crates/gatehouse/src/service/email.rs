//! Email: composing the messages Gatehouse sends (text and HTML, branded per environment, no
//! tracking) and queueing them in the durable outbox. `service::delivery` sends them.

use std::sync::Arc;

use minijinja::{Environment as Templates, context};
use serde::{Deserialize, Serialize};

use super::environments::LoadedEnvironment;
use super::{Core, Error, Result};
use crate::domain::environment::{DEVELOPMENT, Environment};
use crate::domain::outbox::OutboxEmail;
use crate::ids::new_id;

/// How Gatehouse sends email, resolved once at start.
#[derive(Clone, Debug)]
pub struct EmailConfig {
    /// `smtp://…` or `smtps://…` (lettre URL syntax, e.g. `smtp://user:pass@host:587?tls=required`).
    pub smtp_url: Option<String>,
    /// The `From:` address, e.g. `Acme <no-reply@acme.test>`.
    pub from: String,
    /// The SMTP URL came from `--smtp-url` / `GATEHOUSE_SMTP_URL`: stored settings do not apply.
    pub smtp_overridden: bool,
    /// The From address came from `--email-from` / `GATEHOUSE_EMAIL_FROM`.
    pub from_overridden: bool,
}

impl EmailConfig {
    pub fn has_smtp(&self) -> bool {
        self.smtp_url.is_some()
    }
}

/// What the outbox seals: the subject (it may carry the code) and both parts of a message.
#[derive(Serialize, Deserialize)]
pub struct EmailBody {
    #[serde(default)]
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The subject as stored in clear for listings: digits masked, since a subject may carry the
/// sign-in code.
pub fn redacted_subject(subject: &str) -> String {
    subject.chars().map(|c| if c.is_ascii_digit() { '•' } else { c }).collect()
}

/// The content of one message, before rendering.
pub struct Compose<'a> {
    pub kind: &'static str,
    pub to: &'a str,
    pub subject: String,
    pub heading: String,
    pub intro: String,
    pub code: Option<&'a str>,
    pub link: Option<&'a str>,
    pub link_text: &'a str,
    pub outro: String,
}

/// Email templates, compiled into the binary.
pub struct EmailTemplates(Templates<'static>);

impl Default for EmailTemplates {
    fn default() -> EmailTemplates {
        let mut t = Templates::new();
        for (name, source) in [
            ("layout.html", include_str!("../../templates/email/layout.html")),
            ("layout.txt", include_str!("../../templates/email/layout.txt")),
        ] {
            if let Err(e) = t.add_template(name, source) {
                tracing::error!(template = name, error = %e, "email template does not parse");
            }
        }
        EmailTemplates(t)
    }
}

pub const OUTBOX_CONTEXT: &str = "email-outbox";

/// A message of the development outbox, with its body while it is kept.
pub struct OutboxItem {
    pub email: OutboxEmail,
    pub body: Option<EmailBody>,
}

impl Core {
    /// Whether this environment may send email now; production needs SMTP.
    pub fn check_email_available(&self, env: &LoadedEnvironment) -> Result<()> {
        if env.is_development() || self.has_smtp() {
            Ok(())
        } else {
            Err(Error::EmailUnavailable(
                "Email is not configured for production: set GATEHOUSE_SMTP_URL and GATEHOUSE_EMAIL_FROM \
                 (or run `gatehouse email configure`) and restart."
                    .into(),
            ))
        }
    }

    /// Renders a message and queues it; the delivery worker sends it shortly.
    pub async fn send_email(&self, env: &LoadedEnvironment, message: Compose<'_>) -> Result<()> {
        self.check_email_available(env)?;
        let branding = &env.settings.branding;
        let ctx = context! {
            subject => &message.subject, heading => &message.heading, intro => &message.intro,
            code => message.code, link => message.link, link_text => message.link_text, outro => &message.outro,
            app_name => &branding.app_name, color => &branding.primary_color,
        };
        let render = |name: &str| {
            self.email_templates
                .0
                .get_template(name)
                .and_then(|t| t.render(&ctx))
                .map_err(|e| Error::Internal(anyhow::anyhow!("email template {name}: {e}")))
        };
        let body =
            EmailBody { subject: message.subject.clone(), text: render("layout.txt")?, html: render("layout.html")? };
        let body = serde_json::to_string(&body).map_err(|e| Error::Internal(e.into()))?;
        let now = self.now();
        let email = OutboxEmail {
            id: new_id("email"),
            environment_id: env.id.clone(),
            kind: message.kind.to_owned(),
            to_address: message.to.to_owned(),
            subject: redacted_subject(&message.subject),
            sealed_body: Some(self.sealer.seal(OUTBOX_CONTEXT, &body).map_err(|e| Error::Internal(e.into()))?),
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            sent_at: None,
        };
        self.store.enqueue_email(&email).await?;
        self.outbox_ready.notify_one();
        Ok(())
    }

    /// How email is sent now (the SMTP URL may hold a password: redact it before showing it).
    pub fn email_config(&self) -> Arc<EmailConfig> {
        match self.email.read() {
            Ok(config) => config.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces how email is sent in this process (settings saved in the console).
    pub(super) fn set_email_config(&self, config: EmailConfig) {
        match self.email.write() {
            Ok(mut slot) => *slot = Arc::new(config),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(config),
        }
        self.outbox_ready.notify_one();
    }

    /// Whether an SMTP server is configured (without one, development mail goes to the log).
    pub fn has_smtp(&self) -> bool {
        self.email_config().has_smtp()
    }

    /// Wakes the delivery worker now rather than at its next poll.
    pub fn wake_delivery(&self) {
        self.outbox_ready.notify_one();
    }

    /// Stores the SMTP URL (sealed: it may hold a password) and the From address; the
    /// environment variables take precedence, and the server reads them at start.
    pub async fn store_email_settings(&self, smtp_url: &str, from: &str) -> Result<()> {
        let sealed = self.sealer.seal("smtp-url", smtp_url).map_err(|e| Error::Internal(e.into()))?;
        self.store.set_setting("smtp_url", Some(&sealed)).await?;
        self.store.set_setting("email_from", Some(from)).await?;
        Ok(())
    }

    /// Forgets the stored SMTP settings.
    pub async fn clear_email_settings(&self) -> Result<()> {
        self.store.set_setting("smtp_url", None).await?;
        self.store.set_setting("email_from", None).await?;
        Ok(())
    }

    /// The most recent messages, newest first; of one environment when given.
    pub async fn list_emails(&self, env: Option<&Environment>, limit: i64) -> Result<Vec<OutboxEmail>> {
        Ok(self.store.list_emails(env.map(|e| e.id.as_str()), limit).await?)
    }

    /// The development environment's recent mail with its bodies, for the development outbox
    /// page; `None` without a development environment.
    pub async fn development_outbox(&self, limit: i64) -> Result<Option<(Environment, Vec<OutboxItem>)>> {
        let Some(env) = self.store.find_environment_by_name(DEVELOPMENT).await? else {
            return Ok(None);
        };
        // A listing that fails shows an empty outbox rather than an error page.
        let emails = self.store.list_emails(Some(&env.id), limit).await.unwrap_or_default();
        let items = emails
            .into_iter()
            .map(|email| {
                let body = self.open_email_body(&email);
                OutboxItem { email, body }
            })
            .collect();
        Ok(Some((env, items)))
    }

    /// Opens a queued message's body.
    pub(super) fn open_email_body(&self, email: &OutboxEmail) -> Option<EmailBody> {
        let sealed = email.sealed_body.as_ref()?;
        let json = self.sealer.open(OUTBOX_CONTEXT, sealed).ok()?;
        serde_json::from_str(&json).ok()
    }
}
