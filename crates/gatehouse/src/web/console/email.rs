//! Email, per environment: the SMTP settings form (host, port, TLS, username, a write-only
//! password, From address; what `gatehouse email configure` stores, applied at once unless
//! `--smtp-url` / `GATEHOUSE_SMTP_URL` overrides it, which the page says), a test email, and
//! the delivery log (recent messages, their attempts and last error). The SMTP URL and its
//! password are never shown.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};

use super::page::{self, Change, Console, FormError, PageError};
use super::setup::when;
use crate::service::email_settings::{SmtpChange, TlsMode, parse_smtp_url};
use crate::service::environments::LoadedEnvironment;
use crate::web::AppState;

async fn email_page(
    state: &AppState,
    console: &Console,
    env: &LoadedEnvironment,
    status: StatusCode,
    posted: Option<&Change>,
    error: Option<FormError>,
) -> Result<Response, PageError> {
    let emails: Vec<Value> = state
        .core
        .list_emails(Some(&env.environment), 50)
        .await?
        .iter()
        .map(|e| {
            context! {
                kind => e.kind.replace('_', " "), to => &e.to_address, status => &e.status, attempts => e.attempts,
                error => &e.last_error, created => when(e.created_at), sent => e.sent_at.map(when),
            }
        })
        .collect();
    let config = state.core.email_config();
    let (stored, stored_from) = state.core.stored_email_settings().await?;
    // The form starts from the stored settings, else from what is in effect (an override).
    let shown = stored.clone().or_else(|| config.smtp_url.as_deref().and_then(parse_smtp_url).map(|(s, _)| s));
    let form_posted = |form: &str| posted.filter(|_| error.as_ref().is_some_and(|e| e.form == form));
    let smtp_posted = form_posted("smtp");
    let value = |key: &str, current: String| match smtp_posted {
        Some(change) => change.field(key),
        None => current,
    };
    let tls = value("tls", shown.as_ref().map_or(TlsMode::StartTls, |s| s.tls).as_str().to_owned());
    let form = context! {
        host => value("host", shown.as_ref().map(|s| s.host.clone()).unwrap_or_default()),
        port => value("port", shown.as_ref().map(|s| s.port.to_string()).unwrap_or_default()),
        username => value("username", shown.as_ref().map(|s| s.username.clone()).unwrap_or_default()),
        has_password => stored.as_ref().is_some_and(|s| s.has_password),
        from => value("from", stored_from.clone().unwrap_or_else(|| config.from.clone())),
        to => form_posted("test").map(|c| c.field("to")).unwrap_or_else(|| console.operator.email.clone()),
    };
    let tls_modes: Vec<Value> = TlsMode::ALL
        .iter()
        .map(|m| context! { value => m.as_str(), label => m.label(), selected => m.as_str() == tls })
        .collect();
    let in_effect = config.smtp_url.as_deref().and_then(parse_smtp_url).map(|(s, _)| {
        context! { host => s.host, port => s.port, tls => s.tls.short(), username => s.username }
    });
    let ctx = context! {
        title => "Email",
        smtp => config.has_smtp(),
        in_effect,
        from => &config.from,
        smtp_overridden => config.smtp_overridden,
        from_overridden => config.from_overridden,
        stored => stored.is_some(),
        production => !env.is_development(),
        form, tls_modes,
        emails,
        ..FormError::context(error.as_ref())
    };
    console.render_status(state, status, "console/email.html", Some(&env.name), "email", ctx).await
}

/// `GET /dashboard/env/{env}/email`.
pub async fn email(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    email_page(&state, &console, &env, StatusCode::OK, None, None).await
}

/// `POST /dashboard/env/{env}/email/smtp`: save the SMTP settings.
pub async fn save_smtp(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let smtp = SmtpChange {
        host: change.field("host"),
        port: change.field("port"),
        tls: change.field("tls"),
        username: change.field("username"),
        password: change.raw("password"),
        from: change.field("from"),
    };
    match state.core.configure_email(&env, smtp, &change.actor()).await {
        Ok(saved) => {
            let notice = match (saved.smtp_applied, saved.from_applied) {
                (true, true) => "Email settings saved; they apply now.",
                (false, _) => {
                    "Email settings saved, but --smtp-url / GATEHOUSE_SMTP_URL overrides them until it is removed."
                }
                (true, false) => "Email settings saved; GATEHOUSE_EMAIL_FROM still sets the From address.",
            };
            Ok(page::done(&state, &format!("/dashboard/env/{}/email", env.name), notice))
        }
        Err(e) => {
            let error = FormError::refused(e, "")?.in_form("smtp");
            email_page(&state, &change.console, &env, StatusCode::UNPROCESSABLE_ENTITY, Some(&change), Some(error))
                .await
        }
    }
}

/// `POST /dashboard/env/{env}/email/test`: queue a test message.
pub async fn send_test(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let to = change.field("to");
    match state.core.send_test_email(&env, &to).await {
        Ok(()) => {
            let notice = if state.core.has_smtp() {
                format!("Test email to {to} queued; the log below shows when it is sent.")
            } else {
                format!("No SMTP server: the test email to {to} went to the server's log (development).")
            };
            Ok(page::done(&state, &format!("/dashboard/env/{}/email", env.name), &notice))
        }
        Err(e) => {
            let error = FormError::refused(e, "to")?.in_form("test");
            email_page(&state, &change.console, &env, StatusCode::UNPROCESSABLE_ENTITY, Some(&change), Some(error))
                .await
        }
    }
}
