//! Hosted pages that work by email: sign in with a code (Magic Auth), verify an email address
//! as a step-up, and reset a forgotten password.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::complete::finish;
use super::error::{Expired, PageError};
use super::form::{FORM_EXPIRED, Form, SavedRequest, SignInForm, minutes, page};
use crate::domain::session::{AuthMethod, PendingAuthentication};
use crate::domain::user::User;
use crate::service::Error;
use crate::service::auth::AuthorizeParams;
use crate::service::auth::RequestInfo;
use crate::service::codes::Presenter;
use crate::service::environments::LoadedEnvironment;
use crate::service::error::Rejection;
use crate::service::magic_auth::problem_code;
use crate::service::sign_up::HostedSignUp;
use crate::service::verification::VerificationSend;
use crate::web::extract::ClientInfo;
use crate::web::outcome::refused;
use crate::web::{AppState, cookies};

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// A refused form as its page answers it: the message, the status (429 with `Retry-After`
/// when throttled, so the request log writes "throttled"), and for a refused code the reason
/// the request log writes with "sign-in refused" (`web::outcome`).
struct Refusal {
    message: String,
    status: StatusCode,
    retry_after_secs: Option<i64>,
    reason: Option<&'static str>,
}

/// How a form answers `e`, or the error no form can explain.
fn refusal(e: Error) -> Result<Refusal, PageError> {
    let refusal =
        |message: String| Refusal { message, status: StatusCode::BAD_REQUEST, retry_after_secs: None, reason: None };
    Ok(match e {
        Error::RateLimited { retry_after_secs } => Refusal {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after_secs: Some(retry_after_secs),
            ..refusal(format!("Too many requests. Try again in {}.", minutes(retry_after_secs)))
        },
        Error::Rejected {
            reason: Rejection::OneTimeCode(problem) | Rejection::EmailVerificationCode(problem),
            message,
        } => Refusal { reason: Some(problem_code(problem)), ..refusal(message) },
        Error::Validation { message, .. } | Error::Rejected { message, .. } | Error::PasswordStrength(message) => {
            refusal(message)
        }
        Error::InvalidPendingToken => refusal("This sign-in has expired. Go back to the app and sign in again.".into()),
        other => return Err(other.into()),
    })
}

impl Refusal {
    /// The page `show` draws with the message and status, with `Retry-After` and the tag.
    fn answer(self, show: impl FnOnce(StatusCode, String) -> Response) -> Response {
        let mut response = show(self.status, self.message);
        if let Some(secs) = self.retry_after_secs
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        match self.reason {
            Some(reason) => refused(response, reason),
            None => response,
        }
    }
}

/// Who presents a code on a page: the client, and its device cookie for this account if any.
fn presenter<'a>(info: &'a RequestInfo, device: Option<&'a str>) -> Presenter<'a> {
    Presenter { client: Some(info), device_cookie: device }
}

/// The pages that ask for an email address.
#[derive(Clone, Copy)]
enum EmailForm {
    MagicAuth,
    ForgotPassword,
}

impl EmailForm {
    fn show(
        self,
        state: &AppState,
        headers: &HeaderMap,
        status: StatusCode,
        saved: (&LoadedEnvironment, &AuthorizeParams),
        email: &str,
        error: Option<String>,
    ) -> Response {
        let (env, params) = saved;
        let app = &env.settings.branding.app_name;
        let (title, subtitle, action, button) = match self {
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
}

/// The pages that ask for an emailed six-digit code.
#[derive(Clone, Copy)]
enum CodeForm<'a> {
    /// Sign in with a code sent to `email` (typed on the previous page, carried in the form).
    MagicAuth { email: &'a str },
    /// Verify the pending sign-in's address.
    VerifyEmail { email: &'a str },
}

impl CodeForm<'_> {
    fn show(
        self,
        state: &AppState,
        headers: &HeaderMap,
        status: StatusCode,
        saved: (&LoadedEnvironment, &AuthorizeParams),
        error: Option<String>,
        notice: Option<&str>,
    ) -> Response {
        let (env, params) = saved;
        let (email_field, shown_email, action, resend_action) = match self {
            CodeForm::MagicAuth { email } => (Some(email), email, "/authkit/magic-auth/verify", "/authkit/magic-auth"),
            CodeForm::VerifyEmail { email } => (None, email, "/authkit/verify-email", "/authkit/verify-email/resend"),
        };
        let ctx = context! {
            title => "Check your email",
            subtitle => format!("Enter the six-digit code we sent to {shown_email}."),
            action, resend_action, button => "Continue", email => email_field, error, notice,
            request => &params.request_id,
        };
        page(state, headers, "code.html", status, env, Some(&params.redirect_uri), ctx)
    }
}

// ---- Magic Auth -------------------------------------------------------------------------

/// GET of an email form: the saved request, the email pre-filled from `login_hint`.
pub async fn magic_auth_page(State(state): State<AppState>, headers: HeaderMap, saved: SavedRequest) -> Response {
    let email = saved.params.login_hint.clone().unwrap_or_default();
    EmailForm::MagicAuth.show(&state, &headers, StatusCode::OK, (&saved.env, &saved.params), &email, None)
}

/// Sends the code (or a new one) and shows the code form.
pub async fn magic_auth_send(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    SignInForm { env, params, form }: SignInForm,
) -> Result<Response, PageError> {
    let email = form.field("email").trim().to_owned();
    let retry = |status, error: String| {
        EmailForm::MagicAuth.show(&state, &headers, status, (&env, &params), &email, Some(error))
    };
    if !form.csrf_ok() {
        return Ok(retry(StatusCode::BAD_REQUEST, FORM_EXPIRED.into()));
    }
    if !env.settings.magic_auth_enabled {
        return Ok(retry(
            StatusCode::FORBIDDEN,
            "Sign-in with an emailed code is turned off for this application.".into(),
        ));
    }
    // Without sign-up, unknown addresses get the same page but no account and no email.
    if let Err(e) = state.core.request_magic_auth(&env, &email, info.address.as_ref()).await {
        return Ok(refusal(e)?.answer(retry));
    }
    let resent = form.field("code").is_empty() && !form.field("resend").is_empty();
    let notice = resent.then_some("We sent a new code.");
    Ok(CodeForm::MagicAuth { email: &email }.show(&state, &headers, StatusCode::OK, (&env, &params), None, notice))
}

pub async fn magic_auth_verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    SignInForm { env, params, form }: SignInForm,
) -> Result<Response, PageError> {
    let email = form.field("email").trim().to_owned();
    let retry = |status, error: String| {
        CodeForm::MagicAuth { email: &email }.show(&state, &headers, status, (&env, &params), Some(error), None)
    };
    if !form.csrf_ok() {
        return Ok(retry(StatusCode::BAD_REQUEST, FORM_EXPIRED.into()));
    }
    let device = cookies::read(&headers, cookies::DEVICE, state.https());
    let presenter = presenter(&info, device.as_deref());
    match state.core.redeem_magic_auth(&env, &email, &form.field("code"), presenter).await {
        Ok(user) => finish(&state, &env, &params, &user, &AuthMethod::MagicAuth, info.address.as_ref()).await,
        Err(e) => Ok(refusal(e)?.answer(retry)),
    }
}

// ---- Email verification step-up ----------------------------------------------------------

/// What the code page continues (its token is in the pending cookie): a sign-in owing a
/// verified address, a new account's hosted sign-up, or the decoy of a sign-up for a taken
/// address (`service::sign_up`), the last two shown exactly alike.
enum Waiting {
    SignIn { token: String, pending: PendingAuthentication, user: Box<User> },
    SignUp { token: String, user: Box<User> },
    Decoy { token: String, email: String },
}

impl Waiting {
    fn email(&self) -> &str {
        match self {
            Waiting::SignIn { user, .. } | Waiting::SignUp { user, .. } => &user.email,
            Waiting::Decoy { email, .. } => email,
        }
    }
}

async fn pending_sign_in(state: &AppState, headers: &HeaderMap, env: &LoadedEnvironment) -> Result<Waiting, PageError> {
    let token = cookies::read(headers, cookies::PENDING, state.https()).unwrap_or_default();
    if let Ok((pending, user)) = state.core.peek_pending_authentication(env, &token).await {
        return Ok(Waiting::SignIn { token, pending, user: Box::new(user) });
    }
    match state.core.find_hosted_sign_up(env, &token).await? {
        Some(HostedSignUp::New(user)) => Ok(Waiting::SignUp { token, user }),
        Some(HostedSignUp::Taken { email }) => Ok(Waiting::Decoy { token, email }),
        None => Err(Expired::SignInLink.into()),
    }
}

pub async fn verify_email_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    saved: SavedRequest,
) -> Result<Response, PageError> {
    let waiting = pending_sign_in(&state, &headers, &saved.env).await?;
    let form = CodeForm::VerifyEmail { email: waiting.email() };
    Ok(form.show(&state, &headers, StatusCode::OK, (&saved.env, &saved.params), None, None))
}

pub async fn verify_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    SignInForm { env, params, form }: SignInForm,
) -> Result<Response, PageError> {
    let waiting = pending_sign_in(&state, &headers, &env).await?;
    let retry = |status, error: String| {
        CodeForm::VerifyEmail { email: waiting.email() }.show(
            &state,
            &headers,
            status,
            (&env, &params),
            Some(error),
            None,
        )
    };
    if !form.csrf_ok() {
        return Ok(retry(StatusCode::BAD_REQUEST, FORM_EXPIRED.into()));
    }
    let (token, user) = match &waiting {
        Waiting::SignIn { token, user, .. } | Waiting::SignUp { token, user } => (token, user),
        Waiting::Decoy { token, .. } => return Ok(refusal(state.core.refuse_decoy_code(token).await?)?.answer(retry)),
    };
    let device = cookies::read(&headers, cookies::DEVICE, state.https());
    let presenter = presenter(&info, device.as_deref());
    match state.core.confirm_email_verification(&env, (**user).clone(), &form.field("code"), presenter).await {
        Ok(user) => {
            let (spent, method) = match &waiting {
                Waiting::SignIn { pending, .. } => {
                    (state.core.consume_pending_authentication(&env, token).await.is_ok(), pending.auth_method.clone())
                }
                _ => (state.core.consume_hosted_sign_up(token).await?, AuthMethod::Password),
            };
            if !spent {
                return Err(Expired::SignInLink.into());
            }
            finish(&state, &env, &params, &user, &method, info.address.as_ref()).await
        }
        Err(e) => Ok(refusal(e)?.answer(retry)),
    }
}

pub async fn verify_email_resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    SignInForm { env, params, form }: SignInForm,
) -> Result<Response, PageError> {
    let waiting = pending_sign_in(&state, &headers, &env).await?;
    let code_form = CodeForm::VerifyEmail { email: waiting.email() };
    let retry = |status, error: String| code_form.show(&state, &headers, status, (&env, &params), Some(error), None);
    if !form.csrf_ok() {
        return Ok(retry(StatusCode::OK, FORM_EXPIRED.into()));
    }
    let address = info.address.as_ref();
    let sent = match &waiting {
        // The pending sign-in has proved a first factor: a step-up's resend.
        Waiting::SignIn { user, .. } => {
            state.core.send_verification_email_as(&env, user, VerificationSend::StepUp(address)).await.map(|_| ())
        }
        Waiting::SignUp { user, .. } => {
            state.core.send_verification_email_as(&env, user, VerificationSend::SignUp(address)).await.map(|_| ())
        }
        Waiting::Decoy { email, .. } => state.core.resend_decoy_code(&env, email, address).await,
    };
    match sent {
        Ok(()) => {
            Ok(code_form.show(&state, &headers, StatusCode::OK, (&env, &params), None, Some("We sent a new code.")))
        }
        Err(e) => Ok(refusal(e)?.answer(retry)),
    }
}

// ---- Password reset ------------------------------------------------------------------------

pub async fn forgot_password_page(State(state): State<AppState>, headers: HeaderMap, saved: SavedRequest) -> Response {
    let email = saved.params.login_hint.clone().unwrap_or_default();
    EmailForm::ForgotPassword.show(&state, &headers, StatusCode::OK, (&saved.env, &saved.params), &email, None)
}

/// Always the same answer, whether or not the address has an account.
pub async fn forgot_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    SignInForm { env, params, form }: SignInForm,
) -> Result<Response, PageError> {
    let email = form.field("email").trim().to_owned();
    let retry = |status, error: String| {
        EmailForm::ForgotPassword.show(&state, &headers, status, (&env, &params), &email, Some(error))
    };
    if !form.csrf_ok() {
        return Ok(retry(StatusCode::BAD_REQUEST, FORM_EXPIRED.into()));
    }
    if let Err(e) = state.core.request_password_reset(&env, &email, info.address.as_ref()).await {
        return Ok(refusal(e)?.answer(retry));
    }
    let ctx = context! {
        title => "Check your email",
        detail => format!("If {email} has an account, we sent it a link to choose a new password. The link works once, for one hour."),
        link => format!("/authkit/sign-in?request={}", params.request_id),
        link_text => "Back to sign in",
    };
    Ok(page(&state, &headers, "message.html", StatusCode::OK, &env, None, ctx))
}

pub async fn reset_password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let token = q.token.unwrap_or_default();
    let Ok(Some((reset, env))) = state.core.find_open_password_reset(&token).await else {
        return Err(Expired::ResetLink.into());
    };
    let ctx = context! {
        title => "Choose a new password", token, request => "", email => &reset.email,
        subtitle => format!("for {}", reset.email),
        min_length => env.settings.password_policy.min_length,
    };
    Ok(page(&state, &headers, "new_password.html", StatusCode::OK, &env, None, ctx))
}

pub async fn reset_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, PageError> {
    let token = form.field("token");
    let Ok(Some((reset, env))) = state.core.find_open_password_reset(&token).await else {
        return Err(Expired::ResetLink.into());
    };
    let retry = |status, error: String| {
        let ctx = context! {
            title => "Choose a new password", token => &token, request => "", error, email => &reset.email,
            subtitle => format!("for {}", reset.email),
            min_length => env.settings.password_policy.min_length,
        };
        page(&state, &headers, "new_password.html", status, &env, None, ctx)
    };
    if !form.csrf_ok() {
        return Ok(retry(StatusCode::BAD_REQUEST, FORM_EXPIRED.into()));
    }
    match state.core.reset_password(Some(&env.id), &token, &form.raw("password")).await {
        Ok(_) => {
            let ctx = context! {
                title => "Password changed",
                detail => format!("Your new password is set, and you have been signed out everywhere. Go back to {} and sign in.", env.settings.branding.app_name),
            };
            let mut response = page(&state, &headers, "message.html", StatusCode::OK, &env, None, ctx);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Err(Error::Rejected { .. }) => Err(Expired::ResetLink.into()),
        Err(e) => Ok(refusal(e)?.answer(retry)),
    }
}
