//! `/webhook_endpoints` (WorkOS's shapes: create, list, update with `PATCH` as the node SDK
//! sends it, delete; `GET` and `PUT` of one endpoint too), and Gatehouse's own delivery log
//! (`GET /webhook_endpoints/{id}/deliveries`) and replay (`POST /webhook_deliveries/{id}/replay`).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::extract::{ApiCaller, ApiKeyEnvironment, WireBody};
use super::lists::ListParams;
use crate::domain::listing::ListOrder;
use crate::service::Error;
use crate::service::webhooks::EndpointPatch;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/webhook_endpoints", get(list).post(create))
        .route("/webhook_endpoints/{id}", get(read).put(update).patch(update).delete(remove))
        .route("/webhook_endpoints/{id}/deliveries", get(deliveries))
        .route("/webhook_deliveries/{id}/replay", post(replay))
}

#[derive(Deserialize)]
struct Body {
    endpoint_url: Option<String>,
    events: Option<Vec<String>>,
    status: Option<String>,
}

fn url_required(url: Option<String>) -> Result<String, Error> {
    url.filter(|u| !u.is_empty())
        .ok_or_else(|| Error::validation("endpoint_url", "endpoint_url_required", "endpoint_url is required."))
}

async fn create(
    State(state): State<AppState>,
    ApiCaller(env, actor): ApiCaller,
    WireBody(body): WireBody<Body>,
) -> Result<Response, ApiError> {
    let url = url_required(body.endpoint_url)?;
    let events = body.events.unwrap_or_default();
    let endpoint = state.core.create_webhook_endpoint(&env, &url, events, &actor).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::WebhookEndpoint::from(&endpoint))).into_response())
}

async fn list(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    if params.before().is_some() {
        return Err(
            Error::validation("before", "invalid_cursor", "Webhook endpoints are paged with after only.").into()
        );
    }
    let ascending = params.order()? == ListOrder::Asc;
    let after = params.after();
    let (endpoints, has_more) =
        state.core.list_webhook_endpoints(&env, after.as_deref(), ascending, params.limit()?).await?;
    let ids: Vec<&str> = endpoints.iter().map(|e| e.id.as_str()).collect();
    let data: Vec<wire::WebhookEndpoint<'_>> = endpoints.iter().map(wire::WebhookEndpoint::from).collect();
    Ok(axum::Json(wire::List::page(data, &ids, params.page(has_more))).into_response())
}

async fn read(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let endpoint = state.core.get_webhook_endpoint(&env, &id).await?;
    Ok(axum::Json(wire::WebhookEndpoint::from(&endpoint)).into_response())
}

async fn update(
    State(state): State<AppState>,
    ApiCaller(env, actor): ApiCaller,
    Path(id): Path<String>,
    WireBody(body): WireBody<Body>,
) -> Result<Response, ApiError> {
    let enabled = match body.status.as_deref() {
        None => None,
        Some("enabled") => Some(true),
        Some("disabled") => Some(false),
        Some(_) => {
            return Err(Error::validation("status", "invalid_status", "status must be enabled or disabled.").into());
        }
    };
    let endpoint_url = match body.endpoint_url {
        Some(url) => Some(url_required(Some(url))?),
        None => None,
    };
    let patch = EndpointPatch { endpoint_url, events: body.events, enabled };
    let endpoint = state.core.update_webhook_endpoint(&env, &id, patch, &actor).await?;
    Ok(axum::Json(wire::WebhookEndpoint::from(&endpoint)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    ApiCaller(env, actor): ApiCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_webhook_endpoint(&env, &id, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deliveries(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    let limit = params.limit()?;
    let log = state.core.webhook_deliveries(&env, &id, i64::from(limit)).await?;
    let data: Vec<wire::WebhookDelivery<'_>> = log.iter().map(wire::WebhookDelivery::from).collect();
    Ok(axum::Json(wire::List::all(data)).into_response())
}

async fn replay(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let delivery = state.core.replay_delivery(&env, &id).await?;
    Ok(axum::Json(wire::WebhookDelivery::from(&delivery)).into_response())
}
