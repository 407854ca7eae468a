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
    /// Gatehouse's auto-join policy: users whose *verified* email is at one of the
    /// organization's *verified* domains become members (default role) when they sign in.
    pub domain_auto_join: bool,
    /// Its domains, by name (loaded with it).
    pub domains: Vec<OrganizationDomain>,
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
            "domains": self.domains.iter().map(|d| json!({"id": d.id, "domain": d.domain, "state": d.state.as_str()})).collect::<Vec<_>>(),
        })
    }
}

/// An organization domain's verification state (WorkOS's `state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainState {
    Pending,
    Verified,
    Failed,
}

impl DomainState {
    pub fn as_str(self) -> &'static str {
        match self {
            DomainState::Pending => "pending",
            DomainState::Verified => "verified",
            DomainState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DomainState> {
        match s {
            "pending" => Some(DomainState::Pending),
            "verified" => Some(DomainState::Verified),
            "failed" => Some(DomainState::Failed),
            _ => None,
        }
    }
}

/// How a domain is (to be) verified: a DNS TXT record, or an administrator's word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerificationStrategy {
    Dns,
    Manual,
}

impl VerificationStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStrategy::Dns => "dns",
            VerificationStrategy::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<VerificationStrategy> {
        match s {
            "dns" => Some(VerificationStrategy::Dns),
            "manual" => Some(VerificationStrategy::Manual),
            _ => None,
        }
    }
}

/// A domain an organization claims.
#[derive(Clone, Debug, PartialEq)]
pub struct OrganizationDomain {
    pub id: String,
    pub environment_id: String,
    pub organization_id: String,
    /// Normalised (`normalize_domain`).
    pub domain: String,
    pub state: DomainState,
    pub verification_strategy: VerificationStrategy,
    /// The first label of the TXT record's name (`txt_record_name`).
    pub verification_prefix: String,
    /// What the TXT record must hold.
    pub verification_token: String,
    /// Why the last verification failed (state `failed`).
    pub failure_reason: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl OrganizationDomain {
    /// The DNS name whose TXT record proves the domain: `<verification_prefix>.<domain>`.
    pub fn txt_record_name(&self) -> String {
        format!("{}.{}", self.verification_prefix, self.domain)
    }
}

/// The prefix of every TXT record name Gatehouse asks for; a random suffix follows.
pub const VERIFICATION_PREFIX: &str = "gatehouse-domain-verification-";

/// What a DNS TXT look-up for a domain found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxtLookup {
    /// The record's strings (each record's character-strings joined).
    Records(Vec<String>),
    /// The name has no TXT record (NXDOMAIN or no answer).
    NoRecords,
    /// The look-up itself failed (timeout, refused, …): the message.
    Failed(String),
}

/// Why a DNS check of `domain` failed, or `None` when a TXT record holds the token.
pub fn txt_check(domain: &OrganizationDomain, found: &TxtLookup) -> Option<String> {
    let name = domain.txt_record_name();
    match found {
        TxtLookup::Records(records) if records.iter().any(|r| r.trim() == domain.verification_token) => None,
        TxtLookup::Records(records) => Some(format!(
            "The TXT record at {name} does not hold the verification token ({} record{} found, none matching).",
            records.len(),
            if records.len() == 1 { "" } else { "s" }
        )),
        TxtLookup::NoRecords => Some(format!("No TXT record found at {name}.")),
        TxtLookup::Failed(message) => Some(format!("The DNS look-up of {name} failed: {message}")),
    }
}

/// A domain as stored: lower-case ASCII, no trailing dot, at least two labels of 1–63 letters,
/// digits and inner hyphens, at most 253 characters, and a top-level label that is not all
/// digits (so no IP address). `None` when it is not such a name.
pub fn normalize_domain(input: &str) -> Option<String> {
    let d = input.trim().trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() || d.len() > 253 || !d.is_ascii() {
        return None;
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return None;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !labels.iter().all(|l| label_ok(l)) || labels.last().is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some(d)
}

/// The domain of an email address (after the last `@`), lower-case.
pub fn email_domain(email: &str) -> Option<String> {
    email.rsplit_once('@').map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase()).filter(|d| !d.is_empty())
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
    /// The membership is new (auto-join by a verified domain): the session start creates it,
    /// in its transaction.
    pub joined: bool,
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
    fn domains_are_normalised_or_refused() {
        assert_eq!(normalize_domain(" Foo-Corp.COM. ").as_deref(), Some("foo-corp.com"));
        assert_eq!(normalize_domain("a.b.example.org").as_deref(), Some("a.b.example.org"));
        for bad in ["", "com", "-a.com", "a-.com", "a..com", "a_b.com", "10.0.0.1", "ex ample.com", "bücher.de"] {
            assert_eq!(normalize_domain(bad), None, "{bad}");
        }
        assert_eq!(normalize_domain(&format!("{}.com", "a".repeat(64))), None);
        assert_eq!(email_domain("Ann@Foo-Corp.com").as_deref(), Some("foo-corp.com"));
        assert_eq!(email_domain("nobody"), None);
    }

    #[test]
    fn a_txt_check_needs_the_token() {
        let d = OrganizationDomain {
            id: "org_domain_1".into(),
            environment_id: "env".into(),
            organization_id: "org_1".into(),
            domain: "foo.com".into(),
            state: DomainState::Pending,
            verification_strategy: VerificationStrategy::Dns,
            verification_prefix: "gatehouse-domain-verification-abc".into(),
            verification_token: "tok".into(),
            failure_reason: None,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(d.txt_record_name(), "gatehouse-domain-verification-abc.foo.com");
        assert_eq!(txt_check(&d, &TxtLookup::Records(vec!["other".into(), " tok ".into()])), None);
        assert!(txt_check(&d, &TxtLookup::Records(vec!["other".into()])).unwrap().contains("does not hold"));
        assert!(txt_check(&d, &TxtLookup::NoRecords).unwrap().starts_with("No TXT record found at"));
        assert!(txt_check(&d, &TxtLookup::Failed("timed out".into())).unwrap().contains("timed out"));
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
