//! Magic Auth, email verification and password reset over the WorkOS API (wire spec
//! §3.10–§3.12, §4.7).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiKeyEnvironment, WireBody};
use crate::domain::environment::Environment;
use crate::service::codes::CodeKind;
use crate::service::environments::LoadedEnvironment;
use crate::service::{Core, Error};
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::extract::ClientInfo;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/magic_auth", post(create_magic_auth))
        .route("/user_management/magic_auth/{id}", get(read_magic_auth))
        .route("/user_management/users/{id}/email_verification/send", post(send_verification))
        .route("/user_management/users/{id}/email_verification/confirm", post(confirm_verification))
        .route("/user_management/email_verification/{id}", get(read_verification))
        .route("/user_management/password_reset", post(create_password_reset))
        .route("/user_management/password_reset/confirm", post(confirm_password_reset))
        .route("/user_management/password_reset/{id}", get(read_password_reset))
}

async fn loaded(core: &Core, env: &Environment) -> Result<std::sync::Arc<LoadedEnvironment>, ApiError> {
    Ok(core
        .load_environment(&env.client_id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("environment {} vanished", env.name)))?)
}

fn required(value: Option<String>, name: &str) -> Result<String, Error> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Error::validation(name, &format!("{name}_required"), format!("{name} is required.")))
}

#[derive(Deserialize)]
struct EmailBody {
    email: Option<String>,
}

async fn create_magic_auth(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    ClientInfo(info): ClientInfo,
    WireBody(body): WireBody<EmailBody>,
) -> Result<Response, ApiError> {
    let env = loaded(&state.core, &env).await?;
    let (code, _) = state.core.create_magic_auth(&env, &required(body.email, "email")?, info.address.as_ref()).await?;
    Ok((StatusCode::CREATED, axum::Json(state.core.magic_auth_to_wire(&code))).into_response())
}

async fn read_magic_auth(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let code = state.core.find_one_time_code(&env, CodeKind::MagicAuth, &id).await?;
    Ok(axum::Json(state.core.magic_auth_to_wire(&code)))
}

async fn send_verification(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let user = state.core.get_user(&env, &id).await?;
    let loaded_env = loaded(&state.core, &env).await?;
    state.core.send_verification_email(&loaded_env, &user).await?;
    Ok(axum::Json(json!({ "user": user.to_wire() })))
}

#[derive(Deserialize)]
struct CodeBody {
    code: Option<String>,
}

async fn confirm_verification(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
    WireBody(body): WireBody<CodeBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let code = required(body.code, "code")?;
    let user = state.core.get_user(&env, &id).await?;
    let loaded_env = loaded(&state.core, &env).await?;
    let user = state.core.confirm_email_verification(&loaded_env, user, &code).await?;
    Ok(axum::Json(json!({ "user": user.to_wire() })))
}

async fn read_verification(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let code = state.core.find_one_time_code(&env, CodeKind::EmailVerification, &id).await?;
    Ok(axum::Json(state.core.email_verification_to_wire(&code)))
}

async fn create_password_reset(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<EmailBody>,
) -> Result<Response, ApiError> {
    let env = loaded(&state.core, &env).await?;
    let (code, _) = state.core.create_password_reset(&env, &required(body.email, "email")?).await?;
    Ok((StatusCode::CREATED, axum::Json(state.core.password_reset_to_wire(&env, &code))).into_response())
}

async fn read_password_reset(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let loaded_env = loaded(&state.core, &env).await?;
    let code = state.core.find_one_time_code(&env, CodeKind::PasswordReset, &id).await?;
    Ok(axum::Json(state.core.password_reset_to_wire(&loaded_env, &code)))
}

#[derive(Deserialize)]
struct ResetBody {
    token: Option<String>,
    new_password: Option<String>,
}

async fn confirm_password_reset(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<ResetBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let token = required(body.token, "token")?;
    let password = required(body.new_password, "new_password")?;
    let user = state.core.reset_password(Some(&env.id), &token, &password).await?;
    Ok(axum::Json(json!({ "user": user.to_wire() })))
}
