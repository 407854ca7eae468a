//! The web layer: the state every handler shares, the router that assembles the surfaces, the
//! middleware around them, and what more than one surface needs (the API error type, the page
//! renderer, cookies, CSRF, redirects, client metadata).
//!
//! A surface is a sibling module with a `router()`: `api` (the WorkOS-compatible JSON API and
//! the JWKS) and `hosted` (the sign-in pages). Surfaces import `service`, `domain` and this
//! module's shared parts, never each other; adding one is one line in `SURFACES`.

mod api;
pub mod client;
mod cookies;
mod csrf;
mod error;
mod extract;
mod hosted;
mod metrics;
mod middleware;
mod outcome;
mod pages;
mod redirects;
pub(crate) mod wire;

use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};

use crate::service::Core;
use error::ApiError;
pub use error::{protocol_error, protocol_error_json};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    /// Request and sign-in metrics (`GET /metrics`).
    pub metrics: Arc<metrics::Metrics>,
    pub web: Arc<WebConfig>,
}

/// What the web layer needs beyond the core: how to find client addresses, which
/// development-only pages are on.
#[derive(Clone, Debug, Default)]
pub struct WebConfig {
    pub client_addresses: client::ClientAddressConfig,
    /// `/dev/emails` (`--dev-emails`): off unless asked for, and then only for the development
    /// environment, over loopback, without a proxy, on a local public URL.
    pub dev_emails: bool,
}

impl AppState {
    pub fn new(core: Core, web: WebConfig) -> AppState {
        AppState::with_metrics_token(core, web, None)
    }

    /// `metrics_token`: the bearer token `GET /metrics` asks for (`None`: no `/metrics`).
    pub fn with_metrics_token(core: Core, web: WebConfig, metrics_token: Option<String>) -> AppState {
        // Parse the page templates now rather than on the first page.
        pages::pages();
        AppState { core: Arc::new(core), metrics: Arc::new(metrics::Metrics::new(metrics_token)), web: Arc::new(web) }
    }

    /// Whether Gatehouse is reached over https (cookies get `Secure` and the `__Host-` prefix).
    pub fn https(&self) -> bool {
        self.core.config().is_https()
    }
}

/// The surfaces, each a router over the shared state.
const SURFACES: &[fn() -> Router<AppState>] = &[api::router, hosted::router];

/// The whole application, ready to serve (testable without a socket).
pub fn app(state: AppState) -> Router {
    SURFACES
        .iter()
        .fold(Router::new(), |app, surface| app.merge(surface()))
        .route("/metrics", axum::routing::get(metrics::serve))
        .fallback(not_found)
        .layer(from_fn(middleware::json_errors))
        // Each middleware gets only what it reads (its state is cloned for every request).
        .layer(from_fn_with_state(state.https(), middleware::security_headers))
        .layer(from_fn_with_state(Arc::clone(&state.metrics), middleware::log_requests))
        .layer(from_fn_with_state(Arc::clone(&state.web), client::resolve_client))
        .with_state(state)
}

/// What `--metrics-listen` serves: `/metrics` without a token, sharing `state`'s counters.
pub fn metrics_app(state: AppState) -> Router {
    metrics::private_router(state)
}

async fn not_found() -> ApiError {
    ApiError::new(wire::ErrorCode::NotFound, "No such endpoint.")
}
