//! SMTP settings kept in the database and set from the console (the CLI's `gatehouse email
//! configure` stores the same two settings): checked field by field, the URL sealed (it holds
//! the password), recorded as an audit event, and applied at once in this process unless
//! `--smtp-url` / `GATEHOUSE_SMTP_URL` overrides them. Also the test email.

use lettre::{AsyncSmtpTransport, Tokio1Executor};

use super::email::{Compose, EmailConfig};
use super::environments::LoadedEnvironment;
use super::{Core, Error, Result};
use crate::domain::audit::{Actor, REDACTED, audit_event, diff, target};

/// How the connection to the SMTP server is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS, required (port 587).
    StartTls,
    /// STARTTLS when the server offers it.
    Opportunistic,
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
    /// No encryption (a relay on the same host or network only).
    Plain,
}

impl TlsMode {
    pub const ALL: [TlsMode; 4] = [TlsMode::StartTls, TlsMode::Implicit, TlsMode::Opportunistic, TlsMode::Plain];

    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::StartTls => "starttls",
            TlsMode::Opportunistic => "opportunistic",
            TlsMode::Implicit => "tls",
            TlsMode::Plain => "none",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TlsMode::StartTls => "STARTTLS, required (usually port 587)",
            TlsMode::Implicit => "TLS from the start (usually port 465)",
            TlsMode::Opportunistic => "STARTTLS when offered",
            TlsMode::Plain => "None (a local relay only)",
        }
    }

    /// A few words for a sentence ("Sent through host:587 (STARTTLS)").
    pub fn short(self) -> &'static str {
        match self {
            TlsMode::StartTls => "STARTTLS",
            TlsMode::Implicit => "TLS",
            TlsMode::Opportunistic => "STARTTLS when offered",
            TlsMode::Plain => "unencrypted",
        }
    }

    pub fn parse(value: &str) -> Option<TlsMode> {
        TlsMode::ALL.into_iter().find(|m| m.as_str() == value)
    }

    fn default_port(self) -> u16 {
        match self {
            TlsMode::StartTls | TlsMode::Opportunistic => 587,
            TlsMode::Implicit => 465,
            TlsMode::Plain => 25,
        }
    }
}

/// SMTP settings as a form shows them (never the password: only whether one is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub has_password: bool,
}

/// New SMTP settings, as typed. An empty `password` keeps the stored one.
#[derive(Clone, Debug, Default)]
pub struct SmtpChange {
    pub host: String,
    pub port: String,
    pub tls: String,
    pub username: String,
    pub password: String,
    pub from: String,
}

/// What saving did: whether the settings apply now, or `--smtp-url` / `GATEHOUSE_SMTP_URL`
/// (or `GATEHOUSE_EMAIL_FROM`) still overrides them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Saved {
    pub smtp_applied: bool,
    pub from_applied: bool,
}

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::validation(field, "invalid", message)
}

/// Decodes `%XX` escapes (URL user info); anything malformed is kept as it is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// Reads an SMTP URL (lettre's syntax) back into its fields, and its password.
pub fn parse_smtp_url(url: &str) -> Option<(SmtpSettings, Option<String>)> {
    let u = url::Url::parse(url).ok()?;
    let tls = match (u.scheme(), u.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned())) {
        ("smtps", _) => TlsMode::Implicit,
        ("smtp", Some(v)) if v == "required" => TlsMode::StartTls,
        ("smtp", Some(v)) if v == "opportunistic" => TlsMode::Opportunistic,
        ("smtp", _) => TlsMode::Plain,
        _ => return None,
    };
    let password = u.password().map(percent_decode);
    let settings = SmtpSettings {
        host: u.host_str()?.to_owned(),
        port: u.port().unwrap_or(tls.default_port()),
        tls,
        username: percent_decode(u.username()),
        has_password: password.is_some(),
    };
    Some((settings, password))
}

fn check_host(host: &str) -> Result<()> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':' || b == b'[' || b == b']');
    if ok { Ok(()) } else { Err(invalid("host", "Enter the SMTP server's host name, like smtp.example.com.")) }
}

/// Checks a `From:` address (the same rule as `gatehouse email configure --from`).
pub fn check_from(from: &str) -> Result<()> {
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(invalid(
            "from",
            "The From address must look like \"Acme <no-reply@acme.com>\" or no-reply@acme.com.",
        ));
    }
    Ok(())
}

fn audit_view(s: &SmtpSettings, from: &str) -> serde_json::Value {
    serde_json::json!({
        "host": s.host, "port": s.port, "tls": s.tls.as_str(), "username": s.username,
        "password": if s.has_password { serde_json::Value::from(REDACTED) } else { serde_json::Value::Null },
        "from": from,
    })
}

impl Core {
    /// The SMTP settings stored in the database (set here or with `gatehouse email configure`),
    /// and the stored From address; `None` when none are stored.
    pub async fn stored_email_settings(&self) -> Result<(Option<SmtpSettings>, Option<String>)> {
        let from = self.store.setting("email_from").await?;
        let Some(sealed) = self.store.setting("smtp_url").await? else {
            return Ok((None, from));
        };
        let url = self.sealer.open("smtp-url", &sealed).map_err(|e| Error::Internal(e.into()))?;
        Ok((parse_smtp_url(&url).map(|(s, _)| s), from))
    }

    /// Checks and stores new SMTP settings (the URL sealed, an audit event in `env`'s log) and
    /// applies them in this process unless the command line or the environment overrides them.
    pub async fn configure_email(&self, env: &LoadedEnvironment, change: SmtpChange, actor: &Actor) -> Result<Saved> {
        let host = change.host.trim().to_ascii_lowercase();
        check_host(&host)?;
        let tls =
            TlsMode::parse(change.tls.trim()).ok_or_else(|| invalid("tls", "Choose how the connection is secured."))?;
        let port = match change.port.trim() {
            "" => tls.default_port(),
            p => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| invalid("port", "The port is a number from 1 to 65535."))?,
        };
        let username = change.username.trim().to_owned();
        if username.len() > 256 {
            return Err(invalid("username", "The username is at most 256 characters."));
        }
        if change.password.len() > 1024 {
            return Err(invalid("password", "The password is at most 1024 characters."));
        }
        if username.is_empty() && !change.password.is_empty() {
            return Err(invalid("username", "A password needs a username."));
        }
        let from = change.from.trim().to_owned();
        check_from(&from)?;

        let stored = match self.store.setting("smtp_url").await? {
            Some(sealed) => self.sealer.open("smtp-url", &sealed).ok().and_then(|url| parse_smtp_url(&url)),
            None => None,
        };
        let old_from = self.store.setting("email_from").await?;
        // An empty password field keeps the stored password (while there is a username).
        let password = match (change.password.as_str(), &stored) {
            _ if username.is_empty() => None,
            ("", Some((_, kept))) => kept.clone(),
            ("", None) => None,
            (typed, _) => Some(typed.to_owned()),
        };

        let scheme = if tls == TlsMode::Implicit { "smtps" } else { "smtp" };
        let mut url = url::Url::parse(&format!("{scheme}://{host}:{port}"))
            .map_err(|_| invalid("host", "Enter the SMTP server's host name, like smtp.example.com."))?;
        if !username.is_empty() {
            url.set_username(&username).map_err(|()| invalid("username", "This username cannot be used."))?;
            url.set_password(password.as_deref()).map_err(|()| invalid("password", "This password cannot be used."))?;
        }
        match tls {
            TlsMode::StartTls => url.set_query(Some("tls=required")),
            TlsMode::Opportunistic => url.set_query(Some("tls=opportunistic")),
            TlsMode::Implicit | TlsMode::Plain => {}
        }
        let url = url.to_string();
        if let Err(e) = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url) {
            return Err(invalid("host", format!("These settings do not make an SMTP connection: {e}.")));
        }

        let new = SmtpSettings { host, port, tls, username, has_password: password.is_some() };
        let before = match &stored {
            Some((old, _)) => audit_view(old, old_from.as_deref().unwrap_or("")),
            None => serde_json::Value::Null,
        };
        let after = audit_view(&new, &from);
        let (mut before, mut after) = if before.is_null() { (before, after) } else { diff(&before, &after) };
        let secret_changed =
            !change.password.is_empty() || stored.as_ref().is_some_and(|(_, p)| p.is_some() != new.has_password);
        if secret_changed && let Some(a) = after.as_object_mut() {
            a.insert("secret_changed".into(), true.into());
            if let Some(b) = before.as_object_mut() {
                b.insert("secret_changed".into(), false.into());
            }
        }
        let event =
            audit_event("gatehouse.email_settings.updated", actor, target("email_settings", "smtp"), before, after);
        let sealed = self.sealer.seal("smtp-url", &url).map_err(|e| Error::Internal(e.into()))?;
        self.store.set_email_settings(&sealed, &from, &env.id, self.now(), &[event]).await?;

        let current = self.email_config();
        let saved = Saved { smtp_applied: !current.smtp_overridden, from_applied: !current.from_overridden };
        self.set_email_config(EmailConfig {
            smtp_url: if saved.smtp_applied { Some(url) } else { current.smtp_url.clone() },
            from: if saved.from_applied { from } else { current.from.clone() },
            smtp_overridden: current.smtp_overridden,
            from_overridden: current.from_overridden,
        });
        tracing::info!(environment = %env.name, "email settings saved");
        Ok(saved)
    }

    /// Queues a test message to `to` through the current settings; the delivery log shows how
    /// it went.
    pub async fn send_test_email(&self, env: &LoadedEnvironment, to: &str) -> Result<()> {
        let to = to.trim();
        if to.len() > 320 || to.parse::<lettre::Address>().is_err() {
            return Err(invalid("to", "Enter an email address like ada@example.com."));
        }
        let app = env.settings.branding.app_name.clone();
        self.send_email(
            env,
            Compose {
                kind: "test",
                to,
                subject: format!("Test email from {app}"),
                heading: "Email works".into(),
                intro: format!("This test message was sent from the Gatehouse Dashboard for {app}."),
                code: None,
                link: None,
                link_text: "",
                outro: "If you can read it, sign-in codes, verification and password-reset emails will arrive too. \
                        No action is needed."
                    .into(),
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read_back_into_fields() {
        let (s, p) = parse_smtp_url("smtp://us%40er:p%2Bss@mail.test:2525?tls=required").unwrap();
        assert_eq!(
            s,
            SmtpSettings {
                host: "mail.test".into(),
                port: 2525,
                tls: TlsMode::StartTls,
                username: "us@er".into(),
                has_password: true
            }
        );
        assert_eq!(p.as_deref(), Some("p+ss"));
        let (s, p) = parse_smtp_url("smtps://mail.test").unwrap();
        assert_eq!((s.tls, s.port, p), (TlsMode::Implicit, 465, None));
        let (s, _) = parse_smtp_url("smtp://127.0.0.1:1025").unwrap();
        assert_eq!((s.tls, s.port), (TlsMode::Plain, 1025));
        assert!(parse_smtp_url("http://x").is_none());
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
