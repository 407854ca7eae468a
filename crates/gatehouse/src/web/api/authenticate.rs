//! `POST /user_management/authenticate` (wire spec §3.3–§3.5), with CORS for browser clients.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;

use super::extract::WireBody;
use crate::domain::cookie_policy::CookiePolicy;
use crate::service::Error;
use crate::service::auth::{Authenticated, ClientAuth, Grant};
use crate::web::AppState;
use crate::web::cookies;
use crate::web::error::ApiError;
use crate::web::extract::ClientInfo;
use crate::web::wire;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/user_management/authenticate", post(authenticate).options(preflight))
}

/// Every field any grant uses; which are required depends on `grant_type`.
#[derive(Deserialize)]
struct AuthenticateBody {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    code_verifier: Option<String>,
    redirect_uri: Option<String>,
    refresh_token: Option<String>,
    email: Option<String>,
    password: Option<String>,
    pending_authentication_token: Option<String>,
    authentication_challenge_id: Option<String>,
    organization_id: Option<String>,
    invitation_token: Option<String>,
    /// The end user's address and browser, as a backend calling with the API key states them.
    ip_address: Option<String>,
    user_agent: Option<String>,
}

async fn authenticate(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    body: Result<WireBody<AuthenticateBody>, ApiError>,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut set_cookies = Vec::new();
    let (client_id, result) = match body {
        Ok(WireBody(mut body)) => {
            let client_id = body.client_id.clone();
            let bearer = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned);
            let public = bearer.is_none() && body.client_secret.as_deref().is_none_or(str::is_empty);
            let browser = match (&origin, &client_id) {
                (Some(origin), Some(client_id)) if public => cookie_mode(&state, &headers, origin, client_id).await,
                _ => None,
            };
            let from_cookie = browser
                .as_ref()
                .is_some_and(|(_, client_id)| take_refresh_cookie(&mut body, &headers, &state, client_id));
            let result = match parse(body, bearer) {
                Ok((client, grant)) => state.core.authenticate(&client, grant, &info).await,
                Err(e) => Err(e),
            };
            if let Some((policy, client_id)) = browser {
                set_cookies = session_cookies(&state, &headers, &policy, &client_id, &result, from_cookie);
            }
            (client_id, result.map_err(ApiError::from))
        }
        Err(rejection) => (None, Err(ApiError::bad_request(rejection.message()))),
    };
    let mut response = match result {
        Ok(done) => success(done),
        Err(e) => e.into_response(),
    };
    for cookie in set_cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    if let Some(origin) = origin {
        let allowed = state.core.is_allowed_origin(&origin, client_id.as_deref()).await.unwrap_or(false);
        if allowed {
            add_cors_headers(response.headers_mut(), &origin);
        }
    }
    response
}

/// Cookie mode (issue 11): a public client's JSON request from one of its own allowed origins,
/// as authkit-js sends outside devMode. Returns the cookies' policy and the client ID.
async fn cookie_mode(
    state: &AppState,
    headers: &HeaderMap,
    origin: &str,
    client_id: &str,
) -> Option<(CookiePolicy, String)> {
    let allowed = state.core.is_allowed_origin(origin, Some(client_id)).await.unwrap_or(false);
    (allowed && cookies::is_json(headers)).then(|| (state.core.config().cookies.clone(), client_id.to_owned()))
}

/// A refresh grant without `refresh_token` in the body uses the client's refresh cookie;
/// true when it did (or tried: the grant then fails as without a token).
fn take_refresh_cookie(body: &mut AuthenticateBody, headers: &HeaderMap, state: &AppState, client_id: &str) -> bool {
    if body.grant_type.as_deref() != Some("refresh_token")
        || body.refresh_token.as_deref().is_some_and(|t| !t.is_empty())
    {
        return false;
    }
    body.refresh_token = cookies::refresh_token(headers, &state.core.config().cookies, client_id);
    true
}

/// The cookies a cookie-mode answer sets: the session's on success, none left behind when a
/// cookie refresh failed for good (an invalid or missing token).
fn session_cookies(
    state: &AppState,
    headers: &HeaderMap,
    policy: &CookiePolicy,
    client_id: &str,
    result: &Result<Authenticated, Error>,
    from_cookie: bool,
) -> Vec<HeaderValue> {
    match result {
        Ok(done) => {
            let max_age = (done.session_expires_at - state.core.now()) / 1000;
            cookies::start_session(headers, policy, client_id, &done.refresh_token, max_age)
        }
        Err(Error::InvalidGrant(_) | Error::InvalidRequest(_)) if from_cookie => {
            cookies::end_client(headers, policy, client_id)
        }
        Err(_) => Vec::new(),
    }
}

fn success(done: Authenticated) -> Response {
    let mut response = (StatusCode::OK, axum::Json(wire::AuthenticateResponse::from(&done))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn required(value: Option<String>, name: &str) -> Result<String, Error> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::InvalidRequest(format!("Missing required parameter `{name}`.")))
}

fn parse(body: AuthenticateBody, bearer: Option<String>) -> Result<(ClientAuth, Grant), Error> {
    let grant_type = required(body.grant_type, "grant_type")?;
    let client_id = required(body.client_id, "client_id")?;
    let client_secret = body.client_secret.filter(|s| !s.is_empty()).or(bearer);
    let (stated_ip_address, stated_user_agent) = (body.ip_address, body.user_agent);
    let grant = match grant_type.as_str() {
        "authorization_code" => Grant::AuthorizationCode {
            code: required(body.code, "code")?,
            code_verifier: body.code_verifier.filter(|v| !v.is_empty()),
            redirect_uri: body.redirect_uri.filter(|v| !v.is_empty()),
            invitation_token: body.invitation_token.clone().filter(|v| !v.is_empty()),
        },
        "refresh_token" => Grant::RefreshToken {
            refresh_token: required(body.refresh_token, "refresh_token")?,
            organization_id: body.organization_id.filter(|o| !o.is_empty()),
        },
        "urn:workos:oauth:grant-type:organization-selection" => Grant::OrganizationSelection {
            pending_authentication_token: required(body.pending_authentication_token, "pending_authentication_token")?,
            organization_id: required(body.organization_id, "organization_id")?,
        },
        "password" => Grant::Password {
            email: required(body.email, "email")?,
            password: required(body.password, "password")?,
            invitation_token: body.invitation_token.filter(|v| !v.is_empty()),
        },
        "urn:workos:oauth:grant-type:magic-auth:code" => {
            Grant::MagicAuth { email: required(body.email, "email")?, code: required(body.code, "code")? }
        }
        "urn:workos:oauth:grant-type:email-verification:code" => Grant::EmailVerification {
            code: required(body.code, "code")?,
            pending_authentication_token: required(body.pending_authentication_token, "pending_authentication_token")?,
        },
        "urn:workos:oauth:grant-type:mfa-totp" => Grant::MfaTotp {
            pending_authentication_token: required(body.pending_authentication_token, "pending_authentication_token")?,
            authentication_challenge_id: required(body.authentication_challenge_id, "authentication_challenge_id")?,
            code: required(body.code, "code")?,
        },
        other => {
            return Err(Error::UnsupportedGrantType(format!(
                "The grant_type `{other}` is not supported. Use authorization_code, refresh_token, password or a \
                 urn:workos:oauth:grant-type: grant."
            )));
        }
    };
    Ok((ClientAuth { client_id, client_secret, stated_ip_address, stated_user_agent }, grant))
}

/// CORS preflight: browsers send no client ID, so any environment's allowed origin passes; the
/// actual request is then checked against its own environment.
async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return response;
    };
    if state.core.is_allowed_origin(origin, None).await.unwrap_or(false) {
        let h = response.headers_mut();
        add_cors_headers(h, origin);
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
        let requested = headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-, ".contains(&b)))
            .unwrap_or("content-type, authorization");
        if let Ok(v) = HeaderValue::from_str(requested) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    response
}

fn add_cors_headers(headers: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}
