//! The API error type: every failure becomes one of the two JSON shapes the WorkOS SDKs parse,
//! with the status code they expect (see the wire spec §2.3 and §3.5).
//!
//! * OAuth shape `{"error", "error_description"}` for token-endpoint failures (`invalid_grant`…);
//! * coded shape `{"code", "message", …}` for everything else.
//!
//! Internal causes are logged here, once, and never sent to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::service::Error;
use crate::service::error::FactorError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
    retry_after_secs: Option<i64>,
    /// Set when this refuses an attempt to authenticate (the request log says so).
    refused: Option<&'static str>,
}

impl ApiError {
    pub fn oauth(status: StatusCode, error: &str, description: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "error": error, "error_description": description.into() }),
            retry_after_secs: None,
            refused: None,
        }
    }

    pub fn coded(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "code": code, "message": message.into() }),
            retry_after_secs: None,
            refused: None,
        }
    }

    /// A malformed request body or query (unparseable JSON, wrong types).
    pub fn bad_request(description: impl Into<String>) -> ApiError {
        ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> ApiError {
        let refused = match &err {
            Error::InvalidCredentials { .. } => Some("invalid_credentials"),
            Error::InvalidGrant(_) => Some("invalid_grant"),
            Error::InvalidPendingToken => Some("invalid_pending_authentication_token"),
            Error::Factor(_) => Some("invalid_second_factor"),
            _ => None,
        };
        ApiError { refused, ..ApiError::from_service(err) }
    }
}

impl ApiError {
    fn from_service(err: Error) -> ApiError {
        match err {
            Error::InvalidRequest(m) => ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", m),
            Error::InvalidClient(m) => ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_client", m),
            Error::InvalidGrant(m) => ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_grant", m),
            // WorkOS answers an unknown grant with invalid_request (wire spec §3.5), not RFC 6749's
            // unsupported_grant_type; the SDKs treat both alike, so match production.
            Error::UnsupportedGrantType(m) => ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", m),
            e @ Error::InvalidCredentials { .. } => {
                ApiError::coded(StatusCode::BAD_REQUEST, "invalid_credentials", e.to_string())
            }
            e @ Error::RateLimited { retry_after_secs } => ApiError {
                retry_after_secs: Some(retry_after_secs),
                ..ApiError::coded(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded", e.to_string())
            },
            e @ Error::NotFound { .. } => {
                let Error::NotFound { id, .. } = &e else { unreachable!() };
                let mut api = ApiError::coded(StatusCode::NOT_FOUND, "entity_not_found", e.to_string());
                api.body["entity_id"] = json!(id);
                api
            }
            Error::Validation { message, errors } => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                body: json!({ "code": "invalid_request_parameters", "message": message, "errors": errors }),
                retry_after_secs: None,
                refused: None,
            },
            Error::PasswordStrength(message) => ApiError {
                status: StatusCode::BAD_REQUEST,
                body: json!({
                    "code": "password_strength_error",
                    "message": message,
                    "errors": [{ "code": "password_too_weak", "message": message }],
                }),
                retry_after_secs: None,
                refused: None,
            },
            Error::Conflict { code, message } => ApiError::coded(StatusCode::CONFLICT, code, message),
            Error::StepUp(step) => {
                let mut body = serde_json::Map::new();
                body.insert("code".into(), json!(step.code));
                body.insert("message".into(), json!(step.message));
                body.insert("pending_authentication_token".into(), json!(step.pending_authentication_token));
                body.extend(step.fields);
                ApiError {
                    status: StatusCode::FORBIDDEN,
                    body: Value::Object(body),
                    retry_after_secs: None,
                    refused: None,
                }
            }
            e @ Error::InvalidPendingToken => {
                ApiError::coded(StatusCode::BAD_REQUEST, "invalid_pending_authentication_token", e.to_string())
            }
            Error::Rejected { code, message } => ApiError::coded(StatusCode::BAD_REQUEST, code, message),
            Error::EmailUnavailable(message) => {
                ApiError::coded(StatusCode::SERVICE_UNAVAILABLE, "email_not_configured", message)
            }
            Error::Factor(problem) => {
                let code = match &problem {
                    FactorError::InvalidCode => "invalid_one_time_code",
                    FactorError::ChallengeExpired => "authentication_challenge_expired",
                    FactorError::ChallengeUsed => "authentication_challenge_previously_verified",
                    FactorError::Passkey(_) => "passkey_verification_failed",
                };
                ApiError::coded(StatusCode::BAD_REQUEST, code, problem.message())
            }
            Error::Unauthorized => ApiError::coded(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Missing or invalid API key. Send `Authorization: Bearer sk_…` with a key of this environment.",
            ),
            Error::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                ApiError::coded(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "Something went wrong on our side. The server log has the details.",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(secs) = self.retry_after_secs
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self.refused {
            Some(reason) => super::outcome::refused(response, reason),
            None => response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(err: Error, status: u16, body: Value) {
        let api = ApiError::from(err);
        assert_eq!(api.status.as_u16(), status);
        assert_eq!(api.body, body);
    }

    #[test]
    fn wire_shapes() {
        check(
            Error::InvalidGrant("Invalid refresh token.".into()),
            400,
            json!({"error": "invalid_grant", "error_description": "Invalid refresh token."}),
        );
        check(
            Error::InvalidCredentials { email: "a@b.test".into() },
            400,
            json!({"code": "invalid_credentials", "message": "Invalid credentials for 'a@b.test'."}),
        );
        check(
            Error::NotFound { kind: "User", id: "user_1".into() },
            404,
            json!({"code": "entity_not_found", "message": "User not found: 'user_1'.", "entity_id": "user_1"}),
        );
        check(
            Error::RateLimited { retry_after_secs: 60 },
            429,
            json!({"code": "rate_limit_exceeded", "message": "Too many attempts. Try again in 60 seconds."}),
        );
        let internal = ApiError::from(Error::Internal(anyhow::anyhow!("secret detail")));
        assert_eq!(internal.status.as_u16(), 500);
        assert!(!internal.body.to_string().contains("secret detail"));
    }
}
