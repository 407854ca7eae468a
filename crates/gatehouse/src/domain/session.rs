//! Sessions and how they started: the sign-in method, a user's sessions, and the two states a
//! hosted sign-in can wait in (a step-up still owed, the account-security page).
//!
//! Entity types derive `sqlx::FromRow` so the store maps rows without hand-written code; the
//! derive is declarative and does no IO.

use std::fmt;

use crate::clock::Millis;

/// How a session started: WorkOS's `authentication_method`. Parsed once where it enters
/// (a stored row, or the code that proved the first factor); decisions match on it, so a
/// provider can never pass for another method by its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    Password,
    /// An emailed one-time code.
    MagicAuth,
    /// A passkey with user verification: strong on its own, so it owes no second factor.
    Passkey,
    /// An upstream provider, by its name (`GoogleOAuth`, or a custom OpenID Connect provider's).
    OAuth(String),
    /// An operator signed in as the user (`service::impersonation`); no proof by the user.
    Impersonation,
}

impl AuthMethod {
    /// The wire and stored form (`Password`, `MagicAuth`, `Passkey`, the provider's name).
    pub fn as_str(&self) -> &str {
        match self {
            AuthMethod::Password => "Password",
            AuthMethod::MagicAuth => "MagicAuth",
            AuthMethod::Passkey => "Passkey",
            AuthMethod::Impersonation => "Impersonation",
            AuthMethod::OAuth(provider) => provider,
        }
    }

    /// Whether the sign-in was multi-factor in itself, and so owes no second factor: a passkey
    /// with user verification proves possession and the user. Nothing else, whatever its name.
    pub fn is_multi_factor(&self) -> bool {
        match self {
            AuthMethod::Passkey => true,
            AuthMethod::Password | AuthMethod::MagicAuth | AuthMethod::OAuth(_) | AuthMethod::Impersonation => false,
        }
    }
}

/// The stored form back into a method. A provider's name is never another method's
/// (`domain::provider::check_custom_name`), so the text reads back as what was stored.
impl From<String> for AuthMethod {
    fn from(stored: String) -> AuthMethod {
        match stored.as_str() {
            "Password" => AuthMethod::Password,
            "MagicAuth" => AuthMethod::MagicAuth,
            "Passkey" => AuthMethod::Passkey,
            "Impersonation" => AuthMethod::Impersonation,
            _ => AuthMethod::OAuth(stored),
        }
    }
}

impl From<&str> for AuthMethod {
    fn from(stored: &str) -> AuthMethod {
        AuthMethod::from(stored.to_owned())
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signed-in user's session: its refresh tokens live in the same row (`store::sessions`).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub environment_id: String,
    pub user_id: String,
    pub auth_method: AuthMethod,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub expires_at: Millis,
    pub ended_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// When the user signed in to start this session (the access token's `auth_time`); kept
    /// across refreshes.
    pub auth_time: Millis,
    /// The organization the session is in, if any (the access token's `org_id`).
    pub organization_id: Option<String>,
    /// Who started it as the user, and why (impersonation; the access token's `act`).
    pub impersonator_email: Option<String>,
    pub impersonator_reason: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    Active,
    Expired,
    Revoked,
}

impl Session {
    /// The operator who started this session as its user, if it is an impersonation.
    pub fn impersonator(&self) -> Option<crate::domain::event::Impersonator> {
        self.impersonator_email.as_ref().map(|email| crate::domain::event::Impersonator {
            email: email.clone(),
            reason: self.impersonator_reason.clone(),
        })
    }

    pub fn status(&self, now: Millis) -> SessionStatus {
        if self.ended_at.is_some() {
            SessionStatus::Revoked
        } else if self.expires_at <= now {
            SessionStatus::Expired
        } else {
            SessionStatus::Active
        }
    }
}

/// A sign-in that passed its first factor and still owes a step-up (behind a pending token).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PendingAuthentication {
    pub environment_id: String,
    pub user_id: String,
    pub auth_method: AuthMethod,
    /// The organization the sign-in asked for, if any.
    pub organization_id: Option<String>,
    /// `organization_selection` when all the sign-in still owes is choosing an organization.
    pub purpose: Option<String>,
}

/// The `purpose` of a pending sign-in that owes only the choice of an organization.
pub const PURPOSE_ORGANIZATION_SELECTION: &str = "organization_selection";

/// A finished hosted sign-in waiting on the account-security page.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SecuritySession {
    pub environment_id: String,
    pub user_id: String,
    pub auth_method: AuthMethod,
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_read_back_as_stored() {
        for method in [
            AuthMethod::Password,
            AuthMethod::MagicAuth,
            AuthMethod::Passkey,
            AuthMethod::OAuth("GoogleOAuth".into()),
            AuthMethod::OAuth("acme-sso".into()),
        ] {
            assert_eq!(AuthMethod::from(method.as_str().to_owned()), method);
        }
        assert_eq!(AuthMethod::OAuth("GitHubOAuth".into()).to_string(), "GitHubOAuth");
    }

    #[test]
    fn only_a_passkey_is_multi_factor_in_itself() {
        assert!(AuthMethod::Passkey.is_multi_factor());
        for method in [AuthMethod::Password, AuthMethod::MagicAuth, AuthMethod::OAuth("Passkey".into())] {
            assert!(!method.is_multi_factor(), "{method:?}");
        }
    }
}
