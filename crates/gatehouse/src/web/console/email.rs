//! Email, per environment: whether delivery is set up (never the SMTP URL) and the delivery log
//! (recent messages, their attempts and last error). SMTP itself is configured with
//! `gatehouse email configure` or `GATEHOUSE_SMTP_URL`.

use axum::extract::{Path, State};
use axum::response::Response;
use minijinja::{Value, context};

use super::page::{Console, PageError};
use super::setup::when;
use crate::web::AppState;

/// `GET /dashboard/env/{env}/email`.
pub async fn email(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
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
    let ctx = context! {
        title => "Email",
        smtp => config.has_smtp(),
        from => &config.from,
        production => !env.is_development(),
        emails,
    };
    console.render(&state, "console/email.html", Some(&env.name), "email", ctx).await
}
