//! `/user_management/users…`: create, read, list, update, delete (wire spec §3.9).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::extract::{ApiKeyEnvironment, WireBody};
use super::lists::ListParams;
use crate::domain::listing::UserQuery;
use crate::service::Error;
use crate::service::users::{NewUser, UserPatch};
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/users", get(list).post(create))
        .route("/user_management/users/{id}", get(read).put(update).delete(remove))
        .route("/user_management/users/external_id/{external_id}", get(read_by_external_id))
}

#[derive(Deserialize)]
struct CreateBody {
    email: Option<String>,
    password: Option<String>,
    password_hash: Option<String>,
    password_hash_type: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email_verified: Option<bool>,
    external_id: Option<String>,
    metadata: Option<Map<String, Value>>,
}

async fn create(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<CreateBody>,
) -> Result<Response, ApiError> {
    let email = body
        .email
        .filter(|e| !e.is_empty())
        .ok_or_else(|| Error::validation("email", "email_required", "email is required."))?;
    let new = NewUser {
        email,
        password: body.password.filter(|p| !p.is_empty()),
        password_hash: hash_pair(body.password_hash, body.password_hash_type)?,
        first_name: body.first_name,
        last_name: body.last_name,
        email_verified: body.email_verified.unwrap_or(false),
        external_id: body.external_id,
        metadata: body.metadata.unwrap_or_default(),
    };
    let user = state.core.create_user(&env, new).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::User::from(&user))).into_response())
}

fn hash_pair(hash: Option<String>, kind: Option<String>) -> Result<Option<(String, String)>, Error> {
    match (hash.filter(|h| !h.is_empty()), kind) {
        (None, _) => Ok(None),
        (Some(h), Some(k)) => Ok(Some((h, k))),
        (Some(_), None) => Err(Error::validation(
            "password_hash_type",
            "password_hash_type_required",
            "password_hash_type is required with password_hash.",
        )),
    }
}

async fn read(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state.core.get_user(&env, &id).await?;
    Ok(axum::Json(wire::User::from(&user)).into_response())
}

async fn read_by_external_id(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(external_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state.core.get_user_by_external_id(&env, &external_id).await?;
    Ok(axum::Json(wire::User::from(&user)).into_response())
}

async fn list(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    let query = UserQuery {
        email: params.email.clone().filter(|e| !e.is_empty()),
        organization_id: params.organization_id.clone().or(params.organization.clone()).filter(|o| !o.is_empty()),
        limit: params.limit()?,
        before: params.before(),
        after: params.after(),
        order: params.order()?,
    };
    let page = state.core.list_users(&env, query).await?;
    let ids: Vec<&str> = page.users.iter().map(|u| u.id.as_str()).collect();
    let data = page.users.iter().map(wire::User::from).collect();
    Ok(axum::Json(wire::List::page(data, &ids, params.page(page.has_more))).into_response())
}

/// A field that may be absent (leave alone), null (clear) or a value.
fn nullable_text(body: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, Error> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(Error::validation(key, "invalid_type", format!("{key} must be a string or null."))),
    }
}

fn text(body: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    Ok(nullable_text(body, key)?.flatten())
}

async fn update(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let email_verified = match body.get("email_verified") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(
                Error::validation("email_verified", "invalid_type", "email_verified must be true or false.").into()
            );
        }
    };
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => {
            return Err(Error::validation("metadata", "invalid_type", "metadata must be an object.").into());
        }
    };
    let patch = UserPatch {
        email: text(&body, "email")?,
        email_verified,
        first_name: nullable_text(&body, "first_name")?,
        last_name: nullable_text(&body, "last_name")?,
        password: text(&body, "password")?.filter(|p| !p.is_empty()),
        password_hash: hash_pair(text(&body, "password_hash")?, text(&body, "password_hash_type")?)?,
        external_id: nullable_text(&body, "external_id")?,
        locale: nullable_text(&body, "locale")?,
        metadata,
    };
    let user = state.core.update_user(&env, &id, patch).await?;
    Ok(axum::Json(wire::User::from(&user)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_user(&env, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
