//! `object: "session"` (`GET /user_management/users/{id}/sessions`).

use serde::Serialize;

use super::time;
use crate::clock::Millis;
use crate::domain::session::{AuthMethod, Session as DomainSession, SessionStatus};

#[derive(Serialize)]
pub struct Session<'a> {
    object: &'static str,
    id: &'a str,
    user_id: &'a str,
    ip_address: Option<&'a str>,
    user_agent: Option<&'a str>,
    auth_method: &'static str,
    status: &'static str,
    expires_at: String,
    ended_at: Option<String>,
    created_at: String,
    updated_at: String,
    /// Present on a session an operator started as the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    impersonator: Option<crate::domain::event::Impersonator>,
}

impl<'a> Session<'a> {
    /// The session as seen at `now` (its status depends on the time).
    pub fn new(s: &'a DomainSession, now: Millis) -> Session<'a> {
        let status = match s.status(now) {
            SessionStatus::Active => "active",
            SessionStatus::Expired => "expired",
            SessionStatus::Revoked => "revoked",
        };
        let auth_method = match &s.auth_method {
            AuthMethod::Password => "password",
            AuthMethod::MagicAuth => "magic_code",
            AuthMethod::Passkey => "passkey",
            AuthMethod::Impersonation => "impersonation",
            AuthMethod::OAuth(provider) if provider.ends_with("OAuth") => "oauth",
            // A custom OpenID Connect provider has no WorkOS session kind.
            AuthMethod::OAuth(_) => "unknown",
        };
        Session {
            object: "session",
            id: &s.id,
            user_id: &s.user_id,
            ip_address: s.ip_address.as_deref(),
            user_agent: s.user_agent.as_deref(),
            auth_method,
            status,
            expires_at: time(s.expires_at),
            ended_at: s.ended_at.map(time),
            created_at: time(s.created_at),
            updated_at: time(s.updated_at),
            impersonator: s.impersonator(),
        }
    }
}
