//! `/authorization/…`: environment roles, organization roles and permissions.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use serde_json::{Map, Value};

use super::extract::{ApiKeyEnvironment, WireBody};
use super::fields::{nullable_text, required_text, strings, text};
use super::lists::ListParams;
use crate::service::Error;
use crate::service::organizations::RolePatch;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/authorization/roles", get(list_roles).post(create_role))
        .route("/authorization/roles/{slug}", get(read_role).patch(update_role))
        .route("/authorization/roles/{slug}/permissions", put(set_permissions).post(add_permission))
        .route("/authorization/organizations/{org}/roles", get(list_org_roles).post(create_org_role))
        .route(
            "/authorization/organizations/{org}/roles/{slug}",
            get(read_org_role).patch(update_org_role).delete(delete_org_role),
        )
        .route(
            "/authorization/organizations/{org}/roles/{slug}/permissions",
            put(set_org_permissions).post(add_org_permission),
        )
        .route(
            "/authorization/organizations/{org}/roles/{slug}/permissions/{permission}",
            delete(remove_org_permission),
        )
        .route("/authorization/permissions", get(list_permissions).post(create_permission))
        .route(
            "/authorization/permissions/{slug}",
            get(read_permission).patch(update_permission).delete(delete_permission),
        )
}

fn role(role: &crate::domain::organization::Role) -> Response {
    axum::Json(wire::Role::from(role)).into_response()
}

fn created_role(role: &crate::domain::organization::Role) -> Response {
    (StatusCode::CREATED, axum::Json(wire::Role::from(role))).into_response()
}

fn patch(body: &Map<String, Value>) -> Result<RolePatch, Error> {
    Ok(RolePatch { name: text(body, "name")?, description: nullable_text(body, "description")? })
}

fn permission_list(body: &Map<String, Value>) -> Result<Vec<String>, Error> {
    strings(body, "permissions")?
        .ok_or_else(|| Error::validation("permissions", "required", "permissions is required."))
}

// ---- environment roles ----

async fn list_roles(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
) -> Result<Response, ApiError> {
    let roles = state.core.list_roles(&env, None).await?;
    Ok(axum::Json(wire::RoleList::new(&roles)).into_response())
}

async fn create_role(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let slug = required_text(&body, "slug")?;
    let r = state
        .core
        .create_role(&env, None, Some(slug), required_text(&body, "name")?, text(&body, "description")?)
        .await?;
    Ok(created_role(&r))
}

async fn read_role(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    Ok(role(&state.core.get_role(&env, None, &slug).await?))
}

async fn update_role(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(slug): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    Ok(role(&state.core.update_role(&env, None, &slug, patch(&body)?).await?))
}

async fn set_permissions(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(slug): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    Ok(role(&state.core.set_role_permissions(&env, None, &slug, permission_list(&body)?, true).await?))
}

async fn add_permission(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(slug): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let permission = required_text(&body, "slug")?;
    Ok(role(&state.core.set_role_permissions(&env, None, &slug, vec![permission], false).await?))
}

// ---- organization roles ----

async fn list_org_roles(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(org): Path<String>,
) -> Result<Response, ApiError> {
    let roles = state.core.list_roles(&env, Some(&org)).await?;
    Ok(axum::Json(wire::RoleList::new(&roles)).into_response())
}

async fn create_org_role(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(org): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let r = state
        .core
        .create_role(&env, Some(&org), text(&body, "slug")?, required_text(&body, "name")?, text(&body, "description")?)
        .await?;
    Ok(created_role(&r))
}

async fn read_org_role(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((org, slug)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(role(&state.core.get_role(&env, Some(&org), &slug).await?))
}

async fn update_org_role(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((org, slug)): Path<(String, String)>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    Ok(role(&state.core.update_role(&env, Some(&org), &slug, patch(&body)?).await?))
}

async fn delete_org_role(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((org, slug)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_organization_role(&env, &org, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_org_permissions(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((org, slug)): Path<(String, String)>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    Ok(role(&state.core.set_role_permissions(&env, Some(&org), &slug, permission_list(&body)?, true).await?))
}

async fn add_org_permission(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((org, slug)): Path<(String, String)>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let permission = required_text(&body, "slug")?;
    Ok(role(&state.core.set_role_permissions(&env, Some(&org), &slug, vec![permission], false).await?))
}

async fn remove_org_permission(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((org, slug, permission)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    Ok(role(&state.core.remove_role_permission(&env, Some(&org), &slug, &permission).await?))
}

// ---- permissions ----

async fn list_permissions(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    let page = state.core.list_permissions(&env, params.cursor()?).await?;
    let ids: Vec<&str> = page.items.iter().map(|p| p.id.as_str()).collect();
    let data = page.items.iter().map(wire::Permission::from).collect();
    Ok(axum::Json(wire::List::page(data, &ids, params.page(page.has_more))).into_response())
}

async fn create_permission(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let p = state
        .core
        .create_permission(
            &env,
            required_text(&body, "slug")?,
            required_text(&body, "name")?,
            text(&body, "description")?,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(wire::Permission::from(&p))).into_response())
}

async fn read_permission(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let p = state.core.get_permission(&env, &slug).await?;
    Ok(axum::Json(wire::Permission::from(&p)).into_response())
}

async fn update_permission(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(slug): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let p = state.core.update_permission(&env, &slug, patch(&body)?).await?;
    Ok(axum::Json(wire::Permission::from(&p)).into_response())
}

async fn delete_permission(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(slug): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_permission(&env, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}
