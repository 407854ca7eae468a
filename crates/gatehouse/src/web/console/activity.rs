//! The console's Activity page (`/dashboard/activity`): an environment's event log, newest
//! first, filtered by type, with who made each change (an operator, an API key, the CLI; from
//! the event's `actor` column when its payload names none: a user edited in the console) and
//! the values before and after when the event carries them (the audit events of configuration
//! changes). The operators' own
//! trail (links, new operators, removals, roles, two-factor: `gatehouse.operator.*`) is the
//! last choice of the environment list, `?env=gatehouse-operators`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use super::page::{self, Console, PageError};
use super::setup::when;
use crate::domain::audit::{AUDIT_EVENT_TYPES, diff};
use crate::domain::event::EVENT_TYPES;
use crate::domain::listing::ListOrder;
use crate::service::events::EventFilter;
use crate::service::operators::OPERATOR_REALM;
use crate::web::AppState;

const PAGE_SIZE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct ActivityQuery {
    env: Option<String>,
    #[serde(default, rename = "type")]
    kind: String,
    after: Option<String>,
}

/// Who made a change, from an event's `actor` (`{type, id, email}`), in a few words.
fn actor_label(actor: &serde_json::Value) -> Option<String> {
    let kind = actor["type"].as_str()?;
    Some(match (kind, actor["email"].as_str(), actor["id"].as_str()) {
        (_, Some(email), _) => email.to_owned(),
        ("api_key", _, Some(id)) => format!("API key {id}"),
        (kind, _, Some(id)) => format!("{kind} {id}"),
        (kind, _, None) => kind.replace('_', " "),
    })
}

/// Who made a change, from the log's `actor` column (`Actor::key`): an operator by address,
/// else as stored.
fn actor_key_label(key: &str, operators: &HashMap<String, String>) -> String {
    match (operators.get(key), key) {
        (Some(email), _) => email.clone(),
        (None, "cli" | "system") => key.to_owned(),
        (None, id) if id.starts_with("api_key_") => format!("API key {id}"),
        (None, id) => id.to_owned(),
    }
}

/// What an event is about, in a few words: an email, a name, an ID.
fn subject(data: &serde_json::Value) -> Option<String> {
    let target = if data["target"].is_object() { &data["target"] } else { data };
    ["email", "name", "uri", "origin", "endpoint_url", "id"]
        .iter()
        .find_map(|k| target[k].as_str().map(str::to_owned))
        .or_else(|| data["user_id"].as_str().map(str::to_owned))
}

/// What changed: an audit event carries its before and after; an update recorded with the
/// object as it was (`before_data`) shows the fields that differ from its payload.
fn before_and_after(data: &serde_json::Value, before_data: Option<&str>) -> (serde_json::Value, serde_json::Value) {
    match before_data.and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok()) {
        Some(before) => diff(&before, data),
        None => (data["before"].clone(), data["after"].clone()),
    }
}

fn pretty(v: &serde_json::Value) -> Option<String> {
    (!v.is_null()).then(|| serde_json::to_string_pretty(v).unwrap_or_default())
}

/// `GET /dashboard/activity?env=…&type=…`.
pub async fn activity(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<ActivityQuery>,
) -> Result<Response, PageError> {
    let environments = state.core.list_environments().await?;
    let operators = query.env.as_deref() == Some(OPERATOR_REALM);
    let env_name = if operators {
        OPERATOR_REALM.to_owned()
    } else {
        let found = query
            .env
            .as_deref()
            .and_then(|name| environments.iter().find(|e| e.name == name))
            .or_else(|| environments.first());
        match found {
            Some(env) => env.name.clone(),
            None => return Err(PageError::NotFound("There is no environment yet.".into())),
        }
    };
    let kind = query.kind.trim().to_owned();
    // "audit" is every configuration change (`gatehouse.*`, listed only when asked for); the
    // operators' trail is audit events only.
    let audit = kind == "audit" || (operators && kind.is_empty());
    let filter = EventFilter {
        events: if kind.is_empty() || audit { Vec::new() } else { vec![kind.clone()] },
        audit,
        after: query.after.clone().filter(|a| !a.is_empty()),
        limit: PAGE_SIZE,
        order: Some(ListOrder::Desc),
        ..Default::default()
    };
    let listed = match environments.iter().find(|e| e.name == env_name).filter(|_| !operators) {
        Some(env) => state.core.list_events(env, filter).await,
        None => state.core.list_operator_events(filter).await,
    };
    let (events, error) = match listed {
        Ok((events, has_more)) => (Some((events, has_more)), None),
        Err(e) => (None, Some(page::refusal(e)?)),
    };
    let operators: HashMap<String, String> = match state.core.list_operators().await {
        Ok(list) => list.into_iter().map(|o| (o.user.id, o.user.email)).collect(),
        Err(_) => HashMap::new(),
    };
    let rows: Vec<Value> = events
        .as_ref()
        .map(|(events, _)| {
            events
                .iter()
                .map(|e| {
                    let data: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
                    let (before, after) = before_and_after(&data, e.before_data.as_deref());
                    context! {
                        at => when(e.created_at),
                        event => &e.event,
                        actor => actor_label(&data["actor"])
                            .or_else(|| e.actor.as_deref().map(|key| actor_key_label(key, &operators))),
                        subject => subject(&data),
                        before => pretty(&before),
                        after => pretty(&after),
                        data => serde_json::to_string_pretty(&data).unwrap_or_default(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let next = events.as_ref().and_then(|(events, has_more)| {
        events.last().filter(|_| *has_more).map(|last| {
            super::users::href(
                "/dashboard/activity",
                &[("env", env_name.as_str()), ("type", kind.as_str()), ("after", last.id.as_str())],
            )
        })
    });
    let ctx = context! {
        title => "Activity",
        activity_env => &env_name,
        activity_envs => environments.iter().map(|e| e.name.clone()).chain([OPERATOR_REALM.to_owned()]).collect::<Vec<_>>(),
        kind => &kind,
        types => EVENT_TYPES.iter().chain(AUDIT_EVENT_TYPES).copied().collect::<Vec<&str>>(),
        events => rows,
        error,
        next,
        first => query.after.is_some().then(|| super::users::href(
            "/dashboard/activity",
            &[("env", env_name.as_str()), ("type", kind.as_str())],
        )),
    };
    console.render(&state, "console/activity.html", None, "activity", ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actors_and_subjects_read_plainly() {
        assert_eq!(
            actor_label(&json!({"type": "operator", "id": "u1", "email": "ops@x.io"})).as_deref(),
            Some("ops@x.io")
        );
        assert_eq!(actor_label(&json!({"type": "api_key", "id": "key_1"})).as_deref(), Some("API key key_1"));
        let operators = HashMap::from([("user_1".to_owned(), "ops@x.io".to_owned())]);
        assert_eq!(actor_key_label("user_1", &operators), "ops@x.io");
        assert_eq!(actor_key_label("api_key_2", &operators), "API key api_key_2");
        assert_eq!(actor_key_label("cli", &operators), "cli");
        let user = json!({"object": "user", "id": "user_1", "first_name": "Ada", "updated_at": "b"});
        let was = json!({"object": "user", "id": "user_1", "first_name": "Ad", "updated_at": "a"});
        assert_eq!(
            before_and_after(&user, Some(&was.to_string())),
            (json!({"first_name": "Ad", "updated_at": "a"}), json!({"first_name": "Ada", "updated_at": "b"}))
        );
        let audit = json!({"before": {"x": 1}, "after": {"x": 2}});
        assert_eq!(before_and_after(&audit, None), (json!({"x": 1}), json!({"x": 2})));
        assert_eq!(actor_label(&json!({"type": "cli"})).as_deref(), Some("cli"));
        assert_eq!(actor_label(&json!(null)), None);
        assert_eq!(subject(&json!({"object": "user", "email": "a@x.io", "id": "user_1"})).as_deref(), Some("a@x.io"));
        assert_eq!(
            subject(&json!({"target": {"type": "cors_origin", "origin": "https://x.io"}})).as_deref(),
            Some("https://x.io")
        );
        assert_eq!(subject(&json!({"type": "password", "user_id": "user_9"})).as_deref(), Some("user_9"));
    }
}
