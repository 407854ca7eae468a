//! Magic Auth, email verification and password reset over the WorkOS API (wire spec
//! §3.10–§3.12, §4.7).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::extract::{ApiKeyEnvironment, WireBody};
use crate::domain::client_address::ClientAddress;
use crate::domain::environment::Environment;
use crate::domain::one_time_code::OneTimeCode;
use crate::service::codes::{CodeKind, Presenter};
use crate::service::environments::LoadedEnvironment;
use crate::service::{Core, Error};
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire;

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
    /// The end user's address as the backend states it (as on `authenticate`): the send limits
    /// per client address count it. Without it only the recipient's limits apply, since the
    /// backend's own address speaks for all its users.
    ip_address: Option<String>,
}

async fn create_magic_auth(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<EmailBody>,
) -> Result<Response, ApiError> {
    let env = loaded(&state.core, &env).await?;
    let stated = body.ip_address.as_deref().and_then(ClientAddress::parse_claimed);
    let (code, _) = state.core.create_magic_auth(&env, &required(body.email, "email")?, stated.as_ref()).await?;
    let plaintext = state.core.reveal_code(&code, CodeKind::MagicAuth);
    Ok((StatusCode::CREATED, axum::Json(wire::MagicAuth::new(&code, plaintext))).into_response())
}

async fn read_magic_auth(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let code = state.core.find_one_time_code(&env, CodeKind::MagicAuth, &id).await?;
    let plaintext = state.core.reveal_code(&code, CodeKind::MagicAuth);
    Ok(axum::Json(wire::MagicAuth::new(&code, plaintext)).into_response())
}

async fn send_verification(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state.core.get_user(&env, &id).await?;
    let loaded_env = loaded(&state.core, &env).await?;
    state.core.send_verification_email(&loaded_env, &user).await?;
    Ok(axum::Json(wire::UserResponse::from(&user)).into_response())
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
) -> Result<Response, ApiError> {
    let code = required(body.code, "code")?;
    let user = state.core.get_user(&env, &id).await?;
    let loaded_env = loaded(&state.core, &env).await?;
    // A backend with the API key: its own address speaks for all its users.
    let user = state.core.confirm_email_verification(&loaded_env, user, &code, Presenter::default()).await?;
    Ok(axum::Json(wire::UserResponse::from(&user)).into_response())
}

async fn read_verification(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let code = state.core.find_one_time_code(&env, CodeKind::EmailVerification, &id).await?;
    let plaintext = state.core.reveal_code(&code, CodeKind::EmailVerification);
    Ok(axum::Json(wire::EmailVerification::new(&code, plaintext)).into_response())
}

async fn create_password_reset(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<EmailBody>,
) -> Result<Response, ApiError> {
    let env = loaded(&state.core, &env).await?;
    let (code, _) = state.core.create_password_reset(&env, &required(body.email, "email")?).await?;
    Ok((StatusCode::CREATED, axum::Json(password_reset(&state.core, &env, &code))).into_response())
}

async fn read_password_reset(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let loaded_env = loaded(&state.core, &env).await?;
    let code = state.core.find_one_time_code(&env, CodeKind::PasswordReset, &id).await?;
    Ok(axum::Json(password_reset(&state.core, &loaded_env, &code)).into_response())
}

fn password_reset<'a>(core: &Core, env: &LoadedEnvironment, code: &'a OneTimeCode) -> wire::PasswordReset<'a> {
    let token = core.reveal_code(code, CodeKind::PasswordReset);
    let url = token.as_deref().map(|t| core.password_reset_url(env, t));
    wire::PasswordReset::new(code, token, url)
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
) -> Result<Response, ApiError> {
    let token = required(body.token, "token")?;
    let password = required(body.new_password, "new_password")?;
    let user = state.core.reset_password(Some(&env.id), &token, &password).await.map_err(ApiError::password_reset)?;
    Ok(axum::Json(wire::UserResponse::from(&user)).into_response())
}
