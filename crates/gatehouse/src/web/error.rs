//! The API error type: every failure becomes one of the two JSON shapes the WorkOS SDKs parse,
//! with the status its code fixes in the registry (`web::wire::errors`).
//!
//! Internal causes are logged here, once, and never sent to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::service::Error;
use crate::service::error::{
    CodeProblem, Duplicate, FactorError, FieldError, InvitationProblem, Rejection, StepUpKind,
};
use crate::web::wire::{self, ErrorCode, Shape};

#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    /// Fields the code carries besides `code` and `message` (coded shape only).
    extra: Map<String, Value>,
    retry_after_secs: Option<i64>,
    /// Set when this refuses an attempt to authenticate (the request log says so).
    refused: Option<&'static str>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), extra: Map::new(), retry_after_secs: None, refused: None }
    }

    /// Adds a field to the coded shape (`errors`, `entity_id`…).
    pub fn with(mut self, key: &str, value: impl serde::Serialize) -> ApiError {
        self.extra.insert(key.to_owned(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    /// A malformed request body on the token endpoint (OAuth shape).
    pub fn bad_request(description: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidRequest, description)
    }

    /// A malformed request body on a management endpoint (`invalid_request_parameters`).
    pub fn bad_body(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidRequestParameters, message).with("errors", Vec::<FieldError>::new())
    }

    /// What the client is told.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON body of this error.
    pub fn body(&self) -> Value {
        match self.code.shape() {
            Shape::OAuth => json!({ "error": self.code.as_str(), "error_description": self.message }),
            Shape::Coded => {
                let mut body = Map::new();
                body.insert("code".into(), json!(self.code.as_str()));
                body.insert("message".into(), json!(self.message));
                body.extend(self.extra.clone());
                Value::Object(body)
            }
        }
    }

    /// How `POST /user_management/password_reset/confirm` reports failure: one code,
    /// `password_reset_error`, with the reasons in `errors[]` (WorkOS's document).
    pub fn password_reset(err: Error) -> ApiError {
        match err {
            Error::PasswordStrength(message) => {
                let reason = json!([{ "code": "password_too_weak", "message": message }]);
                ApiError::new(ErrorCode::PasswordResetError, message).with("errors", reason)
            }
            Error::Rejected { reason: Rejection::PasswordResetToken, message } => {
                let reason = json!([{ "code": "invalid_password_reset_token", "message": message }]);
                ApiError::new(ErrorCode::PasswordResetError, message).with("errors", reason)
            }
            other => ApiError::from(other),
        }
    }
}

fn rejection_code(reason: Rejection) -> ErrorCode {
    match reason {
        Rejection::EmailAlreadyVerified => ErrorCode::EmailAlreadyVerified,
        Rejection::EmailPreviouslyVerified => ErrorCode::EmailPreviouslyVerified,
        Rejection::EmailVerificationCode(problem) => match problem {
            CodeProblem::Incorrect => ErrorCode::EmailVerificationCodeIncorrect,
            CodeProblem::Expired => ErrorCode::EmailVerificationCodeExpired,
            CodeProblem::PreviouslyUsed => ErrorCode::EmailVerificationCodePreviouslyUsed,
            CodeProblem::TooManyAttempts => ErrorCode::OneTimeCodeTooManyAttempts,
        },
        Rejection::OneTimeCode(problem) => match problem {
            CodeProblem::Incorrect => ErrorCode::InvalidOneTimeCode,
            CodeProblem::Expired => ErrorCode::OneTimeCodeExpired,
            CodeProblem::PreviouslyUsed => ErrorCode::OneTimeCodePreviouslyUsed,
            CodeProblem::TooManyAttempts => ErrorCode::OneTimeCodeTooManyAttempts,
        },
        Rejection::PasswordResetToken => ErrorCode::PasswordResetError,
        Rejection::WebhookUrl => ErrorCode::InvalidUrl,
        Rejection::OrganizationNotFound => ErrorCode::OrganizationNotFound,
        Rejection::NotAMember => ErrorCode::OrganizationMembershipNotFound,
        Rejection::MembershipPending => ErrorCode::CannotReactivatePendingMembership,
        Rejection::DomainAlreadyVerified => ErrorCode::DomainAlreadyVerified,
        Rejection::ResourceHasDependents => ErrorCode::ResourceHasDependents,
        Rejection::InUse => ErrorCode::InUse,
        Rejection::Invitation(problem) => match problem {
            InvitationProblem::AlreadyInvitedToOrganization => ErrorCode::EmailAlreadyInvitedToOrganization,
            InvitationProblem::AlreadyMember => ErrorCode::UserAlreadyOrganizationMember,
            InvitationProblem::AlreadyInvited => ErrorCode::EmailAlreadyInvited,
            InvitationProblem::ExpiresTooShort => ErrorCode::ExpiresInDaysTooShort,
            InvitationProblem::ExpiresTooLong => ErrorCode::ExpiresInDaysTooLong,
            InvitationProblem::InvalidRole => ErrorCode::InvalidRole,
            InvitationProblem::NotPending => ErrorCode::InviteNotPending,
            InvitationProblem::Expired => ErrorCode::InviteExpired,
            InvitationProblem::Revoked => ErrorCode::InviteRevoked,
            InvitationProblem::Accepted => ErrorCode::InviteAccepted,
            InvitationProblem::NoUser => ErrorCode::InvalidInvite,
            InvitationProblem::InvalidToken => ErrorCode::InvitationInvalid,
            InvitationProblem::OtherEmail => ErrorCode::InvitationCannotBeUsedForEmail,
        },
    }
}

fn duplicate_code(what: Duplicate) -> ErrorCode {
    match what {
        Duplicate::UserEmail => ErrorCode::UserAlreadyExists,
        Duplicate::LookAlikeEmail => ErrorCode::EmailLookAlike,
        Duplicate::ExternalId => ErrorCode::ExternalIdAlreadyExists,
        Duplicate::Passkey => ErrorCode::PasskeyAlreadyRegistered,
        Duplicate::RedirectUri => ErrorCode::RedirectUriAlreadyExists,
        Duplicate::CorsOrigin => ErrorCode::DuplicateCorsOrigin,
        Duplicate::Provider => ErrorCode::ProviderAlreadyExists,
        Duplicate::WebhookEndpoint => ErrorCode::DuplicateEndpoint,
        Duplicate::OrganizationExternalId => ErrorCode::ExternalIdAlreadyExists,
        Duplicate::Membership => ErrorCode::OrganizationMembershipAlreadyExists,
        Duplicate::Role => ErrorCode::RoleAlreadyExists,
        Duplicate::Permission => ErrorCode::PermissionAlreadyExists,
        Duplicate::OrganizationDomain => ErrorCode::DomainAlreadyExists,
        Duplicate::VerifiedDomain => ErrorCode::DomainVerifiedByOtherOrganization,
        Duplicate::ResourceExternalId => ErrorCode::AuthorizationResourceExternalIdConflict,
        Duplicate::RoleAssignment => ErrorCode::RoleAssignmentAlreadyExists,
        Duplicate::ResourceType => ErrorCode::ResourceTypeAlreadyExists,
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> ApiError {
        let refused = match &err {
            Error::InvalidCredentials { .. } => Some("invalid_credentials"),
            Error::InvalidGrant(_) => Some("invalid_grant"),
            Error::InvalidPendingToken => Some("invalid_pending_authentication_token"),
            Error::Factor(_) => Some("invalid_second_factor"),
            Error::Rejected {
                reason: reason @ (Rejection::OneTimeCode(_) | Rejection::EmailVerificationCode(_)),
                ..
            } => Some(rejection_code(*reason).as_str()),
            _ => None,
        };
        ApiError { refused, ..ApiError::from_service(err) }
    }
}

impl ApiError {
    fn from_service(err: Error) -> ApiError {
        match err {
            Error::InvalidRequest(m) | Error::UnsupportedGrantType(m) => ApiError::new(ErrorCode::InvalidRequest, m),
            Error::InvalidClient(m) => ApiError::new(ErrorCode::InvalidClient, m),
            Error::InvalidGrant(m) => ApiError::new(ErrorCode::InvalidGrant, m),
            e @ Error::InvalidCredentials { .. } => ApiError::new(ErrorCode::InvalidCredentials, e.to_string()),
            e @ Error::RateLimited { retry_after_secs } => ApiError {
                retry_after_secs: Some(retry_after_secs),
                ..ApiError::new(ErrorCode::RateLimitExceeded, e.to_string())
            },
            Error::NotFound { kind, id } => {
                let message = Error::NotFound { kind, id: id.clone() }.to_string();
                ApiError::new(ErrorCode::EntityNotFound, message).with("entity_id", id)
            }
            Error::Validation { message, errors } => {
                ApiError::new(ErrorCode::InvalidRequestParameters, message).with("errors", errors)
            }
            Error::PasswordStrength(message) => {
                let reason = json!([{ "code": "password_too_weak", "message": message }]);
                ApiError::new(ErrorCode::PasswordStrengthError, message).with("errors", reason)
            }
            Error::Conflict { what, message } => ApiError::new(duplicate_code(what), message),
            Error::StepUp(step) => {
                let token = step.pending_authentication_token;
                match step.needed {
                    StepUpKind::VerifyEmail { email, email_verification_id } => {
                        ApiError::new(ErrorCode::EmailVerificationRequired, step.message)
                            .with("pending_authentication_token", token)
                            .with("email", email)
                            .with("email_verification_id", email_verification_id)
                    }
                    StepUpKind::MfaEnrollment { user } => ApiError::new(ErrorCode::MfaEnrollment, step.message)
                        .with("pending_authentication_token", token)
                        .with("user", wire::User::from(&*user)),
                    StepUpKind::MfaChallenge { user, factor_ids } => {
                        let factors: Vec<Value> =
                            factor_ids.iter().map(|id| json!({ "id": id, "type": "totp" })).collect();
                        ApiError::new(ErrorCode::MfaChallenge, step.message)
                            .with("pending_authentication_token", token)
                            .with("authentication_factors", factors)
                            .with("user", wire::User::from(&*user))
                    }
                    StepUpKind::OrganizationSelection { user, organizations } => {
                        let organizations: Vec<Value> =
                            organizations.iter().map(|(id, name)| json!({ "id": id, "name": name })).collect();
                        ApiError::new(ErrorCode::OrganizationSelectionRequired, step.message)
                            .with("pending_authentication_token", token)
                            .with("organizations", organizations)
                            .with("user", wire::User::from(&*user))
                    }
                }
            }
            e @ Error::InvalidPendingToken => {
                ApiError::new(ErrorCode::InvalidPendingAuthenticationToken, e.to_string())
            }
            Error::Rejected { reason, message } => ApiError::new(rejection_code(reason), message),
            Error::EmailUnavailable(message) => ApiError::new(ErrorCode::EmailNotConfigured, message),
            Error::Factor(problem) => {
                let code = match &problem {
                    FactorError::InvalidCode => ErrorCode::InvalidOneTimeCode,
                    FactorError::ChallengeExpired => ErrorCode::AuthenticationChallengeExpired,
                    FactorError::ChallengeUsed => ErrorCode::AuthenticationChallengePreviouslyVerified,
                    FactorError::Passkey(_) => ErrorCode::PasskeyVerificationFailed,
                };
                ApiError::new(code, problem.message())
            }
            Error::Unauthorized => ApiError::new(
                ErrorCode::Unauthorized,
                "Missing or invalid API key. Send `Authorization: Bearer sk_…` with a key of this environment.",
            ),
            Error::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                ApiError::new(
                    ErrorCode::InternalError,
                    "Something went wrong on our side. The server log has the details.",
                )
            }
        }
    }
}

/// An error decided by its HTTP status alone (a wrong method, an unreadable request, a
/// timeout), in the coded shape with the registry's code; the status stays as given.
pub fn protocol_error(status: StatusCode, message: impl Into<String>) -> Response {
    let mut out = ApiError::new(ErrorCode::for_protocol_status(status), message).into_response();
    *out.status_mut() = status;
    out
}

/// The JSON body of `protocol_error`, for answers written below the router
/// (`server::connections` replaces the HTTP library's empty-bodied ones with it).
pub fn protocol_error_json(status: StatusCode, message: impl Into<String>) -> String {
    ApiError::new(ErrorCode::for_protocol_status(status), message).body().to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.code.status(), axum::Json(self.body())).into_response();
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
        assert_eq!(api.code.status().as_u16(), status);
        assert_eq!(api.body(), body);
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
        check(
            Error::Conflict { what: Duplicate::CorsOrigin, message: "taken".into() },
            409,
            json!({"code": "duplicate_cors_origin", "message": "taken"}),
        );
        let internal = ApiError::from(Error::Internal(anyhow::anyhow!("secret detail")));
        assert_eq!(internal.code.status().as_u16(), 500);
        assert!(!internal.body().to_string().contains("secret detail"));
    }
}
