//! Sessions: revoke, and list a user's (wire spec §3.7–§3.8). The browser sign-out is a hosted page.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::extract::{ApiKeyEnvironment, WireBody};
use super::lists::ListParams;
use crate::domain::listing::ListOrder;
use crate::service::Error;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

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
) -> Result<axum::Json<serde_json::Map<String, serde_json::Value>>, ApiError> {
    let id = body
        .session_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::validation("session_id", "session_id_required", "session_id is required."))?;
    state.core.revoke_session(&env, &id).await?;
    Ok(axum::Json(serde_json::Map::new()))
}

async fn list(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(user_id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    let ascending = params.order()? == ListOrder::Asc;
    let after = params.after();
    let (sessions, has_more) =
        state.core.list_user_sessions(&env, &user_id, params.limit()?, after.as_deref(), ascending).await?;
    let now = state.core.now();
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    let data = sessions.iter().map(|s| wire::Session::new(s, now)).collect();
    Ok(axum::Json(wire::List::page(data, &ids, params.page(has_more))).into_response())
}
