//! Environment configuration over the WorkOS-compatible API: redirect URIs, CORS origins and
//! the JWT template, authenticated by the environment's API key.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde::Deserialize;

use super::extract::{ApiCaller, ApiKeyEnvironment, WireBody};
use crate::service::Error;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/redirect_uris", get(list_redirect_uris).post(add_redirect_uri))
        .route("/user_management/redirect_uris/{id}", delete(remove_redirect_uri))
        .route("/user_management/cors_origins", get(list_cors_origins).post(add_cors_origin))
        .route("/user_management/cors_origins/{id}", delete(remove_cors_origin))
        .route("/user_management/jwt_template", get(read_jwt_template).put(write_jwt_template))
}

#[derive(Deserialize)]
struct RedirectBody {
    uri: Option<String>,
}

async fn add_redirect_uri(
    State(state): State<AppState>,
    ApiCaller(env, actor): ApiCaller,
    WireBody(body): WireBody<RedirectBody>,
) -> Result<Response, ApiError> {
    let uri = body
        .uri
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Error::validation("uri", "uri_required", "uri is required."))?;
    let stored = state.core.add_redirect_uri(&env, &uri, &actor).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::RedirectUri::from(&stored))).into_response())
}

async fn list_redirect_uris(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
) -> Result<Response, ApiError> {
    let all = state.core.list_redirect_uris(&env).await?;
    Ok(axum::Json(wire::List::all(all.iter().map(wire::RedirectUri::from).collect())).into_response())
}

async fn remove_redirect_uri(
    State(state): State<AppState>,
    ApiCaller(env, actor): ApiCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.remove_redirect_uri(&env, &id, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct CorsBody {
    origin: Option<String>,
}

async fn add_cors_origin(
    State(state): State<AppState>,
    ApiCaller(env, actor): ApiCaller,
    WireBody(body): WireBody<CorsBody>,
) -> Result<Response, ApiError> {
    let origin = body
        .origin
        .filter(|o| !o.is_empty())
        .ok_or_else(|| Error::validation("origin", "origin_required", "origin is required."))?;
    let stored = state.core.add_cors_origin(&env, &origin, &actor).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::CorsOrigin::from(&stored))).into_response())
}

async fn list_cors_origins(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
) -> Result<Response, ApiError> {
    let all = state.core.list_cors_origins(&env).await?;
    Ok(axum::Json(wire::List::all(all.iter().map(wire::CorsOrigin::from).collect())).into_response())
}

async fn remove_cors_origin(
    State(state): State<AppState>,
    ApiCaller(env, actor): ApiCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.remove_cors_origin(&env, &id, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn read_jwt_template(ApiKeyEnvironment(env): ApiKeyEnvironment) -> Response {
    axum::Json(wire::JwtTemplate::from(&env)).into_response()
}

#[derive(Deserialize)]
struct TemplateBody {
    content: Option<String>,
}

async fn write_jwt_template(
    State(state): State<AppState>,
    ApiCaller(env, actor): ApiCaller,
    WireBody(body): WireBody<TemplateBody>,
) -> Result<Response, ApiError> {
    let content =
        body.content.ok_or_else(|| Error::validation("content", "content_required", "content is required."))?;
    let env = state.core.set_jwt_template(&env, &content, &actor).await?;
    Ok(axum::Json(wire::JwtTemplate::from(&env)).into_response())
}
