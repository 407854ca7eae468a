//! The HTTP side: `POST /api/query` and `POST /api/mutation` (Convex's public HTTP API, spec §5.1),
//! the sync WebSocket at `/api/{version}/sync` and `/api/sync`, `GET /health` and `GET /debug/stats`.

use std::time::SystemTime;

use axum::Json as JsonBody;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use gatehouse_verify::UserIdentity;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use tower_http::cors::{Any, CorsLayer};

use crate::AppState;
use crate::functions::{self, Kind};
use crate::values::Format;

/// The whole service.
pub fn router(state: AppState) -> Router {
    // Convex answers CORS requests from any origin on its public API.
    let cors = CorsLayer::new().allow_origin(Any).allow_methods(Any).allow_headers(Any);
    Router::new()
        .route("/api/query", post(query))
        .route("/api/mutation", post(mutation))
        .route("/api/sync", any(sync))
        .route("/api/{version}/sync", any(sync))
        .route("/health", get(|| async { "ok" }))
        .route("/debug/stats", get(stats))
        .layer(cors)
        .with_state(state)
}

async fn sync(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| crate::sync::run(state, socket))
}

async fn stats(State(state): State<AppState>) -> Response {
    JsonBody(state.stats().snapshot()).into_response()
}

async fn query(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    run(&state, Kind::Query, &headers, &body).await
}

async fn mutation(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    run(&state, Kind::Mutation, &headers, &body).await
}

#[derive(Deserialize)]
struct UdfRequest {
    path: String,
    #[serde(default = "empty_args")]
    args: Json,
    #[serde(default)]
    format: Option<String>,
}

fn empty_args() -> Json {
    Json::Object(Map::new())
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], json!({"code": code, "message": message}).to_string())
        .into_response()
}

async fn run(state: &AppState, kind: Kind, headers: &HeaderMap, body: &[u8]) -> Response {
    let identity = match authenticate(state, headers).await {
        Ok(identity) => identity,
        Err(response) => return response,
    };
    let request: UdfRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, "BadJsonBody", &format!("Failed to deserialize the JSON body: {e}"));
        }
    };
    let format = match request.format.as_deref() {
        None => Format::CleanJson,
        Some(name) => match Format::parse(name) {
            Some(f) => f,
            None => return error(StatusCode::BAD_REQUEST, "BadFormat", &format!("Invalid format: {name}")),
        },
    };
    let outcome = functions::call(state.storage(), kind, &request.path, &request.args, identity.as_ref()).await;
    let mut body = Map::new();
    let log_lines = match outcome {
        Ok(outcome) => {
            body.insert("status".into(), "success".into());
            body.insert("value".into(), outcome.value.to_json(format));
            outcome.log_lines
        }
        Err(e) => {
            body.insert("status".into(), "error".into());
            body.insert("errorMessage".into(), e.0.into());
            vec![]
        }
    };
    if !log_lines.is_empty() {
        body.insert("logLines".into(), log_lines.into());
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Json::Object(body).to_string()).into_response()
}

/// Convex's `Authorization` handling: none → no identity; otherwise the verifier's codes and messages.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<UserIdentity>, Response> {
    let header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => match v.to_str() {
            Ok(s) => Some(s),
            Err(_) => {
                return Err(error(StatusCode::BAD_REQUEST, "InvalidHeaderFailure", "Invalid authentication header"));
            }
        },
    };
    state.verifier().verify_authorization_header(header, SystemTime::now()).await.map_err(|e| {
        tracing::warn!(code = %e.code(), message = e.message(), diagnosis = %e.diagnosis(), "HTTP auth error");
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
        (status, [(header::CONTENT_TYPE, "application/json")], e.to_json()).into_response()
    })
}
