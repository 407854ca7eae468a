//! The web layer: the state every handler shares, the router that assembles the surfaces, the
//! middleware around them, and what more than one surface needs (the API error type, the page
//! renderer, cookies, CSRF, redirects, client metadata).
//!
//! A surface is a sibling module with a `router()`: `api` (the WorkOS-compatible JSON API and
//! the JWKS), `hosted` (the sign-in pages) and `console` (the operators' dashboard). Surfaces
//! import `service`, `domain` and this module's shared parts, never each other; adding one is
//! one line in `SURFACES`.

mod api;
pub mod client;
mod console;
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
    /// Where the console (`/dashboard`) is served.
    pub dashboard: Dashboard,
    /// The console's origin when it has its own address (`--dashboard-listen`), e.g.
    /// `http://127.0.0.1:9000`; `None`: the public URL.
    pub dashboard_url: Option<String>,
}

/// Where the console is served (`--dashboard`, `--dashboard-listen`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dashboard {
    /// At `/dashboard` on the public address.
    #[default]
    Public,
    /// Only on its own address (`dashboard_app`), not on the public one.
    Separate,
    /// Not at all.
    Off,
}

impl AppState {
    pub fn new(core: Core, web: WebConfig) -> AppState {
        AppState::with_metrics_token(core, web, None)
    }

    /// `metrics_token`: the bearer token `GET /metrics` asks for (`None`: no `/metrics`).
    pub fn with_metrics_token(core: Core, web: WebConfig, metrics_token: Option<String>) -> AppState {
        // Parse the page templates now rather than on the first page.
        pages::pages();
        console::warm_up();
        AppState { core: Arc::new(core), metrics: Arc::new(metrics::Metrics::new(metrics_token)), web: Arc::new(web) }
    }

    /// Whether Gatehouse is reached over https (cookies get `Secure` and the `__Host-` prefix).
    pub fn https(&self) -> bool {
        self.core.config().is_https()
    }
}

/// A surface: its name and its router over the shared state.
type Surface = (&'static str, fn() -> Router<AppState>);

/// The surfaces, by name.
const SURFACES: &[Surface] = &[("api", api::router), ("hosted", hosted::router), ("console", console::router)];

/// The whole application, ready to serve (testable without a socket). The console is in it
/// unless it has its own address or is off.
pub fn app(state: AppState) -> Router {
    let with_console = state.web.dashboard == Dashboard::Public;
    let app = SURFACES
        .iter()
        .filter(|(name, _)| *name != "console" || with_console)
        .fold(Router::new(), |app, (_, surface)| app.merge(surface()))
        .route("/metrics", axum::routing::get(metrics::serve));
    layered(app, state)
}

/// What `--dashboard-listen` serves: the console, and the hosted stylesheets its branding
/// preview uses.
pub fn dashboard_app(state: AppState) -> Router {
    layered(console::router().merge(hosted::stylesheets()), state)
}

/// The middleware every served router gets.
fn layered(app: Router<AppState>, state: AppState) -> Router {
    app.fallback(not_found)
        .layer(from_fn(middleware::json_errors))
        .layer(from_fn(middleware::request_actor))
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
