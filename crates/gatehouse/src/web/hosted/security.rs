//! The hosted account-security page, shown after a sign-in when the user asked for it ("Manage
//! passkeys and two-factor" on the sign-in page) or right after a required enrolment: add,
//! name and remove passkeys, set up or remove an authenticator app, renew recovery codes, then
//! continue to the app. It lives ten minutes in an HttpOnly cookie (a fresh sign-in each time).
//! The passkey script's JSON endpoints are in `passkeys.rs`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::complete::return_to_app;
use super::error::{Expired, PageError};
use super::form::{FORM_EXPIRED, Form, page, scripted_page};
use super::two_factor::{Setup, code_problem, render_setup};
use crate::clock::iso8601;
use crate::domain::session::AuthMethod;
use crate::domain::user::User;
use crate::service::Error;
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::service::error::FactorError;
use crate::service::mfa::SECURITY_SESSION_TTL_MS;
use crate::web::redirects::see_other;
use crate::web::{AppState, cookies};

/// `AuthorizeParams::then` value that leads to this page after sign-in.
pub const THEN_SECURITY: &str = "security";
const SECURITY_COOKIE: &str = "gatehouse_security";
pub(super) const PAGE: &str = "/authkit/security";
const AUTHENTICATOR_PAGE: &str = "/authkit/security/authenticator";

/// Opens the security page for a user who just finished signing in.
pub async fn enter(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &AuthMethod,
) -> Result<Response, PageError> {
    let cookie = open_session(state, env, params, user, method).await?;
    let mut response = see_other(PAGE);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

async fn open_session(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &AuthMethod,
) -> Result<HeaderValue, PageError> {
    let mut params = params.clone();
    params.then = None;
    let request = state.core.save_authorization_request(env, &params).await?;
    let token = state.core.create_security_session(env, user, method, &request).await?;
    cookies::set(SECURITY_COOKIE, &token, state.https(), Some(SECURITY_SESSION_TTL_MS / 1000))
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("cookie header")).into())
}

/// After a required enrolment: the new recovery codes, once, then on to the app (or to the
/// security page when the user asked for it).
pub async fn show_recovery_codes_after_sign_in(
    state: &AppState,
    headers: &HeaderMap,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &AuthMethod,
    codes: &[String],
) -> Result<Response, PageError> {
    let then_security = params.then.as_deref() == Some(THEN_SECURITY);
    let cookie = open_session(state, env, params, user, method).await?;
    let mut response = render_codes(state, headers, env, Some(&params.redirect_uri), codes, then_security);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

fn render_codes(
    state: &AppState,
    headers: &HeaderMap,
    env: &LoadedEnvironment,
    form_target: Option<&str>,
    codes: &[String],
    back_to_security: bool,
) -> Response {
    let ctx = context! {
        title => "Save your recovery codes",
        subtitle => "Use one if you lose your authenticator app. Each code works once.",
        codes => codes.to_vec(), back_to_security,
        app_name => &env.settings.branding.app_name,
    };
    page(state, headers, "recovery_codes.html", StatusCode::OK, env, form_target, ctx)
}

#[derive(Deserialize)]
pub struct StartQuery {
    request: Option<String>,
}

/// `GET /authkit/security/start?request=…`: sign in, then manage passkeys and two-factor.
pub async fn start(State(state): State<AppState>, Query(q): Query<StartQuery>) -> Result<Response, PageError> {
    let (env, mut params) = state
        .core
        .find_authorization_request(q.request.as_deref().unwrap_or_default())
        .await?
        .ok_or(Expired::SecurityPage)?;
    params.then = Some(THEN_SECURITY.to_owned());
    let request = state.core.save_authorization_request(&env, &params).await?;
    Ok(see_other(&format!("/authkit/sign-in?request={request}")))
}

/// An open security session: the signed-in user and the sign-in it continues.
pub(super) struct Open {
    token: String,
    pub env: Arc<LoadedEnvironment>,
    params: AuthorizeParams,
    pub user: User,
}

impl Open {
    /// The session of the request's cookie; the expired page when there is none.
    pub(super) async fn load(state: &AppState, headers: &HeaderMap) -> Result<Open, PageError> {
        let token = cookies::read(headers, SECURITY_COOKIE, state.https()).ok_or(Expired::SecurityPage)?;
        let (session, user) = state.core.find_security_session(&token).await?.ok_or(Expired::SecurityPage)?;
        let (env, params) =
            state.core.find_authorization_request(&session.request_id).await?.ok_or(Expired::SecurityPage)?;
        if env.id != session.environment_id {
            return Err(Expired::SecurityPage.into());
        }
        Ok(Open { token, env, params, user })
    }

    /// The session of a posted form, whose CSRF token must match; otherwise the page again.
    async fn load_form(state: &AppState, headers: &HeaderMap, form: &Form) -> Result<Open, PageError> {
        let open = Open::load(state, headers).await?;
        if !form.csrf_ok() {
            let page = render_page(state, headers, &open, StatusCode::BAD_REQUEST, None, Some(FORM_EXPIRED.into()));
            return Err(PageError::Response(Box::new(page.await?)));
        }
        Ok(open)
    }

    fn setup(&self) -> Setup<'static> {
        Setup { action: AUTHENTICATOR_PAGE, request: "", form_target: None, is_required: false }
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

fn notice_for(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "passkey-added" => Some("Passkey added. Next time, choose “Sign in with a passkey”."),
        "passkey-removed" => Some("Passkey removed."),
        "app-removed" => Some("Authenticator app removed."),
        "app-added" => Some("Authenticator app added."),
        _ => None,
    }
}

/// `GET /authkit/security`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let open = Open::load(&state, &headers).await?;
    render_page(&state, &headers, &open, StatusCode::OK, notice_for(q.done.as_deref()), None).await
}

async fn render_page(
    state: &AppState,
    headers: &HeaderMap,
    open: &Open,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let core = &state.core;
    let passkeys = core.list_passkeys(&open.user).await?;
    let has_app = !core.verified_factors(&open.user.id).await?.is_empty();
    let recovery_left = core.unused_recovery_codes(&open.user).await?;
    let day = |t: i64| iso8601(t).get(..10).unwrap_or_default().to_owned();
    let passkeys: Vec<minijinja::Value> = passkeys
        .iter()
        .map(|p| {
            context! {
                id => &p.id, name => &p.name,
                added => day(p.created_at),
                last_used => p.last_used_at.map(day),
            }
        })
        .collect();
    let settings = &open.env.settings;
    let ctx = context! {
        title => "Account security",
        subtitle => &open.user.email,
        passkeys, has_app, recovery_left, notice, error,
        passkeys_available => core.passkeys_available(),
        mfa_required => settings.mfa_required,
        app_name => &settings.branding.app_name,
    };
    Ok(scripted_page(state, headers, "security.html", status, &open.env, Some(&open.params.redirect_uri), ctx))
}

/// `POST /authkit/security/continue`: back to the app with a code.
pub async fn proceed(State(state): State<AppState>, headers: HeaderMap, form: Form) -> Result<Response, PageError> {
    let open = Open::load_form(&state, &headers, &form).await?;
    let session = state.core.end_security_session(&open.token).await?.ok_or(Expired::SecurityPage)?;
    let mut response = return_to_app(&state, &open.env, &open.params, &open.user, &session.auth_method).await?;
    if let Some(cookie) = cookies::set(SECURITY_COOKIE, "", state.https(), Some(0)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /authkit/security/authenticator`: set up an authenticator app.
pub async fn authenticator_page(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let open = Open::load(&state, &headers).await?;
    let enrolment = state.core.start_hosted_enrolment(&open.env, &open.user).await?;
    Ok(render_setup(&state, &headers, &open.env, &open.setup(), &enrolment, StatusCode::OK, None))
}

/// `POST /authkit/security/authenticator`: confirm with a first code, then show recovery codes.
pub async fn authenticator(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, PageError> {
    let open = Open::load(&state, &headers).await?;
    let result = if form.csrf_ok() {
        state.core.confirm_hosted_enrolment(&open.env, &open.user, &form.field("code")).await
    } else {
        Err(Error::Factor(FactorError::InvalidCode))
    };
    match result {
        Ok(codes) => Ok(render_codes(&state, &headers, &open.env, None, &codes, true)),
        Err(e) => {
            let enrolment = state.core.start_hosted_enrolment(&open.env, &open.user).await?;
            let Some((status, message)) = code_problem(&e) else { return Err(e.into()) };
            Ok(render_setup(&state, &headers, &open.env, &open.setup(), &enrolment, status, Some(message)))
        }
    }
}

/// `POST /authkit/security/authenticator/remove`.
pub async fn remove_authenticator(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, PageError> {
    let open = Open::load_form(&state, &headers, &form).await?;
    let settings = &open.env.settings;
    if settings.mfa_required && state.core.list_passkeys(&open.user).await.map(|p| p.is_empty()).unwrap_or(true) {
        let message = format!(
            "{} requires two-factor authentication: add a passkey before removing the app.",
            settings.branding.app_name
        );
        return render_page(&state, &headers, &open, StatusCode::BAD_REQUEST, None, Some(message)).await;
    }
    state.core.remove_authenticator_apps(&open.env, &open.user).await?;
    Ok(see_other(&format!("{PAGE}?done=app-removed")))
}

/// `POST /authkit/security/recovery-codes`: new recovery codes (the old ones stop working).
pub async fn renew_recovery_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, PageError> {
    let open = Open::load_form(&state, &headers, &form).await?;
    if state.core.verified_factors(&open.user.id).await?.is_empty() {
        return Ok(see_other(PAGE));
    }
    let codes = state.core.regenerate_recovery_codes(&open.user).await?;
    Ok(render_codes(&state, &headers, &open.env, None, &codes, true))
}

/// `POST /authkit/security/passkeys/remove`.
pub async fn remove_passkey(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, PageError> {
    let open = Open::load_form(&state, &headers, &form).await?;
    match state.core.remove_passkey(&open.user, &form.field("passkey_id")).await {
        Ok(()) | Err(Error::NotFound { .. }) => Ok(see_other(&format!("{PAGE}?done=passkey-removed"))),
        Err(e) => Err(e.into()),
    }
}
