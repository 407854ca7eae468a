//! The one way a hosted sign-in ends, whatever the first factor was (password, sign-up, an
//! upstream provider…): any step-ups the environment requires, then a single-use code and a
//! 303 back to the app.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::user::User;
use crate::http::AppState;
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::service::pending::StepUpNeeded;

/// Finishes a hosted sign-in for `user`, authenticated by `method` (a WorkOS
/// `authentication_method` name such as `Password` or `GoogleOAuth`).
pub async fn finish(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &str,
) -> Response {
    let step = match state.core.step_up_needed(env, user, method).await {
        Ok(step) => step,
        Err(e) => return crate::http::error::ApiError::from(e).into_response(),
    };
    match step {
        StepUpNeeded::None => after_step_ups(state, env, params, user, method).await,
        StepUpNeeded::MfaChallenge { .. } => {
            super::two_factor::start(state, env, params, user, method, super::two_factor::CHALLENGE_PAGE).await
        }
        StepUpNeeded::MfaEnrollment => {
            super::two_factor::start(state, env, params, user, method, super::two_factor::SETUP_PAGE).await
        }
    }
}

/// The end of a hosted sign-in once every step-up is done: the account-security page if the
/// user asked for it, otherwise a code and a 303 back to the app.
pub async fn after_step_ups(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &str,
) -> Response {
    if params.then.as_deref() == Some(super::security::THEN_SECURITY) {
        return super::security::enter(state, env, params, user, method).await;
    }
    match state.core.issue_authorization_code(env, params, user, method).await {
        Ok(location) => see_other(&location),
        Err(e) => crate::http::error::ApiError::from(e).into_response(),
    }
}

/// 303 See Other: after a form POST the browser follows with a GET.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}
