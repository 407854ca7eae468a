//! `/organization_domains…`: add a domain to an organization, read it, remove it, and verify
//! it (a DNS TXT check, answered with the domain in its new state).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};

use super::extract::{ApiKeyEnvironment, WireBody};
use super::fields::required_text;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/organization_domains", post(create))
        .route("/organization_domains/{id}", get(read).delete(remove))
        .route("/organization_domains/{id}/verify", post(verify))
}

async fn create(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let organization_id = required_text(&body, "organization_id")?;
    let domain = required_text(&body, "domain")?;
    let d = state.core.create_domain(&env, &organization_id, &domain).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::OrganizationDomain::from(&d))).into_response())
}

async fn read(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let d = state.core.get_domain(&env, &id).await?;
    Ok(axum::Json(wire::OrganizationDomain::from(&d)).into_response())
}

async fn verify(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let d = state.core.verify_domain(&env, &id).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::OrganizationDomain::from(&d))).into_response())
}

async fn remove(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_domain(&env, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
