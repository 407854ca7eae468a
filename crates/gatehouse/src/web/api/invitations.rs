//! `/user_management/invitations…`: create, read (by ID or token), list, revoke, resend, accept.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};

use super::extract::{ApiKeyEnvironment, WireBody};
use super::fields::{required_text, text};
use super::lists::ListParams;
use crate::service::Error;
use crate::service::invitations::{InvitationView, NewInvitation};
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/invitations", get(list).post(create))
        .route("/user_management/invitations/{id}", get(read))
        .route("/user_management/invitations/by_token/{token}", get(read_by_token))
        .route("/user_management/invitations/{id}/revoke", post(revoke))
        .route("/user_management/invitations/{id}/resend", post(resend))
        .route("/user_management/invitations/{id}/accept", post(accept))
}

fn one(view: &InvitationView) -> Response {
    axum::Json(wire::Invitation::from(view)).into_response()
}

async fn create(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let expires_in_days = match body.get("expires_in_days") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            Error::validation("expires_in_days", "invalid_type", "expires_in_days must be a whole number of days.")
        })?),
    };
    let new = NewInvitation {
        email: required_text(&body, "email")?,
        organization_id: text(&body, "organization_id")?.filter(|s| !s.is_empty()),
        role_slug: text(&body, "role_slug")?.filter(|s| !s.is_empty()),
        expires_in_days,
        inviter_user_id: text(&body, "inviter_user_id")?.filter(|s| !s.is_empty()),
    };
    let view = state.core.create_invitation(&env, new).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::Invitation::from(&view))).into_response())
}

async fn read(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(one(&state.core.get_invitation(&env, &id).await?))
}

async fn read_by_token(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    Ok(one(&state.core.get_invitation_by_token(&env, &token).await?))
}

async fn list(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    let org = params.organization_id.as_deref().filter(|s| !s.is_empty());
    let email = params.email.as_deref().filter(|s| !s.is_empty());
    let page = state.core.list_invitations(&env, org, email, params.cursor()?).await?;
    let ids: Vec<&str> = page.items.iter().map(|v| v.invitation.id.as_str()).collect();
    let data = page.items.iter().map(wire::Invitation::from).collect();
    Ok(axum::Json(wire::List::page(data, &ids, params.page(page.has_more))).into_response())
}

async fn revoke(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(one(&state.core.revoke_invitation(&env, &id).await?))
}

async fn resend(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(one(&state.core.resend_invitation(&env, &id).await?))
}

async fn accept(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(one(&state.core.accept_invitation(&env, &id).await?))
}
