//! `POST /user_management/authenticate` (wire spec §3.3–§3.5), with CORS for browser clients.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use super::extract::WireBody;
use crate::service::Error;
use crate::service::auth::{Authenticated, ClientAuth, Grant};
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::extract::ClientInfo;

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
    refresh_token: Option<String>,
    email: Option<String>,
    password: Option<String>,
    pending_authentication_token: Option<String>,
    authentication_challenge_id: Option<String>,
}

async fn authenticate(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    body: Result<WireBody<AuthenticateBody>, ApiError>,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (client_id, result) = match body {
        Ok(WireBody(body)) => {
            let client_id = body.client_id.clone();
            let bearer = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned);
            let result = match parse(body, bearer) {
                Ok((client, grant)) => state.core.authenticate(&client, grant, &info).await.map_err(ApiError::from),
                Err(e) => Err(ApiError::from(e)),
            };
            (client_id, result)
        }
        Err(rejection) => (None, Err(rejection)),
    };
    let mut response = match result {
        Ok(done) => success(done),
        Err(e) => e.into_response(),
    };
    if let Some(origin) = origin {
        let allowed = state.core.is_allowed_origin(&origin, client_id.as_deref()).await.unwrap_or(false);
        if allowed {
            add_cors_headers(response.headers_mut(), &origin);
        }
    }
    response
}

fn success(done: Authenticated) -> Response {
    let body = json!({
        "user": done.user.to_wire(),
        "organization_id": null,
        "access_token": done.access_token,
        "refresh_token": done.refresh_token,
        "authentication_method": done.authentication_method.as_str(),
    });
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
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
    let grant = match grant_type.as_str() {
        "authorization_code" => Grant::AuthorizationCode {
            code: required(body.code, "code")?,
            code_verifier: body.code_verifier.filter(|v| !v.is_empty()),
        },
        "refresh_token" => Grant::RefreshToken { refresh_token: required(body.refresh_token, "refresh_token")? },
        "password" => {
            Grant::Password { email: required(body.email, "email")?, password: required(body.password, "password")? }
        }
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
    Ok((ClientAuth { client_id, client_secret }, grant))
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
