//! `/authorization/resources…`, role assignments, the check and the resource-scoped listings
//! (WorkOS's resource-based authorization). Resources are named by ID or, within an
//! organization, by resource type and external ID.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Map, Value};

use super::extract::{ApiKeyEnvironment, WireBody};
use super::fields::{nullable_text, required_text, text};
use super::lists::ListParams;
use crate::domain::listing::Page;
use crate::domain::resource::{AssignmentQuery, Resource};
use crate::service::Error;
use crate::service::organizations::MembershipView;
use crate::service::resources::{
    AssignmentView, NewResource, ResourceFilter, ResourcePatch, ResourceRef, ResourceTarget,
};
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/authorization/resources", get(list_resources).post(create_resource))
        .route("/authorization/resources/{id}", get(read_resource).patch(update_resource).delete(delete_resource))
        .route("/authorization/resources/{id}/organization_memberships", get(members_of_resource))
        // The node SDK's `listRoleAssignmentsForResource` and `listResourceRoleAssignments`
        // (not in the OpenAPI document).
        .route("/authorization/resources/{id}/role_assignments", get(assignments_of_resource))
        .route(
            "/authorization/organizations/{org}/resources/{rtype}/{external_id}/role_assignments",
            get(assignments_of_external),
        )
        // The node SDK's `listEffectivePermissions` path (the OpenAPI document has the one under
        // organization_memberships below).
        .route("/authorization/resources/{id}/organization_memberships/{om}/permissions", get(sdk_permissions))
        .route(
            "/authorization/organizations/{org}/resources/{rtype}/{external_id}",
            get(read_external).patch(update_external).delete(delete_external),
        )
        .route(
            "/authorization/organizations/{org}/resources/{rtype}/{external_id}/organization_memberships",
            get(members_of_external),
        )
        .route("/authorization/organization_memberships/{om}/check", post(check))
        .route("/authorization/organization_memberships/{om}/resources", get(resources_for_membership))
        .route("/authorization/organization_memberships/{om}/resources/{a}/permissions", get(permissions_by_id))
        .route(
            "/authorization/organization_memberships/{om}/resources/{a}/{b}/permissions",
            get(permissions_by_external_id),
        )
        .route(
            "/authorization/organization_memberships/{om}/role_assignments",
            get(list_assignments).post(assign).delete(unassign),
        )
        .route("/authorization/organization_memberships/{om}/role_assignments/{id}", delete(remove_assignment))
}

/// The query string's parameters (the first of each name, empty ones as absent).
struct Params(Vec<(String, String)>);

impl Params {
    fn new(query: Option<String>) -> Params {
        Params(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
    }

    fn paging(&self) -> ListParams {
        ListParams {
            limit: self.get("limit"),
            before: self.get("before"),
            after: self.get("after"),
            order: self.get("order"),
            ..Default::default()
        }
    }

    fn required(&self, name: &str) -> Result<String, Error> {
        self.get(name).ok_or_else(|| Error::validation(name, "required", format!("{name} is required.")))
    }

    fn cascade(&self) -> Result<bool, Error> {
        match self.get("cascade_delete").as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(Error::validation("cascade_delete", "invalid", "cascade_delete must be true or false.")),
        }
    }
}

/// A resource named by `{id_key}`, or by `{external_key}` with `{type_key}`: exactly one way.
fn named(
    id: Option<String>,
    external_id: Option<String>,
    type_slug: Option<String>,
    keys: (&str, &str, &str),
) -> Result<Option<ResourceRef>, Error> {
    let (id_key, external_key, type_key) = keys;
    match (id, external_id, type_slug) {
        (None, None, None) => Ok(None),
        (Some(id), None, None) => Ok(Some(ResourceRef::Id(id))),
        (None, Some(external_id), Some(resource_type_slug)) => {
            Ok(Some(ResourceRef::External { resource_type_slug, external_id }))
        }
        (Some(_), _, _) => Err(Error::validation(
            id_key,
            "invalid",
            format!("Send {id_key}, or {external_key} with {type_key}, not both."),
        )),
        (None, _, _) => {
            Err(Error::validation(external_key, "required", format!("{external_key} and {type_key} go together.")))
        }
    }
}

/// The resource a body names (`resource_id`, or `resource_external_id` + `resource_type_slug`).
fn body_resource(body: &Map<String, Value>) -> Result<ResourceRef, Error> {
    let keys = ("resource_id", "resource_external_id", "resource_type_slug");
    named(text(body, keys.0)?, text(body, keys.1)?, text(body, keys.2)?, keys)?.ok_or_else(|| {
        Error::validation(
            "resource_id",
            "required",
            "resource_id, or resource_external_id with resource_type_slug, is required.",
        )
    })
}

fn resource_page(page: &Page<Resource>, params: &ListParams) -> Response {
    let ids: Vec<&str> = page.items.iter().map(|r| r.id.as_str()).collect();
    let data = page.items.iter().map(wire::AuthorizationResource::from).collect();
    axum::Json(wire::List::page(data, &ids, params.page(page.has_more))).into_response()
}

fn membership_page(page: &Page<MembershipView>, params: &ListParams) -> Response {
    let ids: Vec<&str> = page.items.iter().map(|v| v.membership.id.as_str()).collect();
    let data = page.items.iter().map(wire::OrganizationMembership::from).collect();
    axum::Json(wire::List::page(data, &ids, params.page(page.has_more))).into_response()
}

fn one(r: &Resource) -> Response {
    axum::Json(wire::AuthorizationResource::from(r)).into_response()
}

fn patch(body: &Map<String, Value>) -> Result<ResourcePatch, Error> {
    for key in ["parent_resource_id", "parent_resource_external_id", "parent_resource_type_slug"] {
        if body.get(key).is_some_and(|v| !v.is_null()) {
            return Err(Error::validation(key, "invalid", "Gatehouse does not move resources to another parent."));
        }
    }
    Ok(ResourcePatch { name: text(body, "name")?, description: nullable_text(body, "description")? })
}

fn external(org: String, resource_type_slug: String, external_id: String) -> ResourceTarget {
    ResourceTarget::External { organization_id: org, resource_type_slug, external_id }
}

// ---- resources ----

async fn create_resource(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let keys = ("parent_resource_id", "parent_resource_external_id", "parent_resource_type_slug");
    let parent = named(text(&body, keys.0)?, text(&body, keys.1)?, text(&body, keys.2)?, keys)?;
    let new = NewResource {
        organization_id: required_text(&body, "organization_id")?,
        resource_type_slug: required_text(&body, "resource_type_slug")?,
        external_id: required_text(&body, "external_id")?,
        name: required_text(&body, "name")?,
        description: text(&body, "description")?,
        parent,
    };
    let r = state.core.create_resource(&env, new).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::AuthorizationResource::from(&r))).into_response())
}

async fn list_resources(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::new(query);
    let paging = q.paging();
    let keys = ("parent_resource_id", "parent_external_id", "parent_resource_type_slug");
    let parent = named(q.get(keys.0), q.get(keys.1), q.get(keys.2), keys)?;
    let filter = ResourceFilter {
        organization_id: q.get("organization_id"),
        resource_type_slug: q.get("resource_type_slug"),
        external_id: q.get("resource_external_id"),
        parent,
        search: q.get("search"),
    };
    let page = state.core.list_resources(&env, filter, paging.cursor()?).await?;
    Ok(resource_page(&page, &paging))
}

async fn read_resource(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(one(&state.core.get_resource(&env, &ResourceTarget::Id(id)).await?))
}

async fn update_resource(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    Ok(one(&state.core.update_resource(&env, &ResourceTarget::Id(id), patch(&body)?).await?))
}

async fn delete_resource(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, ApiError> {
    let cascade = Params::new(query).cascade()?;
    state.core.delete_resource(&env, &ResourceTarget::Id(id), cascade).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn read_external(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((org, rtype, external_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    Ok(one(&state.core.get_resource(&env, &external(org, rtype, external_id)).await?))
}

async fn update_external(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((org, rtype, external_id)): Path<(String, String, String)>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    Ok(one(&state.core.update_resource(&env, &external(org, rtype, external_id), patch(&body)?).await?))
}

async fn delete_external(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((org, rtype, external_id)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, ApiError> {
    let cascade = Params::new(query).cascade()?;
    state.core.delete_resource(&env, &external(org, rtype, external_id), cascade).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- who has access ----

async fn members(
    state: &AppState,
    env: &crate::domain::environment::Environment,
    t: ResourceTarget,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let q = Params::new(query);
    let paging = q.paging();
    let direct = match q.get("assignment").as_deref() {
        None | Some("indirect") => false,
        Some("direct") => true,
        Some(_) => {
            return Err(Error::validation("assignment", "invalid", "assignment must be direct or indirect.").into());
        }
    };
    let permission = q.required("permission_slug")?;
    let page = state.core.memberships_for_resource(env, &t, &permission, direct, paging.cursor()?).await?;
    Ok(membership_page(&page, &paging))
}

async fn members_of_resource(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    members(&state, &env, ResourceTarget::Id(id), query).await
}

async fn members_of_external(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((org, rtype, external_id)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    members(&state, &env, external(org, rtype, external_id), query).await
}

// ---- a membership's access ----

async fn check(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(om): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let permission = required_text(&body, "permission_slug")?;
    let resource = body_resource(&body)?;
    let authorized = state.core.check_permission(&env, &om, &permission, &resource).await?;
    Ok(axum::Json(wire::AuthorizationCheck { authorized }).into_response())
}

async fn resources_for_membership(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(om): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::new(query);
    let paging = q.paging();
    let permission = q.required("permission_slug")?;
    let keys = ("parent_resource_id", "parent_resource_external_id", "parent_resource_type_slug");
    let parent = named(q.get(keys.0), q.get(keys.1), q.get(keys.2), keys)?;
    let page = state.core.resources_for_membership(&env, &om, &permission, parent.as_ref(), paging.cursor()?).await?;
    Ok(resource_page(&page, &paging))
}

async fn permissions(
    state: &AppState,
    env: &crate::domain::environment::Environment,
    om: &str,
    r: ResourceRef,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let paging = Params::new(query).paging();
    let page = state.core.effective_permissions(env, om, &r, paging.cursor()?).await?;
    let ids: Vec<&str> = page.items.iter().map(|p| p.id.as_str()).collect();
    let data = page.items.iter().map(wire::Permission::from).collect();
    Ok(axum::Json(wire::List::page(data, &ids, paging.page(page.has_more))).into_response())
}

async fn permissions_by_id(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((om, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    permissions(&state, &env, &om, ResourceRef::Id(id), query).await
}

async fn sdk_permissions(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((id, om)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    permissions(&state, &env, &om, ResourceRef::Id(id), query).await
}

async fn permissions_by_external_id(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((om, resource_type_slug, external_id)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    permissions(&state, &env, &om, ResourceRef::External { resource_type_slug, external_id }, query).await
}

// ---- role assignments ----

fn assignment_page(page: &Page<AssignmentView>, params: &ListParams) -> Response {
    let ids: Vec<&str> = page.items.iter().map(|v| v.assignment.id.as_str()).collect();
    let data = page.items.iter().map(wire::RoleAssignment::from).collect();
    axum::Json(wire::List::page(data, &ids, params.page(page.has_more))).into_response()
}

async fn list_assignments(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(om): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::new(query);
    let paging = q.paging();
    let filter = AssignmentQuery {
        resource_id: q.get("resource_id"),
        resource_external_id: q.get("resource_external_id"),
        resource_type_slug: q.get("resource_type_slug"),
        ..Default::default()
    };
    let page = state.core.list_role_assignments(&env, &om, filter, paging.cursor()?).await?;
    Ok(assignment_page(&page, &paging))
}

async fn resource_assignments(
    state: &AppState,
    env: &crate::domain::environment::Environment,
    t: ResourceTarget,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let q = Params::new(query);
    let paging = q.paging();
    let page = state.core.list_resource_role_assignments(env, &t, q.get("role_slug"), paging.cursor()?).await?;
    Ok(assignment_page(&page, &paging))
}

async fn assignments_of_resource(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    resource_assignments(&state, &env, ResourceTarget::Id(id), query).await
}

async fn assignments_of_external(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((org, rtype, external_id)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    resource_assignments(&state, &env, external(org, rtype, external_id), query).await
}

async fn assign(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(om): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let role_slug = required_text(&body, "role_slug")?;
    let resource = body_resource(&body)?;
    let view = state.core.assign_role(&env, &om, &role_slug, &resource).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::RoleAssignment::from(&view))).into_response())
}

async fn unassign(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(om): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<StatusCode, ApiError> {
    let role_slug = required_text(&body, "role_slug")?;
    let resource = body_resource(&body)?;
    state.core.remove_role(&env, &om, &role_slug, &resource).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_assignment(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path((om, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.core.remove_role_assignment(&env, &om, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
