//! The JSON endpoints `templates/passkeys.js` calls: registration on the account-security page,
//! and "Sign in with a passkey" (with browser autofill) on the sign-in page. The script sends
//! the CSRF token in `X-CSRF-Token`; answers are `{ceremony, options}`, `{location}` or
//! `{error}`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::complete::finish;
use super::security::{Open, PAGE};
use crate::domain::session::AuthMethod;
use crate::service::Error;
use crate::web::error::ApiError;
use crate::web::extract::{ClientInfo, MAX_BODY_BYTES};
use crate::web::outcome::refused;
use crate::web::{AppState, csrf};

const PAGE_EXPIRED: &str = "This page expired. Reload it and try again.";
const MALFORMED: &str = "The request is malformed.";
const SIGN_IN_EXPIRED: &str = "This sign-in link has expired. Go back to the app.";

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// A refused ceremony as `{error}` the script can show; anything else in the API's shape.
fn json_service_error(e: Error) -> Response {
    match e {
        Error::Factor(problem) => refused(json_error(StatusCode::BAD_REQUEST, &problem.message()), "passkey_refused"),
        Error::Conflict { message, .. } => json_error(StatusCode::CONFLICT, &message),
        Error::RateLimited { .. } => json_error(StatusCode::TOO_MANY_REQUESTS, "Too many attempts. Try again later."),
        other => ApiError::from(other).into_response(),
    }
}

fn csrf_header_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    csrf::is_valid(headers, state.https(), sent)
}

fn parse_json(body: &Bytes) -> Option<Map<String, Value>> {
    if body.len() > MAX_BODY_BYTES {
        return None;
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `POST /authkit/security/passkeys/options`.
pub async fn registration_options(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Ok(open) = Open::load(&state, &headers).await else {
        return json_error(StatusCode::UNAUTHORIZED, "This page has expired. Sign in again.");
    };
    if !csrf_header_ok(&state, &headers) {
        return json_error(StatusCode::FORBIDDEN, PAGE_EXPIRED);
    }
    match state.core.start_passkey_registration(&open.env, &open.user).await {
        Ok((ceremony, options)) => axum::Json(json!({ "ceremony": ceremony, "options": options })).into_response(),
        Err(e) => json_service_error(e),
    }
}

/// `POST /authkit/security/passkeys`: `{ceremony, credential, name}`.
pub async fn register(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(open) = Open::load(&state, &headers).await else {
        return json_error(StatusCode::UNAUTHORIZED, "This page has expired. Sign in again.");
    };
    if !csrf_header_ok(&state, &headers) {
        return json_error(StatusCode::FORBIDDEN, PAGE_EXPIRED);
    }
    let Some(mut body) = parse_json(&body) else {
        return json_error(StatusCode::BAD_REQUEST, MALFORMED);
    };
    let credential = body.remove("credential").unwrap_or(Value::Null);
    let (ceremony, name) = (text(&body, "ceremony"), text(&body, "name"));
    match state.core.finish_passkey_registration(&open.env, &open.user, ceremony, credential, name).await {
        Ok(_) => axum::Json(json!({ "location": format!("{PAGE}?done=passkey-added") })).into_response(),
        Err(e) => json_service_error(e),
    }
}

/// `POST /authkit/passkey/options`: `{request}` → options for a username-less sign-in.
pub async fn sign_in_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    body: Bytes,
) -> Response {
    if !csrf_header_ok(&state, &headers) {
        return json_error(StatusCode::FORBIDDEN, PAGE_EXPIRED);
    }
    if let Err(e) = state.core.admit_pending_state(info.address.as_ref()).await {
        return json_service_error(e);
    }
    let Some(body) = parse_json(&body) else {
        return json_error(StatusCode::BAD_REQUEST, MALFORMED);
    };
    let env = match state.core.find_authorization_request(text(&body, "request")).await {
        Ok(Some((env, _))) => env,
        Ok(None) => return json_error(StatusCode::BAD_REQUEST, SIGN_IN_EXPIRED),
        Err(e) => return json_service_error(e),
    };
    match state.core.start_passkey_sign_in(&env).await {
        Ok((ceremony, options)) => axum::Json(json!({ "ceremony": ceremony, "options": options })).into_response(),
        Err(e) => json_service_error(e),
    }
}

/// `POST /authkit/passkey/sign-in`: `{request, ceremony, credential}` → `{location}`.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    body: Bytes,
) -> Response {
    if !csrf_header_ok(&state, &headers) {
        return json_error(StatusCode::FORBIDDEN, PAGE_EXPIRED);
    }
    let Some(mut body) = parse_json(&body) else {
        return json_error(StatusCode::BAD_REQUEST, MALFORMED);
    };
    let (env, params) = match state.core.find_authorization_request(text(&body, "request")).await {
        Ok(Some(found)) => found,
        Ok(None) => return json_error(StatusCode::BAD_REQUEST, SIGN_IN_EXPIRED),
        Err(e) => return json_service_error(e),
    };
    let credential = body.remove("credential").unwrap_or(Value::Null);
    let user = match state.core.finish_passkey_sign_in(&env, text(&body, "ceremony"), credential, &info).await {
        Ok(user) => user,
        Err(e) => return json_service_error(e),
    };
    let finished =
        finish(&state, &env, &params, &user, &AuthMethod::Passkey, info.address.as_ref()).await.into_response();
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
