//! The one way a hosted sign-in ends, whatever the first factor was (password, sign-up, an
//! upstream provider…): any step-ups the environment requires, then a single-use code and a
//! 303 back to the app.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::domain::session::AuthMethod;
use crate::domain::user::User;
use crate::service::Error;
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::service::pending::StepUpNeeded;
use crate::web::AppState;
use crate::web::cookies;
use crate::web::redirects::see_other;

/// Finishes a hosted sign-in for `user`, authenticated by `method` (a WorkOS
/// `authentication_method` name such as `Password` or `GoogleOAuth`).
pub async fn finish(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &AuthMethod,
) -> Response {
    let step = match state.core.step_up_needed(env, user, method).await {
        Ok(step) => step,
        Err(e) => return crate::web::error::ApiError::from(e).into_response(),
    };
    match step {
        StepUpNeeded::None => after_step_ups(state, env, params, user, method).await,
        StepUpNeeded::VerifyEmail => {
            match state.core.send_verification_email(env, user).await {
                // A code sent moments ago is still good; the page offers to resend.
                Ok(_) | Err(Error::RateLimited { .. }) => {}
                Err(e) => return crate::web::error::ApiError::from(e).into_response(),
            }
            step_up_page(state, env, user, method, &format!("/authkit/verify-email?request={}", params.request_id))
                .await
        }
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
    method: &AuthMethod,
) -> Response {
    if params.then.as_deref() == Some(super::security::THEN_SECURITY) {
        return super::security::enter(state, env, params, user, method).await;
    }
    match state.core.issue_authorization_code(env, params, user, method).await {
        Ok(location) => {
            let mut response = see_other(&location);
            if let Some(clear) = cookies::set(cookies::PENDING, "", state.https(), Some(0)) {
                response.headers_mut().append(header::SET_COOKIE, clear);
            }
            response
        }
        Err(e) => crate::web::error::ApiError::from(e).into_response(),
    }
}

/// Starts a step-up: a pending token in a cookie, and a 303 to the page that asks for it.
pub async fn step_up_page(
    state: &AppState,
    env: &LoadedEnvironment,
    user: &User,
    method: &AuthMethod,
    page: &str,
) -> Response {
    let token = match state.core.create_pending_authentication(env, user, method).await {
        Ok(token) => token,
        Err(e) => return crate::web::error::ApiError::from(e).into_response(),
    };
    let mut response = see_other(page);
    if let Some(cookie) =
        cookies::set(cookies::PENDING, &token, state.https(), Some(crate::service::pending::PENDING_TTL_MS / 1000))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
