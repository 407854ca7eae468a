//! `GET /sso/jwks/{client_id}` and an OpenID discovery document per client.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::web::AppState;
use crate::web::error::ApiError;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/sso/jwks/{client_id}", get(jwks))
        .route("/user_management/{client_id}/.well-known/openid-configuration", get(discovery))
}

fn unknown_client(client_id: &str) -> ApiError {
    ApiError::coded(
        StatusCode::NOT_FOUND,
        "client_not_found",
        format!("No environment has the client ID '{client_id}'."),
    )
}

/// Public keys, cacheable for the configured max-age (verifiers such as Convex honour it).
async fn jwks(State(state): State<AppState>, Path(client_id): Path<String>) -> Result<Response, ApiError> {
    let env = state.core.load_environment(&client_id).await?.ok_or_else(|| unknown_client(&client_id))?;
    let body = state.core.jwks(&env)?;
    let mut response = axum::Json(body).into_response();
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
    let body = json!({
        "issuer": config.issuer(&env.client_id),
        "jwks_uri": config.jwks_url(&env.client_id),
        "authorization_endpoint": format!("{}/user_management/authorize", config.public_url),
        "token_endpoint": format!("{}/user_management/authenticate", config.public_url),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "password"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    });
    let mut response = axum::Json(body).into_response();
    let cache = format!("public, max-age={}", config.jwks_max_age_secs);
    if let Ok(v) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    Ok(response)
}
