//! The errors use cases report, in domain terms. `web::error` maps each to its wire shape.

use crate::crypto::password::PasswordError;
use crate::crypto::signing::KeyError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required parameter is missing or malformed (OAuth `invalid_request`).
    #[error("{0}")]
    InvalidRequest(String),
    /// Unknown client, or a wrong/missing client secret (OAuth `invalid_client`).
    #[error("{0}")]
    InvalidClient(String),
    /// Bad, expired or spent code or refresh token, PKCE mismatch (OAuth `invalid_grant`).
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// Wrong email or password. The email is echoed as WorkOS does.
    #[error("Invalid credentials for '{email}'.")]
    InvalidCredentials { email: String },
    /// Too many failed attempts; try again after this many seconds.
    #[error("Too many attempts. Try again in {retry_after_secs} seconds.")]
    RateLimited { retry_after_secs: i64 },
    /// A user-facing "not found" for an object of this kind (`User`, `Session`…).
    #[error("{kind} not found: '{id}'.")]
    NotFound { kind: &'static str, id: String },
    /// A field failed validation (WorkOS `invalid_request_parameters`, 422).
    #[error("{message}")]
    Validation { message: String, errors: Vec<FieldError> },
    /// The password does not meet the environment's policy.
    #[error("{0}")]
    PasswordStrength(String),
    /// The email (or external ID) is already taken.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A first factor passed, but the environment needs more before a session starts
    /// (403 with a `pending_authentication_token`; wire spec §3.5).
    #[error("{}", .0.message)]
    StepUp(StepUp),
    /// Unknown, used or expired `pending_authentication_token`.
    #[error("The pending authentication token is invalid or has expired.")]
    InvalidPendingToken,
    /// A request the domain refuses with a specific WorkOS code (400 `{code, message}`), such
    /// as `invalid_one_time_code` or `email_already_verified`.
    #[error("{message}")]
    Rejected { code: &'static str, message: String },
    /// The environment cannot send email (production without SMTP).
    #[error("{0}")]
    EmailUnavailable(String),
    /// A second-factor code, challenge or passkey was refused.
    #[error("{}", .0.message())]
    Factor(FactorError),
    /// Missing or wrong API key.
    #[error("Unauthorized")]
    Unauthorized,
    #[error("internal error: {0}")]
    Internal(#[source] anyhow::Error),
}

/// A required step-up: its WorkOS code (`email_verification_required`, `mfa_enrollment`,
/// `mfa_challenge`), the pending token, and the fields that code carries on the wire.
#[derive(Debug, Clone)]
pub struct StepUp {
    pub code: &'static str,
    pub message: String,
    pub pending_authentication_token: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Why a second factor was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactorError {
    /// Wrong, malformed or already used code.
    InvalidCode,
    ChallengeExpired,
    /// The challenge was already verified once.
    ChallengeUsed,
    /// A passkey ceremony failed (unknown or removed passkey, wrong origin, expired challenge…).
    Passkey(String),
}

impl FactorError {
    pub fn message(&self) -> String {
        match self {
            FactorError::InvalidCode => "The code is incorrect or has already been used.".into(),
            FactorError::ChallengeExpired => "The authentication challenge has expired.".into(),
            FactorError::ChallengeUsed => "The authentication challenge has already been verified.".into(),
            FactorError::Passkey(m) => m.clone(),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn validation(field: &str, code: &str, message: impl Into<String>) -> Error {
        let message = message.into();
        Error::Validation {
            errors: vec![FieldError { field: field.into(), code: code.into(), message: message.clone() }],
            message,
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::Conflict("users.email") => Error::Conflict {
                code: "user_already_exists",
                message: "A user with this email already exists.".into(),
            },
            StoreError::Conflict("users.external_id") => Error::Conflict {
                code: "external_id_already_exists",
                message: "A user with this external_id already exists.".into(),
            },
            StoreError::Conflict("passkeys.credential_id") => Error::Conflict {
                code: "passkey_already_registered",
                message: "This passkey is already registered.".into(),
            },
            other => Error::Internal(other.into()),
        }
    }
}

impl From<PasswordError> for Error {
    fn from(e: PasswordError) -> Error {
        Error::Internal(e.into())
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Error {
        Error::Internal(e.into())
    }
}
