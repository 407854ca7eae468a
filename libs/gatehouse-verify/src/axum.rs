//! An axum 0.8 extractor: `Authenticated(identity)` (required) or `MaybeAuthenticated(Option<identity>)`.
//!
//! The state must provide a [`Verifier`] via `FromRef`. Rejections answer like Convex's HTTP API:
//! the status from [`VerifyError::http_status`] and the body `{"code":"…","message":"…"}`.

use std::time::SystemTime;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};

use crate::error::{Check, Diagnosis, ErrorCode, VerifyError};
use crate::{UserIdentity, Verifier};

/// A required identity. A request without an `Authorization` header is rejected with 401
/// `{"code":"Unauthenticated","message":"No authentication token provided."}` (our addition: Convex
/// would run the function with a `null` identity).
#[derive(Clone, Debug)]
pub struct Authenticated(pub UserIdentity);

/// An optional identity: `None` without an `Authorization` header, like Convex's HTTP API.
/// An invalid token is still rejected.
#[derive(Clone, Debug)]
pub struct MaybeAuthenticated(pub Option<UserIdentity>);

/// The rejection: Convex's status and JSON body. The diagnosis is available for logging.
#[derive(Clone, Debug)]
pub struct AuthRejection(pub VerifyError);

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
        (status, [(header::CONTENT_TYPE, "application/json")], self.0.to_json()).into_response()
    }
}

async fn extract(parts: &Parts, verifier: &Verifier) -> Result<Option<UserIdentity>, AuthRejection> {
    let header = match parts.headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            AuthRejection(VerifyError::new(
                ErrorCode::InvalidHeaderFailure,
                "Invalid authentication header",
                Diagnosis::new(
                    Check::AuthorizationHeader,
                    "the Authorization header is not visible ASCII",
                    "send `Authorization: Bearer <jwt>`",
                ),
            ))
        })?),
    };
    verifier.verify_authorization_header(header, SystemTime::now()).await.map_err(AuthRejection)
}

impl<S> FromRequestParts<S> for MaybeAuthenticated
where
    S: Send + Sync,
    Verifier: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        extract(parts, &verifier).await.map(MaybeAuthenticated)
    }
}

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    Verifier: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        match extract(parts, &verifier).await? {
            Some(identity) => Ok(Authenticated(identity)),
            None => Err(AuthRejection(VerifyError::new(
                ErrorCode::Unauthenticated,
                "No authentication token provided.",
                Diagnosis::new(
                    Check::AuthorizationHeader,
                    "the request has no Authorization header",
                    "send `Authorization: Bearer <jwt>`",
                ),
            ))),
        }
    }
}
