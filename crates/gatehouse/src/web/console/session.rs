//! Operators in and out of the console: sign-in through the hosted pages of the operator realm
//! (authorize, then the code redeemed in process with PKCE), the callback that sets the console
//! session, sign-out, and the one-time link that creates an operator.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::page::{self, Console, MAX_SEALED_COOKIE, PageError, SESSION_COOKIE};
use crate::service::operators::SESSION_ABSOLUTE_MS;
use crate::web::extract::ClientInfo;
use crate::web::{AppState, cookies, csrf};

/// The cookie carrying a sign-in in progress (sealed state and PKCE verifier).
const FLOW_COOKIE: &str = "gatehouse_console_flow";

/// The console's own origin: the public URL, or the `--dashboard-listen` address's.
pub(super) fn console_origin(state: &AppState) -> String {
    state.web.dashboard_url.clone().unwrap_or_else(|| state.core.config().public_url.clone())
}

/// The sign-in callback registered as the operator realm's only redirect URI.
fn callback_url(state: &AppState) -> String {
    format!("{}/dashboard/callback", console_origin(state))
}

/// A console path to go to after sign-in; anything else becomes `/dashboard`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/dashboard") && !n.starts_with("//") && !n.contains('\\') && n.len() < 512 => {
            n.to_owned()
        }
        _ => "/dashboard".to_owned(),
    }
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

/// `GET /dashboard/sign-in`: off to the operator realm's hosted sign-in.
pub async fn sign_in(State(state): State<AppState>, Query(q): Query<SignInQuery>) -> Result<Response, PageError> {
    let callback = callback_url(&state);
    state.core.prepare_operator_realm(&callback).await?;
    let start = state.core.begin_operator_sign_in(&callback, &safe_next(q.next.as_deref())).await?;
    let mut response = crate::web::redirects::found(&start.authorize_url);
    // Lax: the way back is a redirect from the hosted pages, which may be another site.
    if let Some(cookie) = cookies::set(FLOW_COOKIE, &start.flow, state.https(), Some(900)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn sign_in_again(status: StatusCode, detail: &str) -> Response {
    page::render_html(
        status,
        "console/message.html",
        context! { title => "Sign-in did not finish", detail, link => "/dashboard/sign-in", link_text => "Sign in again" },
    )
}

/// `GET /dashboard/callback`: redeems the code, sets the console session, and continues.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let https = state.https();
    if let Some(error) = q.error {
        let detail = q.error_description.unwrap_or(error);
        return Ok(sign_in_again(StatusCode::BAD_REQUEST, &detail));
    }
    let (Some(code), Some(flow_state), Some(flow)) =
        (q.code, q.state, cookies::read_sealed(&headers, FLOW_COOKIE, https, MAX_SEALED_COOKIE))
    else {
        return Ok(sign_in_again(
            StatusCode::BAD_REQUEST,
            "This sign-in was started in another browser or has expired.",
        ));
    };
    let (session, next) = match state.core.finish_operator_sign_in(&flow, &flow_state, &code, &info).await {
        Ok(done) => done,
        Err(e) => {
            let detail = match e {
                crate::service::Error::Validation { message, .. } => message,
                crate::service::Error::InvalidCredentials { .. } | crate::service::Error::Rejected { .. } => {
                    "The sign-in code was refused (used already, or expired). Sign in again.".to_owned()
                }
                other => return Err(other.into()),
            };
            return Ok(sign_in_again(StatusCode::BAD_REQUEST, &detail));
        }
    };
    // A page that moves on by itself rather than a redirect: the session cookie is
    // SameSite=Strict, and a redirect chain another site started would not send it.
    let mut response = page::render_html(StatusCode::OK, "console/continue.html", context! { next });
    let set = response.headers_mut();
    if let Some(cookie) = cookies::set_strict(SESSION_COOKIE, &session, https, Some(SESSION_ABSOLUTE_MS / 1000)) {
        set.append(header::SET_COOKIE, cookie);
    }
    if let Some(clear) = cookies::set(FLOW_COOKIE, "", https, Some(0)) {
        set.append(header::SET_COOKIE, clear);
    }
    Ok(response)
}

fn form_fields(body: &Bytes) -> HashMap<String, String> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// `POST /dashboard/sign-out`: ends the operator's session here and in the realm.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    console: Console,
    body: Bytes,
) -> Result<Response, PageError> {
    let fields = form_fields(&body);
    if !csrf::is_valid(&headers, state.https(), fields.get("csrf_token").map(String::as_str).unwrap_or("")) {
        return Ok(page::message(StatusCode::FORBIDDEN, "This form expired", "Reload the page and try again."));
    }
    state.core.end_operator_session(&console.operator).await?;
    let mut response = page::render_html(
        StatusCode::OK,
        "console/message.html",
        context! { title => "Signed out", detail => "You have left the console.", link => "/dashboard/sign-in", link_text => "Sign in again" },
    );
    if let Some(clear) = cookies::set_strict(SESSION_COOKIE, "", state.https(), Some(0)) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct SetupQuery {
    token: Option<String>,
}

fn link_expired() -> Response {
    page::message(
        StatusCode::BAD_REQUEST,
        "This link has expired",
        "Operator links work once, for a day. Ask an admin for a new one (`gatehouse operators add EMAIL`).",
    )
}

/// What the operator-link form shows.
struct SetupForm<'a> {
    token: &'a str,
    /// The link's own address, when it names one.
    fixed_email: Option<&'a str>,
    email: &'a str,
    role: &'a str,
    error: Option<&'a str>,
}

fn setup_form(state: &AppState, headers: &HeaderMap, status: StatusCode, form: SetupForm<'_>) -> Response {
    let (csrf_token, cookie) = page::form_token(headers, state.https());
    let SetupForm { token, fixed_email, email, role, error } = form;
    let ctx = context! { token, fixed_email, email, role, error, csrf_token };
    let mut response = page::render_html(status, "console/setup.html", ctx);
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /dashboard/setup?token=…`: the one-time link that creates an operator.
pub async fn setup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SetupQuery>,
) -> Result<Response, PageError> {
    let token = q.token.unwrap_or_default();
    let Some(invite) = state.core.find_operator_invite(&token).await? else { return Ok(link_expired()) };
    let email = invite.email.clone().unwrap_or_default();
    let form = SetupForm {
        token: &token,
        fixed_email: invite.email.as_deref(),
        email: &email,
        role: invite.role.as_str(),
        error: None,
    };
    Ok(setup_form(&state, &headers, StatusCode::OK, form))
}

/// `POST /dashboard/setup`: creates the operator with the chosen password, then sign-in.
pub async fn setup(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let fields = form_fields(&body);
    let get = |k: &str| fields.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let token = get("token");
    let Some(invite) = state.core.find_operator_invite(&token).await? else { return Ok(link_expired()) };
    let email = invite.email.clone().unwrap_or_else(|| get("email"));
    let role = invite.role.as_str();
    let retry = |error: &str| {
        let form =
            SetupForm { token: &token, fixed_email: invite.email.as_deref(), email: &email, role, error: Some(error) };
        setup_form(&state, &headers, StatusCode::UNPROCESSABLE_ENTITY, form)
    };
    if !csrf::is_valid(&headers, state.https(), &get("csrf_token")) {
        return Ok(retry("This form expired. Please try again."));
    }
    let password = fields.get("password").cloned().unwrap_or_default();
    if password != fields.get("password_confirmation").cloned().unwrap_or_default() {
        return Ok(retry("The two passwords differ."));
    }
    match state.core.accept_operator_invite(&token, &email, &password).await {
        Ok(_) => Ok(page::render_html(
            StatusCode::OK,
            "console/message.html",
            context! {
                title => "You are an operator",
                detail => format!("{email} can now sign in to the console with that password. After signing in, add a passkey or an authenticator app under Account security."),
                link => "/dashboard/sign-in", link_text => "Sign in",
            },
        )
        .into_response()),
        Err(e) => Ok(retry(&page::refusal(e)?)),
    }
}
