//! The HTTP surface: the WorkOS-compatible API, the JWKS, and the hosted sign-in pages.
//! Handlers are thin: extract, call one `Core` method, convert.

mod authenticate;
mod config_api;
mod dev_outbox;
mod email_api;
pub mod error;
pub mod extract;
mod factors;
mod jwks;
mod lists;
mod sessions;
mod social;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::hosted::Pages;
use crate::service::Core;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub pages: Arc<Pages>,
}

/// The whole application, ready to serve (testable without a socket).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .merge(authenticate::router())
        .merge(jwks::router())
        .merge(users::router())
        .merge(sessions::router())
        .merge(config_api::router())
        .merge(email_api::router())
        .merge(dev_outbox::router())
        .merge(social::router())
        .merge(factors::router())
        .merge(crate::hosted::router())
        .fallback(not_found)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(log_requests))
        .with_state(state)
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> error::ApiError {
    error::ApiError::coded(axum::http::StatusCode::NOT_FOUND, "not_found", "No such endpoint.")
}

/// One line per request: method, path (never the query, which can hold tokens), status, time.
async fn log_requests(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, %path, status, duration_ms, "request failed");
    } else {
        tracing::debug!(%method, %path, status, duration_ms, "request");
    }
    response
}

/// Framework rejections (a malformed path or query, a wrong method) come as plain text; the
/// SDKs need JSON for every error, so those are rewritten into the coded shape.
async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_typed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_typed {
        return response;
    }
    let message = match status {
        axum::http::StatusCode::METHOD_NOT_ALLOWED => "This endpoint does not support that HTTP method.".to_owned(),
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.".to_owned(),
        _ => {
            let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&body).trim().to_owned();
            if text.is_empty() { "The request is not valid.".to_owned() } else { text }
        }
    };
    let code = if status.is_server_error() { "internal_error" } else { "invalid_request" };
    let mut out = (status, axum::Json(serde_json::json!({ "code": code, "message": message }))).into_response();
    out.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out
}

/// Headers every response carries: no sniffing, no framing, no referrer leaking codes.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        );
    }
    response
}
