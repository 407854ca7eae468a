//! The hosted two-factor step of a sign-in: the code page (authenticator app or recovery
//! code) and, when the environment requires two-factor, the enrolment page with its QR code.
//! The pending sign-in travels in an HttpOnly cookie, never in the page.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::complete::after_step_ups;
use super::error::{Expired, PageError};
use super::form::{FORM_EXPIRED, Form, minutes, page};
use super::security::show_recovery_codes_after_sign_in;
use crate::domain::session::PendingAuthentication;
use crate::domain::user::User;
use crate::service::Error;
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::service::error::FactorError;
use crate::service::mfa::TotpEnrolment;
use crate::service::pending::StepUpNeeded;
use crate::web::extract::ClientInfo;
use crate::web::outcome::refused;
use crate::web::redirects::see_other;
use crate::web::{AppState, cookies};

pub const CHALLENGE_PAGE: &str = "/authkit/two-factor";
pub const SETUP_PAGE: &str = "/authkit/two-factor/setup";

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

impl Flow {
    /// The saved request `request` and the pending sign-in of the cookie; the expired page
    /// when either is gone.
    async fn load(state: &AppState, headers: &HeaderMap, request: &str) -> Result<Flow, PageError> {
        let (env, params) = state.core.find_authorization_request(request).await?.ok_or(Expired::SignInStep)?;
        let token = cookies::read(headers, cookies::PENDING, state.https()).ok_or(Expired::SignInStep)?;
        match state.core.peek_pending_authentication(&env, &token).await {
            Ok((pending, user)) => Ok(Flow { env, params, request: request.to_owned(), pending, user, token }),
            Err(Error::InvalidPendingToken) => Err(Expired::SignInStep.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Spends the pending sign-in, atomically: the second factor is proven.
    async fn consume(&self, state: &AppState) -> Result<(PendingAuthentication, User), PageError> {
        match state.core.consume_pending_authentication(&self.env, &self.token).await {
            Ok(found) => Ok(found),
            Err(Error::InvalidPendingToken) => Err(Expired::SignInStep.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether this sign-in is owed an enrolment (and not a challenge of an existing factor,
    /// which a new factor must not bypass).
    async fn owes_enrolment(&self, state: &AppState) -> Result<bool, PageError> {
        let step = state.core.step_up_needed(&self.env, &self.user, &self.pending.auth_method).await?;
        Ok(step == StepUpNeeded::MfaEnrollment)
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
    let settings = &flow.env.settings;
    let ctx = context! {
        title => "Two-factor authentication",
        subtitle => format!("Enter the 6-digit code from your authenticator app to continue to {}", settings.branding.app_name),
        request => &flow.request, error,
        action => CHALLENGE_PAGE,
        email => &flow.user.email,
    };
    page(state, headers, "two_factor.html", status, &flow.env, Some(&flow.params.redirect_uri), ctx)
}

/// Where an enrolment page posts to, and what it says.
pub struct Setup<'a> {
    /// The page's URL (the sign-in's step, or the account-security page's).
    pub action: &'a str,
    /// The saved request of a sign-in (empty on the account-security page).
    pub request: &'a str,
    /// The origin its form may lead to (the app's, during a sign-in).
    pub form_target: Option<&'a str>,
    /// Whether the environment requires two-factor (the sign-in's step).
    pub is_required: bool,
}

/// The enrolment page (QR code, key for manual entry, first code).
pub fn render_setup(
    state: &AppState,
    headers: &HeaderMap,
    env: &LoadedEnvironment,
    setup: &Setup<'_>,
    enrolment: &TotpEnrolment,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let settings = &env.settings;
    // Groups of four are easier to type.
    let secret_groups: Vec<String> =
        enrolment.secret_base32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let subtitle = if setup.is_required {
        format!("{} requires a second step when you sign in", settings.branding.app_name)
    } else {
        "Use an app such as 1Password, Google Authenticator or Authy".to_owned()
    };
    let ctx = context! {
        title => "Set up an authenticator app",
        subtitle,
        request => setup.request, error, action => setup.action,
        qr_code => &enrolment.qr_code,
        secret => secret_groups.join(" "),
        account => &enrolment.factor.account,
    };
    page(state, headers, "two_factor_setup.html", status, env, setup.form_target, ctx)
}

pub async fn challenge_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let flow = Flow::load(&state, &headers, q.request.as_deref().unwrap_or_default()).await?;
    Ok(render_challenge(&state, &headers, &flow, StatusCode::OK, None))
}

pub async fn challenge(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    form: Form,
) -> Result<Response, PageError> {
    let flow = Flow::load(&state, &headers, &form.field("request")).await?;
    if !form.csrf_ok() {
        return Ok(render_challenge(&state, &headers, &flow, StatusCode::BAD_REQUEST, Some(FORM_EXPIRED.into())));
    }
    let code = form.field("code");
    if code.is_empty() {
        let error = Some("Enter the code from your authenticator app.".into());
        return Ok(render_challenge(&state, &headers, &flow, StatusCode::BAD_REQUEST, error));
    }
    match state.core.verify_hosted_second_factor(&flow.env, &flow.user, &flow.pending.auth_method, &code, &info).await {
        Ok(()) => {}
        Err(Error::InvalidPendingToken) => return Err(Expired::SignInStep.into()),
        Err(e) => {
            let Some((status, message)) = code_problem(&e) else { return Err(e.into()) };
            return Ok(refused(
                render_challenge(&state, &headers, &flow, status, Some(message)),
                "invalid_one_time_code",
            ));
        }
    }
    let (pending, user) = flow.consume(&state).await?;
    let mut response =
        after_step_ups(&state, &flow.env, &flow.params, &user, &pending.auth_method).await.into_response();
    clear_pending(&state, &mut response);
    Ok(response)
}

fn clear_pending(state: &AppState, response: &mut Response) {
    super::complete::clear_pending(state, response);
}

impl Flow {
    fn setup(&self) -> Setup<'_> {
        Setup {
            action: SETUP_PAGE,
            request: &self.request,
            form_target: Some(&self.params.redirect_uri),
            is_required: true,
        }
    }
}

pub async fn setup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let flow = Flow::load(&state, &headers, q.request.as_deref().unwrap_or_default()).await?;
    if !flow.owes_enrolment(&state).await? {
        return Ok(see_other(&format!("{CHALLENGE_PAGE}?request={}", flow.request)));
    }
    let enrolment = state.core.start_hosted_enrolment(&flow.env, &flow.user).await?;
    Ok(render_setup(&state, &headers, &flow.env, &flow.setup(), &enrolment, StatusCode::OK, None))
}

pub async fn setup(State(state): State<AppState>, headers: HeaderMap, form: Form) -> Result<Response, PageError> {
    let flow = Flow::load(&state, &headers, &form.field("request")).await?;
    if !flow.owes_enrolment(&state).await? {
        return Ok(see_other(&format!("{CHALLENGE_PAGE}?request={}", flow.request)));
    }
    if !form.csrf_ok() {
        return setup_again(&state, &headers, &flow, StatusCode::BAD_REQUEST, FORM_EXPIRED.into()).await;
    }
    let codes = match state.core.confirm_hosted_enrolment(&flow.env, &flow.user, &form.field("code")).await {
        Ok(codes) => codes,
        Err(e) => match code_problem(&e) {
            Some((status, message)) => return setup_again(&state, &headers, &flow, status, message).await,
            None => return Err(e.into()),
        },
    };
    let (pending, user) = flow.consume(&state).await?;
    let mut response = show_recovery_codes_after_sign_in(
        &state,
        &headers,
        &flow.env,
        &flow.params,
        &user,
        &pending.auth_method,
        &codes,
    )
    .await
    .into_response();
    clear_pending(&state, &mut response);
    Ok(response)
}

/// The enrolment page again, with a problem to show.
async fn setup_again(
    state: &AppState,
    headers: &HeaderMap,
    flow: &Flow,
    status: StatusCode,
    error: String,
) -> Result<Response, PageError> {
    let enrolment = state.core.start_hosted_enrolment(&flow.env, &flow.user).await?;
    Ok(render_setup(state, headers, &flow.env, &flow.setup(), &enrolment, status, Some(error)))
}
