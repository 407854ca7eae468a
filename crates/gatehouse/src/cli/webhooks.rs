//! `gatehouse webhooks …`: an environment's webhook endpoints, their delivery log, replays;
//! and `gatehouse events`, the event log they deliver.

use clap::Subcommand;
use serde_json::json;

use super::{EnvArg, Output};
use crate::clock::iso8601;
use crate::domain::audit::Actor;
use crate::domain::listing::ListOrder;
use crate::domain::webhook::{Delivery, WebhookEndpoint};
use crate::service::Core;
use crate::service::events::EventFilter;
use crate::service::webhooks::EndpointPatch;

#[derive(Subcommand, Debug)]
pub(super) enum WebhookCommand {
    /// Add an endpoint: events from now on, of the given types, are posted to URL, signed with
    /// the secret this prints (`WorkOS-Signature`, as `workos.webhooks.constructEvent` checks).
    Create {
        /// The receiver's URL.
        url: String,
        /// Event types, comma-separated (e.g. user.created,session.created).
        #[arg(long, required = true)]
        events: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// List the endpoints, with their secrets.
    List(EnvArg),
    /// Change an endpoint's URL or event types, or enable or disable it.
    Update {
        /// The endpoint's ID (`we_…`).
        id: String,
        /// The receiver's new URL.
        #[arg(long)]
        url: Option<String>,
        /// Event types, comma-separated.
        #[arg(long)]
        events: Option<String>,
        /// Deliver to it again.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Stop delivering to it.
        #[arg(long)]
        disable: bool,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Delete an endpoint.
    Delete {
        /// The endpoint's ID (`we_…`).
        id: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// The newest delivery attempts to an endpoint, with the receiver's status codes.
    Deliveries {
        /// The endpoint's ID (`we_…`).
        id: String,
        /// How many attempts to list.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Send the event of one delivery again, now.
    Replay {
        /// The delivery's ID (from `gatehouse webhooks deliveries`).
        delivery_id: String,
        #[command(flatten)]
        scope: EnvArg,
    },
}

fn split(events: &str) -> Vec<String> {
    events.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn describe(e: &WebhookEndpoint) -> serde_json::Value {
    json!({
        "id": e.id, "endpoint_url": e.endpoint_url, "secret": e.secret, "status": e.status(), "events": e.events,
        "created_at": iso8601(e.created_at), "updated_at": iso8601(e.updated_at),
    })
}

fn human(e: &WebhookEndpoint) -> String {
    format!("{}  {}  ({})\n  Events  {}\n  Secret  {}", e.id, e.endpoint_url, e.status(), e.events.join(", "), e.secret)
}

fn delivery_json(d: &Delivery) -> serde_json::Value {
    json!({
        "id": d.id, "endpoint_id": d.endpoint_id, "event_id": d.event_id, "event": d.event, "attempt": d.attempt,
        "status_code": d.status_code, "succeeded": d.succeeded != 0, "error": d.error, "duration_ms": d.duration_ms,
        "created_at": iso8601(d.created_at),
    })
}

fn delivery_line(d: &Delivery) -> String {
    let outcome = match (d.status_code, &d.error) {
        (Some(code), None) => code.to_string(),
        (Some(code), Some(e)) => format!("{code} {e}"),
        (None, Some(e)) => e.clone(),
        (None, None) => "-".into(),
    };
    format!("{}  {}  {} {} (attempt {})  {}", iso8601(d.created_at), d.id, d.event, d.event_id, d.attempt, outcome)
}

fn service_error(e: crate::service::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub(super) async fn run(core: &Core, out: &Output, command: WebhookCommand) -> anyhow::Result<()> {
    match command {
        WebhookCommand::Create { url, events, scope } => {
            let env = scope.load(core).await?;
            let e =
                core.create_webhook_endpoint(&env, &url, split(&events), &Actor::Cli).await.map_err(service_error)?;
            out.print(describe(&e), || format!("Added to {}:\n{}", env.name, human(&e)));
        }
        WebhookCommand::List(scope) => {
            let env = scope.load(core).await?;
            let (all, _) = core.list_webhook_endpoints(&env, None, true, 100).await.map_err(service_error)?;
            out.print(json!(all.iter().map(describe).collect::<Vec<_>>()), || {
                if all.is_empty() {
                    format!("No webhook endpoints in {}.", env.name)
                } else {
                    all.iter().map(human).collect::<Vec<_>>().join("\n\n")
                }
            });
        }
        WebhookCommand::Update { id, url, events, enable, disable, scope } => {
            let env = scope.load(core).await?;
            let enabled = if enable {
                Some(true)
            } else if disable {
                Some(false)
            } else {
                None
            };
            let patch = EndpointPatch { endpoint_url: url, events: events.as_deref().map(split), enabled };
            let e = core.update_webhook_endpoint(&env, &id, patch, &Actor::Cli).await.map_err(service_error)?;
            out.print(describe(&e), || human(&e));
        }
        WebhookCommand::Delete { id, scope } => {
            let env = scope.load(core).await?;
            core.delete_webhook_endpoint(&env, &id, &Actor::Cli).await.map_err(service_error)?;
            out.print(json!({"deleted": id}), || format!("Deleted {id}."));
        }
        WebhookCommand::Deliveries { id, limit, scope } => {
            let env = scope.load(core).await?;
            let log = core.webhook_deliveries(&env, &id, limit).await.map_err(service_error)?;
            out.print(json!(log.iter().map(delivery_json).collect::<Vec<_>>()), || {
                if log.is_empty() {
                    "No deliveries yet.".to_owned()
                } else {
                    log.iter().map(delivery_line).collect::<Vec<_>>().join("\n")
                }
            });
        }
        WebhookCommand::Replay { delivery_id, scope } => {
            let env = scope.load(core).await?;
            let d = core.replay_delivery(&env, &delivery_id).await.map_err(service_error)?;
            out.print(delivery_json(&d), || delivery_line(&d));
        }
    }
    Ok(())
}

/// `gatehouse events`'s options.
pub(super) struct EventsQuery {
    pub env: String,
    pub types: Option<String>,
    pub after: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub desc: bool,
    pub limit: u32,
    pub audit: bool,
    pub actor: Option<String>,
    pub operators: bool,
}

pub(super) async fn list_events(core: &Core, out: &Output, q: EventsQuery) -> anyhow::Result<()> {
    let filter = EventFilter {
        events: q.types.as_deref().map(split).unwrap_or_default(),
        organization_id: None,
        range_start: q.since,
        range_end: q.until,
        after: q.after,
        limit: q.limit.clamp(1, 1000),
        order: Some(if q.desc { ListOrder::Desc } else { ListOrder::Asc }),
        audit: q.audit || q.operators,
        actor: q.actor,
    };
    let (env_name, (events, has_more)) = if q.operators {
        ("the operators' audit trail".to_owned(), core.list_operator_events(filter).await.map_err(service_error)?)
    } else {
        let env = super::env_named(core, &q.env).await?;
        let page = core.list_events(&env, filter).await.map_err(service_error)?;
        (env.name, page)
    };
    let rows: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "event": e.event, "created_at": iso8601(e.created_at),
                "organization_id": e.organization_id,
                "actor": e.actor,
                "data": serde_json::from_str::<serde_json::Value>(&e.data).unwrap_or_default(),
            })
        })
        .collect();
    out.print(json!(rows), || {
        let mut lines: Vec<String> = events
            .iter()
            .map(|e| {
                let data: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
                let about = match &e.actor {
                    // An audit event: who, and on what.
                    Some(actor) => format!("{actor} → {}", data["target"]["id"].as_str().unwrap_or("")),
                    None => ["email", "user_id", "id"].iter().find_map(|k| data[*k].as_str()).unwrap_or("").to_owned(),
                };
                format!("{}  {}  {:<42} {}", iso8601(e.created_at), e.id, e.event, about)
            })
            .collect();
        if lines.is_empty() {
            lines.push(format!("No events in {env_name}."));
        } else if has_more {
            let last = events.last().map(|e| e.id.as_str()).unwrap_or_default();
            lines.push(format!("… more: --after {last}"));
        }
        lines.join("\n")
    });
    Ok(())
}
