//! `GET /dev/emails`: the development outbox, so a newcomer without SMTP can read their codes.
//! Off unless the server was started with `--dev-emails`; then only without SMTP, only the
//! development environment's mail, only on a local public URL, and only to a client on this
//! machine that connected directly: never through a proxy (a forwarding header, trusted or not,
//! or an address a trusted proxy relayed), since behind a same-host proxy every visitor's
//! socket is local.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;

use crate::clock::iso8601;
use crate::domain::environment::Branding;
use crate::service::email::OutboxItem;
use crate::web::AppState;
use crate::web::client::has_forwarding_headers;
use crate::web::extract::ClientInfo;
use crate::web::pages::{brand, pages};

pub async fn outbox(State(state): State<AppState>, headers: HeaderMap, ClientInfo(info): ClientInfo) -> Response {
    let refuse = |detail: &str| pages().message(StatusCode::NOT_FOUND, &Branding::default(), "Not available", detail);
    if !state.web.dev_emails {
        return refuse(
            "The development outbox is off; start the server with --dev-emails to read development mail here.",
        );
    }
    if state.core.has_smtp() {
        return refuse("Email is delivered over SMTP; this development outbox is off.");
    }
    if !state.core.config().is_local() {
        return refuse("The development outbox is only available when the public URL is on this machine.");
    }
    let direct = info.address.is_some_and(|a| a.is_direct_loopback()) && !has_forwarding_headers(&headers);
    if !direct {
        return refuse("The development outbox is only shown to this machine, never through a proxy.");
    }
    let Ok(Some((env, emails))) = state.core.development_outbox(50).await else {
        return refuse("There is no development environment.");
    };
    let items: Vec<_> = emails
        .into_iter()
        .map(|OutboxItem { email: e, body }| {
            let (subject, text) = match body {
                Some(body) => (body.subject, body.text),
                None => (e.subject.clone(), "(body no longer kept)".into()),
            };
            context! { to => &e.to_address, subject, at => iso8601(e.created_at), status => &e.status, text }
        })
        .collect();
    let ctx = context! {
        title => "Development outbox",
        subtitle => "Emails of the development environment, newest first. Configure SMTP to send them for real.",
        emails => items, brand => brand(&env.settings.branding, Some(&env.client_id)),
    };
    pages().render("outbox.html", StatusCode::OK, ctx, None).into_response()
}
