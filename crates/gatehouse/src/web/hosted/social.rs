//! Social sign-in pages: the buttons' start (`GET /authkit/social/{provider}`), the start from
//! `/authorize?provider=…`, and the provider's callback (`/authkit/callback/{provider}`).
//!
//! The sign-in is bound to the browser by a random value in an HttpOnly `SameSite=Lax` cookie
//! (sent on the top-level GET back from the provider); the service keeps only its hash.
//! Every failure ends in a page or an OAuth error redirect to the app, never a 500 for
//! upstream trouble.

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::complete::finish;
use super::error::{Expired, PageError};
use super::form::SavedRequest;
use crate::domain::redirect::with_query;
use crate::service::environments::LoadedEnvironment;
use crate::service::social::{CallbackOutcome, CallbackParams, Failure, LinkOutcome, StartOptions, StartOutcome};
use crate::web::extract::ClientInfo;
use crate::web::outcome::refused;
use crate::web::pages::{brand, pages};
use crate::web::redirects::{found, see_other};
use crate::web::{AppState, cookies};

/// The cookie that binds a social sign-in to the browser that started it.
const BINDING_COOKIE: &str = "gatehouse_social";

/// The browser-binding value from the request's cookie, if it has a plausible form.
fn binding_from_cookie(headers: &HeaderMap, https: bool) -> Option<String> {
    cookies::read(headers, BINDING_COOKIE, https)
        .filter(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// The page shown when a social sign-in cannot go on; `retry` links back to the sign-in page.
fn problem(
    status: StatusCode,
    env: Option<&LoadedEnvironment>,
    title: &str,
    detail: &str,
    retry: Option<&str>,
) -> Response {
    let branding = env.map(|e| e.settings.branding.clone()).unwrap_or_default();
    let client_id = env.map(|e| e.client_id.as_str());
    let link = retry.map(|request| format!("/authkit/sign-in?request={request}"));
    let ctx = context! {
        title, detail, link, link_text => "Back to sign in", brand => brand(&branding, client_id),
    };
    pages().render("message.html", status, ctx, None)
}

/// `provider_scopes` (repeated, or comma-separated) and `provider_query_params[k]` from an
/// `/authorize` query (wire spec §3.2).
pub fn options_from_query(pairs: &[(String, String)], login_hint: Option<String>) -> Result<StartOptions, String> {
    let scopes = crate::domain::provider::parse_scopes(
        pairs.iter().filter(|(k, _)| k == "provider_scopes" || k == "provider_scopes[]").map(|(_, v)| v.as_str()),
    )
    .map_err(|m| format!("provider_scopes: {m}"))?;
    let mut query_params = Vec::new();
    for (k, v) in pairs {
        let Some(name) = k.strip_prefix("provider_query_params[").and_then(|rest| rest.strip_suffix(']')) else {
            continue;
        };
        if name.is_empty() || name.len() > 64 || v.len() > 2048 {
            return Err(format!("provider_query_params[{name}] is not valid."));
        }
        query_params.push((name.to_owned(), v.clone()));
    }
    Ok(StartOptions { scopes, login_hint, query_params })
}

/// Why a start failed, for `/authorize` to turn into an OAuth error redirect where it can.
pub enum StartFailure {
    /// The app asked for something invalid (unknown provider, bad scopes): `invalid_request`.
    InvalidRequest(String),
    /// Anything else already has its page.
    Page(Response),
}

/// Starts a sign-in with `provider` for a saved `/authorize` request: 302 to the provider.
pub async fn start(
    state: &AppState,
    headers: &HeaderMap,
    env: &LoadedEnvironment,
    request_id: &str,
    provider: &str,
    options: &StartOptions,
) -> Result<Response, StartFailure> {
    let https = state.https();
    let existing = binding_from_cookie(headers, https);
    let binding = existing.clone().unwrap_or_else(cookies::random_value);
    let outcome = match state.core.begin_social_sign_in(env, request_id, provider, options, &binding).await {
        Ok(outcome) => outcome,
        Err(e) => return Err(StartFailure::Page(PageError::from(e).into_response())),
    };
    let url = match outcome {
        StartOutcome::Redirect(url) => url,
        StartOutcome::Failed(Failure::UnknownProvider) => {
            return Err(StartFailure::InvalidRequest(format!(
                "The provider '{provider}' is not enabled for this application."
            )));
        }
        StartOutcome::Failed(Failure::InvalidOptions(message)) => return Err(StartFailure::InvalidRequest(message)),
        StartOutcome::Failed(failure) => {
            return Err(StartFailure::Page(failure_page(env, provider, request_id, &failure)));
        }
    };
    let mut response = found(&url);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if existing.is_none()
        && let Some(cookie) = cookies::set(BINDING_COOKIE, &binding, https, None)
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct ButtonQuery {
    request: Option<String>,
}

/// `GET /authkit/social/{provider}?request=…`: a provider button on the hosted pages. Each
/// press stores a social sign-in's state, so it counts against the client address's pending
/// state like a saved `/authorize` request.
pub async fn button(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    Path(provider): Path<String>,
    Query(q): Query<ButtonQuery>,
) -> Result<Response, PageError> {
    let request = q.request.unwrap_or_default();
    let SavedRequest { env, .. } = SavedRequest::load(&state, &request).await?;
    if let Err(crate::service::Error::RateLimited { retry_after_secs }) =
        state.core.admit_pending_state(info.address.as_ref()).await
    {
        return Ok(super::authorize::too_many_sign_ins(retry_after_secs));
    }
    Ok(match start(&state, &headers, &env, &request, &provider, &StartOptions::default()).await {
        Ok(response) => response,
        Err(StartFailure::InvalidRequest(message)) => problem(
            StatusCode::BAD_REQUEST,
            Some(&env),
            "This sign-in option isn't available",
            &message,
            Some(&request),
        ),
        Err(StartFailure::Page(page)) => page,
    })
}

fn failure_page(env: &LoadedEnvironment, label: &str, request_id: &str, failure: &Failure) -> Response {
    use crate::service::social::UpstreamError;
    let (status, title, detail) = match failure {
        Failure::Upstream(UpstreamError::Unavailable(why)) => (
            StatusCode::BAD_GATEWAY,
            format!("{label} is not responding"),
            format!("We couldn't complete the sign-in with {label}. {why} Please try again in a moment."),
        ),
        Failure::Upstream(UpstreamError::Misconfigured(why)) => (
            StatusCode::BAD_GATEWAY,
            format!("Sign-in with {label} is not set up correctly"),
            format!("{why} The administrator of this application needs to fix the provider's configuration."),
        ),
        Failure::Upstream(UpstreamError::Rejected(why) | UpstreamError::InvalidIdToken(why)) => {
            // The request log writes the refusal at info with the client address (the tag
            // below); the provider's own words are for debugging.
            tracing::debug!(provider = label, reason = %why, "social sign-in refused");
            let page = problem(
                StatusCode::BAD_REQUEST,
                Some(env),
                &format!("We couldn't sign you in with {label}"),
                &format!("{why} Nothing was changed. Please try again."),
                Some(request_id),
            );
            return refused(page, "social_sign_in_refused");
        }
        Failure::UnknownProvider => (
            StatusCode::BAD_REQUEST,
            "This sign-in option isn't available".to_owned(),
            format!("The provider '{label}' is not enabled for this application."),
        ),
        Failure::InvalidOptions(why) => {
            (StatusCode::BAD_REQUEST, "This sign-in link isn't valid".to_owned(), why.clone())
        }
        Failure::InvalidState | Failure::BrowserMismatch | Failure::RequestExpired => (
            StatusCode::BAD_REQUEST,
            "This sign-in has expired".to_owned(),
            "Go back to the app and choose Sign in again.".to_owned(),
        ),
    };
    problem(status, Some(env), &title, &detail, Some(request_id))
}

fn callback_params(query: &str) -> CallbackParams {
    let mut params = CallbackParams::default();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "code" => &mut params.code,
            "state" => &mut params.state,
            "error" => &mut params.error,
            "error_description" => &mut params.error_description,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v.chars().take(4096).collect());
        }
    }
    params
}

/// `GET /authkit/callback/{provider}`: where providers send the browser back.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let params = callback_params(&query.unwrap_or_default());
    let binding = binding_from_cookie(&headers, state.https());
    let outcome = state.core.finish_social_sign_in(&provider, &params, binding.as_deref(), &info).await?;
    Ok(match outcome {
        CallbackOutcome::Invalid(Failure::BrowserMismatch) => problem(
            StatusCode::BAD_REQUEST,
            None,
            "We couldn't confirm this sign-in",
            "This sign-in was started in another browser or the browser's cookies were cleared. \
             Go back to the app and choose Sign in again.",
            None,
        ),
        CallbackOutcome::Invalid(Failure::RequestExpired) => Expired::SignInLink.into_response(),
        CallbackOutcome::Invalid(_) => problem(
            StatusCode::BAD_REQUEST,
            None,
            "This sign-in has expired or was already used",
            "Go back to the app and choose Sign in again.",
            None,
        ),
        CallbackOutcome::Cancelled { params, description } => {
            let mut query = vec![("error", "access_denied"), ("error_description", description.as_str())];
            if let Some(s) = &params.state {
                query.push(("state", s.as_str()));
            }
            found(&with_query(&params.redirect_uri, &query))
        }
        CallbackOutcome::Failed { env, request_id, provider_label, failure } => {
            failure_page(&env, &provider_label, &request_id, &failure)
        }
        CallbackOutcome::Linked { env, params, request_id, method, provider_label, outcome } => match outcome {
            LinkOutcome::SignedIn(user) => {
                return finish(&state, &env, &params, &user, &method, info.address.as_ref()).await;
            }
            LinkOutcome::EmailVerificationRequired { email } => {
                email_verification_required(&env, &request_id, &provider_label, &email)
            }
            LinkOutcome::NoEmail => problem(
                StatusCode::BAD_REQUEST,
                Some(&env),
                &format!("{provider_label} didn't share an email address"),
                &format!(
                    "An email address is needed to sign in. Allow {provider_label} to share your email, or sign in another way."
                ),
                Some(&request_id),
            ),
            LinkOutcome::SignUpDisabled => problem(
                StatusCode::FORBIDDEN,
                Some(&env),
                "No account for this email",
                "Sign-up is turned off for this application, and no account uses this email address.",
                Some(&request_id),
            ),
        },
    })
}

/// HOOK(email verification): the provider did not verify the email, so nothing was linked or
/// created. Until Gatehouse can verify the address itself (send a code, then finish the sign-in
/// through `complete::finish`), this page explains what happened.
fn email_verification_required(
    env: &LoadedEnvironment,
    request_id: &str,
    provider_label: &str,
    email: &str,
) -> Response {
    problem(
        StatusCode::FORBIDDEN,
        Some(env),
        "Your email address needs to be verified",
        &format!(
            "{provider_label} hasn't confirmed that {email} belongs to you, so we did not sign you in and did not link \
             it to any account. Verify the address with {provider_label} and try again, or sign in another way."
        ),
        Some(request_id),
    )
}

/// `POST /authkit/callback/{provider}`: providers that answer with `response_mode=form_post`
/// (Apple). A cross-site POST carries no `SameSite=Lax` cookie, so this repeats the answer as
/// a GET to the same URL, which is a top-level navigation that does.
pub async fn callback_form_post(Path(provider): Path<String>, body: Bytes) -> Response {
    let params = callback_params(&String::from_utf8_lossy(&body));
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("code", params.code),
        ("state", params.state),
        ("error", params.error),
        ("error_description", params.error_description),
    ] {
        if let Some(v) = v {
            query.append_pair(k, &v);
        }
    }
    let provider: String = form_urlencoded::byte_serialize(provider.as_bytes()).collect();
    see_other(&format!("/authkit/callback/{provider}?{}", query.finish()))
}
