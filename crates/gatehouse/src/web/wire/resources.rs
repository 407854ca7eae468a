//! WorkOS's resource-based authorization: `authorization_resource`, `role_assignment` and the
//! check's answer.

use serde::Serialize;

use super::time;
use crate::domain::resource as domain;
use crate::service::resources::AssignmentView;

#[derive(Serialize)]
pub struct AuthorizationResource<'a> {
    object: &'static str,
    id: &'a str,
    external_id: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    resource_type_slug: &'a str,
    organization_id: &'a str,
    parent_resource_id: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a domain::Resource> for AuthorizationResource<'a> {
    fn from(r: &'a domain::Resource) -> AuthorizationResource<'a> {
        AuthorizationResource {
            object: "authorization_resource",
            id: &r.id,
            external_id: &r.external_id,
            name: &r.name,
            description: r.description.as_deref(),
            resource_type_slug: &r.resource_type_slug,
            organization_id: &r.organization_id,
            parent_resource_id: r.parent_resource_id.as_deref(),
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

#[derive(Serialize)]
struct AssignedRole<'a> {
    slug: &'a str,
}

#[derive(Serialize)]
struct AssignedResource<'a> {
    id: &'a str,
    external_id: &'a str,
    resource_type_slug: &'a str,
}

/// How the membership got the role: always `direct` (Gatehouse has no groups). The node SDK
/// reads it (`source.type`) though the OpenAPI document does not list it.
#[derive(Serialize)]
struct AssignmentSource {
    #[serde(rename = "type")]
    kind: &'static str,
    group_role_assignment_id: Option<String>,
}

#[derive(Serialize)]
pub struct RoleAssignment<'a> {
    object: &'static str,
    id: &'a str,
    organization_membership_id: &'a str,
    role: AssignedRole<'a>,
    resource: AssignedResource<'a>,
    source: AssignmentSource,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a AssignmentView> for RoleAssignment<'a> {
    fn from(v: &'a AssignmentView) -> RoleAssignment<'a> {
        let a = &v.assignment;
        RoleAssignment {
            object: "role_assignment",
            id: &a.id,
            organization_membership_id: &a.organization_membership_id,
            role: AssignedRole { slug: &a.role_slug },
            resource: AssignedResource {
                id: &v.resource.id,
                external_id: &v.resource.external_id,
                resource_type_slug: &v.resource.resource_type_slug,
            },
            source: AssignmentSource { kind: "direct", group_role_assignment_id: None },
            created_at: time(a.created_at),
            updated_at: time(a.updated_at),
        }
    }
}

/// `POST …/check`'s answer.
#[derive(Serialize)]
pub struct AuthorizationCheck {
    pub authorized: bool,
}
