//! `GET /sso/jwks/{client_id}` and an OpenID discovery document per client.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire::{self, ErrorCode};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/sso/jwks/{client_id}", get(jwks))
        .route("/user_management/{client_id}/.well-known/openid-configuration", get(discovery))
}

fn unknown_client(client_id: &str) -> ApiError {
    ApiError::new(ErrorCode::ClientNotFound, format!("No environment has the client ID '{client_id}'."))
}

/// Public keys, cacheable for the configured max-age (verifiers such as Convex honour it).
async fn jwks(State(state): State<AppState>, Path(client_id): Path<String>) -> Result<Response, ApiError> {
    let env = state.core.load_environment(&client_id).await?.ok_or_else(|| unknown_client(&client_id))?;
    let keys = state.core.jwks(&env)?;
    let mut response = axum::Json(wire::Jwks::new(&keys)).into_response();
    let cache = format!("public, max-age={}", state.core.config().jwks_max_age_secs);
    if let Ok(v) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    Ok(response)
}

/// Enough OpenID Provider metadata for generic JWT verifiers to find the keys.
async fn discovery(State(state): State<AppState>, Path(client_id): Path<String>) -> Result<Response, ApiError> {
    let env = state.core.load_environment(&client_id).await?.ok_or_else(|| unknown_client(&client_id))?;
    let config = state.core.config();
    let body = wire::Discovery::new(config.issuer(&env.client_id), config.jwks_url(&env.client_id), &config.public_url);
    let mut response = axum::Json(body).into_response();
    let cache = format!("public, max-age={}", config.jwks_max_age_secs);
    if let Ok(v) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    Ok(response)
}
