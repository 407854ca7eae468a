//! `organization`, `organization_membership`, `role` and `permission`, and the role list.

use serde::Serialize;

use super::{User, time};
use crate::domain::organization as domain;
use crate::service::organizations::MembershipView;

#[derive(Serialize)]
pub struct Organization<'a> {
    object: &'static str,
    id: &'a str,
    name: &'a str,
    domains: Vec<OrganizationDomain<'a>>,
    metadata: &'a serde_json::Map<String, serde_json::Value>,
    external_id: Option<&'a str>,
    allow_profiles_outside_organization: bool,
    /// Gatehouse's auto-join policy (not a WorkOS field).
    domain_auto_join: bool,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize)]
pub struct OrganizationDomain<'a> {
    object: &'static str,
    id: &'a str,
    organization_id: &'a str,
    domain: &'a str,
    state: &'static str,
    verification_strategy: &'static str,
    verification_token: &'a str,
    verification_prefix: &'a str,
    /// Why the last verification failed (state `failed`); Gatehouse's addition.
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_failure_reason: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a domain::OrganizationDomain> for OrganizationDomain<'a> {
    fn from(d: &'a domain::OrganizationDomain) -> OrganizationDomain<'a> {
        OrganizationDomain {
            object: "organization_domain",
            id: &d.id,
            organization_id: &d.organization_id,
            domain: &d.domain,
            state: d.state.as_str(),
            verification_strategy: d.verification_strategy.as_str(),
            verification_token: &d.verification_token,
            verification_prefix: &d.verification_prefix,
            verification_failure_reason: d.failure_reason.as_deref(),
            created_at: time(d.created_at),
            updated_at: time(d.updated_at),
        }
    }
}

impl<'a> From<&'a domain::Organization> for Organization<'a> {
    fn from(o: &'a domain::Organization) -> Organization<'a> {
        Organization {
            object: "organization",
            id: &o.id,
            name: &o.name,
            domains: o.domains.iter().map(OrganizationDomain::from).collect(),
            metadata: &o.metadata,
            external_id: o.external_id.as_deref(),
            allow_profiles_outside_organization: o.allow_profiles_outside_organization,
            domain_auto_join: o.domain_auto_join,
            created_at: time(o.created_at),
            updated_at: time(o.updated_at),
        }
    }
}

#[derive(Serialize)]
pub struct SlimRole<'a> {
    slug: &'a str,
}

#[derive(Serialize)]
pub struct OrganizationMembership<'a> {
    object: &'static str,
    id: &'a str,
    user_id: &'a str,
    organization_id: &'a str,
    organization_name: &'a str,
    status: &'static str,
    directory_managed: bool,
    custom_attributes: serde_json::Map<String, serde_json::Value>,
    role: SlimRole<'a>,
    roles: Vec<SlimRole<'a>>,
    user: User<'a>,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a MembershipView> for OrganizationMembership<'a> {
    fn from(v: &'a MembershipView) -> OrganizationMembership<'a> {
        let m = &v.membership;
        OrganizationMembership {
            object: "organization_membership",
            id: &m.id,
            user_id: &m.user_id,
            organization_id: &m.organization_id,
            organization_name: &v.organization_name,
            status: m.status.as_str(),
            directory_managed: false,
            custom_attributes: serde_json::Map::new(),
            role: SlimRole { slug: m.primary_role() },
            roles: m.role_slugs.iter().map(|slug| SlimRole { slug }).collect(),
            user: User::from(&v.user),
            created_at: time(m.created_at),
            updated_at: time(m.updated_at),
        }
    }
}

#[derive(Serialize)]
pub struct Role<'a> {
    object: &'static str,
    id: &'a str,
    slug: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    resource_type_slug: &'static str,
    permissions: &'a [String],
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a domain::Role> for Role<'a> {
    fn from(r: &'a domain::Role) -> Role<'a> {
        Role {
            object: "role",
            id: &r.id,
            slug: &r.slug,
            name: &r.name,
            description: r.description.as_deref(),
            kind: r.kind(),
            resource_type_slug: "organization",
            permissions: &r.permissions,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

/// `{object: "list", data}`: roles come whole, without cursors.
#[derive(Serialize)]
pub struct RoleList<'a> {
    object: &'static str,
    data: Vec<Role<'a>>,
}

impl<'a> RoleList<'a> {
    pub fn new(roles: &'a [domain::Role]) -> RoleList<'a> {
        RoleList { object: "list", data: roles.iter().map(Role::from).collect() }
    }
}

#[derive(Serialize)]
pub struct Permission<'a> {
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

impl<'a> From<&'a domain::Permission> for Permission<'a> {
    fn from(p: &'a domain::Permission) -> Permission<'a> {
        Permission {
            object: "permission",
            id: &p.id,
            slug: &p.slug,
            name: &p.name,
            description: p.description.as_deref(),
            system: false,
            resource_type_slug: "organization",
            created_at: time(p.created_at),
            updated_at: time(p.updated_at),
        }
    }
}

#[derive(Serialize)]
pub struct Invitation<'a> {
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
    token: &'a str,
    accept_invitation_url: &'a str,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a crate::service::invitations::InvitationView> for Invitation<'a> {
    fn from(v: &'a crate::service::invitations::InvitationView) -> Invitation<'a> {
        let i = &v.invitation;
        Invitation {
            object: "invitation",
            id: &i.id,
            email: &i.email,
            state: v.state.as_str(),
            accepted_at: i.accepted_at.map(time),
            revoked_at: i.revoked_at.map(time),
            expires_at: time(i.expires_at),
            organization_id: i.organization_id.as_deref(),
            inviter_user_id: i.inviter_user_id.as_deref(),
            accepted_user_id: i.accepted_user_id.as_deref(),
            role_slug: i.role_slug.as_deref(),
            token: &v.token,
            accept_invitation_url: &v.accept_invitation_url,
            created_at: time(i.created_at),
            updated_at: time(i.updated_at),
        }
    }
}
