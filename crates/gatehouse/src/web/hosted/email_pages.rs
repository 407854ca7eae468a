//! Hosted pages that work by email: sign in with a code (Magic Auth), verify an email address
//! as a step-up, and reset a forgotten password.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::complete::finish;
use super::forms::{expired, field, fields, load, minutes, page};
use crate::domain::session::AuthMethod;
use crate::service::Error;
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::extract::ClientInfo;
use crate::web::{cookies, csrf};

#[derive(Deserialize)]
pub struct RequestQuery {
    request: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

fn https(state: &AppState) -> bool {
    state.https()
}

/// A message for the form, or the response for errors no form can explain.
fn form_error(e: Error) -> Result<String, Box<Response>> {
    match e {
        Error::RateLimited { retry_after_secs } => {
            Ok(format!("Too many requests. Try again in {}.", minutes(retry_after_secs)))
        }
        Error::Validation { message, .. } | Error::Rejected { message, .. } | Error::PasswordStrength(message) => {
            Ok(message)
        }
        Error::InvalidPendingToken => Ok("This sign-in has expired. Go back to the app and sign in again.".into()),
        other => Err(Box::new(ApiError::from(other).into_response())),
    }
}

#[allow(clippy::too_many_arguments)]
fn email_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    kind: EmailForm,
    email: &str,
    error: Option<String>,
) -> Response {
    let app = &env.env.settings.branding.app_name;
    let (title, subtitle, action, button) = match kind {
        EmailForm::MagicAuth => (
            "Sign in with a code".to_owned(),
            format!("We'll email you a six-digit code for {app}."),
            "/authkit/magic-auth",
            "Email me a code",
        ),
        EmailForm::ForgotPassword => (
            "Reset your password".to_owned(),
            "Enter your email and we'll send you a link to choose a new password.".to_owned(),
            "/authkit/forgot-password",
            "Send reset link",
        ),
    };
    let ctx = context! { title, subtitle, action, button, email, error, request => &params.request_id };
    page(state, headers, "email_form.html", status, env, Some(&params.redirect_uri), ctx)
}

#[derive(Clone, Copy)]
enum EmailForm {
    MagicAuth,
    ForgotPassword,
}

#[allow(clippy::too_many_arguments)]
fn code_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    email_field: Option<&str>,
    shown_email: &str,
    action: &str,
    resend_action: &str,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let ctx = context! {
        title => "Check your email",
        subtitle => format!("Enter the six-digit code we sent to {shown_email}."),
        action, resend_action, button => "Continue", email => email_field, error, notice,
        request => &params.request_id,
    };
    page(state, headers, "code.html", status, env, Some(&params.redirect_uri), ctx)
}

/// A posted form with the saved `/authorize` request it names (`request`).
async fn load_posted(
    state: &AppState,
    body: &Bytes,
) -> Result<(HashMap<String, String>, Arc<LoadedEnvironment>, AuthorizeParams), Response> {
    let f = fields(body);
    let (env, params) = load(state, Some(&field(&f, "request"))).await?;
    Ok((f, env, params))
}

// ---- Magic Auth -------------------------------------------------------------------------

pub async fn magic_auth_page(state: State<AppState>, headers: HeaderMap, query: Query<RequestQuery>) -> Response {
    email_form_page(state, headers, query, EmailForm::MagicAuth).await
}

/// GET of an email form: the saved request, the email pre-filled from `login_hint`.
async fn email_form_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RequestQuery>,
    kind: EmailForm,
) -> Response {
    let (env, params) = match load(&state, q.request.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let email = params.login_hint.clone().unwrap_or_default();
    email_form(&state, &headers, StatusCode::OK, &env, &params, kind, &email, None)
}

/// Sends the code (or a new one) and shows the code form.
pub async fn magic_auth_send(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    body: Bytes,
) -> Response {
    let (f, env, params) = match load_posted(&state, &body).await {
        Ok(posted) => posted,
        Err(page) => return page,
    };
    let email = field(&f, "email").trim().to_owned();
    let retry =
        |status, error| email_form(&state, &headers, status, &env, &params, EmailForm::MagicAuth, &email, Some(error));
    if !csrf::is_valid(&headers, https(&state), &field(&f, "csrf_token")) {
        return retry(StatusCode::BAD_REQUEST, "This form expired. Please try again.".into());
    }
    if !env.env.settings.magic_auth_enabled {
        return retry(StatusCode::FORBIDDEN, "Sign-in with an emailed code is turned off for this application.".into());
    }
    // Without sign-up, unknown addresses get the same page but no account and no email.
    if let Err(e) = state.core.request_magic_auth(&env, &email, info.ip_address.as_deref()).await {
        return match form_error(e) {
            Ok(message) => retry(StatusCode::BAD_REQUEST, message),
            Err(response) => *response,
        };
    }
    let resent = field(&f, "code").is_empty() && !field(&f, "resend").is_empty();
    code_form(
        &state,
        &headers,
        StatusCode::OK,
        &env,
        &params,
        Some(&email),
        &email,
        "/authkit/magic-auth/verify",
        "/authkit/magic-auth",
        None,
        resent.then_some("We sent a new code."),
    )
}

pub async fn magic_auth_verify(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (f, env, params) = match load_posted(&state, &body).await {
        Ok(posted) => posted,
        Err(page) => return page,
    };
    let email = field(&f, "email").trim().to_owned();
    let retry = |error: String| {
        code_form(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            &env,
            &params,
            Some(&email),
            &email,
            "/authkit/magic-auth/verify",
            "/authkit/magic-auth",
            Some(error),
            None,
        )
    };
    if !csrf::is_valid(&headers, https(&state), &field(&f, "csrf_token")) {
        return retry("This form expired. Please try again.".into());
    }
    match state.core.redeem_magic_auth(&env, &email, &field(&f, "code")).await {
        Ok(user) => finish(&state, &env, &params, &user, &AuthMethod::MagicAuth).await,
        Err(e) => match form_error(e) {
            Ok(message) => retry(message),
            Err(response) => *response,
        },
    }
}

// ---- Email verification step-up ----------------------------------------------------------

pub async fn verify_email_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RequestQuery>,
) -> Response {
    let (env, params) = match load(&state, q.request.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let token = cookies::read(&headers, cookies::PENDING, https(&state)).unwrap_or_default();
    match state.core.peek_pending_authentication(&env, &token).await {
        Ok((_, user)) => code_form(
            &state,
            &headers,
            StatusCode::OK,
            &env,
            &params,
            None,
            &user.email,
            "/authkit/verify-email",
            "/authkit/verify-email/resend",
            None,
            None,
        ),
        Err(_) => expired(&state),
    }
}

pub async fn verify_email(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (f, env, params) = match load_posted(&state, &body).await {
        Ok(posted) => posted,
        Err(page) => return page,
    };
    let token = cookies::read(&headers, cookies::PENDING, https(&state)).unwrap_or_default();
    let Ok((pending, user)) = state.core.peek_pending_authentication(&env, &token).await else {
        return expired(&state);
    };
    let retry = |error: String, notice: Option<&str>| {
        code_form(
            &state,
            &headers,
            if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST },
            &env,
            &params,
            None,
            &user.email,
            "/authkit/verify-email",
            "/authkit/verify-email/resend",
            (!error.is_empty()).then_some(error),
            notice,
        )
    };
    if !csrf::is_valid(&headers, https(&state), &field(&f, "csrf_token")) {
        return retry("This form expired. Please try again.".into(), None);
    }
    match state.core.confirm_email_verification(&env, user.clone(), &field(&f, "code")).await {
        Ok(user) => {
            if state.core.consume_pending_authentication(&env, &token).await.is_err() {
                return expired(&state);
            }
            finish(&state, &env, &params, &user, &pending.auth_method).await
        }
        Err(e) => match form_error(e) {
            Ok(message) => retry(message, None),
            Err(response) => *response,
        },
    }
}

pub async fn verify_email_resend(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (f, env, params) = match load_posted(&state, &body).await {
        Ok(posted) => posted,
        Err(page) => return page,
    };
    let token = cookies::read(&headers, cookies::PENDING, https(&state)).unwrap_or_default();
    let Ok((_, user)) = state.core.peek_pending_authentication(&env, &token).await else {
        return expired(&state);
    };
    let (error, notice) = if !csrf::is_valid(&headers, https(&state), &field(&f, "csrf_token")) {
        (Some("This form expired. Please try again.".to_owned()), None)
    } else {
        match state.core.send_verification_email(&env, &user).await {
            Ok(_) => (None, Some("We sent a new code.")),
            Err(e) => match form_error(e) {
                Ok(message) => (Some(message), None),
                Err(response) => return *response,
            },
        }
    };
    code_form(
        &state,
        &headers,
        StatusCode::OK,
        &env,
        &params,
        None,
        &user.email,
        "/authkit/verify-email",
        "/authkit/verify-email/resend",
        error,
        notice,
    )
}

// ---- Password reset ------------------------------------------------------------------------

pub async fn forgot_password_page(state: State<AppState>, headers: HeaderMap, query: Query<RequestQuery>) -> Response {
    email_form_page(state, headers, query, EmailForm::ForgotPassword).await
}

/// Always the same answer, whether or not the address has an account.
pub async fn forgot_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    body: Bytes,
) -> Response {
    let (f, env, params) = match load_posted(&state, &body).await {
        Ok(posted) => posted,
        Err(page) => return page,
    };
    let email = field(&f, "email").trim().to_owned();
    let retry = |status, error| {
        email_form(&state, &headers, status, &env, &params, EmailForm::ForgotPassword, &email, Some(error))
    };
    if !csrf::is_valid(&headers, https(&state), &field(&f, "csrf_token")) {
        return retry(StatusCode::BAD_REQUEST, "This form expired. Please try again.".into());
    }
    if let Err(e) = state.core.request_password_reset(&env, &email, info.ip_address.as_deref()).await {
        return match form_error(e) {
            Ok(message) => retry(StatusCode::BAD_REQUEST, message),
            Err(response) => *response,
        };
    }
    let ctx = context! {
        title => "Check your email",
        detail => format!("If {email} has an account, we sent it a link to choose a new password. The link works once, for one hour."),
        link => format!("/authkit/sign-in?request={}", params.request_id),
        link_text => "Back to sign in",
    };
    page(&state, &headers, "message.html", StatusCode::OK, &env, None, ctx)
}

fn link_expired(state: &AppState) -> Response {
    state.pages.message(
        StatusCode::BAD_REQUEST,
        &crate::domain::environment::Branding::default(),
        "This link has expired",
        "Password reset links work once, for one hour. Ask for a new one from the sign-in page.",
    )
}

pub async fn reset_password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let token = q.token.unwrap_or_default();
    let Ok(Some((reset, env))) = state.core.find_open_password_reset(&token).await else {
        return link_expired(&state);
    };
    let ctx = context! {
        title => "Choose a new password", token, request => "", email => &reset.email,
        subtitle => format!("for {}", reset.email),
        min_length => env.env.settings.password_policy.min_length,
    };
    page(&state, &headers, "new_password.html", StatusCode::OK, &env, None, ctx)
}

pub async fn reset_password(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let f = fields(&body);
    let token = field(&f, "token");
    let Ok(Some((reset, env))) = state.core.find_open_password_reset(&token).await else {
        return link_expired(&state);
    };
    let retry = |error: String| {
        let ctx = context! {
            title => "Choose a new password", token => &token, request => "", error, email => &reset.email,
            subtitle => format!("for {}", reset.email),
            min_length => env.env.settings.password_policy.min_length,
        };
        page(&state, &headers, "new_password.html", StatusCode::BAD_REQUEST, &env, None, ctx)
    };
    if !csrf::is_valid(&headers, https(&state), &field(&f, "csrf_token")) {
        return retry("This form expired. Please try again.".into());
    }
    let password = f.get("password").cloned().unwrap_or_default();
    match state.core.reset_password(Some(&env.env.id), &token, &password).await {
        Ok(_) => {
            let ctx = context! {
                title => "Password changed",
                detail => format!("Your new password is set, and you have been signed out everywhere. Go back to {} and sign in.", env.env.settings.branding.app_name),
            };
            let mut response = page(&state, &headers, "message.html", StatusCode::OK, &env, None, ctx);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(Error::Rejected { .. }) => link_expired(&state),
        Err(e) => match form_error(e) {
            Ok(message) => retry(message),
            Err(response) => *response,
        },
    }
}
