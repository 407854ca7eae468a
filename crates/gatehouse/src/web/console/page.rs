//! The console's page machinery: the signed-in operator (`Console`), a change form that only an
//! admin with a valid CSRF token gets past (`Change`), rendering inside the layout, flash
//! notices, the confirmation step of destructive actions, and errors as pages.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use minijinja::{Environment, Value, context};

use crate::domain::audit::Actor;
use crate::service::Error;
use crate::service::environments::LoadedEnvironment;
use crate::service::events::RequestActor;
use crate::service::operators::Operator;
use crate::web::{AppState, cookies, csrf};

/// The console session cookie (`__Host-` over https; `SameSite=Strict`).
pub const SESSION_COOKIE: &str = "gatehouse_console";
/// A one-shot notice shown on the next page ("Redirect URI added.").
const FLASH_COOKIE: &str = "gatehouse_console_flash";
/// The longest sealed cookie value read.
pub const MAX_SEALED_COOKIE: usize = 2048;

/// The console's templates, compiled into the binary and parsed once.
fn templates() -> &'static Environment<'static> {
    static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
        let mut env = Environment::new();
        // Names end in .html, so minijinja escapes every value for HTML.
        for (name, source) in super::TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "console template does not parse");
            }
        }
        env
    });
    &TEMPLATES
}

/// Parses the templates now rather than on the first page.
pub fn warm_up() {
    templates();
}

/// The operator behind a console request (the guard of every console page): a valid console
/// session in this browser, else a GET goes to sign-in and anything else gets 401.
pub struct Console {
    pub operator: Operator,
    /// `Set-Cookie`s for the response: a renewed session, a new CSRF cookie, a spent flash.
    cookies: Vec<HeaderValue>,
    csrf_token: String,
    flash: Option<String>,
}

impl Console {
    /// Whether this operator may change things (admins): templates hide change buttons
    /// otherwise, and `Change` refuses the POSTs.
    pub fn can_change(&self) -> bool {
        self.operator.can_change()
    }

    /// The environment named in the URL (`/dashboard/env/{name}/…`), or the not-found page.
    pub async fn environment(&self, state: &AppState, name: &str) -> Result<Arc<LoadedEnvironment>, PageError> {
        let Some(env) = state.core.find_environment_named(name).await? else {
            return Err(PageError::NotFound(format!("There is no environment named “{name}”.")));
        };
        match state.core.load_environment(&env.client_id).await? {
            Some(env) => Ok(env),
            None => Err(PageError::NotFound(format!("There is no environment named “{name}”."))),
        }
    }

    /// Renders `template` inside the layout. `env` is the environment the page is about (its
    /// name drives the switcher and the nav), `section` the nav entry to highlight.
    pub async fn render(
        &self,
        state: &AppState,
        template: &str,
        env: Option<&str>,
        section: &str,
        ctx: Value,
    ) -> Result<Response, PageError> {
        self.render_status(state, StatusCode::OK, template, env, section, ctx).await
    }

    /// `render` with another status (a form shown again with its error: 422).
    pub async fn render_status(
        &self,
        state: &AppState,
        status: StatusCode,
        template: &str,
        env: Option<&str>,
        section: &str,
        ctx: Value,
    ) -> Result<Response, PageError> {
        let environments: Vec<Value> = state
            .core
            .list_environments()
            .await?
            .iter()
            .map(|e| context! { name => &e.name, production => !e.is_development() })
            .collect();
        let has_production = state.core.find_environment_named(crate::domain::environment::PRODUCTION).await?.is_some();
        let nav: Vec<Value> = super::NAV
            .iter()
            .filter(|item| env.is_some() || !item.per_environment)
            .map(|item| {
                let href = match env {
                    Some(env) if item.per_environment => format!("/dashboard/env/{env}/{}", item.path),
                    _ => format!("/dashboard/{}", item.path),
                };
                context! { label => item.label, href, current => item.section == section }
            })
            .collect();
        let layout = context! {
            operator => context! {
                email => &self.operator.email,
                name => &self.operator.name,
                role => self.operator.role.as_str(),
            },
            can_change => self.can_change(),
            csrf_token => &self.csrf_token,
            flash => &self.flash,
            env => env,
            environments,
            has_production,
            nav,
            section,
        };
        let ctx = context! { ..ctx, ..layout };
        let mut response = render_html(status, template, ctx);
        for cookie in &self.cookies {
            response.headers_mut().append(header::SET_COOKIE, cookie.clone());
        }
        Ok(response)
    }

    /// The confirmation step of a destructive action: a page that says what will happen, with a
    /// form posting `fields` back to `action` plus `confirm=yes`, and a way back to `back`.
    /// Handlers call it when the posted form lacks `confirm=yes` (`Change::confirmed`).
    pub async fn confirm(&self, state: &AppState, env: Option<&str>, step: Confirm<'_>) -> Result<Response, PageError> {
        let fields: Vec<Value> = step.fields.iter().map(|(k, v)| context! { name => *k, value => *v }).collect();
        let ctx = context! {
            title => step.title, consequence => step.consequence, action => step.action, back => step.back,
            button => step.button, fields,
        };
        self.render(state, "console/confirm.html", env, "", ctx).await
    }
}

/// What a confirmation page says and re-posts.
pub struct Confirm<'a> {
    /// "Revoke the API key sk_test_ab12…?"
    pub title: &'a str,
    /// What will happen, plainly ("Apps using this key stop working at once.").
    pub consequence: &'a str,
    /// The URL the confirmed form posts to (the same handler).
    pub action: &'a str,
    /// The fields to post again.
    pub fields: &'a [(&'a str, &'a str)],
    /// Where Cancel goes.
    pub back: &'a str,
    /// The button's label ("Revoke key").
    pub button: &'a str,
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Console, Response> {
        let https = state.https();
        let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
        let session = match cookies::read_sealed(&parts.headers, SESSION_COOKIE, https, MAX_SEALED_COOKIE) {
            Some(cookie) => state
                .core
                .operator_session(&cookie, user_agent)
                .await
                .map_err(|e| PageError::from(e).into_response())?,
            None => None,
        };
        let Some(session) = session else {
            if parts.method == Method::GET || parts.method == Method::HEAD {
                let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/dashboard");
                let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
                let location = format!("/dashboard/sign-in?next={next}");
                return Err(crate::web::redirects::found(&location));
            }
            return Err(message(
                StatusCode::UNAUTHORIZED,
                "Signed out",
                "Your console session has ended. Sign in again, then repeat the change.",
            ));
        };
        let mut set = Vec::new();
        if let Some(renewed) = session.renewed {
            set.extend(cookies::set_strict(SESSION_COOKIE, &renewed, https, None));
        }
        let (csrf_token, csrf_cookie) = csrf::token_for_form(&parts.headers, https);
        set.extend(csrf_cookie);
        let flash = cookies::read_sealed(&parts.headers, FLASH_COOKIE, https, 1024)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok());
        if flash.is_some() {
            set.extend(cookies::set(FLASH_COOKIE, "", https, Some(0)));
        }
        Ok(Console { operator: session.operator, cookies: set, csrf_token, flash })
    }
}

/// A posted console form that changes something: only an admin gets here, and only with the
/// form's CSRF token matching the cookie (else 403). Every change made in the console goes
/// through one of these, so `actor()` is the one place that says who made it: configuration
/// changes pass it to their service, and every other event the request writes (a user edited,
/// an organization created, a session ended) records it through the request's `RequestActor`.
pub struct Change {
    pub console: Console,
    fields: HashMap<String, String>,
}

impl Change {
    /// A field without surrounding white space ("" when absent).
    pub fn field(&self, name: &str) -> String {
        self.fields.get(name).map(|v| v.trim().to_owned()).unwrap_or_default()
    }

    /// A field a form may leave empty, without surrounding white space: `None` when it is empty.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.field(name)).filter(|v| !v.is_empty())
    }

    /// A field exactly as sent ("" when absent): templates and passwords keep their spaces.
    pub fn raw(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }

    /// Whether the operator confirmed a destructive action (`confirm=yes`, from `Console::confirm`).
    pub fn confirmed(&self) -> bool {
        self.field("confirm") == "yes"
    }

    /// Who is making the change, for the audit trail: the operator.
    pub fn actor(&self) -> Actor {
        self.console.operator.actor()
    }
}

impl FromRequest<AppState> for Change {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Change, Response> {
        let (mut parts, body) = req.into_parts();
        let console = Console::from_request_parts(&mut parts, state).await?;
        if !console.can_change() {
            return Err(message(
                StatusCode::FORBIDDEN,
                "Read-only access",
                "Your role is viewer: you can look at everything but change nothing. Ask an admin.",
            ));
        }
        let cookie = csrf::from_cookie(&parts.headers, state.https());
        let parts_actor = parts.extensions.get::<RequestActor>().cloned();
        let body =
            Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        let fields: HashMap<String, String> =
            form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let submitted = fields.get("csrf_token").map(String::as_str).unwrap_or("");
        if !csrf::matches(cookie.as_deref(), submitted) {
            return Err(message(
                StatusCode::FORBIDDEN,
                "This form expired",
                "The form was open too long or came from elsewhere. Go back, reload the page, and try again.",
            ));
        }
        if let Some(request_actor) = parts_actor {
            request_actor.set(&console.operator.actor());
        }
        Ok(Change { console, fields })
    }
}

/// After a change: back to `location` (303) with `notice` shown once there.
pub fn done(state: &AppState, location: &str, notice: &str) -> Response {
    let mut response = crate::web::redirects::see_other(location);
    if let Some(cookie) = cookies::set(FLASH_COOKIE, &URL_SAFE_NO_PAD.encode(notice), state.https(), Some(60)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Renders a template with the console's page headers (CSP: own styles and scripts only).
pub fn render_html(status: StatusCode, template: &str, ctx: Value) -> Response {
    let html = match templates().get_template(template).and_then(|t| t.render(ctx)) {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(template, error = %e, "console page failed to render");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>Something went wrong. Please try again."),
            )
                .into_response();
        }
    };
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; \
             connect-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A page with a title and a sentence, outside the layout (sign-in problems, refusals).
pub fn message(status: StatusCode, title: &str, detail: &str) -> Response {
    render_html(status, "console/message.html", context! { title, detail })
}

/// The CSRF token for a form on a page outside the layout, and its cookie if new.
pub fn form_token(headers: &HeaderMap, https: bool) -> (String, Option<HeaderValue>) {
    csrf::token_for_form(headers, https)
}

/// What ends a console page early: handlers return `Result<Response, PageError>` and use `?`.
pub enum PageError {
    NotFound(String),
    Service(Error),
}

impl From<Error> for PageError {
    fn from(e: Error) -> PageError {
        PageError::Service(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound(detail) => message(StatusCode::NOT_FOUND, "Not found", &detail),
            PageError::Service(Error::NotFound { kind, id }) => {
                message(StatusCode::NOT_FOUND, "Not found", &format!("{kind} not found: {id}."))
            }
            PageError::Service(e) => {
                tracing::error!(error = %e, "console page failed");
                message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The change was not made. Try again.",
                )
            }
        }
    }
}

/// A refused form, for the page that shows it again: the message, the field it is about (empty:
/// the form as a whole) and, on pages with several forms, which one.
pub struct FormError {
    pub form: &'static str,
    pub field: String,
    pub message: String,
}

impl FormError {
    /// A message of the console's own about `field`.
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        FormError { form: "", field: field.to_owned(), message: message.into() }
    }

    /// The service's refusal `e` (see [`refusal`]), about the field its first validation error
    /// names, or `field` when it names none.
    pub fn refused(e: Error, field: &str) -> Result<Self, PageError> {
        let named = match &e {
            Error::Validation { errors, .. } => errors.first().map(|f| f.field.clone()),
            _ => None,
        };
        Ok(FormError { form: "", field: named.unwrap_or_else(|| field.to_owned()), message: refusal(e)? })
    }

    /// The same error, shown by the form `form`.
    pub fn in_form(self, form: &'static str) -> Self {
        FormError { form, ..self }
    }

    /// The template's values: `error` (the message), `error_field` and `error_form`, all none
    /// without an error.
    pub fn context(error: Option<&FormError>) -> Value {
        context! {
            error => error.map(|e| &e.message),
            error_field => error.map(|e| &e.field),
            error_form => error.map(|e| e.form),
        }
    }
}

/// The message a form shows for a service refusal (the API's own wording), or the error
/// itself when no form can explain it.
pub fn refusal(e: Error) -> Result<String, PageError> {
    match e {
        Error::Validation { message, .. }
        | Error::Rejected { message, .. }
        | Error::PasswordStrength(message)
        | Error::Conflict { message, .. }
        | Error::EmailUnavailable(message) => Ok(message),
        Error::NotFound { kind, id } => Ok(format!("{kind} not found: '{id}'.")),
        Error::RateLimited { retry_after_secs } => {
            Ok(format!("Too many attempts. Try again in {retry_after_secs} seconds."))
        }
        other => Err(other.into()),
    }
}
