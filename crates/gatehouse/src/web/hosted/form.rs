//! The hosted pages' inputs: a posted form with its CSRF check done once, the saved
//! `/authorize` request a page or form names, and the page renderer with branding and a CSRF
//! token for the forms.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::{Expired, PageError};
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::web::pages::{brand, pages};
use crate::web::{AppState, csrf};

/// What a form shows when its CSRF token did not match (an old tab, cleared cookies).
pub const FORM_EXPIRED: &str = "This form expired. Please try again.";

/// A posted form (`application/x-www-form-urlencoded`), with its CSRF token checked against the
/// cookie (double submit).
pub struct Form {
    fields: HashMap<String, String>,
    csrf_ok: bool,
}

impl Form {
    /// A field without surrounding white space or control characters ("" when absent).
    pub fn field(&self, name: &str) -> String {
        self.fields
            .get(name)
            .map(|v| v.trim_matches(|c: char| c.is_whitespace() || c.is_control()).to_owned())
            .unwrap_or_default()
    }

    /// A field exactly as sent ("" when absent): passwords keep their spaces.
    pub fn raw(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }

    /// Whether the form's `csrf_token` matched the cookie.
    pub fn csrf_ok(&self) -> bool {
        self.csrf_ok
    }
}

impl FromRequest<AppState> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Form, Response> {
        let cookie = csrf::from_cookie(req.headers(), state.https());
        let body = Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        let fields: HashMap<String, String> =
            form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let mut form = Form { fields, csrf_ok: false };
        form.csrf_ok = csrf::matches(cookie.as_deref(), &form.field("csrf_token"));
        Ok(form)
    }
}

/// The saved `/authorize` request behind a page, with its environment.
pub struct SavedRequest {
    pub env: Arc<LoadedEnvironment>,
    pub params: AuthorizeParams,
}

impl SavedRequest {
    /// The request named `id`; the expired page when there is none.
    pub async fn load(state: &AppState, id: &str) -> Result<SavedRequest, PageError> {
        match state.core.find_authorization_request(id).await? {
            Some((env, params)) => Ok(SavedRequest { env, params }),
            None => Err(Expired::SignInLink.into()),
        }
    }
}

#[derive(Deserialize)]
struct RequestQuery {
    request: Option<String>,
}

/// `GET …?request=…`: the page's saved request.
impl FromRequestParts<AppState> for SavedRequest {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<SavedRequest, PageError> {
        let Query(q) = Query::<RequestQuery>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| PageError::Response(Box::new(rejection.into_response())))?;
        SavedRequest::load(state, q.request.as_deref().unwrap_or_default()).await
    }
}

/// A posted form of a sign-in page with the saved request its `request` field names.
pub struct SignInForm {
    pub env: Arc<LoadedEnvironment>,
    pub params: AuthorizeParams,
    pub form: Form,
}

impl FromRequest<AppState> for SignInForm {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<SignInForm, PageError> {
        let form = Form::from_request(req, state).await.map_err(|r| PageError::Response(Box::new(r)))?;
        let SavedRequest { env, params } = SavedRequest::load(state, &form.field("request")).await?;
        Ok(SignInForm { env, params, form })
    }
}

/// Renders a hosted page of an environment with its branding and a CSRF token for its forms;
/// `form_target` is where its forms may lead (the app's redirect URI, for the CSP).
pub fn page(
    state: &AppState,
    headers: &HeaderMap,
    template: &str,
    status: StatusCode,
    env: &LoadedEnvironment,
    form_target: Option<&str>,
    ctx: minijinja::Value,
) -> Response {
    render(state, headers, template, status, env, form_target, ctx, false)
}

/// `page`, allowing Gatehouse's own scripts (the passkey buttons).
pub fn scripted_page(
    state: &AppState,
    headers: &HeaderMap,
    template: &str,
    status: StatusCode,
    env: &LoadedEnvironment,
    form_target: Option<&str>,
    ctx: minijinja::Value,
) -> Response {
    render(state, headers, template, status, env, form_target, ctx, true)
}

#[allow(clippy::too_many_arguments)]
fn render(
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
    let branding = brand(&env.settings.branding, Some(&env.client_id));
    let ctx = minijinja::context! { csrf_token, brand => branding, ..ctx };
    let mut response = if scripted {
        pages().render_scripted(template, status, ctx, form_target)
    } else {
        pages().render(template, status, ctx, form_target)
    };
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// "a minute", "5 minutes": how long until a limit lifts.
pub fn minutes(secs: i64) -> String {
    let minutes = (secs + 59) / 60;
    if minutes <= 1 { "a minute".to_owned() } else { format!("{minutes} minutes") }
}
