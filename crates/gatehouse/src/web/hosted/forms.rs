//! The sign-in and sign-up forms: GET renders, POST checks and either re-renders with a clear
//! message or finishes with a 303 to `redirect_uri?code=…&state=…`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use crate::domain::environment::Branding;
use crate::domain::session::AuthMethod;
use crate::service::Error;
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::service::social::ProviderButton;
use crate::service::users::NewUser;
use crate::web::AppState;
use crate::web::csrf;
use crate::web::extract::ClientInfo;
use crate::web::pages::brand;

#[derive(Deserialize)]
pub struct PageQuery {
    request: Option<String>,
}

/// The form being shown, with what the user typed (never the password).
#[derive(Default)]
struct FormState {
    email: String,
    first_name: String,
    last_name: String,
    error: Option<String>,
}

enum Screen {
    SignIn,
    SignUp,
}

pub(crate) fn expired(state: &AppState) -> Response {
    state.pages.message(
        StatusCode::BAD_REQUEST,
        &Branding::default(),
        "This sign-in link has expired",
        "Go back to the app and choose Sign in again.",
    )
}

#[allow(clippy::too_many_arguments)]
fn render(
    state: &AppState,
    headers: &HeaderMap,
    screen: Screen,
    status: StatusCode,
    request: &str,
    env: &LoadedEnvironment,
    params: &AuthorizeParams,
    providers: &[ProviderButton],
    form: FormState,
) -> Response {
    let settings = &env.env.settings;
    let email_ok = state.core.check_email_available(env).is_ok();
    let then_security = params.then.as_deref() == Some(super::security::THEN_SECURITY);
    let (template, title, subtitle) = match screen {
        Screen::SignIn if then_security => {
            ("sign_in.html", "Sign in".to_owned(), "to manage your passkeys and two-factor authentication".to_owned())
        }
        Screen::SignIn => {
            ("sign_in.html", "Sign in".to_owned(), format!("to continue to {}", settings.branding.app_name))
        }
        Screen::SignUp => (
            "sign_up.html",
            "Create your account".to_owned(),
            format!("to get started with {}", settings.branding.app_name),
        ),
    };
    let ctx = context! {
        title, subtitle, request,
        email => form.email, first_name => form.first_name, last_name => form.last_name,
        error => form.error,
        sign_up_enabled => settings.sign_up_enabled,
        magic_auth_enabled => settings.magic_auth_enabled && email_ok,
        password_reset_enabled => email_ok,
        min_length => settings.password_policy.min_length,
        providers => providers
            .iter()
            .map(|p| context! { name => &p.name, kind => &p.kind, label => &p.label, icon_url => &p.icon_url })
            .collect::<Vec<_>>(),
        passkeys => state.core.passkeys_available(),
        then_security,
    };
    let scripted = template == "sign_in.html" && state.core.passkeys_available();
    page_with(state, headers, template, status, env, Some(&params.redirect_uri), ctx, scripted)
}

/// Renders a hosted page of an environment with its branding and a CSRF token for its forms.
pub(crate) fn page(
    state: &AppState,
    headers: &HeaderMap,
    template: &str,
    status: StatusCode,
    env: &LoadedEnvironment,
    form_target: Option<&str>,
    ctx: minijinja::Value,
) -> Response {
    page_with(state, headers, template, status, env, form_target, ctx, false)
}

/// `page`, allowing Gatehouse's own scripts when `scripted` (the passkey button).
#[allow(clippy::too_many_arguments)]
fn page_with(
    state: &AppState,
    headers: &HeaderMap,
    template: &str,
    status: StatusCode,
    env: &LoadedEnvironment,
    form_target: Option<&str>,
    ctx: minijinja::Value,
    scripted: bool,
) -> Response {
    let (csrf_token, set_cookie) = csrf::token_for_form(headers, state.https());
    let branding = brand(&env.env.settings.branding, Some(&env.env.client_id));
    let ctx = context! { csrf_token, brand => branding, ..ctx };
    let mut response = if scripted {
        state.pages.render_scripted(template, status, ctx, form_target)
    } else {
        state.pages.render(template, status, ctx, form_target)
    };
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The saved `/authorize` request behind a page, with its environment.
pub(crate) async fn load(
    state: &AppState,
    request: Option<&str>,
) -> Result<(Arc<LoadedEnvironment>, AuthorizeParams), Response> {
    match state.core.find_authorization_request(request.unwrap_or_default()).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(expired(state)),
        Err(e) => Err(crate::web::error::ApiError::from(e).into_response()),
    }
}

type Loaded = (Arc<LoadedEnvironment>, AuthorizeParams, Vec<ProviderButton>);

/// `load`, plus the buttons of the environment's sign-in providers.
async fn load_with_providers(state: &AppState, request: Option<&str>) -> Result<Loaded, Response> {
    let (env, params) = load(state, request).await?;
    match state.core.provider_buttons(&env.env).await {
        Ok(providers) => Ok((env, params, providers)),
        Err(e) => Err(crate::web::error::ApiError::from(e).into_response()),
    }
}

pub async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let (env, params, providers) = match load_with_providers(&state, q.request.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let form = FormState { email: params.login_hint.clone().unwrap_or_default(), ..FormState::default() };
    let request = q.request.unwrap_or_default();
    render(&state, &headers, Screen::SignIn, StatusCode::OK, &request, &env, &params, &providers, form)
}

pub async fn sign_up_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let (env, params, providers) = match load_with_providers(&state, q.request.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let request = q.request.unwrap_or_default();
    if !env.env.settings.sign_up_enabled {
        return render(
            &state,
            &headers,
            Screen::SignIn,
            StatusCode::OK,
            &request,
            &env,
            &params,
            &providers,
            FormState::default(),
        );
    }
    let form = FormState { email: params.login_hint.clone().unwrap_or_default(), ..FormState::default() };
    render(&state, &headers, Screen::SignUp, StatusCode::OK, &request, &env, &params, &providers, form)
}

pub(crate) fn fields(body: &Bytes) -> HashMap<String, String> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// A form field without surrounding white space or control characters ("" when absent).
pub(crate) fn field(fields: &HashMap<String, String>, name: &str) -> String {
    fields
        .get(name)
        .map(|v| v.trim_matches(|c: char| c.is_whitespace() || c.is_control()).to_owned())
        .unwrap_or_default()
}

pub(crate) fn minutes(secs: i64) -> String {
    let minutes = (secs + 59) / 60;
    if minutes <= 1 { "a minute".to_owned() } else { format!("{minutes} minutes") }
}

pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    body: Bytes,
) -> Response {
    let f = fields(&body);
    let request = field(&f, "request");
    let (env, params, providers) = match load_with_providers(&state, Some(&request)).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let email = field(&f, "email");
    let mut form = FormState { email: email.trim().to_owned(), ..FormState::default() };
    let show =
        |status, form| render(&state, &headers, Screen::SignIn, status, &request, &env, &params, &providers, form);
    if !csrf::is_valid(&headers, state.https(), &field(&f, "csrf_token")) {
        form.error = Some("This form expired. Please try again.".into());
        return show(StatusCode::BAD_REQUEST, form);
    }
    let password = f.get("password").cloned().unwrap_or_default();
    if form.email.is_empty() || password.is_empty() {
        form.error = Some("Enter your email and password.".into());
        return show(StatusCode::BAD_REQUEST, form);
    }
    match state.core.verify_password_sign_in(&env, &form.email, &password, &info).await {
        Ok(user) => super::complete::finish(&state, &env, &params, &user, &AuthMethod::Password).await,
        Err(Error::InvalidCredentials { .. }) => {
            form.error = Some("Incorrect email or password.".into());
            show(StatusCode::BAD_REQUEST, form)
        }
        Err(Error::RateLimited { retry_after_secs }) => {
            form.error = Some(format!("Too many sign-in attempts. Try again in {}.", minutes(retry_after_secs)));
            let mut response = show(StatusCode::TOO_MANY_REQUESTS, form);
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        Err(e) => crate::web::error::ApiError::from(e).into_response(),
    }
}

pub async fn sign_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    body: Bytes,
) -> Response {
    let f = fields(&body);
    let request = field(&f, "request");
    let (env, params, providers) = match load_with_providers(&state, Some(&request)).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut form = FormState {
        email: field(&f, "email").trim().to_owned(),
        first_name: field(&f, "first_name").trim().to_owned(),
        last_name: field(&f, "last_name").trim().to_owned(),
        error: None,
    };
    let show =
        |status, form| render(&state, &headers, Screen::SignUp, status, &request, &env, &params, &providers, form);
    if !csrf::is_valid(&headers, state.https(), &field(&f, "csrf_token")) {
        form.error = Some("This form expired. Please try again.".into());
        return show(StatusCode::BAD_REQUEST, form);
    }
    if !env.env.settings.sign_up_enabled {
        form.error = Some("Sign-up is turned off for this application.".into());
        return show(StatusCode::FORBIDDEN, form);
    }
    let password = f.get("password").cloned().unwrap_or_default();
    if form.email.is_empty() || password.is_empty() {
        form.error = Some("Enter your email and choose a password.".into());
        return show(StatusCode::BAD_REQUEST, form);
    }
    let new = NewUser {
        email: form.email.clone(),
        password: Some(password),
        first_name: Some(form.first_name.clone()).filter(|s| !s.is_empty()),
        last_name: Some(form.last_name.clone()).filter(|s| !s.is_empty()),
        ..NewUser::default()
    };
    let user = match state.core.create_user(&env.env, new).await {
        Ok(user) => user,
        Err(Error::PasswordStrength(message)) => {
            form.error = Some(message);
            return show(StatusCode::BAD_REQUEST, form);
        }
        Err(Error::Validation { message, .. }) => {
            form.error = Some(message);
            return show(StatusCode::BAD_REQUEST, form);
        }
        Err(Error::Conflict { .. }) => {
            form.error =
                Some("We couldn't create an account with this email. If you already have one, sign in instead.".into());
            return show(StatusCode::BAD_REQUEST, form);
        }
        Err(e) => return crate::web::error::ApiError::from(e).into_response(),
    };
    tracing::info!(user.id = %user.id, ip = info.ip_address.is_some(), "signed up through the hosted page");
    super::complete::finish(&state, &env, &params, &user, &AuthMethod::Password).await
}
