//! `GET /events`: the environment's event log, in order, with WorkOS's filters.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;

use super::extract::ApiKeyEnvironment;
use super::lists::ListParams;
use crate::domain::listing::ListOrder;
use crate::service::Error;
use crate::service::events::EventFilter;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/events", get(list))
}

/// The query as pairs: `events` comes as `events=a,b` (the node SDK), `events=a&events=b` or
/// `events[]=a&events[]=b`.
async fn list(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let mut params = ListParams::default();
    let mut filter = EventFilter::default();
    for (key, value) in pairs {
        match key.as_str() {
            "events" | "events[]" => {
                filter.events.extend(value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned))
            }
            "organization_id" => filter.organization_id = Some(value).filter(|v| !v.is_empty()),
            "range_start" => filter.range_start = Some(value).filter(|v| !v.is_empty()),
            "range_end" => filter.range_end = Some(value).filter(|v| !v.is_empty()),
            "after" => params.after = Some(value),
            "before" => params.before = Some(value),
            "limit" => params.limit = Some(value),
            "order" => params.order = Some(value),
            _ => {}
        }
    }
    if params.before().is_some() {
        return Err(Error::validation("before", "invalid_cursor", "Events are paged with after only.").into());
    }
    filter.limit = params.limit()?;
    filter.after = params.after();
    // The log reads oldest first (WorkOS's events API is for catching up); `order=desc` walks
    // it backwards from `after`.
    filter.order = match params.order.as_deref().filter(|o| !o.is_empty()) {
        None | Some("asc" | "normal") => Some(ListOrder::Asc),
        Some(_) => Some(params.order()?),
    };
    let (events, has_more) = state.core.list_events(&env, filter).await?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let page = wire::Page { before: None, after: params.after.as_deref().filter(|s| !s.is_empty()), has_more };
    let data: Vec<wire::Event<'_>> = events.iter().map(wire::Event::from).collect();
    Ok(axum::Json(wire::List::page(data, &ids, page)).into_response())
}
