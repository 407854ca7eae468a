//! The hosted account-security page, shown after a sign-in when the user asked for it ("Manage
//! passkeys and two-factor" on the sign-in page) or right after a required enrolment: add,
//! name and remove passkeys, set up or remove an authenticator app, renew recovery codes, then
//! continue to the app. It lives ten minutes in an HttpOnly cookie (a fresh sign-in each time).
//!
//! Also here: the JSON endpoints the passkey script calls, for registration on this page and
//! for "Sign in with a passkey" on the sign-in page.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use super::forms::{field, fields};
use super::two_factor::{code_problem, render_setup};
use crate::clock::iso8601;
use crate::domain::environment::Branding;
use crate::domain::session::AuthMethod;
use crate::domain::user::User;
use crate::service::Error;
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::service::mfa::SECURITY_SESSION_TTL_MS;
use crate::web::AppState;
use crate::web::cookies;
use crate::web::csrf;
use crate::web::pages::brand;
use crate::web::redirects::see_other;

/// `AuthorizeParams::then` value that leads to this page after sign-in.
pub const THEN_SECURITY: &str = "security";
const SECURITY_COOKIE: &str = "gatehouse_security";
const PAGE: &str = "/authkit/security";
const AUTHENTICATOR_PAGE: &str = "/authkit/security/authenticator";

fn api_error(e: Error) -> Response {
    crate::web::error::ApiError::from(e).into_response()
}

fn expired(state: &AppState) -> Response {
    state.pages.message(
        StatusCode::BAD_REQUEST,
        &Branding::default(),
        "This page has expired",
        "For your security, account settings stay open for ten minutes after you sign in. Go back to the app and sign in again.",
    )
}

/// Opens the security page for a user who just finished signing in.
pub async fn enter(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &AuthMethod,
) -> Response {
    match open_session(state, env, params, user, method).await {
        Ok(cookie) => {
            let mut response = see_other(PAGE);
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(page) => page,
    }
}

async fn open_session(
    state: &AppState,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    user: &User,
    method: &AuthMethod,
) -> Result<axum::http::HeaderValue, Response> {
    let mut params = params.clone();
    params.then = None;
    let request = state.core.save_authorization_request(env, &params).await.map_err(api_error)?;
    let token = state.core.create_security_session(&env.env, user, method, &request).await.map_err(api_error)?;
    cookies::set(SECURITY_COOKIE, &token, state.https(), Some(SECURITY_SESSION_TTL_MS / 1000))
        .ok_or_else(|| api_error(Error::Internal(anyhow::anyhow!("cookie header"))))
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
) -> Response {
    let then_security = params.then.as_deref() == Some(THEN_SECURITY);
    let cookie = match open_session(state, env, params, user, method).await {
        Ok(cookie) => cookie,
        Err(page) => return page,
    };
    let mut response = render_codes(state, headers, env, Some(&params.redirect_uri), codes, then_security);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

fn render_codes(
    state: &AppState,
    headers: &HeaderMap,
    env: &LoadedEnvironment,
    form_target: Option<&str>,
    codes: &[String],
    back_to_security: bool,
) -> Response {
    let (csrf_token, set_cookie) = csrf::token_for_form(headers, state.https());
    let settings = &env.env.settings;
    let ctx = context! {
        title => "Save your recovery codes",
        subtitle => "Use one if you lose your authenticator app. Each code works once.",
        codes => codes.to_vec(), csrf_token, back_to_security,
        app_name => &settings.branding.app_name,
        brand => brand(&settings.branding, Some(&env.env.client_id)),
    };
    let mut response = state.pages.render("recovery_codes.html", StatusCode::OK, ctx, form_target);
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize)]
pub struct StartQuery {
    request: Option<String>,
}

/// `GET /authkit/security/start?request=…`: sign in, then manage passkeys and two-factor.
pub async fn start(State(state): State<AppState>, Query(q): Query<StartQuery>) -> Response {
    let (env, mut params) = match state.core.find_authorization_request(q.request.as_deref().unwrap_or_default()).await
    {
        Ok(Some(found)) => found,
        Ok(None) => return expired(&state),
        Err(e) => return api_error(e),
    };
    params.then = Some(THEN_SECURITY.to_owned());
    match state.core.save_authorization_request(&env, &params).await {
        Ok(request) => see_other(&format!("/authkit/sign-in?request={request}")),
        Err(e) => api_error(e),
    }
}

/// An open security session.
struct Open {
    token: String,
    env: Arc<LoadedEnvironment>,
    params: AuthorizeParams,
    request: String,
    user: User,
}

async fn load(state: &AppState, headers: &HeaderMap) -> Result<Open, Response> {
    let Some(token) = cookies::read(headers, SECURITY_COOKIE, state.https()) else {
        return Err(expired(state));
    };
    let Some((session, user)) = state.core.find_security_session(&token).await.map_err(api_error)? else {
        return Err(expired(state));
    };
    let Some((env, params)) = state.core.find_authorization_request(&session.request_id).await.map_err(api_error)?
    else {
        return Err(expired(state));
    };
    if env.env.id != session.environment_id {
        return Err(expired(state));
    }
    Ok(Open { token, env, params, request: session.request_id, user })
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
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let open = match load(&state, &headers).await {
        Ok(open) => open,
        Err(page) => return page,
    };
    render_page(&state, &headers, &open, StatusCode::OK, notice_for(q.done.as_deref()), None).await
}

async fn render_page(
    state: &AppState,
    headers: &HeaderMap,
    open: &Open,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<String>,
) -> Response {
    let core = &state.core;
    let passkeys = match core.list_passkeys(&open.user).await {
        Ok(p) => p,
        Err(e) => return api_error(e),
    };
    let has_app = match core.verified_factors(&open.user.id).await {
        Ok(f) => !f.is_empty(),
        Err(e) => return api_error(e),
    };
    let recovery_left = match core.unused_recovery_codes(&open.user).await {
        Ok(n) => n,
        Err(e) => return api_error(e),
    };
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
    let (csrf_token, set_cookie) = csrf::token_for_form(headers, state.https());
    let settings = &open.env.env.settings;
    let ctx = context! {
        title => "Account security",
        subtitle => &open.user.email,
        passkeys, has_app, recovery_left, notice, error, csrf_token,
        passkeys_available => core.passkeys_available(),
        mfa_required => settings.mfa_required,
        app_name => &settings.branding.app_name,
        brand => brand(&settings.branding, Some(&open.env.env.client_id)),
    };
    let mut response = state.pages.render_scripted("security.html", status, ctx, Some(&open.params.redirect_uri));
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Loads the session for a form POST and checks its CSRF token.
async fn load_form(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Open, std::collections::HashMap<String, String>), Response> {
    let open = load(state, headers).await?;
    let f = fields(body);
    if !csrf::is_valid(headers, state.https(), &field(&f, "csrf_token")) {
        return Err(render_page(
            state,
            headers,
            &open,
            StatusCode::BAD_REQUEST,
            None,
            Some("This form expired. Please try again.".into()),
        )
        .await);
    }
    Ok((open, f))
}

/// `POST /authkit/security/continue`: back to the app with a code.
pub async fn proceed(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (open, _) = match load_form(&state, &headers, &body).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let session = match state.core.end_security_session(&open.token).await {
        Ok(Some(s)) => s,
        Ok(None) => return expired(&state),
        Err(e) => return api_error(e),
    };
    let mut response =
        match state.core.issue_authorization_code(&open.env, &open.params, &open.user, &session.auth_method).await {
            Ok(location) => see_other(&location),
            Err(e) => return api_error(e),
        };
    if let Some(cookie) = cookies::set(SECURITY_COOKIE, "", state.https(), Some(0)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    let _ = open.request;
    response
}

/// `GET /authkit/security/authenticator`: set up an authenticator app.
pub async fn authenticator_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let open = match load(&state, &headers).await {
        Ok(open) => open,
        Err(page) => return page,
    };
    match state.core.start_hosted_enrolment(&open.env.env, &open.user).await {
        Ok(enrolment) => render_setup(
            &state,
            &headers,
            &open.env,
            None,
            &enrolment,
            AUTHENTICATOR_PAGE,
            "",
            StatusCode::OK,
            None,
            false,
        ),
        Err(e) => api_error(e),
    }
}

/// `POST /authkit/security/authenticator`: confirm with a first code, then show recovery codes.
pub async fn authenticator(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let open = match load(&state, &headers).await {
        Ok(open) => open,
        Err(page) => return page,
    };
    let f = fields(&body);
    let result = if csrf::is_valid(&headers, state.https(), &field(&f, "csrf_token")) {
        state.core.confirm_hosted_enrolment(&open.env.env, &open.user, &field(&f, "code")).await
    } else {
        Err(Error::Factor(crate::service::error::FactorError::InvalidCode))
    };
    match result {
        Ok(codes) => render_codes(&state, &headers, &open.env, None, &codes, true),
        Err(e) => match (code_problem(&e), state.core.start_hosted_enrolment(&open.env.env, &open.user).await) {
            (Some((status, message)), Ok(enrolment)) => render_setup(
                &state,
                &headers,
                &open.env,
                None,
                &enrolment,
                AUTHENTICATOR_PAGE,
                "",
                status,
                Some(message),
                false,
            ),
            (_, Err(e2)) => api_error(e2),
            (None, _) => api_error(e),
        },
    }
}

/// `POST /authkit/security/authenticator/remove`.
pub async fn remove_authenticator(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (open, _) = match load_form(&state, &headers, &body).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if open.env.env.settings.mfa_required
        && state.core.list_passkeys(&open.user).await.map(|p| p.is_empty()).unwrap_or(true)
    {
        let message = format!(
            "{} requires two-factor authentication: add a passkey before removing the app.",
            open.env.env.settings.branding.app_name
        );
        return render_page(&state, &headers, &open, StatusCode::BAD_REQUEST, None, Some(message)).await;
    }
    match state.core.remove_authenticator_apps(&open.env.env, &open.user).await {
        Ok(()) => see_other(&format!("{PAGE}?done=app-removed")),
        Err(e) => api_error(e),
    }
}

/// `POST /authkit/security/recovery-codes`: new recovery codes (the old ones stop working).
pub async fn renew_recovery_codes(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (open, _) = match load_form(&state, &headers, &body).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match state.core.verified_factors(&open.user.id).await {
        Ok(f) if !f.is_empty() => {}
        Ok(_) => return see_other(PAGE),
        Err(e) => return api_error(e),
    }
    match state.core.regenerate_recovery_codes(&open.user).await {
        Ok(codes) => render_codes(&state, &headers, &open.env, None, &codes, true),
        Err(e) => api_error(e),
    }
}

/// `POST /authkit/security/passkeys/remove`.
pub async fn remove_passkey(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (open, f) = match load_form(&state, &headers, &body).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match state.core.remove_passkey(&open.user, &field(&f, "passkey_id")).await {
        Ok(()) | Err(Error::NotFound { .. }) => see_other(&format!("{PAGE}?done=passkey-removed")),
        Err(e) => api_error(e),
    }
}

// --- JSON endpoints for /authkit/static/passkeys.js ---------------------------------------------

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn json_service_error(e: Error) -> Response {
    match e {
        Error::Factor(problem) => json_error(StatusCode::BAD_REQUEST, &problem.message()),
        Error::Conflict { message, .. } => json_error(StatusCode::CONFLICT, &message),
        Error::RateLimited { .. } => json_error(StatusCode::TOO_MANY_REQUESTS, "Too many attempts. Try again later."),
        other => crate::web::error::ApiError::from(other).into_response(),
    }
}

fn csrf_header_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    csrf::is_valid(headers, state.https(), sent)
}

fn parse_json(body: &Bytes) -> Option<serde_json::Map<String, Value>> {
    if body.len() > crate::web::extract::MAX_BODY_BYTES {
        return None;
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn text<'a>(map: &'a serde_json::Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `POST /authkit/security/passkeys/options`.
pub async fn passkey_registration_options(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Ok(open) = load(&state, &headers).await else {
        return json_error(StatusCode::UNAUTHORIZED, "This page has expired. Sign in again.");
    };
    if !csrf_header_ok(&state, &headers) {
        return json_error(StatusCode::FORBIDDEN, "This page expired. Reload it and try again.");
    }
    match state.core.start_passkey_registration(&open.env.env, &open.user).await {
        Ok((ceremony, options)) => axum::Json(json!({ "ceremony": ceremony, "options": options })).into_response(),
        Err(e) => json_service_error(e),
    }
}

/// `POST /authkit/security/passkeys`: `{ceremony, credential, name}`.
pub async fn passkey_registration(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(open) = load(&state, &headers).await else {
        return json_error(StatusCode::UNAUTHORIZED, "This page has expired. Sign in again.");
    };
    if !csrf_header_ok(&state, &headers) {
        return json_error(StatusCode::FORBIDDEN, "This page expired. Reload it and try again.");
    }
    let Some(mut body) = parse_json(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "The request is malformed.");
    };
    let credential = body.remove("credential").unwrap_or(Value::Null);
    match state
        .core
        .finish_passkey_registration(
            &open.env.env,
            &open.user,
            text(&body, "ceremony"),
            credential,
            text(&body, "name"),
        )
        .await
    {
        Ok(_) => axum::Json(json!({ "location": format!("{PAGE}?done=passkey-added") })).into_response(),
        Err(e) => json_service_error(e),
    }
}

/// `POST /authkit/passkey/options`: `{request}` → options for a username-less sign-in.
pub async fn passkey_sign_in_options(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !csrf_header_ok(&state, &headers) {
        return json_error(StatusCode::FORBIDDEN, "This page expired. Reload it and try again.");
    }
    let Some(body) = parse_json(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "The request is malformed.");
    };
    let env = match state.core.find_authorization_request(text(&body, "request")).await {
        Ok(Some((env, _))) => env,
        Ok(None) => return json_error(StatusCode::BAD_REQUEST, "This sign-in link has expired. Go back to the app."),
        Err(e) => return json_service_error(e),
    };
    match state.core.start_passkey_sign_in(&env.env).await {
        Ok((ceremony, options)) => axum::Json(json!({ "ceremony": ceremony, "options": options })).into_response(),
        Err(e) => json_service_error(e),
    }
}

/// `POST /authkit/passkey/sign-in`: `{request, ceremony, credential}` → `{location}`.
pub async fn passkey_sign_in(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !csrf_header_ok(&state, &headers) {
        return json_error(StatusCode::FORBIDDEN, "This page expired. Reload it and try again.");
    }
    let Some(mut body) = parse_json(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "The request is malformed.");
    };
    let (env, params) = match state.core.find_authorization_request(text(&body, "request")).await {
        Ok(Some(found)) => found,
        Ok(None) => return json_error(StatusCode::BAD_REQUEST, "This sign-in link has expired. Go back to the app."),
        Err(e) => return json_service_error(e),
    };
    let credential = body.remove("credential").unwrap_or(Value::Null);
    let user = match state.core.finish_passkey_sign_in(&env.env, text(&body, "ceremony"), credential).await {
        Ok(user) => user,
        Err(e) => return json_service_error(e),
    };
    let finished = super::complete::finish(&state, &env, &params, &user, &AuthMethod::Passkey).await;
    as_json_redirect(finished)
}

/// Turns a 303 from the hosted flow into `{location}` for a script, keeping its cookies.
fn as_json_redirect(response: Response) -> Response {
    if response.status() != StatusCode::SEE_OTHER {
        return response;
    }
    let location = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("/").to_owned();
    let mut out = axum::Json(json!({ "location": location })).into_response();
    for cookie in response.headers().get_all(header::SET_COOKIE) {
        out.headers_mut().append(header::SET_COOKIE, cookie.clone());
    }
    out
}
