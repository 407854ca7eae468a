//! The one way a hosted sign-in ends, whatever the first factor was (password, sign-up, an
//! emailed code, a passkey, an upstream provider): the step-ups the environment requires
//! (`Core::continue_sign_in`, shared with the API), then a single-use code and a 303 back to
//! the app. `return_to_app` is the only code that issues an authorization code.

use axum::http::header;
use axum::response::Response;

use super::error::PageError;
use super::organization::PICKER_PAGE;
use super::security::{self, THEN_SECURITY};
use super::two_factor::{CHALLENGE_PAGE, SETUP_PAGE};
use crate::domain::client_address::ClientAddress;
use crate::domain::session::AuthMethod;
use crate::domain::user::User;
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::service::organizations::OrganizationChoice;
use crate::service::pending::{FirstFactor, PENDING_TTL_MS, SignInProgress, StartedStepUp};
use crate::service::throttle::DEVICE_COOKIE_TTL_MS;
use crate::web::AppState;
use crate::web::cookies;
use crate::web::redirects::see_other;

/// Finishes a hosted sign-in for `user`, who proved a first factor with `method` from the
/// client at `address`: on to the step-up page it owes (the pending sign-in in an HttpOnly
/// cookie), or back to the app. A step-up code counts against that client's and the
/// recipient's send limits.
pub async fn finish(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &AuthMethod,
    address: Option<&ClientAddress>,
) -> Result<Response, PageError> {
    finish_after(state, env, params, user, method, FirstFactor::Enough, address).await
}

/// `finish` for a first factor the throttles may have doubted (a password for an account
/// under attack, from a browser without a device cookie).
pub async fn finish_after(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &AuthMethod,
    first: FirstFactor,
    address: Option<&ClientAddress>,
) -> Result<Response, PageError> {
    let (pending_token, step) = match state.core.continue_sign_in_after(env, user, method, first, address).await? {
        SignInProgress::Complete => return after_step_ups(state, env, params, user, method).await,
        SignInProgress::StepUp { pending_token, step } => (pending_token, step),
    };
    let page = match step {
        // A code sent moments ago is still good; the page offers to resend.
        StartedStepUp::VerifyEmail(_) => format!("/authkit/verify-email?request={}", params.request_id),
        StartedStepUp::MfaChallenge { .. } => {
            format!("{CHALLENGE_PAGE}?request={}", state.core.save_authorization_request(env, params).await?)
        }
        StartedStepUp::MfaEnrollment => {
            format!("{SETUP_PAGE}?request={}", state.core.save_authorization_request(env, params).await?)
        }
    };
    let mut response = see_other(&page);
    if let Some(cookie) = cookies::set(cookies::PENDING, &pending_token, state.https(), Some(PENDING_TTL_MS / 1000)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The end of a hosted sign-in once every step-up is done: the account-security page if the
/// user asked for it, otherwise back to the app; the pending sign-in's cookie goes.
pub async fn after_step_ups(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &AuthMethod,
) -> Result<Response, PageError> {
    if params.then.as_deref() == Some(THEN_SECURITY) {
        return security::enter(state, env, params, user, method).await;
    }
    let mut response = return_to_app(state, env, params, user, method).await?;
    clear_pending(state, &mut response);
    Ok(response)
}

/// Clears the pending sign-in's cookie on a finished sign-in's answer, unless the answer is the
/// organization picker, which has just set a new one.
pub fn clear_pending(state: &AppState, response: &mut Response) {
    let to_picker = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|l| l.starts_with(PICKER_PAGE));
    if to_picker {
        return;
    }
    if let Some(clear) = cookies::set(cookies::PENDING, "", state.https(), Some(0)) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
}

/// A single-use authorization code for the finished sign-in, and a 303 to the app's
/// `redirect_uri` with it. Every hosted sign-in gets its code here and nowhere else, and with it
/// a device cookie: this browser has now signed in to this account, so it is counted apart from
/// other clients when the account is under attack (`service::throttle`).
pub async fn return_to_app(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &AuthMethod,
) -> Result<Response, PageError> {
    // Several organizations and the app named none: the picker first (it comes back here with
    // the choice).
    if params.organization_id.is_none()
        && let OrganizationChoice::Choose(_) = state.core.choose_organization(&env.id, user).await?
    {
        let token = state.core.create_pending_selection(env, user, method).await?;
        let request = state.core.save_authorization_request(env, params).await?;
        let mut response = see_other(&format!("{PICKER_PAGE}?request={request}"));
        if let Some(cookie) = cookies::set(cookies::PENDING, &token, state.https(), Some(PENDING_TTL_MS / 1000)) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        return Ok(response);
    }
    let location = state.core.issue_authorization_code(env, params, user, method).await?;
    let mut response = see_other(&location);
    let device = state.core.issue_device_cookie(env, &user.email);
    if let Some(cookie) = cookies::set(cookies::DEVICE, &device, state.https(), Some(DEVICE_COOKIE_TTL_MS / 1000)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
