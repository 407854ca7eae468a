//! Webhooks, per environment: the endpoints Gatehouse posts events to, adding one (its URL and
//! the event types it wants, as checkboxes), and per endpoint its signing secret (admins only,
//! with a copy button), its state (failing since when, the next attempt), its latest deliveries
//! with "Send again", editing, enabling, disabling and removing (confirmed). The same service
//! calls as `/webhook_endpoints` in the API, so the same checks (https, public addresses),
//! messages and audit events, with the operator as the actor.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};

use super::page::{self, Change, Confirm, Console, FormError, PageError};
use super::setup::when;
use crate::domain::audit::AUDIT_EVENT_TYPES;
use crate::domain::event::EVENT_TYPES;
use crate::domain::webhook::{Delivery, WebhookEndpoint};
use crate::service::Error;
use crate::service::environments::LoadedEnvironment;
use crate::service::webhooks::EndpointPatch;
use crate::web::AppState;

/// How many of an endpoint's latest deliveries its page lists.
const DELIVERIES_SHOWN: i64 = 20;

/// The form field of one event type's checkbox.
fn event_field(event_type: &str) -> String {
    format!("event:{event_type}")
}

/// The fieldset an event type's checkbox goes in.
fn group_of(event_type: &str) -> &'static str {
    match event_type.split('.').next().unwrap_or_default() {
        "user" | "session" => "Users and sessions",
        "authentication" => "Sign-ins",
        "email_verification" | "magic_auth" | "password_reset" => "Emails",
        "organization"
        | "organization_membership"
        | "organization_domain"
        | "invitation"
        | "role"
        | "organization_role"
        | "permission" => "Organizations",
        _ => "Gatehouse (configuration changes and endpoints)",
    }
}

/// The event types an environment's endpoint can receive: Gatehouse's own list, less the
/// operators' changes, which go to the operator realm's log and never to an environment's.
fn offered_types() -> impl Iterator<Item = &'static str> {
    EVENT_TYPES.iter().chain(AUDIT_EVENT_TYPES).copied().filter(|t| !t.starts_with("gatehouse.operator."))
}

/// Every event type an endpoint can subscribe to, in fieldsets, checked as `checked` says.
fn event_choices(checked: &dyn Fn(&str) -> bool) -> Vec<Value> {
    let mut groups: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, t) in offered_types().enumerate() {
        let choice = context! { id => format!("event-{i}"), name => event_field(t), value => t, checked => checked(t) };
        match groups.iter_mut().find(|(label, _)| *label == group_of(t)) {
            Some((_, choices)) => choices.push(choice),
            None => groups.push((group_of(t), vec![choice])),
        }
    }
    groups.into_iter().map(|(label, choices)| context! { label, choices }).collect()
}

/// The event types a posted form checked, in the list's order.
fn checked_events(change: &Change) -> Vec<String> {
    offered_types().filter(|t| !change.field(&event_field(t)).is_empty()).map(str::to_owned).collect()
}

fn endpoint_view(e: &WebhookEndpoint) -> Value {
    context! {
        id => &e.id, url => &e.endpoint_url, events => &e.events, enabled => e.enabled,
        failing => e.enabled && e.attempts > 0, attempts => e.attempts,
        failing_since => e.failing_since.map(when), next_attempt => when(e.next_attempt_at),
        created => when(e.created_at), updated => when(e.updated_at),
    }
}

fn delivery_view(d: &Delivery) -> Value {
    let outcome = match (d.status_code, &d.error) {
        (Some(code), _) => format!("HTTP {code}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "no answer".to_owned(),
    };
    context! {
        id => &d.id, event => &d.event, event_id => &d.event_id, attempt => d.attempt,
        succeeded => d.succeeded != 0, outcome, duration_ms => d.duration_ms, at => when(d.created_at),
    }
}

fn base(env: &LoadedEnvironment) -> String {
    format!("/dashboard/env/{}/webhooks", env.name)
}

async fn list_page(
    state: &AppState,
    console: &Console,
    env: &LoadedEnvironment,
    status: StatusCode,
    posted: Option<&Change>,
    error: Option<FormError>,
) -> Result<Response, PageError> {
    let (endpoints, _) = state.core.list_webhook_endpoints(env, None, false, 100).await?;
    let endpoints: Vec<Value> = endpoints.iter().map(endpoint_view).collect();
    let checked = |t: &str| posted.is_some_and(|c| !c.field(&event_field(t)).is_empty());
    let ctx = context! {
        title => "Webhooks", endpoints,
        groups => event_choices(&checked),
        url => posted.map(|c| c.field("url")).unwrap_or_default(),
        ..FormError::context(error.as_ref())
    };
    console.render_status(state, status, "console/webhooks.html", Some(&env.name), "webhooks", ctx).await
}

/// `GET /dashboard/env/{env}/webhooks`.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    list_page(&state, &console, &env, StatusCode::OK, None, None).await
}

/// `POST /dashboard/env/{env}/webhooks`: add an endpoint.
pub async fn add(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    match state.core.create_webhook_endpoint(&env, &change.field("url"), checked_events(&change), &change.actor()).await
    {
        Ok(endpoint) => Ok(page::done(
            &state,
            &format!("{}/{}", base(&env), endpoint.id),
            "Endpoint added. Verify deliveries with its signing secret, below.",
        )),
        Err(e) => {
            let error = FormError::refused(e, "url")?;
            list_page(&state, &change.console, &env, StatusCode::UNPROCESSABLE_ENTITY, Some(&change), Some(error)).await
        }
    }
}

async fn endpoint_page(
    state: &AppState,
    console: &Console,
    env: &LoadedEnvironment,
    endpoint: &WebhookEndpoint,
    status: StatusCode,
    posted: Option<&Change>,
    error: Option<FormError>,
) -> Result<Response, PageError> {
    let deliveries: Vec<Value> =
        state.core.webhook_deliveries(env, &endpoint.id, DELIVERIES_SHOWN).await?.iter().map(delivery_view).collect();
    let checked = |t: &str| match posted {
        Some(c) => !c.field(&event_field(t)).is_empty(),
        None => endpoint.events.iter().any(|e| e == t),
    };
    let ctx = context! {
        title => &endpoint.endpoint_url, endpoint => endpoint_view(endpoint), deliveries,
        // The secret forges deliveries: only those who may change the endpoint see it.
        secret => console.can_change().then_some(&endpoint.secret),
        groups => event_choices(&checked),
        url => posted.map_or_else(|| endpoint.endpoint_url.clone(), |c| c.field("url")),
        ..FormError::context(error.as_ref())
    };
    console.render_status(state, status, "console/webhook.html", Some(&env.name), "webhooks", ctx).await
}

/// `GET /dashboard/env/{env}/webhooks/{id}`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path((env, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    let endpoint = state.core.get_webhook_endpoint(&env, &id).await?;
    endpoint_page(&state, &console, &env, &endpoint, StatusCode::OK, None, None).await
}

/// `POST /dashboard/env/{env}/webhooks/{id}/edit`: the URL and the event types.
pub async fn edit(
    State(state): State<AppState>,
    Path((env, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let patch =
        EndpointPatch { endpoint_url: Some(change.field("url")), events: Some(checked_events(&change)), enabled: None };
    match state.core.update_webhook_endpoint(&env, &id, patch, &change.actor()).await {
        Ok(endpoint) => Ok(page::done(&state, &format!("{}/{}", base(&env), endpoint.id), "Endpoint saved.")),
        Err(e @ Error::NotFound { .. }) => Err(e.into()),
        Err(e) => {
            let error = FormError::refused(e, "url")?;
            let endpoint = state.core.get_webhook_endpoint(&env, &id).await?;
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            endpoint_page(&state, &change.console, &env, &endpoint, status, Some(&change), Some(error)).await
        }
    }
}

/// `POST …/webhooks/{id}/enable` and `…/disable`.
async fn toggle(
    state: AppState,
    env: String,
    id: String,
    change: Change,
    enabled: bool,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let patch = EndpointPatch { enabled: Some(enabled), ..EndpointPatch::default() };
    let endpoint = state.core.update_webhook_endpoint(&env, &id, patch, &change.actor()).await?;
    let notice = if enabled {
        "Endpoint enabled: deliveries resume from the first event it has not had."
    } else {
        "Endpoint disabled: no deliveries until it is enabled again."
    };
    Ok(page::done(&state, &format!("{}/{}", base(&env), endpoint.id), notice))
}

pub async fn enable(
    State(state): State<AppState>,
    Path((env, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    toggle(state, env, id, change, true).await
}

pub async fn disable(
    State(state): State<AppState>,
    Path((env, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    toggle(state, env, id, change, false).await
}

/// `POST …/webhooks/{id}/replay` with `delivery`: sends that delivery's event again, now.
pub async fn replay(
    State(state): State<AppState>,
    Path((env, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let back = format!("{}/{id}", base(&env));
    let delivery = match state.core.replay_delivery(&env, &change.field("delivery")).await {
        Ok(delivery) => delivery,
        Err(e @ Error::Validation { .. }) => return Ok(page::done(&state, &back, &page::refusal(e)?)),
        Err(e) => return Err(e.into()),
    };
    let notice = match (delivery.succeeded != 0, delivery.status_code) {
        (true, _) => format!("{} sent again: the endpoint accepted it.", delivery.event),
        (false, Some(code)) => format!("{} sent again: the endpoint answered HTTP {code}.", delivery.event),
        (false, None) => {
            format!("{} sent again: it did not arrive ({}).", delivery.event, delivery.error.unwrap_or_default())
        }
    };
    Ok(page::done(&state, &back, &notice))
}

/// `POST …/webhooks/{id}/remove` (confirmed).
pub async fn remove(
    State(state): State<AppState>,
    Path((env, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let endpoint = state.core.get_webhook_endpoint(&env, &id).await?;
    let back = base(&env);
    if !change.confirmed() {
        let action = format!("{back}/{}/remove", endpoint.id);
        let title = format!("Remove the endpoint {}?", endpoint.endpoint_url);
        let consequence = "Gatehouse stops posting events to it at once; its signing secret is deleted. \
                           Events stay in the event log (GET /events) for apps that read it.";
        return change
            .console
            .confirm(
                &state,
                Some(&env.name),
                Confirm {
                    title: &title,
                    consequence,
                    action: &action,
                    fields: &[],
                    back: &format!("{back}/{}", endpoint.id),
                    button: "Remove endpoint",
                },
            )
            .await;
    }
    state.core.delete_webhook_endpoint(&env, &endpoint.id, &change.actor()).await?;
    Ok(page::done(&state, &back, &format!("Endpoint {} removed.", endpoint.endpoint_url)))
}
