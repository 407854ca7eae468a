//! Social login over the API: the environment's upstream providers (configuration,
//! authenticated by the API key) and a user's linked identities (wire spec §3.9).
//!
//! * `GET|POST /user_management/providers`, `GET|PUT|DELETE /user_management/providers/{name}`;
//! * `GET /user_management/users/{id}/identities` → a bare array of `wire::Identity`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};

use super::extract::{ApiCaller, ApiKeyEnvironment, WireBody};
use crate::domain::provider::StoredProvider;
use crate::service::Error;
use crate::service::social::{NewProvider, ProviderPatch, provider_label};
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/providers", get(list).post(create))
        .route("/user_management/providers/{name}", get(read).put(update).delete(remove))
        .route("/user_management/users/{id}/identities", get(identities))
}

fn to_wire<'a>(state: &AppState, p: &'a StoredProvider) -> wire::OAuthProvider<'a> {
    wire::OAuthProvider::new(p, provider_label(p), state.core.social_callback_url(&p.name))
}

/// A field that may be absent (leave alone), null (clear) or a string.
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

/// `scopes` as an array of strings or one space- or comma-separated string.
fn scopes(body: &Map<String, Value>) -> Result<Option<Vec<String>>, Error> {
    match body.get("scopes") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| Error::validation("scopes", "invalid_type", "scopes must be strings.")),
        Some(_) => Err(Error::validation("scopes", "invalid_type", "scopes must be an array of strings.")),
    }
}

fn enabled(body: &Map<String, Value>) -> Result<Option<bool>, Error> {
    match body.get("enabled") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::validation("enabled", "invalid_type", "enabled must be true or false.")),
    }
}

fn required(body: &Map<String, Value>, key: &str) -> Result<String, Error> {
    text(body, key)?
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Error::validation(key, &format!("{key}_required"), format!("{key} is required.")))
}

async fn create(
    State(state): State<AppState>,
    ApiCaller(env, actor): ApiCaller,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let new = NewProvider {
        name: required(&body, "name")?,
        client_id: required(&body, "client_id")?,
        client_secret: required(&body, "client_secret")?,
        scopes: scopes(&body)?,
        display_name: text(&body, "display_name")?,
        icon_url: text(&body, "icon_url")?,
        issuer: text(&body, "issuer")?,
        authorize_url: text(&body, "authorize_url")?,
        token_url: text(&body, "token_url")?,
        userinfo_url: text(&body, "userinfo_url")?,
        emails_url: text(&body, "emails_url")?,
        jwks_url: text(&body, "jwks_url")?,
        is_enabled: enabled(&body)?,
    };
    let provider = state.core.add_provider(&env, new, &actor).await?;
    Ok((StatusCode::CREATED, axum::Json(to_wire(&state, &provider))).into_response())
}

async fn list(State(state): State<AppState>, ApiKeyEnvironment(env): ApiKeyEnvironment) -> Result<Response, ApiError> {
    let all = state.core.list_providers(&env).await?;
    Ok(axum::Json(wire::List::all(all.iter().map(|p| to_wire(&state, p)).collect())).into_response())
}

async fn read(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let provider = state.core.get_provider(&env, &name).await?;
    Ok(axum::Json(to_wire(&state, &provider)).into_response())
}

async fn update(
    State(state): State<AppState>,
    ApiCaller(env, actor): ApiCaller,
    Path(name): Path<String>,
    WireBody(body): WireBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let patch = ProviderPatch {
        client_id: text(&body, "client_id")?,
        client_secret: text(&body, "client_secret")?,
        scopes: scopes(&body)?,
        display_name: nullable_text(&body, "display_name")?,
        icon_url: nullable_text(&body, "icon_url")?,
        issuer: nullable_text(&body, "issuer")?,
        authorize_url: nullable_text(&body, "authorize_url")?,
        token_url: nullable_text(&body, "token_url")?,
        userinfo_url: nullable_text(&body, "userinfo_url")?,
        emails_url: nullable_text(&body, "emails_url")?,
        jwks_url: nullable_text(&body, "jwks_url")?,
        is_enabled: enabled(&body)?,
    };
    let provider = state.core.update_provider(&env, &name, patch, &actor).await?;
    Ok(axum::Json(to_wire(&state, &provider)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    ApiCaller(env, actor): ApiCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.remove_provider(&env, &name, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn identities(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let list = state.core.list_identities(&env, &id).await?;
    Ok(axum::Json(list.iter().map(wire::Identity::from).collect::<Vec<_>>()).into_response())
}
