//! The hosted two-factor step of a sign-in: the code page (authenticator app or recovery
//! code) and, when the environment requires two-factor, the enrolment page with its QR code.
//! The pending sign-in travels in an HttpOnly cookie, never in the page.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::forms::{field, fields, minutes};
use crate::domain::environment::Branding;
use crate::domain::session::AuthMethod;
use crate::domain::session::PendingAuthentication;
use crate::domain::user::User;
use crate::service::Error;
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::service::error::FactorError;
use crate::service::mfa::TotpEnrolment;
use crate::service::pending::{PENDING_TTL_MS, StepUpNeeded};
use crate::web::AppState;
use crate::web::cookies;
use crate::web::csrf;
use crate::web::pages::brand;
use crate::web::redirects::see_other;

pub const CHALLENGE_PAGE: &str = "/authkit/two-factor";
pub const SETUP_PAGE: &str = "/authkit/two-factor/setup";

/// Starts the two-factor step: a pending sign-in in a cookie, and a 303 to `page`.
pub async fn start(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &AuthMethod,
    page: &str,
) -> Response {
    let token = match state.core.create_pending_authentication(env, user, method).await {
        Ok(t) => t,
        Err(e) => return crate::web::error::ApiError::from(e).into_response(),
    };
    let request = match state.core.save_authorization_request(env, params).await {
        Ok(r) => r,
        Err(e) => return crate::web::error::ApiError::from(e).into_response(),
    };
    let mut response = see_other(&format!("{page}?request={request}"));
    if let Some(cookie) = cookies::set(cookies::PENDING, &token, state.https(), Some(PENDING_TTL_MS / 1000)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize)]
pub struct PageQuery {
    request: Option<String>,
}

/// A hosted sign-in waiting for its second factor.
struct Flow {
    env: Arc<LoadedEnvironment>,
    params: AuthorizeParams,
    request: String,
    pending: PendingAuthentication,
    user: User,
    token: String,
}

fn expired(state: &AppState) -> Response {
    state.pages.message(
        StatusCode::BAD_REQUEST,
        &Branding::default(),
        "This sign-in has expired",
        "For your security, sign-in steps time out after ten minutes. Go back to the app and choose Sign in again.",
    )
}

async fn load(state: &AppState, headers: &HeaderMap, request: &str) -> Result<Flow, Response> {
    let https = state.https();
    let (env, params) = match state.core.find_authorization_request(request).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(expired(state)),
        Err(e) => return Err(crate::web::error::ApiError::from(e).into_response()),
    };
    let Some(token) = cookies::read(headers, cookies::PENDING, https) else {
        return Err(expired(state));
    };
    match state.core.peek_pending_authentication(&env, &token).await {
        Ok((pending, user)) => Ok(Flow { env, params, request: request.to_owned(), pending, user, token }),
        Err(Error::InvalidPendingToken) => Err(expired(state)),
        Err(e) => Err(crate::web::error::ApiError::from(e).into_response()),
    }
}

/// The message for a refused code, and the status to show it with.
pub fn code_problem(e: &Error) -> Option<(StatusCode, String)> {
    match e {
        Error::Factor(FactorError::InvalidCode) => Some((
            StatusCode::BAD_REQUEST,
            "That code didn't work. Check the code in your authenticator app (each code works once) and try again."
                .into(),
        )),
        Error::RateLimited { retry_after_secs } => Some((
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many attempts. Try again in {}.", minutes(*retry_after_secs)),
        )),
        _ => None,
    }
}

fn render_challenge(
    state: &AppState,
    headers: &HeaderMap,
    flow: &Flow,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let (csrf_token, set_cookie) = csrf::token_for_form(headers, state.https());
    let settings = &flow.env.env.settings;
    let ctx = context! {
        title => "Two-factor authentication",
        subtitle => format!("Enter the 6-digit code from your authenticator app to continue to {}", settings.branding.app_name),
        request => &flow.request, csrf_token, error,
        action => CHALLENGE_PAGE,
        email => &flow.user.email,
        brand => brand(&settings.branding, Some(&flow.env.env.client_id)),
    };
    let mut response = state.pages.render("two_factor.html", status, ctx, Some(&flow.params.redirect_uri));
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The enrolment page (QR code, key for manual entry, first code).
#[allow(clippy::too_many_arguments)]
pub fn render_setup(
    state: &AppState,
    headers: &HeaderMap,
    env: &LoadedEnvironment,
    form_target: Option<&str>,
    enrolment: &TotpEnrolment,
    action: &str,
    request: &str,
    status: StatusCode,
    error: Option<String>,
    is_required: bool,
) -> Response {
    let (csrf_token, set_cookie) = csrf::token_for_form(headers, state.https());
    let settings = &env.env.settings;
    // Groups of four are easier to type.
    let secret_groups: Vec<String> =
        enrolment.secret_base32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let subtitle = if is_required {
        format!("{} requires a second step when you sign in", settings.branding.app_name)
    } else {
        "Use an app such as 1Password, Google Authenticator or Authy".to_owned()
    };
    let ctx = context! {
        title => "Set up an authenticator app",
        subtitle,
        request, csrf_token, error, action,
        qr_code => &enrolment.qr_code,
        secret => secret_groups.join(" "),
        account => &enrolment.factor.account,
        brand => brand(&settings.branding, Some(&env.env.client_id)),
    };
    let mut response = state.pages.render("two_factor_setup.html", status, ctx, form_target);
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn challenge_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let flow = match load(&state, &headers, q.request.as_deref().unwrap_or_default()).await {
        Ok(flow) => flow,
        Err(page) => return page,
    };
    render_challenge(&state, &headers, &flow, StatusCode::OK, None)
}

pub async fn challenge(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let f = fields(&body);
    let flow = match load(&state, &headers, &field(&f, "request")).await {
        Ok(flow) => flow,
        Err(page) => return page,
    };
    if !csrf::is_valid(&headers, state.https(), &field(&f, "csrf_token")) {
        return render_challenge(
            &state,
            &headers,
            &flow,
            StatusCode::BAD_REQUEST,
            Some("This form expired. Please try again.".into()),
        );
    }
    let code = field(&f, "code");
    if code.is_empty() {
        return render_challenge(
            &state,
            &headers,
            &flow,
            StatusCode::BAD_REQUEST,
            Some("Enter the code from your authenticator app.".into()),
        );
    }
    match state.core.verify_hosted_second_factor(&flow.env, &flow.user, &flow.pending.auth_method, &code).await {
        Ok(()) => finish(&state, &flow).await,
        Err(Error::InvalidPendingToken) => expired(&state),
        Err(e) => match code_problem(&e) {
            Some((status, message)) => render_challenge(&state, &headers, &flow, status, Some(message)),
            None => crate::web::error::ApiError::from(e).into_response(),
        },
    }
}

/// The second factor is proven: spend the pending sign-in and end the flow.
async fn finish(state: &AppState, flow: &Flow) -> Response {
    let (pending, user) = match state.core.consume_pending_authentication(&flow.env, &flow.token).await {
        Ok(found) => found,
        Err(Error::InvalidPendingToken) => return expired(state),
        Err(e) => return crate::web::error::ApiError::from(e).into_response(),
    };
    let mut response =
        super::complete::after_step_ups(state, &flow.env, &flow.params, &user, &pending.auth_method).await;
    if let Some(cookie) = cookies::set(cookies::PENDING, "", state.https(), Some(0)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Whether this pending sign-in is owed an enrolment (and not a challenge of an existing
/// factor, which a new factor must not bypass).
async fn owes_enrolment(state: &AppState, flow: &Flow) -> Result<bool, Response> {
    match state.core.step_up_needed(&flow.env, &flow.user, &flow.pending.auth_method).await {
        Ok(step) => Ok(step == StepUpNeeded::MfaEnrollment),
        Err(e) => Err(crate::web::error::ApiError::from(e).into_response()),
    }
}

pub async fn setup_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let flow = match load(&state, &headers, q.request.as_deref().unwrap_or_default()).await {
        Ok(flow) => flow,
        Err(page) => return page,
    };
    match owes_enrolment(&state, &flow).await {
        Ok(true) => {}
        Ok(false) => return see_other(&format!("{CHALLENGE_PAGE}?request={}", flow.request)),
        Err(page) => return page,
    }
    let enrolment = match state.core.start_hosted_enrolment(&flow.env.env, &flow.user).await {
        Ok(e) => e,
        Err(e) => return crate::web::error::ApiError::from(e).into_response(),
    };
    let target = Some(flow.params.redirect_uri.as_str());
    render_setup(&state, &headers, &flow.env, target, &enrolment, SETUP_PAGE, &flow.request, StatusCode::OK, None, true)
}

pub async fn setup(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let f = fields(&body);
    let flow = match load(&state, &headers, &field(&f, "request")).await {
        Ok(flow) => flow,
        Err(page) => return page,
    };
    match owes_enrolment(&state, &flow).await {
        Ok(true) => {}
        Ok(false) => return see_other(&format!("{CHALLENGE_PAGE}?request={}", flow.request)),
        Err(page) => return page,
    }
    if !csrf::is_valid(&headers, state.https(), &field(&f, "csrf_token")) {
        return setup_again(
            &state,
            &headers,
            &flow,
            StatusCode::BAD_REQUEST,
            "This form expired. Please try again.".into(),
        )
        .await;
    }
    let codes = match state.core.confirm_hosted_enrolment(&flow.env.env, &flow.user, &field(&f, "code")).await {
        Ok(codes) => codes,
        Err(e) => {
            return match code_problem(&e) {
                Some((status, message)) => setup_again(&state, &headers, &flow, status, message).await,
                None => crate::web::error::ApiError::from(e).into_response(),
            };
        }
    };
    let (pending, user) = match state.core.consume_pending_authentication(&flow.env, &flow.token).await {
        Ok(found) => found,
        Err(Error::InvalidPendingToken) => return expired(&state),
        Err(e) => return crate::web::error::ApiError::from(e).into_response(),
    };
    let mut response = super::security::show_recovery_codes_after_sign_in(
        &state,
        &headers,
        &flow.env,
        &flow.params,
        &user,
        &pending.auth_method,
        &codes,
    )
    .await;
    if let Some(cookie) = cookies::set(cookies::PENDING, "", state.https(), Some(0)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The enrolment page again, with a problem to show.
async fn setup_again(
    state: &AppState,
    headers: &HeaderMap,
    flow: &Flow,
    status: StatusCode,
    error: String,
) -> Response {
    match state.core.start_hosted_enrolment(&flow.env.env, &flow.user).await {
        Ok(enrolment) => render_setup(
            state,
            headers,
            &flow.env,
            Some(&flow.params.redirect_uri),
            &enrolment,
            SETUP_PAGE,
            &flow.request,
            status,
            Some(error),
            true,
        ),
        Err(e) => crate::web::error::ApiError::from(e).into_response(),
    }
}
