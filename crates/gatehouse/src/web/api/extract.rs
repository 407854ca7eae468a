//! The API's extractors: tolerant request bodies and the environment of an API key.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::domain::audit::Actor;
use crate::domain::environment::Environment;
use crate::service::Error;
use crate::service::events::RequestActor;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::extract::MAX_BODY_BYTES;
use crate::web::wire::ErrorCode;

/// A request body as JSON (what the SDKs send) or `application/x-www-form-urlencoded`.
/// An empty body reads as `{}`; unknown fields are ignored; malformed input is a 422
/// `invalid_request_parameters`, a body over 64 KiB a 413 `request_too_large` (the token
/// endpoint turns either into OAuth's `invalid_request`).
pub struct WireBody<T>(pub T);

impl<S, T> FromRequest<S> for WireBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let too_large = || ApiError::new(ErrorCode::PayloadTooLarge, "The request body exceeds 64 KiB.");
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::bad_body("The request body could not be read.")
            }
        })?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Object(serde_json::Map::new())
        } else if is_form {
            let map: serde_json::Map<String, serde_json::Value> = form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                .collect();
            serde_json::Value::Object(map)
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad_body(format!("The request body is not valid JSON: {e}.")))?
        };
        if !value.is_object() {
            return Err(ApiError::bad_body("The request body must be a JSON object."));
        }
        serde_json::from_value(value)
            .map(WireBody)
            .map_err(|e| ApiError::bad_body(format!("Invalid request body: {e}.")))
    }
}

/// The environment whose API key authenticated this request (`Authorization: Bearer sk_…`).
pub struct ApiKeyEnvironment(pub Environment);

impl<S> FromRequestParts<S> for ApiKeyEnvironment
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(ApiKeyEnvironment(api_caller(parts, &AppState::from_ref(state)).await?.0))
    }
}

/// The API key's environment and actor; the actor is named on the request's `RequestActor`,
/// so every event the request writes records the key.
async fn api_caller(parts: &Parts, app: &AppState) -> Result<(Environment, Actor), Error> {
    let key = bearer_token(parts).ok_or(Error::Unauthorized)?;
    let (env, actor) = app.core.api_key_caller(key).await?;
    if let Some(request_actor) = parts.extensions.get::<RequestActor>() {
        request_actor.set(&actor);
    }
    Ok((env, actor))
}

/// The environment whose API key authenticated this request, and that key as the `Actor` of
/// the configuration changes the request makes (the audit trail) and of every other event it
/// writes (named on the request's `RequestActor`).
pub struct ApiCaller(pub Environment, pub Actor);

impl<S> FromRequestParts<S> for ApiCaller
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let (env, actor) = api_caller(parts, &AppState::from_ref(state)).await?;
        Ok(ApiCaller(env, actor))
    }
}

/// The bearer token of the `Authorization` header, if any.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}
