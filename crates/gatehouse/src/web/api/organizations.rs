//! `/organizations…`: create, read (by ID or external ID), list, update, delete.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::extract::{ApiKeyEnvironment, WireBody};
use super::fields::{boolean, nullable_text, object, required_text, strings, text};
use crate::domain::listing::OrganizationQuery;
use crate::service::Error;
use crate::service::organization_domains::DomainInput;
use crate::service::organizations::{NewOrganization, OrganizationPatch};
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/organizations", get(list).post(create))
        .route("/organizations/{id}", get(read).put(update).delete(remove))
        .route("/organizations/external_id/{external_id}", get(read_by_external_id))
}

/// `domain_data` (`[{domain, state: "pending" | "verified"}]`) and the older `domains` (names,
/// taken as pending: a bare name proves nothing), together; `None` when neither is sent.
fn domain_inputs(body: &Map<String, Value>) -> Result<Option<Vec<DomainInput>>, Error> {
    let mut out = Vec::new();
    let mut sent = false;
    match body.get("domain_data") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            sent = true;
            for item in items {
                let invalid = || {
                    Error::validation(
                        "domain_data",
                        "invalid_type",
                        "domain_data must be an array of {domain, state} objects, state pending or verified.",
                    )
                };
                let item = item.as_object().ok_or_else(invalid)?;
                let domain = item.get("domain").and_then(Value::as_str).ok_or_else(invalid)?;
                let verified = match item.get("state").and_then(Value::as_str) {
                    Some("verified") => true,
                    Some("pending") => false,
                    _ => return Err(invalid()),
                };
                out.push(DomainInput { domain: domain.to_owned(), verified });
            }
        }
        Some(_) => {
            return Err(Error::validation("domain_data", "invalid_type", "domain_data must be an array."));
        }
    }
    if let Some(names) = strings(body, "domains")? {
        sent = true;
        out.extend(names.into_iter().map(|domain| DomainInput { domain, verified: false }));
    }
    Ok(sent.then_some(out))
}

async fn create(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let new = NewOrganization {
        name: required_text(&body, "name")?,
        external_id: text(&body, "external_id")?,
        metadata: object(&body, "metadata")?.unwrap_or_default(),
        allow_profiles_outside_organization: boolean(&body, "allow_profiles_outside_organization")?.unwrap_or(false),
        require_mfa: false,
        domain_auto_join: boolean(&body, "domain_auto_join")?.unwrap_or(false),
        domains: domain_inputs(&body)?.unwrap_or_default(),
    };
    let org = state.core.create_organization(&env, new).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::Organization::from(&org))).into_response())
}

async fn read(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let org = state.core.get_organization(&env, &id).await?;
    Ok(axum::Json(wire::Organization::from(&org)).into_response())
}

async fn read_by_external_id(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(external_id): Path<String>,
) -> Result<Response, ApiError> {
    let org = state.core.get_organization_by_external_id(&env, &external_id).await?;
    Ok(axum::Json(wire::Organization::from(&org)).into_response())
}

#[derive(Deserialize, Default)]
struct OrganizationListParams {
    limit: Option<String>,
    before: Option<String>,
    after: Option<String>,
    order: Option<String>,
    search: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Query(params): Query<OrganizationListParams>,
) -> Result<Response, ApiError> {
    let paging = super::lists::ListParams {
        limit: params.limit,
        before: params.before,
        after: params.after,
        order: params.order,
        ..Default::default()
    };
    let query = OrganizationQuery { search: params.search.filter(|s| !s.is_empty()), cursor: paging.cursor()? };
    let page = state.core.list_organizations(&env, query).await?;
    let ids: Vec<&str> = page.items.iter().map(|o| o.id.as_str()).collect();
    let data = page.items.iter().map(wire::Organization::from).collect();
    Ok(axum::Json(wire::List::page(data, &ids, paging.page(page.has_more))).into_response())
}

async fn update(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let patch = OrganizationPatch {
        name: text(&body, "name")?,
        external_id: nullable_text(&body, "external_id")?,
        metadata: object(&body, "metadata")?,
        allow_profiles_outside_organization: boolean(&body, "allow_profiles_outside_organization")?,
        require_mfa: None,
        domain_auto_join: boolean(&body, "domain_auto_join")?,
        domains: domain_inputs(&body)?,
    };
    let org = state.core.update_organization(&env, &id, patch).await?;
    Ok(axum::Json(wire::Organization::from(&org)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_organization(&env, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
