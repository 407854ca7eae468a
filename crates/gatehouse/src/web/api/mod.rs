//! The WorkOS-compatible JSON API, the JWKS, and the liveness (`/health`) and readiness
//! (`/ready`) checks. Handlers are thin: extract, call one `Core` method, convert;
//! `web::error` turns service errors into wire shapes.

mod authenticate;
mod authorization;
mod config_api;
mod email_api;
mod events;
mod extract;
mod factors;
mod fields;
mod invitations;
mod jwks;
mod lists;
mod memberships;
mod organization_domains;
mod organizations;
mod resources;
mod sessions;
mod social;
mod users;
mod webhooks;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::web::AppState;

/// The API's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .merge(authenticate::router())
        .merge(jwks::router())
        .merge(users::router())
        .merge(sessions::router())
        .merge(config_api::router())
        .merge(email_api::router())
        .merge(social::router())
        .merge(factors::router())
        .merge(events::router())
        .merge(webhooks::router())
        .merge(organizations::router())
        .merge(organization_domains::router())
        .merge(memberships::router())
        .merge(authorization::router())
        .merge(resources::router())
        .merge(invitations::router())
}

/// Alive: the process answers (no database involved).
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Ready to serve: the database answers and its schema is this binary's; 503 otherwise.
async fn ready(State(state): State<AppState>) -> (StatusCode, axum::Json<serde_json::Value>) {
    match state.core.readiness().await {
        Ok(()) => (StatusCode::OK, axum::Json(serde_json::json!({ "status": "ready" }))),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "unavailable", "reason": reason })),
        ),
    }
}
