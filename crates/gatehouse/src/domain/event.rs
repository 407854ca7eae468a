//! Events (WorkOS's Events API and webhooks): what happened, with the payload WorkOS sends.
//!
//! A use case describes its event as a `NewEvent` (type, JSON data, organization) and hands it
//! to the store method that makes the change, which writes it in the same transaction
//! (`store::events`): an event exists if and only if its change committed. The payloads are
//! built here from domain values, in the shapes of WorkOS's objects (the user, the session, the
//! `authentication.*` record, the one-time-code objects without their secrets);
//! `web::wire::tests` checks they equal the API's own objects for the same values.

use serde::Serialize;

use crate::clock::{Millis, iso8601};
use crate::domain::listing::ListOrder;
use crate::domain::one_time_code::OneTimeCode;
use crate::domain::organization::{Invitation, Membership, Organization, OrganizationDomain, Permission, Role};
use crate::domain::session::{AuthMethod, Session};
use crate::domain::user::User;

/// Every event type Gatehouse can record, so filters and webhook subscriptions can refuse a
/// misspelt one.
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deleted",
    "session.created",
    "session.revoked",
    "authentication.password_succeeded",
    "authentication.password_failed",
    "authentication.email_verification_succeeded",
    "authentication.email_verification_failed",
    "authentication.magic_auth_succeeded",
    "authentication.magic_auth_failed",
    "authentication.mfa_succeeded",
    "authentication.mfa_failed",
    "authentication.oauth_succeeded",
    "authentication.oauth_failed",
    "authentication.passkey_succeeded",
    "authentication.passkey_failed",
    "email_verification.created",
    "magic_auth.created",
    "password_reset.created",
    "password_reset.succeeded",
    // Organizations (issue 12) record theirs through the same API.
    "organization.created",
    "organization.updated",
    "organization.deleted",
    "organization_membership.created",
    "organization_membership.updated",
    "organization_membership.deleted",
    "organization_domain.created",
    "organization_domain.updated",
    "organization_domain.deleted",
    "organization_domain.verified",
    "organization_domain.verification_failed",
    "invitation.created",
    "invitation.accepted",
    "invitation.revoked",
    "invitation.resent",
    "role.created",
    "role.updated",
    "role.deleted",
    "organization_role.created",
    "organization_role.updated",
    "organization_role.deleted",
    "permission.created",
    "permission.updated",
    "permission.deleted",
    // Gatehouse's own.
    "webhook_endpoint.disabled",
];

/// Whether `name` is an event type Gatehouse knows.
pub fn is_known_type(name: &str) -> bool {
    EVENT_TYPES.contains(&name) || crate::domain::audit::AUDIT_EVENT_TYPES.contains(&name)
}

/// An event to record with a change. `data` is the payload's JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub event: &'static str,
    pub data: String,
    pub organization_id: Option<String>,
    /// Who made the change, for audit events (`domain::audit::Actor::key`).
    pub actor: Option<String>,
    /// For an update: the object before it, in the payload's shape (`with_before`).
    pub before: Option<String>,
}

/// A recorded event.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Event {
    pub id: String,
    pub environment_id: String,
    /// The position in the environment's log (commit order).
    pub seq: i64,
    pub event: String,
    pub data: String,
    pub organization_id: Option<String>,
    pub actor: Option<String>,
    /// For an update, the object before it (`NewEvent::before`); never on the wire.
    pub before_data: Option<String>,
    pub created_at: Millis,
}

/// A page request for events.
#[derive(Clone, Debug)]
pub struct EventQuery {
    /// Only these types (empty: all).
    pub events: Vec<String>,
    pub organization_id: Option<String>,
    /// Created at or after / before these times.
    pub range_start: Option<Millis>,
    pub range_end: Option<Millis>,
    /// The position of the event to continue after (found from its ID by the service).
    pub after_seq: Option<i64>,
    /// Only events by this actor (`domain::audit::Actor::key`).
    pub actor: Option<String>,
    /// With no `events`: the audit events (`gatehouse.*`) instead of WorkOS's.
    pub audit: bool,
    pub limit: u32,
    pub order: ListOrder,
}

fn json<T: Serialize>(value: &T) -> String {
    // These payloads are plain structs of strings, numbers and maps: serialising cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// The `user` object, as in `user.created|updated|deleted`.
#[derive(Serialize)]
struct UserData<'a> {
    object: &'static str,
    id: &'a str,
    email: &'a str,
    email_verified: bool,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    name: Option<String>,
    profile_picture_url: Option<&'a str>,
    last_sign_in_at: Option<String>,
    external_id: Option<&'a str>,
    metadata: &'a serde_json::Map<String, serde_json::Value>,
    locale: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

/// Who is signing in as someone else (`session.created`'s `impersonator`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Impersonator {
    pub email: String,
    pub reason: Option<String>,
}

/// The `session` object, as in `session.created|revoked`.
#[derive(Serialize)]
struct SessionData<'a> {
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
    #[serde(skip_serializing_if = "Option::is_none")]
    impersonator: Option<Impersonator>,
}

/// The way a sign-in was attempted, as `authentication.<kind>_succeeded|failed` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthenticationKind {
    Password,
    EmailVerification,
    MagicAuth,
    Mfa,
    OAuth,
    Passkey,
}

impl AuthenticationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticationKind::Password => "password",
            AuthenticationKind::EmailVerification => "email_verification",
            AuthenticationKind::MagicAuth => "magic_auth",
            AuthenticationKind::Mfa => "mfa",
            AuthenticationKind::OAuth => "oauth",
            AuthenticationKind::Passkey => "passkey",
        }
    }

    /// The first factor a session started with (none for an impersonation: nobody proved
    /// anything, and WorkOS records no `authentication.*` event for one).
    pub fn of_method(method: &AuthMethod) -> Option<AuthenticationKind> {
        match method {
            AuthMethod::Password => Some(AuthenticationKind::Password),
            AuthMethod::MagicAuth => Some(AuthenticationKind::MagicAuth),
            AuthMethod::Passkey => Some(AuthenticationKind::Passkey),
            AuthMethod::OAuth(_) => Some(AuthenticationKind::OAuth),
            AuthMethod::Impersonation => None,
        }
    }

    fn event(self, succeeded: bool) -> &'static str {
        match (self, succeeded) {
            (AuthenticationKind::Password, true) => "authentication.password_succeeded",
            (AuthenticationKind::Password, false) => "authentication.password_failed",
            (AuthenticationKind::EmailVerification, true) => "authentication.email_verification_succeeded",
            (AuthenticationKind::EmailVerification, false) => "authentication.email_verification_failed",
            (AuthenticationKind::MagicAuth, true) => "authentication.magic_auth_succeeded",
            (AuthenticationKind::MagicAuth, false) => "authentication.magic_auth_failed",
            (AuthenticationKind::Mfa, true) => "authentication.mfa_succeeded",
            (AuthenticationKind::Mfa, false) => "authentication.mfa_failed",
            (AuthenticationKind::OAuth, true) => "authentication.oauth_succeeded",
            (AuthenticationKind::OAuth, false) => "authentication.oauth_failed",
            (AuthenticationKind::Passkey, true) => "authentication.passkey_succeeded",
            (AuthenticationKind::Passkey, false) => "authentication.passkey_failed",
        }
    }
}

/// The `authentication.*` payload.
#[derive(Serialize)]
struct AuthenticationData<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    ip_address: Option<&'a str>,
    user_agent: Option<&'a str>,
    user_id: Option<&'a str>,
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<AuthenticationError<'a>>,
}

#[derive(Serialize)]
struct AuthenticationError<'a> {
    code: &'a str,
    message: &'a str,
}

/// Who tried to sign in, from where.
#[derive(Clone, Copy, Debug)]
pub struct Attempted<'a> {
    pub user_id: Option<&'a str>,
    pub email: Option<&'a str>,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// `email_verification`, `magic_auth` and `password_reset` without their secrets.
#[derive(Serialize)]
struct CodeData<'a> {
    object: &'a str,
    id: &'a str,
    user_id: &'a str,
    email: &'a str,
    expires_at: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
}

/// The `organization_domain` object (as in `organization_domain.*` and in an organization's
/// `domains`).
#[derive(Serialize)]
pub struct DomainData<'a> {
    object: &'static str,
    id: &'a str,
    organization_id: &'a str,
    domain: &'a str,
    state: &'static str,
    verification_strategy: &'static str,
    verification_token: &'a str,
    verification_prefix: &'a str,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a OrganizationDomain> for DomainData<'a> {
    fn from(d: &'a OrganizationDomain) -> DomainData<'a> {
        DomainData {
            object: "organization_domain",
            id: &d.id,
            organization_id: &d.organization_id,
            domain: &d.domain,
            state: d.state.as_str(),
            verification_strategy: d.verification_strategy.as_str(),
            verification_token: &d.verification_token,
            verification_prefix: &d.verification_prefix,
            created_at: iso8601(d.created_at),
            updated_at: iso8601(d.updated_at),
        }
    }
}

/// The `organization` object, as in `organization.created|updated|deleted`.
#[derive(Serialize)]
struct OrganizationData<'a> {
    object: &'static str,
    id: &'a str,
    name: &'a str,
    domains: Vec<DomainData<'a>>,
    metadata: &'a serde_json::Map<String, serde_json::Value>,
    external_id: Option<&'a str>,
    allow_profiles_outside_organization: bool,
    created_at: String,
    updated_at: String,
}

/// The `organization_membership` object (without its user), as in
/// `organization_membership.created|updated|deleted`.
#[derive(Serialize)]
struct MembershipData<'a> {
    object: &'static str,
    id: &'a str,
    user_id: &'a str,
    organization_id: &'a str,
    organization_name: &'a str,
    status: &'static str,
    directory_managed: bool,
    role: SlugData<'a>,
    roles: Vec<SlugData<'a>>,
    custom_attributes: serde_json::Map<String, serde_json::Value>,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize)]
struct SlugData<'a> {
    slug: &'a str,
}

/// The `invitation` object without its token and link, as in `invitation.*`.
#[derive(Serialize)]
struct InvitationData<'a> {
    object: &'static str,
    id: &'a str,
    email: &'a str,
    state: &'static str,
    accepted_at: Option<String>,
    revoked_at: Option<String>,
    expires_at: String,
    organization_id: Option<&'a str>,
    inviter_user_id: Option<&'a str>,
    accepted_user_id: Option<&'a str>,
    role_slug: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

/// `role.*` (an environment role).
#[derive(Serialize)]
struct RoleData<'a> {
    object: &'static str,
    slug: &'a str,
    resource_type_slug: &'static str,
    permissions: &'a [String],
    created_at: String,
    updated_at: String,
}

/// `organization_role.*` (an organization's own role).
#[derive(Serialize)]
struct OrganizationRoleData<'a> {
    object: &'static str,
    organization_id: &'a str,
    slug: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    resource_type_slug: &'static str,
    permissions: &'a [String],
    created_at: String,
    updated_at: String,
}

/// `permission.*`'s payload: the permission as the API shows it.
#[derive(Serialize)]
struct PermissionData<'a> {
    object: &'static str,
    id: &'a str,
    slug: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    system: bool,
    resource_type_slug: &'static str,
    created_at: String,
    updated_at: String,
}

/// `organization_domain.verification_failed`'s payload.
#[derive(Serialize)]
struct DomainFailureData<'a> {
    reason: &'static str,
    organization_domain: DomainData<'a>,
}

/// Why a domain verification failed, in WorkOS's words (its event's `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainFailure {
    /// The check found no TXT record with the token (Gatehouse checks once per request: that
    /// attempt's period is over).
    PeriodExpired,
    /// Another organization of the environment has the domain verified.
    VerifiedByOtherOrganization,
}

/// The wire name of how a session started (WorkOS's `auth_method` enum).
pub fn session_auth_method(method: &AuthMethod) -> &'static str {
    match method {
        AuthMethod::Password => "password",
        AuthMethod::MagicAuth => "magic_code",
        AuthMethod::Passkey => "passkey",
        AuthMethod::Impersonation => "impersonation",
        AuthMethod::OAuth(provider) if provider.ends_with("OAuth") => "oauth",
        // A custom OpenID Connect provider has no WorkOS session kind.
        AuthMethod::OAuth(_) => "unknown",
    }
}

impl NewEvent {
    /// This update's event, recording `before` (the same event built from the object as it
    /// was) as what changed from.
    pub fn with_before(mut self, before: NewEvent) -> NewEvent {
        self.before = Some(before.data);
        self
    }

    /// Any event: its type (one of `EVENT_TYPES`), its payload (serialised as WorkOS sends it)
    /// and the organization it concerns, e.g. `NewEvent::new("organization.created", &data,
    /// Some(&org.id))`.
    pub fn new<T: Serialize>(event: &'static str, data: &T, organization_id: Option<&str>) -> NewEvent {
        NewEvent {
            event,
            data: json(data),
            organization_id: organization_id.map(str::to_owned),
            actor: None,
            before: None,
        }
    }

    /// `organization.created`, `organization.updated` or `organization.deleted`.
    pub fn organization(event: &'static str, o: &Organization) -> NewEvent {
        let data = OrganizationData {
            object: "organization",
            id: &o.id,
            name: &o.name,
            domains: o.domains.iter().map(DomainData::from).collect(),
            metadata: &o.metadata,
            external_id: o.external_id.as_deref(),
            allow_profiles_outside_organization: o.allow_profiles_outside_organization,
            created_at: iso8601(o.created_at),
            updated_at: iso8601(o.updated_at),
        };
        NewEvent { event, data: json(&data), organization_id: Some(o.id.clone()), actor: None, before: None }
    }

    /// `organization_membership.created`, `…updated` or `…deleted`.
    pub fn membership(event: &'static str, m: &Membership, organization_name: &str) -> NewEvent {
        let data = MembershipData {
            object: "organization_membership",
            id: &m.id,
            user_id: &m.user_id,
            organization_id: &m.organization_id,
            organization_name,
            status: m.status.as_str(),
            directory_managed: false,
            role: SlugData { slug: m.primary_role() },
            roles: m.role_slugs.iter().map(|slug| SlugData { slug }).collect(),
            custom_attributes: serde_json::Map::new(),
            created_at: iso8601(m.created_at),
            updated_at: iso8601(m.updated_at),
        };
        NewEvent {
            event,
            data: json(&data),
            organization_id: Some(m.organization_id.clone()),
            actor: None,
            before: None,
        }
    }

    /// `invitation.created|accepted|revoked|resent`, the invitation as it stands at `now`.
    pub fn invitation(event: &'static str, i: &Invitation, now: Millis) -> NewEvent {
        let data = InvitationData {
            object: "invitation",
            id: &i.id,
            email: &i.email,
            state: i.state(now).as_str(),
            accepted_at: i.accepted_at.map(iso8601),
            revoked_at: i.revoked_at.map(iso8601),
            expires_at: iso8601(i.expires_at),
            organization_id: i.organization_id.as_deref(),
            inviter_user_id: i.inviter_user_id.as_deref(),
            accepted_user_id: i.accepted_user_id.as_deref(),
            role_slug: i.role_slug.as_deref(),
            created_at: iso8601(i.created_at),
            updated_at: iso8601(i.updated_at),
        };
        NewEvent { event, data: json(&data), organization_id: i.organization_id.clone(), actor: None, before: None }
    }

    /// `permission.<change>` (`change`: `created`, `updated` or `deleted`).
    pub fn permission(change: &'static str, p: &Permission) -> NewEvent {
        let event = match change {
            "created" => "permission.created",
            "deleted" => "permission.deleted",
            _ => "permission.updated",
        };
        let data = PermissionData {
            object: "permission",
            id: &p.id,
            slug: &p.slug,
            name: &p.name,
            description: p.description.as_deref(),
            system: false,
            resource_type_slug: "organization",
            created_at: iso8601(p.created_at),
            updated_at: iso8601(p.updated_at),
        };
        NewEvent { event, data: json(&data), organization_id: None, actor: None, before: None }
    }

    /// `role.<change>` for an environment role, `organization_role.<change>` for an
    /// organization's own (`change`: `created`, `updated` or `deleted`).
    pub fn role(change: &'static str, r: &Role) -> NewEvent {
        match &r.organization_id {
            None => {
                let event = match change {
                    "created" => "role.created",
                    "deleted" => "role.deleted",
                    _ => "role.updated",
                };
                let data = RoleData {
                    object: "role",
                    slug: &r.slug,
                    resource_type_slug: "organization",
                    permissions: &r.permissions,
                    created_at: iso8601(r.created_at),
                    updated_at: iso8601(r.updated_at),
                };
                NewEvent { event, data: json(&data), organization_id: None, actor: None, before: None }
            }
            Some(org) => {
                let event = match change {
                    "created" => "organization_role.created",
                    "deleted" => "organization_role.deleted",
                    _ => "organization_role.updated",
                };
                let data = OrganizationRoleData {
                    object: "organization_role",
                    organization_id: org,
                    slug: &r.slug,
                    name: &r.name,
                    description: r.description.as_deref(),
                    resource_type_slug: "organization",
                    permissions: &r.permissions,
                    created_at: iso8601(r.created_at),
                    updated_at: iso8601(r.updated_at),
                };
                NewEvent { event, data: json(&data), organization_id: Some(org.clone()), actor: None, before: None }
            }
        }
    }

    /// `organization_domain.created|updated|deleted|verified`.
    pub fn organization_domain(event: &'static str, d: &OrganizationDomain) -> NewEvent {
        NewEvent {
            event,
            data: json(&DomainData::from(d)),
            organization_id: Some(d.organization_id.clone()),
            actor: None,
            before: None,
        }
    }

    /// `organization_domain.verification_failed`.
    pub fn domain_verification_failed(d: &OrganizationDomain, why: DomainFailure) -> NewEvent {
        let reason = match why {
            DomainFailure::PeriodExpired => "domain_verification_period_expired",
            DomainFailure::VerifiedByOtherOrganization => "domain_verified_by_other_organization",
        };
        let data = DomainFailureData { reason, organization_domain: DomainData::from(d) };
        NewEvent {
            event: "organization_domain.verification_failed",
            data: json(&data),
            organization_id: Some(d.organization_id.clone()),
            actor: None,
            before: None,
        }
    }

    /// `user.created`, `user.updated` or `user.deleted`.
    pub fn user(event: &'static str, u: &User) -> NewEvent {
        let data = UserData {
            object: "user",
            id: &u.id,
            email: &u.email,
            email_verified: u.email_verified,
            first_name: u.first_name.as_deref(),
            last_name: u.last_name.as_deref(),
            name: u.display_name(),
            profile_picture_url: u.profile_picture_url.as_deref(),
            last_sign_in_at: u.last_sign_in_at.map(iso8601),
            external_id: u.external_id.as_deref(),
            metadata: &u.metadata,
            locale: u.locale.as_deref(),
            created_at: iso8601(u.created_at),
            updated_at: iso8601(u.updated_at),
        };
        NewEvent { event, data: json(&data), organization_id: None, actor: None, before: None }
    }

    /// `session.created` (`revoked: false`) or `session.revoked` (`revoked: true`), as the
    /// session stands at `now`; both name the impersonator of an impersonation session.
    pub fn session(s: &Session, revoked: bool, now: Millis) -> NewEvent {
        let status = if revoked {
            "revoked"
        } else if s.expires_at <= now {
            "expired"
        } else {
            "active"
        };
        let data = SessionData {
            object: "session",
            id: &s.id,
            user_id: &s.user_id,
            ip_address: s.ip_address.as_deref(),
            user_agent: s.user_agent.as_deref(),
            auth_method: session_auth_method(&s.auth_method),
            status,
            expires_at: iso8601(s.expires_at),
            ended_at: if revoked { Some(iso8601(now)) } else { s.ended_at.map(iso8601) },
            created_at: iso8601(s.created_at),
            updated_at: iso8601(if revoked { now } else { s.updated_at }),
            impersonator: s.impersonator(),
        };
        let event = if revoked { "session.revoked" } else { "session.created" };
        NewEvent { event, data: json(&data), organization_id: None, actor: None, before: None }
    }

    /// `authentication.<kind>_succeeded`.
    pub fn authentication_succeeded(kind: AuthenticationKind, who: Attempted<'_>) -> NewEvent {
        let data = AuthenticationData {
            kind: kind.as_str(),
            status: "succeeded",
            ip_address: who.ip_address,
            user_agent: who.user_agent,
            user_id: who.user_id,
            email: who.email,
            error: None,
        };
        NewEvent { event: kind.event(true), data: json(&data), organization_id: None, actor: None, before: None }
    }

    /// `authentication.<kind>_failed`, with the error code and message the caller was given.
    pub fn authentication_failed(kind: AuthenticationKind, who: Attempted<'_>, code: &str, message: &str) -> NewEvent {
        let data = AuthenticationData {
            kind: kind.as_str(),
            status: "failed",
            ip_address: who.ip_address,
            user_agent: who.user_agent,
            user_id: who.user_id,
            email: who.email,
            error: Some(AuthenticationError { code, message }),
        };
        NewEvent { event: kind.event(false), data: json(&data), organization_id: None, actor: None, before: None }
    }

    /// `email_verification.created`, `magic_auth.created`, `password_reset.created` or
    /// `password_reset.succeeded` for a one-time code (never its secret).
    pub fn code(event: &'static str, c: &OneTimeCode) -> NewEvent {
        let password_reset = c.kind == "password_reset";
        let data = CodeData {
            object: &c.kind,
            id: &c.id,
            user_id: &c.user_id,
            email: &c.email,
            expires_at: iso8601(c.expires_at),
            created_at: iso8601(c.created_at),
            updated_at: (!password_reset).then(|| iso8601(c.updated_at)),
        };
        NewEvent { event, data: json(&data), organization_id: None, actor: None, before: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_authentication_event_is_a_known_type() {
        use AuthenticationKind::*;
        for kind in [Password, EmailVerification, MagicAuth, Mfa, OAuth, Passkey] {
            assert!(is_known_type(kind.event(true)), "{kind:?}");
            assert!(is_known_type(kind.event(false)), "{kind:?}");
        }
        assert!(!is_known_type("user.exploded"));
    }

    #[test]
    fn a_failure_names_its_error_and_keeps_unknown_users_null() {
        let who = Attempted { user_id: None, email: Some("a@example.com"), ip_address: None, user_agent: Some("ua") };
        let e = NewEvent::authentication_failed(AuthenticationKind::Password, who, "invalid_credentials", "Wrong.");
        assert_eq!(e.event, "authentication.password_failed");
        let v: serde_json::Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(v["type"], "password");
        assert_eq!(v["status"], "failed");
        assert!(v["user_id"].is_null());
        assert_eq!(v["error"]["code"], "invalid_credentials");
    }
}
