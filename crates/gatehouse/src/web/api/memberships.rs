//! `/user_management/organization_memberships…`: create, read, list, update the roles,
//! deactivate and reactivate, delete.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Map, Value};

use super::extract::{ApiKeyEnvironment, WireBody};
use super::fields::{required_text, role_slugs};
use super::lists::ListParams;
use crate::domain::listing::MembershipQuery;
use crate::domain::organization::MembershipStatus;
use crate::service::Error;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/organization_memberships", get(list).post(create))
        .route("/user_management/organization_memberships/{id}", get(read).put(update).delete(remove))
        .route("/user_management/organization_memberships/{id}/deactivate", put(deactivate))
        .route("/user_management/organization_memberships/{id}/reactivate", put(reactivate))
}

async fn create(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let user_id = required_text(&body, "user_id")?;
    let organization_id = required_text(&body, "organization_id")?;
    let view = state.core.create_membership(&env, &user_id, &organization_id, role_slugs(&body)?).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::OrganizationMembership::from(&view))).into_response())
}

async fn read(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.core.get_membership(&env, &id).await?;
    Ok(axum::Json(wire::OrganizationMembership::from(&view)).into_response())
}

/// The query string by hand: `statuses` repeats (`statuses=active&statuses=inactive`), and
/// the SDKs may also send it comma-separated or as `statuses[]`.
async fn list(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let paging = ListParams {
        limit: get("limit"),
        before: get("before"),
        after: get("after"),
        order: get("order"),
        ..Default::default()
    };
    let mut statuses = Vec::new();
    for (_, value) in pairs.iter().filter(|(k, _)| k == "statuses" || k == "statuses[]") {
        for s in value.split(',').filter(|s| !s.is_empty()) {
            let status = MembershipStatus::parse(s).ok_or_else(|| {
                Error::validation(
                    "statuses",
                    "invalid",
                    format!("statuses must be active, inactive or pending, not '{s}'."),
                )
            })?;
            statuses.push(status);
        }
    }
    // WorkOS lists only active memberships unless `statuses` asks for others.
    if statuses.is_empty() {
        statuses.push(MembershipStatus::Active);
    }
    let q = MembershipQuery {
        user_id: get("user_id"),
        organization_id: get("organization_id"),
        statuses,
        cursor: paging.cursor()?,
    };
    let page = state.core.list_memberships(&env, q).await?;
    let ids: Vec<&str> = page.items.iter().map(|v| v.membership.id.as_str()).collect();
    let data = page.items.iter().map(wire::OrganizationMembership::from).collect();
    Ok(axum::Json(wire::List::page(data, &ids, paging.page(page.has_more))).into_response())
}

async fn update(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let view = state.core.update_membership_roles(&env, &id, role_slugs(&body)?).await?;
    Ok(axum::Json(wire::OrganizationMembership::from(&view)).into_response())
}

async fn deactivate(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.core.set_membership_active(&env, &id, false).await?;
    Ok(axum::Json(wire::OrganizationMembership::from(&view)).into_response())
}

async fn reactivate(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.core.set_membership_active(&env, &id, true).await?;
    Ok(axum::Json(wire::OrganizationMembership::from(&view)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_membership(&env, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
