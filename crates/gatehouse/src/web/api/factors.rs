//! Two-factor API (wire spec §3.13, §4.6): enrol and list a user's TOTP factors, read and
//! delete a factor, challenge it and verify the challenge.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use super::extract::{ApiKeyEnvironment, WireBody};
use super::lists::ListParams;
use crate::service::Error;
use crate::service::mfa::TotpOptions;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::wire::{self, Page};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/users/{id}/auth_factors", get(list).post(enroll))
        .route("/auth/factors/enroll", post(enroll_legacy))
        .route("/auth/factors/{id}", get(read).delete(remove))
        .route("/auth/factors/{id}/challenge", post(challenge))
        .route("/auth/challenges/{id}/verify", post(verify))
}

#[derive(Deserialize)]
struct EnrollBody {
    #[serde(rename = "type")]
    factor_type: Option<String>,
    totp_issuer: Option<String>,
    totp_user: Option<String>,
    totp_secret: Option<String>,
}

async fn enroll(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(user_id): Path<String>,
    WireBody(body): WireBody<EnrollBody>,
) -> Result<Response, ApiError> {
    let factor_type = body
        .factor_type
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::validation("type", "type_required", "type is required (totp)."))?;
    let options = TotpOptions { issuer: body.totp_issuer, user: body.totp_user, secret: body.totp_secret };
    let (enrolment, challenge) = state.core.enroll_factor(&env, &user_id, &factor_type, options).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::Enrolment::new(&enrolment, &challenge))).into_response())
}

#[derive(Deserialize)]
struct LegacyEnrollBody {
    user_id: Option<String>,
    #[serde(flatten)]
    factor: EnrollBody,
}

/// `POST /auth/factors/enroll`, the older MFA API (`workos.mfa.enrollFactor`): the factor with its
/// secret, no challenge. With `user_id` the factor is that user's (as the user API enrols it);
/// without, as the SDK sends it, a factor of no user, which the app challenges and verifies.
async fn enroll_legacy(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    WireBody(body): WireBody<LegacyEnrollBody>,
) -> Result<Response, ApiError> {
    let f = body.factor;
    let factor_type = f
        .factor_type
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::validation("type", "type_required", "type is required (totp)."))?;
    let options = TotpOptions { issuer: f.totp_issuer, user: f.totp_user, secret: f.totp_secret };
    let enrolment = match body.user_id.filter(|u| !u.is_empty()) {
        Some(user_id) => state.core.enroll_factor(&env, &user_id, &factor_type, options).await?.0,
        None => state.core.enroll_standalone_factor(&env, &factor_type, options).await?,
    };
    Ok((StatusCode::CREATED, axum::Json(wire::Factor::enrolled(&enrolment))).into_response())
}

async fn list(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(user_id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    params.limit()?;
    params.order()?;
    // A user has a handful of factors: one page, oldest first.
    let factors = state.core.list_factors(&env, &user_id).await?;
    let ids: Vec<&str> = factors.iter().map(|f| f.id.as_str()).collect();
    let data = factors.iter().map(wire::Factor::from).collect();
    Ok(axum::Json(wire::List::page(data, &ids, Page::default())).into_response())
}

async fn read(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let factor = state.core.get_factor(&env, &id).await?;
    Ok(axum::Json(wire::Factor::from(&factor)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_factor(&env, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn challenge(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
    WireBody(_body): WireBody<Value>,
) -> Result<Response, ApiError> {
    let challenge = state.core.challenge_factor(&env, &id).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::Challenge::from(&challenge))).into_response())
}

#[derive(Deserialize)]
struct VerifyBody {
    code: Option<String>,
}

async fn verify(
    State(state): State<AppState>,
    ApiKeyEnvironment(env): ApiKeyEnvironment,
    Path(id): Path<String>,
    WireBody(body): WireBody<VerifyBody>,
) -> Result<Response, ApiError> {
    let code = body
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::validation("code", "code_required", "code is required."))?;
    let (challenge, valid) = state.core.verify_challenge(&env, &id, &code).await?;
    Ok((StatusCode::CREATED, axum::Json(wire::ChallengeVerification::new(&challenge, valid))).into_response())
}
