//! The WorkOS-compatible JSON API, the JWKS and the health check. Handlers are thin: extract,
//! call one `Core` method, convert; `web::error` turns service errors into wire shapes.

mod authenticate;
mod config_api;
mod email_api;
mod extract;
mod factors;
mod jwks;
mod lists;
mod sessions;
mod social;
mod users;

use axum::Router;
use axum::routing::get;

use crate::web::AppState;

/// The API's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .merge(authenticate::router())
        .merge(jwks::router())
        .merge(users::router())
        .merge(sessions::router())
        .merge(config_api::router())
        .merge(email_api::router())
        .merge(social::router())
        .merge(factors::router())
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}
