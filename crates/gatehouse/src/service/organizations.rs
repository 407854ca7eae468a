//! Organizations, memberships, roles and permissions: the management use cases, and what a
//! session in an organization carries (`organization_access`).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::organization_domains::{DomainInput, normalize_inputs};
use super::users::check_metadata;
use super::{Core, Error, Result};
use crate::domain::environment::Environment;
use crate::domain::event::NewEvent;
use crate::domain::listing::{Cursor, MembershipQuery, OrganizationQuery, Page};
use crate::domain::organization::{
    DEFAULT_ROLE, Membership, MembershipStatus, Organization, OrganizationAccess, Permission, Role,
    is_valid_organization_role_slug, is_valid_slug,
};
use crate::domain::user::User;
use crate::ids::new_id;

/// A new organization, parsed from the wire.
#[derive(Debug, Default)]
pub struct NewOrganization {
    pub name: String,
    pub external_id: Option<String>,
    pub metadata: Map<String, Value>,
    pub allow_profiles_outside_organization: bool,
    pub require_mfa: bool,
    /// Gatehouse's auto-join policy (`Organization::domain_auto_join`).
    pub domain_auto_join: bool,
    /// Its domains (`domain_data`, or `domains` as pending ones).
    pub domains: Vec<DomainInput>,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Default)]
pub struct OrganizationPatch {
    pub name: Option<String>,
    pub external_id: Option<Option<String>>,
    /// Keys with `null` values are removed.
    pub metadata: Option<Map<String, Value>>,
    pub allow_profiles_outside_organization: Option<bool>,
    pub require_mfa: Option<bool>,
    pub domain_auto_join: Option<bool>,
    /// The organization's domains from now on (`None`: unchanged).
    pub domains: Option<Vec<DomainInput>>,
}

/// A membership with what its wire shape shows beside it.
#[derive(Clone, Debug)]
pub struct MembershipView {
    pub membership: Membership,
    pub user: User,
    pub organization_name: String,
}

/// Which organization a new session enters.
#[derive(Debug)]
pub enum OrganizationChoice {
    /// This one (`None`: the user belongs to none).
    Enter(Option<Box<OrganizationAccess>>),
    /// The user is an active member of several: `(id, name)` of each, to choose from.
    Choose(Vec<(String, String)>),
}

/// A role's editable text.
#[derive(Debug, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
}

const MAX_EXTERNAL_ID_CHARS: usize = 128;

fn check_name(field: &str, name: &str, max: usize) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > max || name.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            "invalid",
            format!("{field} is required: 1 to {max} printable characters."),
        ));
    }
    Ok(())
}

fn check_external_id(external_id: Option<&str>) -> Result<()> {
    if external_id.is_some_and(|e| e.is_empty() || e.chars().count() > MAX_EXTERNAL_ID_CHARS) {
        return Err(Error::validation(
            "external_id",
            "invalid",
            format!("external_id must be 1 to {MAX_EXTERNAL_ID_CHARS} characters."),
        ));
    }
    Ok(())
}

fn check_description(description: Option<&str>) -> Result<()> {
    if description.is_some_and(|d| d.chars().count() > 150) {
        return Err(Error::validation("description", "invalid", "description must be at most 150 characters."));
    }
    Ok(())
}

fn not_found(kind: &'static str, id: &str) -> Error {
    Error::NotFound { kind, id: id.to_owned() }
}

impl Core {
    // ---- organizations ----

    pub async fn create_organization(&self, env: &Environment, new: NewOrganization) -> Result<Organization> {
        check_name("name", &new.name, 256)?;
        check_external_id(new.external_id.as_deref())?;
        check_metadata(&new.metadata)?;
        let inputs = normalize_inputs("domain_data", new.domains)?;
        self.check_verified_elsewhere(&env.id, None, &inputs).await?;
        let now = self.now();
        let mut org = Organization {
            id: new_id("org"),
            environment_id: env.id.clone(),
            name: new.name.trim().to_owned(),
            external_id: new.external_id,
            metadata: new.metadata,
            allow_profiles_outside_organization: new.allow_profiles_outside_organization,
            require_mfa: new.require_mfa,
            domain_auto_join: new.domain_auto_join,
            domains: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        let (domains, _, domain_events) = self.domain_changes(&[], &env.id, &org.id, &inputs, now);
        org.domains = domains;
        let mut events = vec![NewEvent::organization("organization.created", &org)];
        events.extend(domain_events);
        self.store.insert_organization(&org, &events).await?;
        Ok(org)
    }

    pub async fn get_organization(&self, env: &Environment, id: &str) -> Result<Organization> {
        self.store.find_organization(&env.id, id).await?.ok_or_else(|| not_found("Organization", id))
    }

    pub async fn get_organization_by_external_id(&self, env: &Environment, external_id: &str) -> Result<Organization> {
        self.store
            .find_organization_by_external_id(&env.id, external_id)
            .await?
            .ok_or_else(|| not_found("Organization", external_id))
    }

    pub async fn list_organizations(&self, env: &Environment, q: OrganizationQuery) -> Result<Page<Organization>> {
        Ok(self.store.list_organizations(&env.id, &q).await?)
    }

    pub async fn update_organization(
        &self,
        env: &Environment,
        id: &str,
        patch: OrganizationPatch,
    ) -> Result<Organization> {
        let mut org = self.get_organization(env, id).await?;
        let before = NewEvent::organization("organization.updated", &org);
        if let Some(name) = patch.name {
            check_name("name", &name, 256)?;
            org.name = name.trim().to_owned();
        }
        if let Some(external_id) = patch.external_id {
            check_external_id(external_id.as_deref())?;
            org.external_id = external_id;
        }
        if let Some(changes) = patch.metadata {
            for (k, v) in changes {
                if v.is_null() {
                    org.metadata.remove(&k);
                } else {
                    org.metadata.insert(k, v);
                }
            }
            check_metadata(&org.metadata)?;
        }
        if let Some(allow) = patch.allow_profiles_outside_organization {
            org.allow_profiles_outside_organization = allow;
        }
        if let Some(require) = patch.require_mfa {
            org.require_mfa = require;
        }
        if let Some(auto_join) = patch.domain_auto_join {
            org.domain_auto_join = auto_join;
        }
        let now = self.now();
        org.updated_at = now;
        let (changes, domain_events) = match patch.domains {
            None => (Default::default(), Vec::new()),
            Some(inputs) => {
                let inputs = normalize_inputs("domain_data", inputs)?;
                self.check_verified_elsewhere(&env.id, Some(&org.id), &inputs).await?;
                let (domains, changes, events) = self.domain_changes(&org.domains, &env.id, &org.id, &inputs, now);
                org.domains = domains;
                (changes, events)
            }
        };
        let mut events = vec![NewEvent::organization("organization.updated", &org).with_before(before)];
        events.extend(domain_events);
        self.store.update_organization(&org, &changes, &events).await?;
        Ok(org)
    }

    /// Deletes an organization, its memberships and roles, and ends the sessions in it.
    pub async fn delete_organization(&self, env: &Environment, id: &str) -> Result<()> {
        let mut org = self.get_organization(env, id).await?;
        org.updated_at = self.now();
        let events = [NewEvent::organization("organization.deleted", &org)];
        if !self.store.delete_organization(&env.id, id, self.now(), &events).await? {
            return Err(not_found("Organization", id));
        }
        Ok(())
    }

    // ---- memberships ----

    /// The role slugs a membership asks for, checked: each an environment role or one of the
    /// organization's. `None` gives the default role.
    async fn check_role_slugs(
        &self,
        env: &Environment,
        org_id: &str,
        slugs: Option<Vec<String>>,
    ) -> Result<Vec<String>> {
        self.store.ensure_built_in_roles(&env.id, self.now()).await?;
        let slugs = match slugs {
            None => return Ok(vec![DEFAULT_ROLE.to_owned()]),
            Some(s) if s.is_empty() => {
                return Err(Error::validation("role_slugs", "invalid", "role_slugs must name at least one role."));
            }
            Some(s) => s,
        };
        let roles = self.store.list_roles(&env.id, Some(org_id)).await?;
        let mut out: Vec<String> = Vec::new();
        for slug in slugs {
            if !roles.iter().any(|r| r.slug == slug) {
                return Err(Error::validation("role_slug", "invalid_role", format!("There is no role '{slug}'.")));
            }
            if !out.contains(&slug) {
                out.push(slug);
            }
        }
        Ok(out)
    }

    pub async fn create_membership(
        &self,
        env: &Environment,
        user_id: &str,
        organization_id: &str,
        role_slugs: Option<Vec<String>>,
    ) -> Result<MembershipView> {
        let user = self.get_user(env, user_id).await?;
        let org = self.get_organization(env, organization_id).await?;
        let role_slugs = self.check_role_slugs(env, &org.id, role_slugs).await?;
        let now = self.now();
        let membership = Membership {
            id: new_id("om"),
            environment_id: env.id.clone(),
            organization_id: org.id.clone(),
            user_id: user.id.clone(),
            status: MembershipStatus::Active,
            role_slugs,
            created_at: now,
            updated_at: now,
        };
        let events = [NewEvent::membership("organization_membership.created", &membership, &org.name)];
        self.store.insert_membership(&membership, &events).await?;
        Ok(MembershipView { membership, user, organization_name: org.name })
    }

    async fn membership(&self, env: &Environment, id: &str) -> Result<Membership> {
        self.store.find_membership(&env.id, id).await?.ok_or_else(|| not_found("OrganizationMembership", id))
    }

    async fn view(&self, env: &Environment, membership: Membership) -> Result<MembershipView> {
        let user = self.get_user(env, &membership.user_id).await?;
        let org = self.get_organization(env, &membership.organization_id).await?;
        Ok(MembershipView { membership, user, organization_name: org.name })
    }

    pub async fn get_membership(&self, env: &Environment, id: &str) -> Result<MembershipView> {
        let membership = self.membership(env, id).await?;
        self.view(env, membership).await
    }

    /// Memberships by user or organization (WorkOS requires one of them).
    pub async fn list_memberships(&self, env: &Environment, q: MembershipQuery) -> Result<Page<MembershipView>> {
        if q.user_id.is_none() && q.organization_id.is_none() {
            return Err(Error::validation(
                "user_id",
                "required",
                "Either user_id or organization_id must be provided.",
            ));
        }
        let page = self.store.list_memberships(&env.id, &q).await?;
        let mut users: HashMap<String, User> = HashMap::new();
        let mut names: HashMap<String, String> = HashMap::new();
        let mut items = Vec::with_capacity(page.items.len());
        for membership in page.items {
            if !users.contains_key(&membership.user_id) {
                users.insert(membership.user_id.clone(), self.get_user(env, &membership.user_id).await?);
            }
            if !names.contains_key(&membership.organization_id) {
                let org = self.get_organization(env, &membership.organization_id).await?;
                names.insert(org.id, org.name);
            }
            let user = users.get(&membership.user_id).cloned().ok_or_else(|| not_found("User", &membership.user_id))?;
            let organization_name = names.get(&membership.organization_id).cloned().unwrap_or_default();
            items.push(MembershipView { membership, user, organization_name });
        }
        Ok(Page { items, has_more: page.has_more })
    }

    pub async fn update_membership_roles(
        &self,
        env: &Environment,
        id: &str,
        role_slugs: Option<Vec<String>>,
    ) -> Result<MembershipView> {
        let mut membership = self.membership(env, id).await?;
        if role_slugs.is_some() {
            let old = membership.clone();
            membership.role_slugs = self.check_role_slugs(env, &membership.organization_id, role_slugs).await?;
            membership.updated_at = self.now();
            let view = self.view(env, membership).await?;
            let events = [membership_updated(&old, &view)];
            self.store.update_membership(&view.membership, self.now(), &events).await?;
            return Ok(view);
        }
        self.view(env, membership).await
    }

    /// Deactivates (ending the user's sessions in the organization) or reactivates a membership.
    pub async fn set_membership_active(&self, env: &Environment, id: &str, active: bool) -> Result<MembershipView> {
        let mut membership = self.membership(env, id).await?;
        let target = if active { MembershipStatus::Active } else { MembershipStatus::Inactive };
        if membership.status == MembershipStatus::Pending && active {
            return Err(Error::Rejected {
                reason: super::error::Rejection::MembershipPending,
                message: "A pending organization membership cannot be reactivated. The user needs to accept the \
                          invitation."
                    .into(),
            });
        }
        if membership.status != target {
            let old = membership.clone();
            membership.status = target;
            membership.updated_at = self.now();
            let view = self.view(env, membership).await?;
            let events = [membership_updated(&old, &view)];
            self.store.update_membership(&view.membership, self.now(), &events).await?;
            return Ok(view);
        }
        self.view(env, membership).await
    }

    /// Deletes a membership and ends the user's sessions in the organization.
    pub async fn delete_membership(&self, env: &Environment, id: &str) -> Result<()> {
        let mut membership = self.membership(env, id).await?;
        let organization_name = self.get_organization(env, &membership.organization_id).await?.name;
        membership.updated_at = self.now();
        let events = [NewEvent::membership("organization_membership.deleted", &membership, &organization_name)];
        self.store.delete_membership(&membership, self.now(), &events).await?;
        Ok(())
    }

    // ---- roles ----

    /// The environment's roles (the built-in `member` and `admin` first created if missing),
    /// and the organization's own when one is given.
    pub async fn list_roles(&self, env: &Environment, organization_id: Option<&str>) -> Result<Vec<Role>> {
        if let Some(org) = organization_id {
            self.get_organization(env, org).await?;
        }
        self.store.ensure_built_in_roles(&env.id, self.now()).await?;
        Ok(self.store.list_roles(&env.id, organization_id).await?)
    }

    pub async fn get_role(&self, env: &Environment, organization_id: Option<&str>, slug: &str) -> Result<Role> {
        if let Some(org) = organization_id {
            self.get_organization(env, org).await?;
        }
        self.store.ensure_built_in_roles(&env.id, self.now()).await?;
        self.store.find_role(&env.id, organization_id, slug).await?.ok_or_else(|| not_found("Role", slug))
    }

    /// Creates an environment role, or an organization's own role (slug `org-…`; generated
    /// from the name when absent).
    pub async fn create_role(
        &self,
        env: &Environment,
        organization_id: Option<&str>,
        slug: Option<String>,
        name: String,
        description: Option<String>,
    ) -> Result<Role> {
        check_name("name", &name, 48)?;
        check_description(description.as_deref())?;
        if let Some(org) = organization_id {
            self.get_organization(env, org).await?;
        }
        let slug = match (slug, organization_id) {
            (Some(slug), None) if is_valid_slug(&slug) => slug,
            (Some(slug), Some(_)) if is_valid_organization_role_slug(&slug) => slug,
            (None, Some(_)) => {
                let base: String = name
                    .to_lowercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .take(30)
                    .collect();
                let suffix = new_id("").to_lowercase();
                format!("org-{}-{}", base.trim_matches('-'), &suffix[suffix.len() - 6..])
            }
            (None, None) => return Err(Error::validation("slug", "required", "slug is required.")),
            (Some(_), org) => {
                let rule = if org.is_some() { "start with 'org-' and " } else { "" };
                return Err(Error::validation(
                    "slug",
                    "invalid",
                    format!("slug must {rule}be 1 to 48 lower-case letters, digits or -_:.*"),
                ));
            }
        };
        self.store.ensure_built_in_roles(&env.id, self.now()).await?;
        let now = self.now();
        let role = Role {
            id: new_id("role"),
            environment_id: env.id.clone(),
            organization_id: organization_id.map(str::to_owned),
            slug,
            name: name.trim().to_owned(),
            description,
            permissions: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        self.store.insert_role(&role, &[NewEvent::role("created", &role)]).await?;
        Ok(role)
    }

    pub async fn update_role(
        &self,
        env: &Environment,
        organization_id: Option<&str>,
        slug: &str,
        patch: RolePatch,
    ) -> Result<Role> {
        let mut role = self.get_role(env, organization_id, slug).await?;
        if let Some(name) = patch.name {
            check_name("name", &name, 48)?;
            role.name = name.trim().to_owned();
        }
        if let Some(description) = patch.description {
            check_description(description.as_deref())?;
            role.description = description;
        }
        role.updated_at = self.now();
        self.store.update_role(&role, &[NewEvent::role("updated", &role)]).await?;
        Ok(role)
    }

    /// Sets a role's permissions (`replace`), or adds one permission to them.
    pub async fn set_role_permissions(
        &self,
        env: &Environment,
        organization_id: Option<&str>,
        slug: &str,
        permissions: Vec<String>,
        replace: bool,
    ) -> Result<Role> {
        let mut role = self.get_role(env, organization_id, slug).await?;
        for p in &permissions {
            if self.store.find_permission(&env.id, p).await?.is_none() {
                return Err(Error::validation("permissions", "invalid", format!("There is no permission '{p}'.")));
            }
        }
        if replace {
            role.permissions.clear();
        }
        for p in permissions {
            if !role.permissions.contains(&p) {
                role.permissions.push(p);
            }
        }
        role.updated_at = self.now();
        self.store.update_role(&role, &[NewEvent::role("updated", &role)]).await?;
        Ok(role)
    }

    /// Takes one permission out of a role.
    pub async fn remove_role_permission(
        &self,
        env: &Environment,
        organization_id: Option<&str>,
        slug: &str,
        permission: &str,
    ) -> Result<Role> {
        let mut role = self.get_role(env, organization_id, slug).await?;
        role.permissions.retain(|p| p != permission);
        role.updated_at = self.now();
        self.store.update_role(&role, &[NewEvent::role("updated", &role)]).await?;
        Ok(role)
    }

    /// Deletes one of an organization's own roles.
    pub async fn delete_organization_role(&self, env: &Environment, organization_id: &str, slug: &str) -> Result<()> {
        let mut role = self.get_role(env, Some(organization_id), slug).await?;
        role.updated_at = self.now();
        self.store.delete_role(&role, self.now(), &[NewEvent::role("deleted", &role)]).await?;
        Ok(())
    }

    // ---- permissions ----

    pub async fn create_permission(
        &self,
        env: &Environment,
        slug: String,
        name: String,
        description: Option<String>,
    ) -> Result<Permission> {
        if !is_valid_slug(&slug) {
            return Err(Error::validation(
                "slug",
                "invalid",
                "slug must be 1 to 48 lower-case letters, digits or -_:.*",
            ));
        }
        check_name("name", &name, 48)?;
        check_description(description.as_deref())?;
        let now = self.now();
        let permission = Permission {
            id: new_id("perm"),
            environment_id: env.id.clone(),
            slug,
            name: name.trim().to_owned(),
            description,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_permission(&permission, &[NewEvent::permission("created", &permission)]).await?;
        Ok(permission)
    }

    pub async fn get_permission(&self, env: &Environment, slug: &str) -> Result<Permission> {
        self.store.find_permission(&env.id, slug).await?.ok_or_else(|| not_found("Permission", slug))
    }

    pub async fn list_permissions(&self, env: &Environment, cursor: Cursor) -> Result<Page<Permission>> {
        Ok(self.store.list_permissions(&env.id, &cursor).await?)
    }

    pub async fn update_permission(&self, env: &Environment, slug: &str, patch: RolePatch) -> Result<Permission> {
        let mut permission = self.get_permission(env, slug).await?;
        if let Some(name) = patch.name {
            check_name("name", &name, 48)?;
            permission.name = name.trim().to_owned();
        }
        if let Some(description) = patch.description {
            check_description(description.as_deref())?;
            permission.description = description;
        }
        permission.updated_at = self.now();
        self.store.update_permission(&permission, &[NewEvent::permission("updated", &permission)]).await?;
        Ok(permission)
    }

    /// Deletes a permission and takes it out of every role (each such role records a
    /// `role.updated`).
    pub async fn delete_permission(&self, env: &Environment, slug: &str) -> Result<()> {
        let permission = self.get_permission(env, slug).await?;
        let events = [NewEvent::permission("deleted", &permission)];
        self.store.delete_permission(&permission, self.now(), &events).await?;
        Ok(())
    }

    // ---- sessions in an organization ----

    /// What a session of `user_id` in `organization_id` carries, if the user may enter it: the
    /// organization must exist in the environment and the membership be active.
    pub async fn organization_access(
        &self,
        environment_id: &str,
        organization_id: &str,
        user_id: &str,
    ) -> Result<OrganizationAccess> {
        let rejected = |reason, message: String| Error::Rejected { reason, message };
        let organization = self.store.find_organization(environment_id, organization_id).await?.ok_or_else(|| {
            rejected(
                super::error::Rejection::OrganizationNotFound,
                format!("Organization not found: '{organization_id}'."),
            )
        })?;
        let membership = self
            .store
            .find_membership_of(organization_id, user_id)
            .await?
            .filter(|m| m.status == MembershipStatus::Active)
            .ok_or_else(|| {
                rejected(
                    super::error::Rejection::NotAMember,
                    format!("The user is not an active member of organization '{organization_id}'."),
                )
            })?;
        let permissions = self.store.membership_permissions(&membership).await?;
        Ok(OrganizationAccess { organization, membership, permissions, joined: false })
    }

    /// `organization_access` for a sign-in: besides an active membership, the organization
    /// the user may join through a verified domain (auto-join), whose membership (default
    /// role) the session start then creates.
    pub async fn sign_in_access(
        &self,
        environment_id: &str,
        organization_id: &str,
        user: &User,
    ) -> Result<OrganizationAccess> {
        match self.organization_access(environment_id, organization_id, &user.id).await {
            Err(Error::Rejected { reason: super::error::Rejection::NotAMember, message }) => {
                if self.auto_join_target(environment_id, user).await?.as_deref() != Some(organization_id) {
                    return Err(Error::Rejected { reason: super::error::Rejection::NotAMember, message });
                }
                self.joining_access(environment_id, organization_id, user).await
            }
            other => other,
        }
    }

    /// The access of a user about to join `organization_id` by auto-join: a new active
    /// membership with the default role.
    async fn joining_access(
        &self,
        environment_id: &str,
        organization_id: &str,
        user: &User,
    ) -> Result<OrganizationAccess> {
        let organization = self
            .store
            .find_organization(environment_id, organization_id)
            .await?
            .ok_or_else(|| not_found("Organization", organization_id))?;
        self.store.ensure_built_in_roles(environment_id, self.now()).await?;
        let now = self.now();
        let membership = Membership {
            id: new_id("om"),
            environment_id: environment_id.to_owned(),
            organization_id: organization_id.to_owned(),
            user_id: user.id.clone(),
            status: MembershipStatus::Active,
            role_slugs: vec![DEFAULT_ROLE.to_owned()],
            created_at: now,
            updated_at: now,
        };
        let permissions = self.store.membership_permissions(&membership).await?;
        Ok(OrganizationAccess { organization, membership, permissions, joined: true })
    }

    /// The organization a sign-in that named none enters: the user's only active membership's
    /// (counting one auto-join would create), none without one, or a choice among several.
    pub async fn choose_organization(&self, environment_id: &str, user: &User) -> Result<OrganizationChoice> {
        let mut candidates = self.active_organizations(environment_id, user).await?;
        match candidates.as_slice() {
            [] => Ok(OrganizationChoice::Enter(None)),
            [(org, _)] => {
                Ok(OrganizationChoice::Enter(Some(Box::new(self.sign_in_access(environment_id, org, user).await?))))
            }
            _ => Ok(OrganizationChoice::Choose(std::mem::take(&mut candidates))),
        }
    }

    /// The organizations `user` may enter: `(id, name)` of each active membership, oldest
    /// first, then the one auto-join would let them join, if any.
    pub async fn active_organizations(&self, environment_id: &str, user: &User) -> Result<Vec<(String, String)>> {
        let mut out: Vec<(String, String)> =
            self.store.active_memberships(&user.id).await?.into_iter().map(|(_, o)| (o.id, o.name)).collect();
        if let Some(org) = self.auto_join_target(environment_id, user).await?
            && let Some(o) = self.store.find_organization(environment_id, &org).await?
        {
            out.push((o.id, o.name));
        }
        Ok(out)
    }
}

/// `organization_membership.updated` for a membership that was `old` and is now `view`'s.
fn membership_updated(old: &Membership, view: &MembershipView) -> NewEvent {
    NewEvent::membership("organization_membership.updated", &view.membership, &view.organization_name)
        .with_before(NewEvent::membership("organization_membership.updated", old, &view.organization_name))
}
