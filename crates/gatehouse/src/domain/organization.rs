//! Organizations, their members, and roles and permissions (WorkOS's authorization model):
//! the entities and the pure rules on them (statuses, slugs, what a membership may do).

use serde_json::{Map, Value, json};

use crate::clock::Millis;

/// The environment role every new membership gets unless another is named.
pub const DEFAULT_ROLE: &str = "member";
/// The built-in roles every environment has: `(slug, name, description)`.
pub const BUILT_IN_ROLES: &[(&str, &str, &str)] =
    &[("member", "Member", "The default role of a member."), ("admin", "Admin", "Administers the organization.")];

#[derive(Clone, Debug, PartialEq)]
pub struct Organization {
    pub id: String,
    pub environment_id: String,
    pub name: String,
    pub external_id: Option<String>,
    /// String values only, as in WorkOS.
    pub metadata: Map<String, Value>,
    pub allow_profiles_outside_organization: bool,
    /// Its active members must sign in with two-factor (they set up an authenticator app at
    /// their next sign-in if they have none).
    pub require_mfa: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Organization {
    /// What JWT templates see as `organization` (`domain::jwt_template`).
    pub fn to_template(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "external_id": self.external_id,
            "metadata": self.metadata,
            "domains": [],
        })
    }
}

/// A membership's state: only an active one can be entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipStatus {
    Active,
    Inactive,
    /// Invited, not yet accepted.
    Pending,
}

impl MembershipStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipStatus::Active => "active",
            MembershipStatus::Inactive => "inactive",
            MembershipStatus::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<MembershipStatus> {
        match s {
            "active" => Some(MembershipStatus::Active),
            "inactive" => Some(MembershipStatus::Inactive),
            "pending" => Some(MembershipStatus::Pending),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Membership {
    pub id: String,
    pub environment_id: String,
    pub organization_id: String,
    pub user_id: String,
    pub status: MembershipStatus,
    /// At least one; the first is the primary role (`role`).
    pub role_slugs: Vec<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Membership {
    pub fn primary_role(&self) -> &str {
        self.role_slugs.first().map_or(DEFAULT_ROLE, String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub id: String,
    pub environment_id: String,
    /// `None` for an environment role.
    pub organization_id: Option<String>,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    /// Permission slugs.
    pub permissions: Vec<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Role {
    /// WorkOS's `type`.
    pub fn kind(&self) -> &'static str {
        if self.organization_id.is_some() { "OrganizationRole" } else { "EnvironmentRole" }
    }
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Permission {
    pub id: String,
    pub environment_id: String,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// An invitation to sign up (and join an organization, when it names one).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Invitation {
    pub id: String,
    pub environment_id: String,
    /// Normalised like users' emails.
    pub email: String,
    pub organization_id: Option<String>,
    pub role_slug: Option<String>,
    pub inviter_user_id: Option<String>,
    pub sealed_token: String,
    pub expires_at: Millis,
    pub accepted_at: Option<Millis>,
    pub accepted_user_id: Option<String>,
    pub revoked_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationState {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

impl InvitationState {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Accepted => "accepted",
            InvitationState::Expired => "expired",
            InvitationState::Revoked => "revoked",
        }
    }
}

impl Invitation {
    pub fn state(&self, now: Millis) -> InvitationState {
        if self.revoked_at.is_some() {
            InvitationState::Revoked
        } else if self.accepted_at.is_some() {
            InvitationState::Accepted
        } else if self.expires_at <= now {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        }
    }
}

/// What a session in an organization carries: the organization, the membership, and the
/// permissions of its roles (each once, in role order).
#[derive(Clone, Debug, PartialEq)]
pub struct OrganizationAccess {
    pub organization: Organization,
    pub membership: Membership,
    pub permissions: Vec<String>,
}

/// A role or permission slug: 1–48 characters of lower-case letters, digits and `-_:.*`
/// (WorkOS's rule for permissions; roles use a subset of it).
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 48
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_:.*".contains(&b))
}

/// An organization role's slug must start with `org-` (WorkOS), so it never shadows an
/// environment role.
pub fn is_valid_organization_role_slug(slug: &str) -> bool {
    slug.starts_with("org-") && slug.len() > 4 && is_valid_slug(slug)
}

/// The permissions of `roles` (each once, in order).
pub fn permissions_of(roles: &[Role]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in roles.iter().flat_map(|r| r.permissions.iter()) {
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(is_valid_slug("documents:read"));
        assert!(is_valid_slug("admin"));
        assert!(!is_valid_slug("Admin"));
        assert!(!is_valid_slug(""));
        assert!(!is_valid_slug(&"a".repeat(49)));
        assert!(is_valid_organization_role_slug("org-billing"));
        assert!(!is_valid_organization_role_slug("billing"));
        assert!(!is_valid_organization_role_slug("org-"));
    }

    #[test]
    fn statuses_round_trip() {
        for s in [MembershipStatus::Active, MembershipStatus::Inactive, MembershipStatus::Pending] {
            assert_eq!(MembershipStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(MembershipStatus::parse("gone"), None);
    }

    #[test]
    fn permissions_once_in_order() {
        let role = |perms: &[&str]| Role {
            id: "role_1".into(),
            environment_id: "env".into(),
            organization_id: None,
            slug: "r".into(),
            name: "R".into(),
            description: None,
            permissions: perms.iter().map(|s| s.to_string()).collect(),
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(permissions_of(&[role(&["a", "b"]), role(&["b", "c"])]), vec!["a", "b", "c"]);
    }
}
