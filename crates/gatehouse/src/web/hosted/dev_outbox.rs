//! `GET /dev/emails`: the development outbox, so a newcomer without SMTP can read their codes.
//! Only without SMTP, only the development environment's mail, only to loopback clients.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::context;

use crate::clock::iso8601;
use crate::domain::environment::Branding;
use crate::service::email::OutboxItem;
use crate::web::AppState;
use crate::web::extract::ClientInfo;
use crate::web::pages::{brand, pages};

pub async fn outbox(State(state): State<AppState>, ClientInfo(info): ClientInfo) -> Response {
    let refuse = |detail: &str| pages().message(StatusCode::NOT_FOUND, &Branding::default(), "Not available", detail);
    if state.core.has_smtp() {
        return refuse("Email is delivered over SMTP; this development outbox is off.");
    }
    let loopback = info
        .ip_address
        .as_deref()
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback());
    if !loopback {
        return refuse("The development outbox is only shown to this machine.");
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
