//! Sessions: revoke, and list a user's (wire spec §3.7–§3.8). The browser sign-out is a hosted page.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiKeyEnvironment, WireBody};
use super::lists::{ListParams, envelope};
use crate::clock::iso8601;
use crate::domain::listing::ListOrder;
use crate::domain::session::{AuthMethod, Session, SessionStatus};
use crate::service::Error;
use crate::web::AppState;
use crate::web::error::ApiError;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/sessions/revoke", post(revoke))
        .route("/user_management/users/{id}/sessions", get(list))
}

#[derive(Deserialize)]
struct RevokeBody {
    session_id: Option<String>,
}

async fn revoke(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<RevokeBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = body
        .session_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::validation("session_id", "session_id_required", "session_id is required."))?;
    state.core.revoke_session(&env, &id).await?;
    Ok(axum::Json(json!({})))
}

fn session_to_wire(s: &Session, now: i64) -> Value {
    let status = match s.status(now) {
        SessionStatus::Active => "active",
        SessionStatus::Expired => "expired",
        SessionStatus::Revoked => "revoked",
    };
    let auth_method = match &s.auth_method {
        AuthMethod::Password => "password",
        AuthMethod::MagicAuth => "magic_code",
        AuthMethod::Passkey => "passkey",
        AuthMethod::OAuth(provider) if provider.ends_with("OAuth") => "oauth",
        // A custom OpenID Connect provider has no WorkOS session kind.
        AuthMethod::OAuth(_) => "unknown",
    };
    json!({
        "object": "session",
        "id": s.id,
        "user_id": s.user_id,
        "ip_address": s.ip_address,
        "user_agent": s.user_agent,
        "auth_method": auth_method,
        "status": status,
        "expires_at": iso8601(s.expires_at),
        "ended_at": s.ended_at.map(iso8601),
        "created_at": iso8601(s.created_at),
        "updated_at": iso8601(s.updated_at),
    })
}

async fn list(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(user_id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Value>, ApiError> {
    let ascending = params.order()? == ListOrder::Asc;
    let after = params.after();
    let (sessions, has_more) =
        state.core.list_user_sessions(&env, &user_id, params.limit()?, after.as_deref(), ascending).await?;
    let now = state.core.now();
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    let data = sessions.iter().map(|s| session_to_wire(s, now)).collect();
    Ok(axum::Json(envelope(data, &ids, has_more, &params)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_report_their_status() {
        let s = Session {
            id: "session_1".into(),
            environment_id: "e".into(),
            user_id: "user_1".into(),
            auth_method: "Password".into(),
            ip_address: None,
            user_agent: None,
            expires_at: 10_000,
            ended_at: None,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(session_to_wire(&s, 0)["status"], "active");
        assert_eq!(session_to_wire(&s, 10_000)["status"], "expired");
        assert_eq!(session_to_wire(&Session { ended_at: Some(5), ..s }, 0)["status"], "revoked");
    }
}
