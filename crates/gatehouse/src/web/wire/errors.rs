//! The one registry of wire error codes: each code's string, HTTP status and shape.
//!
//! The SDKs parse two shapes (wire spec §3.5): OAuth `{"error", "error_description"}` on the token
//! endpoint's protocol errors, and coded `{"code", "message", …}` everywhere else. A code's extra
//! fields (`errors`, `entity_id`, `pending_authentication_token`…) are added by `web::error::ApiError`.
//! Codes and statuses follow WorkOS's OpenAPI document; the few deliberate differences are listed
//! in `e2e/lib/schema-exceptions.mjs` with their reasons.

use axum::http::StatusCode;

/// How an error is laid out on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `{"error": code, "error_description": message}` (RFC 6749 §5.2).
    OAuth,
    /// `{"code": code, "message": message, …}`.
    Coded,
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident => $status:ident, $shape:ident, $code:literal;)*) => {
        /// Every error code Gatehouse answers.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum ErrorCode { $($(#[$doc])* $name),* }

        impl ErrorCode {
            /// Every code, in registry order (for the snapshot test).
            #[cfg(test)]
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$name),*];

            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$name => StatusCode::$status),* }
            }

            pub fn shape(self) -> Shape {
                match self { $(ErrorCode::$name => Shape::$shape),* }
            }

            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$name => $code),* }
            }
        }
    };
}

error_codes! {
    // ---- OAuth protocol errors (POST /user_management/authenticate) ----
    /// Missing or malformed parameter, or an unsupported grant (WorkOS answers this, not
    /// `unsupported_grant_type`).
    InvalidRequest => BAD_REQUEST, OAuth, "invalid_request";
    /// Unknown client or wrong client secret.
    InvalidClient => BAD_REQUEST, OAuth, "invalid_client";
    /// Bad, expired or spent code or refresh token; PKCE mismatch.
    InvalidGrant => BAD_REQUEST, OAuth, "invalid_grant";

    /// An `invitation_token` that is unknown, spent, revoked or expired.
    InvitationInvalid => BAD_REQUEST, OAuth, "invitation_invalid";
    /// An `invitation_token` issued to another address.
    InvitationCannotBeUsedForEmail => BAD_REQUEST, OAuth, "invitation_cannot_be_used_for_email";

    // ---- Sign-in (authenticate's coded errors) ----
    InvalidCredentials => BAD_REQUEST, Coded, "invalid_credentials";
    InvalidOneTimeCode => BAD_REQUEST, Coded, "invalid_one_time_code";
    OneTimeCodeExpired => BAD_REQUEST, Coded, "one_time_code_expired";
    OneTimeCodePreviouslyUsed => BAD_REQUEST, Coded, "one_time_code_previously_used";
    OneTimeCodeTooManyAttempts => BAD_REQUEST, Coded, "one_time_code_too_many_attempts";
    InvalidPendingAuthenticationToken => BAD_REQUEST, Coded, "invalid_pending_authentication_token";
    /// Step-ups: 403 with a `pending_authentication_token` and the step's fields.
    EmailVerificationRequired => FORBIDDEN, Coded, "email_verification_required";
    MfaEnrollment => FORBIDDEN, Coded, "mfa_enrollment";
    MfaChallenge => FORBIDDEN, Coded, "mfa_challenge";
    /// Several active memberships and none chosen: a pending token and the organizations.
    OrganizationSelectionRequired => FORBIDDEN, Coded, "organization_selection_required";
    /// A grant or refresh named an unknown organization (OAuth shape, as WorkOS documents it).
    OrganizationNotFound => BAD_REQUEST, OAuth, "organization_not_found";
    /// A grant or refresh named an organization the user is not an active member of.
    OrganizationMembershipNotFound => BAD_REQUEST, OAuth, "organization_membership_not_found";

    // ---- Email verification ----
    EmailAlreadyVerified => BAD_REQUEST, Coded, "email_already_verified";
    EmailPreviouslyVerified => BAD_REQUEST, Coded, "email_previously_verified";
    EmailVerificationCodeIncorrect => BAD_REQUEST, Coded, "email_verification_code_incorrect";
    EmailVerificationCodeExpired => BAD_REQUEST, Coded, "email_verification_code_expired";
    EmailVerificationCodePreviouslyUsed => BAD_REQUEST, Coded, "email_verification_code_previously_used";

    // ---- Password reset: one code, the reasons in `errors[]` ----
    PasswordResetError => BAD_REQUEST, Coded, "password_reset_error";
    /// A weak password when creating or updating a user (reasons in `errors[]`).
    PasswordStrengthError => BAD_REQUEST, Coded, "password_strength_error";

    // ---- Two-factor API ----
    AuthenticationChallengeExpired => UNPROCESSABLE_ENTITY, Coded, "authentication_challenge_expired";
    AuthenticationChallengePreviouslyVerified => UNPROCESSABLE_ENTITY, Coded, "authentication_challenge_previously_verified";
    PasskeyVerificationFailed => BAD_REQUEST, Coded, "passkey_verification_failed";

    // ---- Management API ----
    /// Invalid input; the fields are in `errors[]`. Also a malformed request body.
    InvalidRequestParameters => UNPROCESSABLE_ENTITY, Coded, "invalid_request_parameters";
    EntityNotFound => NOT_FOUND, Coded, "entity_not_found";
    ClientNotFound => NOT_FOUND, Coded, "client_not_found";
    /// No route matches.
    NotFound => NOT_FOUND, Coded, "not_found";
    Unauthorized => UNAUTHORIZED, Coded, "unauthorized";
    UserAlreadyExists => CONFLICT, Coded, "user_already_exists";
    /// The address looks like another user's (same UTS #39 skeleton); Gatehouse's own code.
    EmailLookAlike => CONFLICT, Coded, "email_look_alike";
    ExternalIdAlreadyExists => CONFLICT, Coded, "external_id_already_exists";
    PasskeyAlreadyRegistered => CONFLICT, Coded, "passkey_already_registered";
    RedirectUriAlreadyExists => CONFLICT, Coded, "redirect_uri_already_exists";
    DuplicateCorsOrigin => CONFLICT, Coded, "duplicate_cors_origin";
    ProviderAlreadyExists => CONFLICT, Coded, "provider_already_exists";
    /// A webhook endpoint with this URL exists already.
    DuplicateEndpoint => CONFLICT, Coded, "duplicate_endpoint";
    /// A webhook endpoint URL that is malformed or reaches a refused address.
    InvalidUrl => UNPROCESSABLE_ENTITY, Coded, "invalid_url";
    OrganizationMembershipAlreadyExists => CONFLICT, Coded, "organization_membership_already_exists";
    RoleAlreadyExists => CONFLICT, Coded, "role_already_exists";
    PermissionAlreadyExists => CONFLICT, Coded, "permission_already_exists";
    // ---- Organization domains ----
    /// The organization has this domain already.
    DomainAlreadyExists => CONFLICT, Coded, "domain_already_exists";
    /// Another organization of the environment has this domain verified (Gatehouse's code).
    DomainVerifiedByOtherOrganization => CONFLICT, Coded, "domain_verified_by_other_organization";
    /// Verifying a domain that is verified.
    DomainAlreadyVerified => BAD_REQUEST, Coded, "domain_already_verified";
    // ---- Invitations ----
    EmailAlreadyInvitedToOrganization => BAD_REQUEST, Coded, "email_already_invited_to_organization";
    UserAlreadyOrganizationMember => BAD_REQUEST, Coded, "user_already_organization_member";
    EmailAlreadyInvited => BAD_REQUEST, Coded, "email_already_invited";
    ExpiresInDaysTooShort => BAD_REQUEST, Coded, "expires_in_days_too_short";
    ExpiresInDaysTooLong => BAD_REQUEST, Coded, "expires_in_days_too_long";
    InvalidRole => BAD_REQUEST, Coded, "invalid_role";
    InviteNotPending => BAD_REQUEST, Coded, "invite_not_pending";
    InviteExpired => BAD_REQUEST, Coded, "invite_expired";
    InviteRevoked => BAD_REQUEST, Coded, "invite_revoked";
    InviteAccepted => BAD_REQUEST, Coded, "invite_accepted";
    InvalidInvite => BAD_REQUEST, Coded, "invalid_invite";
    /// Reactivating a membership whose invitation is not yet accepted.
    CannotReactivatePendingMembership => BAD_REQUEST, Coded, "cannot_reactivate_pending_organization_membership";

    // ---- Authorization resources and role assignments ----
    /// The organization has a resource of this type and external ID (WorkOS's code).
    AuthorizationResourceExternalIdConflict => CONFLICT, Coded, "authorization_resource_external_id_conflict";
    /// Deleting a resource with children or role assignments without `cascade_delete` (WorkOS's code).
    ResourceHasDependents => CONFLICT, Coded, "resource_has_dependents";
    /// The membership holds this role on the resource already.
    RoleAssignmentAlreadyExists => CONFLICT, Coded, "role_assignment_already_exists";
    /// `gatehouse resource-types add` with a slug that exists.
    ResourceTypeAlreadyExists => CONFLICT, Coded, "resource_type_already_exists";
    /// Removing a role or resource type that is still used (the CLI).
    InUse => CONFLICT, Coded, "in_use";

    // ---- Limits and the server ----
    /// Throttled (with `Retry-After`).
    RateLimitExceeded => TOO_MANY_REQUESTS, Coded, "rate_limit_exceeded";
    /// A request that is not valid HTTP, or a path or query the router cannot read.
    BadRequest => BAD_REQUEST, Coded, "bad_request";
    /// The endpoint exists but not for this method.
    MethodNotAllowed => METHOD_NOT_ALLOWED, Coded, "method_not_allowed";
    /// The request, body included, did not arrive within `--request-timeout-secs`.
    RequestTimeout => REQUEST_TIMEOUT, Coded, "request_timeout";
    /// A body over the limit (64 KiB on the API).
    PayloadTooLarge => PAYLOAD_TOO_LARGE, Coded, "request_too_large";
    /// A request line too long for the server to read.
    UriTooLong => URI_TOO_LONG, Coded, "uri_too_long";
    /// Request headers too large for the server to read.
    RequestHeaderFieldsTooLarge => REQUEST_HEADER_FIELDS_TOO_LARGE, Coded, "request_header_fields_too_large";
    /// The environment cannot send email (production without SMTP).
    EmailNotConfigured => SERVICE_UNAVAILABLE, Coded, "email_not_configured";
    InternalError => INTERNAL_SERVER_ERROR, Coded, "internal_error";
}

impl ErrorCode {
    /// The code for an error the HTTP layer or the router decided by its status alone (a wrong
    /// method, an unreadable request, a timeout), so those answers use the registry too.
    pub fn for_protocol_status(status: StatusCode) -> ErrorCode {
        match status {
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::URI_TOO_LONG => ErrorCode::UriTooLong,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ErrorCode::RequestHeaderFieldsTooLarge,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimitExceeded,
            s if s.is_server_error() => ErrorCode::InternalError,
            _ => ErrorCode::BadRequest,
        }
    }
}
