//! The errors use cases report, in domain terms. `web::error` maps each to its wire shape.

pub use super::codes::CodeProblem;
use crate::crypto::password::PasswordError;
use crate::crypto::signing::KeyError;
use crate::domain::user::User;
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
    /// Something unique is already taken (409).
    #[error("{message}")]
    Conflict { what: Duplicate, message: String },
    /// A first factor passed, but the environment needs more before a session starts
    /// (403 with a `pending_authentication_token`; wire spec §3.5).
    #[error("{}", .0.message)]
    StepUp(StepUp),
    /// Unknown, used or expired `pending_authentication_token`.
    #[error("The pending authentication token is invalid or has expired.")]
    InvalidPendingToken,
    /// A request the domain refuses (400); `web::wire::errors` names its WorkOS code.
    #[error("{message}")]
    Rejected { reason: Rejection, message: String },
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

/// A required step-up: what is needed, the pending token, and a message.
#[derive(Debug, Clone)]
pub struct StepUp {
    pub needed: StepUpKind,
    pub message: String,
    pub pending_authentication_token: String,
}

/// What a sign-in still needs (WorkOS `email_verification_required`, `mfa_enrollment`, `mfa_challenge`).
#[derive(Debug, Clone)]
pub enum StepUpKind {
    /// A code was sent to the user's address.
    VerifyEmail {
        email: String,
        email_verification_id: String,
    },
    MfaEnrollment {
        user: Box<User>,
    },
    /// The user's confirmed TOTP factors, by ID.
    MfaChallenge {
        user: Box<User>,
        factor_ids: Vec<String>,
    },
    /// The user is an active member of several organizations and must pick one:
    /// `(id, name)` of each.
    OrganizationSelection {
        user: Box<User>,
        organizations: Vec<(String, String)>,
    },
}

/// What was already taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicate {
    UserEmail,
    /// Another user's address has the same UTS #39 skeleton (looks the same).
    LookAlikeEmail,
    ExternalId,
    Passkey,
    RedirectUri,
    CorsOrigin,
    Provider,
    WebhookEndpoint,
    OrganizationExternalId,
    Membership,
    Role,
    Permission,
    /// The organization has this domain already.
    OrganizationDomain,
    /// Another organization of the environment has this domain verified.
    VerifiedDomain,
    /// The organization has a resource of this type and external ID.
    ResourceExternalId,
    /// The membership holds this role on the resource already.
    RoleAssignment,
    /// The environment has a resource type of this slug.
    ResourceType,
}

/// Why the domain refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Sending a verification code to an address already verified.
    EmailAlreadyVerified,
    /// Confirming a verification code for an address already verified.
    EmailPreviouslyVerified,
    /// A verification code on `…/email_verification/confirm`.
    EmailVerificationCode(CodeProblem),
    /// A one-time code on a grant (magic auth, email verification).
    OneTimeCode(CodeProblem),
    /// An unknown, used or expired password-reset token.
    PasswordResetToken,
    /// A webhook endpoint URL that is malformed or reaches a refused address.
    WebhookUrl,
    /// A sign-in or refresh named an organization that does not exist.
    OrganizationNotFound,
    /// A sign-in or refresh named an organization the user is not an active member of.
    NotAMember,
    /// Reactivating a membership still waiting for its invitation.
    MembershipPending,
    /// An invitation cannot be made, used or changed.
    Invitation(InvitationProblem),
    /// Verifying a domain that is verified already.
    DomainAlreadyVerified,
    /// Deleting a resource that has child resources or role assignments, without cascade.
    ResourceHasDependents,
    /// Removing a role (or resource type) that is still in use, or the default role.
    InUse,
}

/// Why an invitation was refused (WorkOS's codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationProblem {
    AlreadyInvitedToOrganization,
    AlreadyMember,
    AlreadyInvited,
    ExpiresTooShort,
    ExpiresTooLong,
    InvalidRole,
    /// Revoking one that is not pending.
    NotPending,
    Expired,
    Revoked,
    Accepted,
    /// Accepting one whose address has no account yet.
    NoUser,
    /// A grant's `invitation_token` is unknown, spent, revoked or expired.
    InvalidToken,
    /// A grant's `invitation_token` was issued to another address.
    OtherEmail,
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
            StoreError::Conflict("users.email") => {
                Error::Conflict { what: Duplicate::UserEmail, message: "A user with this email already exists.".into() }
            }
            StoreError::Conflict("users.email_skeleton") => Error::Conflict {
                what: Duplicate::LookAlikeEmail,
                message: "This email address looks like another user's address (it differs only in characters that \
                          look the same). Use a different address."
                    .into(),
            },
            StoreError::Conflict("users.external_id") => Error::Conflict {
                what: Duplicate::ExternalId,
                message: "A user with this external_id already exists.".into(),
            },
            StoreError::Conflict("organizations.external_id") => Error::Conflict {
                what: Duplicate::OrganizationExternalId,
                message: "An organization with this external_id already exists.".into(),
            },
            StoreError::Conflict("organization_memberships.user") => Error::Conflict {
                what: Duplicate::Membership,
                message: "The user is already a member of this organization.".into(),
            },
            StoreError::Conflict("roles.slug") => {
                Error::Conflict { what: Duplicate::Role, message: "A role with this slug already exists.".into() }
            }
            StoreError::Conflict("permissions.slug") => Error::Conflict {
                what: Duplicate::Permission,
                message: "A permission with this slug already exists.".into(),
            },
            StoreError::Conflict("organization_domains.domain") => Error::Conflict {
                what: Duplicate::OrganizationDomain,
                message: "Domain already exists for this organization.".into(),
            },
            StoreError::Conflict("organization_domains.verified") => Error::Conflict {
                what: Duplicate::VerifiedDomain,
                message: "The domain is verified by another organization of this environment.".into(),
            },
            StoreError::Conflict("authorization_resources.external_id") => Error::Conflict {
                what: Duplicate::ResourceExternalId,
                message: "The organization already has a resource of this type with this external_id.".into(),
            },
            StoreError::Conflict("role_assignments.role") => Error::Conflict {
                what: Duplicate::RoleAssignment,
                message: "The organization membership already has this role on this resource.".into(),
            },
            StoreError::Conflict("resource_types.slug") => Error::Conflict {
                what: Duplicate::ResourceType,
                message: "A resource type with this slug already exists.".into(),
            },
            StoreError::Conflict("passkeys.credential_id") => {
                Error::Conflict { what: Duplicate::Passkey, message: "This passkey is already registered.".into() }
            }
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
