//! The audit trail: who changed an environment's configuration, and what it was before and after.
//!
//! Every configuration change (settings, the JWT template, sign-out redirect URIs — part of the
//! settings —, API keys, signing keys, social providers, redirect URIs, CORS origins, webhook
//! endpoints) is recorded as an event in the environment's log, in the transaction of the change,
//! with its `Actor`. WorkOS has no such events, so their types live in Gatehouse's own namespace,
//! `gatehouse.*` (`AUDIT_EVENT_TYPES`). WorkOS's OpenAPI document lists the event types an
//! Events API answer may carry, so `GET /events` and webhook endpoints that subscribe to
//! everything leave them out: they are listed only when asked for by type (and by `gatehouse
//! events`). Secrets never enter a payload: provider client secrets, API keys and webhook
//! secrets are shown as `"[redacted]"` (a change to them as `secret_changed: true`).

use serde::Serialize;
use serde_json::{Map, Value};

use super::event::NewEvent;

/// The prefix of every audit event type.
pub const AUDIT_PREFIX: &str = "gatehouse.";

/// The audit event types.
pub const AUDIT_EVENT_TYPES: &[&str] = &[
    "gatehouse.environment.created",
    "gatehouse.environment.settings_updated",
    "gatehouse.jwt_template.updated",
    "gatehouse.api_key.created",
    "gatehouse.api_key.revoked",
    "gatehouse.signing_key.created",
    "gatehouse.redirect_uri.created",
    "gatehouse.redirect_uri.deleted",
    "gatehouse.cors_origin.created",
    "gatehouse.cors_origin.deleted",
    "gatehouse.provider.created",
    "gatehouse.provider.updated",
    "gatehouse.provider.deleted",
    "gatehouse.email_settings.updated",
    "gatehouse.webhook_endpoint.created",
    "gatehouse.webhook_endpoint.updated",
    "gatehouse.webhook_endpoint.deleted",
    "gatehouse.impersonation.created",
    "gatehouse.operator.invited",
    "gatehouse.operator.created",
    "gatehouse.operator.updated",
    "gatehouse.operator.deleted",
    "gatehouse.operator.two_factor_updated",
    "gatehouse.role.deleted",
    "gatehouse.resource_type.created",
    "gatehouse.resource_type.deleted",
];

/// What a secret shows as in an audit payload.
pub const REDACTED: &str = "[redacted]";

/// Whether `name` is an audit event type.
pub fn is_audit_type(name: &str) -> bool {
    name.starts_with(AUDIT_PREFIX)
}

/// Who made a configuration change. Each surface passes its own: the API the key that
/// authenticated the request, the CLI `Cli`, the console its signed-in operator, and the server
/// itself `System` (the development environment it creates on its first start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    ApiKey { id: String },
    Cli,
    Operator { id: String, email: String },
    System,
}

#[derive(Serialize)]
struct ActorData<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
}

impl Actor {
    /// How the log stores (and `gatehouse events --actor` matches) the actor: the API key's ID,
    /// `cli`, the operator's ID, or `system`.
    pub fn key(&self) -> &str {
        match self {
            Actor::ApiKey { id } | Actor::Operator { id, .. } => id,
            Actor::Cli => "cli",
            Actor::System => "system",
        }
    }

    fn data(&self) -> ActorData<'_> {
        match self {
            Actor::ApiKey { id } => ActorData { kind: "api_key", id: Some(id), email: None },
            Actor::Cli => ActorData { kind: "cli", id: None, email: None },
            Actor::Operator { id, email } => ActorData { kind: "operator", id: Some(id), email: Some(email) },
            Actor::System => ActorData { kind: "system", id: None, email: None },
        }
    }
}

/// The payload of an audit event.
#[derive(Serialize)]
struct AuditData<'a> {
    object: &'static str,
    actor: ActorData<'a>,
    /// What was changed: `{"type": …, "id": …}`.
    target: Value,
    before: Value,
    after: Value,
}

/// An audit event: `event` (one of `AUDIT_EVENT_TYPES`) by `actor` on `target`, with the
/// values before and after (`Value::Null` for a creation's before or a deletion's after).
/// Callers pass values with their secrets already redacted.
pub fn audit_event(event: &'static str, actor: &Actor, target: Value, before: Value, after: Value) -> NewEvent {
    let data = AuditData { object: "audit", actor: actor.data(), target, before, after };
    let mut e = NewEvent::new(event, &data, None);
    e.actor = Some(actor.key().to_owned());
    e
}

/// The target object of an audit event.
pub fn target(kind: &str, id: &str) -> Value {
    serde_json::json!({ "type": kind, "id": id })
}

/// Serialises a value to JSON (audit payloads are plain structs: this cannot fail).
pub fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The fields of two JSON objects that differ: (before, after), each holding only those keys,
/// recursing into nested objects (so a settings change shows just what changed).
pub fn diff(before: &Value, after: &Value) -> (Value, Value) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut out_b = Map::new();
            let mut out_a = Map::new();
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let vb = b.get(k).unwrap_or(&Value::Null);
                let va = a.get(k).unwrap_or(&Value::Null);
                if vb == va {
                    continue;
                }
                let (db, da) = if vb.is_object() && va.is_object() { diff(vb, va) } else { (vb.clone(), va.clone()) };
                out_b.insert(k.clone(), db);
                out_a.insert(k.clone(), da);
            }
            (Value::Object(out_b), Value::Object(out_a))
        }
        _ => (before.clone(), after.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_keeps_only_what_changed() {
        let b = serde_json::json!({"a": 1, "b": {"x": 1, "y": 2}, "c": [1]});
        let a = serde_json::json!({"a": 1, "b": {"x": 1, "y": 3}, "c": [1, 2]});
        let (db, da) = diff(&b, &a);
        assert_eq!(db, serde_json::json!({"b": {"y": 2}, "c": [1]}));
        assert_eq!(da, serde_json::json!({"b": {"y": 3}, "c": [1, 2]}));
    }

    #[test]
    fn audit_events_carry_their_actor() {
        let actor = Actor::Operator { id: "operator_1".into(), email: "ops@example.com".into() };
        let e = audit_event(
            "gatehouse.redirect_uri.created",
            &actor,
            target("redirect_uri", "redir_1"),
            Value::Null,
            serde_json::json!({"uri": "https://app.example.com/callback"}),
        );
        assert_eq!(e.actor.as_deref(), Some("operator_1"));
        let v: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(v["actor"], serde_json::json!({"type": "operator", "id": "operator_1", "email": "ops@example.com"}));
        assert!(v["before"].is_null());
        assert_eq!(Actor::Cli.key(), "cli");
        for t in AUDIT_EVENT_TYPES {
            assert!(is_audit_type(t));
        }
    }
}
