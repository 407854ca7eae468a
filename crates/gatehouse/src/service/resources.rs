//! WorkOS's resource-based authorization: resource types (the CLI, the console), resources, role
//! assignments, the check, the resource-scoped listings, and removing an environment role.
//!
//! A membership is authorized for a permission on a resource when one of its organization-level
//! roles grants it, or a role assigned to it on the resource or one of the resource's ancestors
//! does; an inactive (or pending) membership never is. Resources are only ever seen through a
//! membership of their own organization: another organization's resource is "not found".

use std::collections::HashMap;

use serde_json::Value;

use super::organizations::MembershipView;
use super::{Core, Error, Result};
use crate::domain::audit::{Actor, audit_event, target};
use crate::domain::environment::Environment;
use crate::domain::event::NewEvent;
use crate::domain::listing::{Cursor, Page};
use crate::domain::organization::{DEFAULT_ROLE, Membership, MembershipStatus, Permission, Role};
use crate::domain::resource::{
    AssignmentQuery, MAX_DEPTH, Resource, ResourceType, RoleAssignment, effective_permissions,
    is_valid_resource_type_slug, page_in_memory, resolve_role,
};
use crate::ids::new_id;
use crate::store::{ResourceDeletion, ResourceQuery, RoleDeletion};

/// How a request names a resource: its ID, or its type and external ID (in an organization
/// the context gives).
#[derive(Clone, Debug)]
pub enum ResourceRef {
    Id(String),
    External { resource_type_slug: String, external_id: String },
}

/// A resource named on its own: by ID, or by organization, type and external ID.
#[derive(Clone, Debug)]
pub enum ResourceTarget {
    Id(String),
    External { organization_id: String, resource_type_slug: String, external_id: String },
}

#[derive(Debug, Default)]
pub struct NewResource {
    pub organization_id: String,
    pub resource_type_slug: String,
    pub external_id: String,
    pub name: String,
    pub description: Option<String>,
    pub parent: Option<ResourceRef>,
}

/// The editable fields (`None` leaves one alone; `Some(None)` clears the description).
#[derive(Debug, Default)]
pub struct ResourcePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
}

/// Filters of `GET /authorization/resources`.
#[derive(Debug, Default)]
pub struct ResourceFilter {
    pub organization_id: Option<String>,
    pub resource_type_slug: Option<String>,
    pub external_id: Option<String>,
    pub parent: Option<ResourceRef>,
    pub search: Option<String>,
}

/// A role assignment with the resource it is on.
#[derive(Clone, Debug)]
pub struct AssignmentView {
    pub assignment: RoleAssignment,
    pub resource: Resource,
}

fn not_found(kind: &'static str, id: &str) -> Error {
    Error::NotFound { kind, id: id.to_owned() }
}

fn in_use(message: String) -> Error {
    Error::Rejected { reason: super::error::Rejection::InUse, message }
}

fn check_text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(Error::validation(field, "invalid", format!("{field} must be 1 to {max} printable characters.")));
    }
    Ok(())
}

fn check_description(description: Option<&str>) -> Result<()> {
    if description.is_some_and(|d| d.chars().count() > 150) {
        return Err(Error::validation("description", "invalid", "description must be at most 150 characters."));
    }
    Ok(())
}

fn check_permission_slug(slug: &str) -> Result<()> {
    if slug.is_empty() || slug.len() > 256 {
        return Err(Error::validation("permission_slug", "required", "permission_slug is required."));
    }
    Ok(())
}

impl Core {
    // ---- resource types (the CLI and the console) ----

    /// A new resource type, with the audit event `gatehouse.resource_type.created`.
    pub async fn add_resource_type(
        &self,
        env: &Environment,
        slug: &str,
        name: Option<String>,
        actor: &Actor,
    ) -> Result<ResourceType> {
        if !is_valid_resource_type_slug(slug) {
            return Err(Error::validation(
                "slug",
                "invalid",
                "A resource type's slug is 1 to 48 lower-case letters, digits, - or _, and not 'organization'.",
            ));
        }
        let name = name.unwrap_or_else(|| slug.to_owned());
        check_text("name", &name, 48)?;
        let t = ResourceType {
            id: new_id("resource_type"),
            environment_id: env.id.clone(),
            slug: slug.to_owned(),
            name: name.trim().to_owned(),
            created_at: self.now(),
        };
        let after = serde_json::json!({ "slug": t.slug, "name": t.name });
        let audit =
            audit_event("gatehouse.resource_type.created", actor, target("resource_type", slug), Value::Null, after);
        self.store.insert_resource_type(&t, &[audit]).await?;
        Ok(t)
    }

    pub async fn list_resource_types(&self, env: &Environment) -> Result<Vec<ResourceType>> {
        Ok(self.store.list_resource_types(&env.id).await?)
    }

    /// Removes a resource type that no resource uses, with the audit event
    /// `gatehouse.resource_type.deleted`.
    pub async fn remove_resource_type(&self, env: &Environment, slug: &str, actor: &Actor) -> Result<()> {
        let types = self.store.list_resource_types(&env.id).await?;
        let Some(t) = types.iter().find(|t| t.slug == slug) else {
            return Err(not_found("ResourceType", slug));
        };
        let before = serde_json::json!({ "slug": t.slug, "name": t.name });
        let audit =
            audit_event("gatehouse.resource_type.deleted", actor, target("resource_type", slug), before, Value::Null);
        if self.store.delete_resource_type(&env.id, slug, self.now(), &[audit]).await? {
            return Ok(());
        }
        let used = self.store.count_resources_of_type(&env.id, slug).await?;
        if used > 0 {
            return Err(in_use(format!("Resource type '{slug}' is used by {used} resource(s); delete them first.")));
        }
        Err(not_found("ResourceType", slug))
    }

    // ---- resources ----

    async fn check_resource_type(&self, env: &Environment, slug: &str) -> Result<()> {
        let types = self.store.list_resource_types(&env.id).await?;
        if types.iter().any(|t| t.slug == slug) {
            return Ok(());
        }
        Err(Error::validation(
            "resource_type_slug",
            "invalid",
            format!(
                "There is no resource type '{slug}' (add it on the console's Roles page or with `gatehouse \
                 resource-types add {slug}`)."
            ),
        ))
    }

    /// A resource of `organization_id` named by `r`.
    async fn resource_in(&self, env: &Environment, organization_id: &str, r: &ResourceRef) -> Result<Resource> {
        let found = match r {
            ResourceRef::Id(id) => {
                self.store.find_resource(&env.id, id).await?.filter(|res| res.organization_id == organization_id)
            }
            ResourceRef::External { resource_type_slug, external_id } => {
                self.store
                    .find_resource_by_external_id(&env.id, organization_id, resource_type_slug, external_id)
                    .await?
            }
        };
        found.ok_or_else(|| match r {
            ResourceRef::Id(id) => not_found("AuthorizationResource", id),
            ResourceRef::External { external_id, .. } => not_found("AuthorizationResource", external_id),
        })
    }

    /// The resource `t` names.
    pub async fn get_resource(&self, env: &Environment, t: &ResourceTarget) -> Result<Resource> {
        match t {
            ResourceTarget::Id(id) => {
                self.store.find_resource(&env.id, id).await?.ok_or_else(|| not_found("AuthorizationResource", id))
            }
            ResourceTarget::External { organization_id, resource_type_slug, external_id } => {
                let r = ResourceRef::External {
                    resource_type_slug: resource_type_slug.clone(),
                    external_id: external_id.clone(),
                };
                self.resource_in(env, organization_id, &r).await
            }
        }
    }

    /// `r` and its ancestors, nearest first.
    async fn lineage(&self, env: &Environment, r: &Resource) -> Result<Vec<Resource>> {
        let mut chain = vec![r.clone()];
        while let Some(parent) = chain.last().and_then(|c| c.parent_resource_id.clone()) {
            if chain.len() >= MAX_DEPTH {
                break;
            }
            match self.store.find_resource(&env.id, &parent).await? {
                Some(p) => chain.push(p),
                None => break,
            }
        }
        Ok(chain)
    }

    pub async fn create_resource(&self, env: &Environment, new: NewResource) -> Result<Resource> {
        check_text("name", &new.name, 48)?;
        check_description(new.description.as_deref())?;
        if new.external_id.is_empty() || new.external_id.chars().count() > 128 {
            return Err(Error::validation("external_id", "invalid", "external_id must be 1 to 128 characters."));
        }
        self.check_resource_type(env, &new.resource_type_slug).await?;
        let org = self.get_organization(env, &new.organization_id).await?;
        let parent = match &new.parent {
            None => None,
            Some(p) => {
                let parent = self.resource_in(env, &org.id, p).await?;
                if self.lineage(env, &parent).await?.len() >= MAX_DEPTH {
                    return Err(Error::validation(
                        "parent_resource_id",
                        "invalid",
                        format!("Resources nest at most {MAX_DEPTH} deep."),
                    ));
                }
                Some(parent.id)
            }
        };
        let now = self.now();
        let resource = Resource {
            id: new_id("authz_resource"),
            environment_id: env.id.clone(),
            organization_id: org.id,
            resource_type_slug: new.resource_type_slug,
            external_id: new.external_id,
            name: new.name.trim().to_owned(),
            description: new.description,
            parent_resource_id: parent,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_resource(&resource).await?;
        Ok(resource)
    }

    pub async fn list_resources(
        &self,
        env: &Environment,
        filter: ResourceFilter,
        cursor: Cursor,
    ) -> Result<Page<Resource>> {
        let parent_resource_id = match filter.parent {
            None => None,
            Some(ResourceRef::Id(id)) => Some(id),
            Some(r @ ResourceRef::External { .. }) => {
                let Some(org) = filter.organization_id.as_deref() else {
                    return Err(Error::validation(
                        "organization_id",
                        "required",
                        "organization_id is required to name the parent by its external ID.",
                    ));
                };
                match self.resource_in(env, org, &r).await {
                    Ok(parent) => Some(parent.id),
                    Err(Error::NotFound { .. }) => return Ok(Page { items: Vec::new(), has_more: false }),
                    Err(e) => return Err(e),
                }
            }
        };
        let q = ResourceQuery {
            organization_id: filter.organization_id,
            resource_type_slug: filter.resource_type_slug,
            external_id: filter.external_id,
            parent_resource_id,
            search: filter.search.filter(|s| !s.is_empty()),
            cursor: Some(cursor),
        };
        Ok(self.store.list_resources(&env.id, &q).await?)
    }

    pub async fn update_resource(
        &self,
        env: &Environment,
        t: &ResourceTarget,
        patch: ResourcePatch,
    ) -> Result<Resource> {
        let mut r = self.get_resource(env, t).await?;
        if let Some(name) = patch.name {
            check_text("name", &name, 48)?;
            r.name = name.trim().to_owned();
        }
        if let Some(description) = patch.description {
            check_description(description.as_deref())?;
            r.description = description;
        }
        r.updated_at = self.now();
        self.store.update_resource(&r).await?;
        Ok(r)
    }

    /// Deletes a resource; with `cascade` its descendants and the role assignments on them
    /// too, else only one without either (409 `resource_has_dependents`).
    pub async fn delete_resource(&self, env: &Environment, t: &ResourceTarget, cascade: bool) -> Result<()> {
        let r = self.get_resource(env, t).await?;
        match self.store.delete_resource(&r, cascade).await? {
            ResourceDeletion::Deleted => Ok(()),
            ResourceDeletion::Gone => Err(not_found("AuthorizationResource", &r.id)),
            ResourceDeletion::HasDependents => Err(Error::Rejected {
                reason: super::error::Rejection::ResourceHasDependents,
                message: "The resource has child resources or role assignments; delete with cascade_delete=true to \
                          delete them too."
                    .into(),
            }),
        }
    }

    // ---- role assignments ----

    async fn membership_of(&self, env: &Environment, id: &str) -> Result<Membership> {
        self.store.find_membership(&env.id, id).await?.ok_or_else(|| not_found("OrganizationMembership", id))
    }

    async fn roles_of(&self, env: &Environment, organization_id: &str) -> Result<Vec<Role>> {
        self.store.ensure_built_in_roles(&env.id, self.now()).await?;
        Ok(self.store.list_roles(&env.id, Some(organization_id)).await?)
    }

    /// Gives a membership a role on a resource of its organization.
    pub async fn assign_role(
        &self,
        env: &Environment,
        membership_id: &str,
        role_slug: &str,
        r: &ResourceRef,
    ) -> Result<AssignmentView> {
        let membership = self.membership_of(env, membership_id).await?;
        let roles = self.roles_of(env, &membership.organization_id).await?;
        if resolve_role(&roles, role_slug).is_none() {
            return Err(Error::validation("role_slug", "invalid_role", format!("There is no role '{role_slug}'.")));
        }
        let resource = self.resource_in(env, &membership.organization_id, r).await?;
        let now = self.now();
        let assignment = RoleAssignment {
            id: new_id("role_assignment"),
            environment_id: env.id.clone(),
            organization_membership_id: membership.id,
            role_slug: role_slug.to_owned(),
            resource_id: resource.id.clone(),
            created_at: now,
            updated_at: now,
        };
        self.store.insert_role_assignment(&assignment).await?;
        Ok(AssignmentView { assignment, resource })
    }

    /// A membership's role assignments, optionally only those on one resource (by ID), on
    /// resources of an external ID and/or type.
    pub async fn list_role_assignments(
        &self,
        env: &Environment,
        membership_id: &str,
        mut q: AssignmentQuery,
        cursor: Cursor,
    ) -> Result<Page<AssignmentView>> {
        let membership = self.membership_of(env, membership_id).await?;
        q.membership_id = Some(membership.id);
        self.assignment_views(env, &q, cursor).await
    }

    /// The role assignments on one resource (every membership's), optionally of one role.
    pub async fn list_resource_role_assignments(
        &self,
        env: &Environment,
        t: &ResourceTarget,
        role_slug: Option<String>,
        cursor: Cursor,
    ) -> Result<Page<AssignmentView>> {
        let resource = self.get_resource(env, t).await?;
        let q = AssignmentQuery { resource_id: Some(resource.id), role_slug, ..Default::default() };
        self.assignment_views(env, &q, cursor).await
    }

    async fn assignment_views(
        &self,
        env: &Environment,
        q: &AssignmentQuery,
        cursor: Cursor,
    ) -> Result<Page<AssignmentView>> {
        let page = self.store.list_role_assignments(&env.id, q, &cursor).await?;
        let mut resources: HashMap<String, Resource> = HashMap::new();
        let mut items = Vec::with_capacity(page.items.len());
        for assignment in page.items {
            if !resources.contains_key(&assignment.resource_id)
                && let Some(r) = self.store.find_resource(&env.id, &assignment.resource_id).await?
            {
                resources.insert(r.id.clone(), r);
            }
            if let Some(resource) = resources.get(&assignment.resource_id).cloned() {
                items.push(AssignmentView { assignment, resource });
            }
        }
        Ok(Page { items, has_more: page.has_more })
    }

    /// Takes a role off a membership on a resource.
    pub async fn remove_role(
        &self,
        env: &Environment,
        membership_id: &str,
        role_slug: &str,
        r: &ResourceRef,
    ) -> Result<()> {
        let membership = self.membership_of(env, membership_id).await?;
        let resource = self.resource_in(env, &membership.organization_id, r).await?;
        if !self.store.delete_role_assignment_by(&membership.id, role_slug, &resource.id).await? {
            return Err(not_found("RoleAssignment", role_slug));
        }
        Ok(())
    }

    pub async fn remove_role_assignment(&self, env: &Environment, membership_id: &str, id: &str) -> Result<()> {
        let membership = self.membership_of(env, membership_id).await?;
        if !self.store.delete_role_assignment(&membership.id, id).await? {
            return Err(not_found("RoleAssignment", id));
        }
        Ok(())
    }

    // ---- checks and listings ----

    /// The permission slugs `membership` has on `resource` (none if it is not active).
    async fn permissions_on(
        &self,
        env: &Environment,
        membership: &Membership,
        resource: &Resource,
    ) -> Result<Vec<String>> {
        if membership.status != MembershipStatus::Active {
            return Ok(Vec::new());
        }
        let lineage: Vec<String> = self.lineage(env, resource).await?.into_iter().map(|r| r.id).collect();
        let assigned: Vec<String> =
            self.store.assignments_on(&membership.id, &lineage).await?.into_iter().map(|a| a.role_slug).collect();
        let roles = self.roles_of(env, &membership.organization_id).await?;
        Ok(effective_permissions(&roles, &membership.role_slugs, &assigned))
    }

    /// `POST …/organization_memberships/{id}/check`.
    pub async fn check_permission(
        &self,
        env: &Environment,
        membership_id: &str,
        permission_slug: &str,
        r: &ResourceRef,
    ) -> Result<bool> {
        check_permission_slug(permission_slug)?;
        let membership = self.membership_of(env, membership_id).await?;
        let resource = self.resource_in(env, &membership.organization_id, r).await?;
        Ok(self.permissions_on(env, &membership, &resource).await?.iter().any(|p| p == permission_slug))
    }

    /// The permissions (objects) a membership has on a resource, by ID.
    pub async fn effective_permissions(
        &self,
        env: &Environment,
        membership_id: &str,
        r: &ResourceRef,
        cursor: Cursor,
    ) -> Result<Page<Permission>> {
        let membership = self.membership_of(env, membership_id).await?;
        let resource = self.resource_in(env, &membership.organization_id, r).await?;
        let slugs = self.permissions_on(env, &membership, &resource).await?;
        let mut permissions = Vec::with_capacity(slugs.len());
        for slug in &slugs {
            if let Some(p) = self.store.find_permission(&env.id, slug).await? {
                permissions.push(p);
            }
        }
        permissions.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(page_in_memory(permissions, |p| &p.id, &cursor))
    }

    /// The children of a resource (the organization's top-level resources without one) on
    /// which the membership has `permission_slug`.
    pub async fn resources_for_membership(
        &self,
        env: &Environment,
        membership_id: &str,
        permission_slug: &str,
        parent: Option<&ResourceRef>,
        cursor: Cursor,
    ) -> Result<Page<Resource>> {
        check_permission_slug(permission_slug)?;
        let membership = self.membership_of(env, membership_id).await?;
        let children = match parent {
            Some(p) => {
                let parent = self.resource_in(env, &membership.organization_id, p).await?;
                let q = ResourceQuery { parent_resource_id: Some(parent.id), ..Default::default() };
                self.store.list_resources(&env.id, &q).await?.items
            }
            None => self.store.root_resources(&env.id, &membership.organization_id).await?,
        };
        let mut allowed = Vec::new();
        for child in children {
            if self.permissions_on(env, &membership, &child).await?.iter().any(|p| p == permission_slug) {
                allowed.push(child);
            }
        }
        Ok(page_in_memory(allowed, |r| &r.id, &cursor))
    }

    /// The active memberships that have `permission_slug` on a resource: with `direct`, only
    /// through a role assigned on the resource itself.
    pub async fn memberships_for_resource(
        &self,
        env: &Environment,
        t: &ResourceTarget,
        permission_slug: &str,
        direct: bool,
        cursor: Cursor,
    ) -> Result<Page<MembershipView>> {
        check_permission_slug(permission_slug)?;
        let resource = self.get_resource(env, t).await?;
        let roles = self.roles_of(env, &resource.organization_id).await?;
        let mut matching: Vec<Membership> = Vec::new();
        if direct {
            let mut ids: Vec<String> = Vec::new();
            for a in self.store.assignments_on_resource(&resource.id).await? {
                let grants = resolve_role(&roles, &a.role_slug)
                    .is_some_and(|r| r.permissions.iter().any(|p| p == permission_slug));
                if grants && !ids.contains(&a.organization_membership_id) {
                    ids.push(a.organization_membership_id);
                }
            }
            for id in ids {
                if let Some(m) = self.store.find_membership(&env.id, &id).await?
                    && m.status == MembershipStatus::Active
                {
                    matching.push(m);
                }
            }
        } else {
            for m in self.store.organization_members(&resource.organization_id).await? {
                if self.permissions_on(env, &m, &resource).await?.iter().any(|p| p == permission_slug) {
                    matching.push(m);
                }
            }
        }
        matching.sort_by(|a, b| a.id.cmp(&b.id));
        let page = page_in_memory(matching, |m| &m.id, &cursor);
        let organization_name = self.get_organization(env, &resource.organization_id).await?.name;
        let mut items = Vec::with_capacity(page.items.len());
        for membership in page.items {
            let user = self.get_user(env, &membership.user_id).await?;
            items.push(MembershipView { membership, user, organization_name: organization_name.clone() });
        }
        Ok(Page { items, has_more: page.has_more })
    }

    // ---- environment roles ----

    /// Deletes an environment role (the CLI; WorkOS's API has no such endpoint), with
    /// `role.deleted` and the audit event, in one transaction. Refused for the default role and
    /// while a membership holds it or a role assignment gives it.
    pub async fn delete_environment_role(&self, env: &Environment, slug: &str, actor: &Actor) -> Result<()> {
        if slug == DEFAULT_ROLE {
            return Err(in_use(format!(
                "'{DEFAULT_ROLE}' is the default role (new memberships get it); it cannot be removed."
            )));
        }
        let mut role = self.get_role(env, None, slug).await?;
        let before = serde_json::json!({
            "slug": role.slug, "name": role.name, "description": role.description, "permissions": role.permissions,
        });
        role.updated_at = self.now();
        let events = [
            NewEvent::role("deleted", &role),
            audit_event("gatehouse.role.deleted", actor, target("role", slug), before, serde_json::Value::Null),
        ];
        match self.store.delete_environment_role(&role, self.now(), &events).await? {
            RoleDeletion::Deleted => Ok(()),
            RoleDeletion::Gone => Err(not_found("Role", slug)),
            RoleDeletion::UsedByMemberships(n) => Err(in_use(format!(
                "Role '{slug}' is held by {n} organization membership(s); give them another role first."
            ))),
            RoleDeletion::UsedByAssignments(n) => Err(in_use(format!(
                "Role '{slug}' is given by {n} role assignment(s) on resources; remove them first."
            ))),
        }
    }
}
