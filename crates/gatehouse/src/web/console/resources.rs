//! An organization's authorization resource
//! (`/dashboard/env/{env}/organizations/{id}/resources/{resource}`): what it is, where it sits
//! (its parent and its children), and the role assignments on it, which an admin gives and
//! takes away (confirmed); an admin also renames it and deletes it (confirmed, with the
//! resources under it and every assignment on them). The app creates resources through
//! `/authorization/resources`; the organization's page lists them. The same service calls as
//! the API, so the same checks and messages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::organization_changes::org_base;
use super::page::{self, Change, Confirm, Console, FormError, PageError};
use super::setup::when;
use crate::domain::listing::{Cursor, ListOrder, MembershipQuery};
use crate::domain::organization::Organization;
use crate::domain::resource::{AssignmentQuery, Resource};
use crate::service::environments::LoadedEnvironment;
use crate::service::resources::{ResourceFilter, ResourcePatch, ResourceRef, ResourceTarget};
use crate::web::AppState;

/// Children, assignments and members listed on the page (the API pages through more).
const SHOWN: u32 = 100;

fn shown() -> Cursor {
    Cursor { limit: SHOWN, before: None, after: None, order: ListOrder::Asc }
}

/// A resource's page under its organization.
pub(super) fn resource_url(env: &str, r: &Resource) -> String {
    format!("/dashboard/env/{env}/organizations/{}/resources/{}", r.organization_id, r.id)
}

/// `/dashboard/env/{env}/organizations/{id}/resources/{resource}`.
#[derive(Deserialize)]
pub struct ResourcePath {
    env: String,
    id: String,
    resource: String,
}

/// The environment, the organization and its resource the path names; another organization's
/// resource is not found here.
struct Subject {
    env: Arc<LoadedEnvironment>,
    org: Organization,
    resource: Resource,
}

impl Subject {
    async fn find(state: &AppState, console: &Console, path: &ResourcePath) -> Result<Subject, PageError> {
        let env = console.environment(state, &path.env).await?;
        let org = state.core.get_organization(&env, &path.id).await?;
        let resource = state.core.get_resource(&env, &ResourceTarget::Id(path.resource.clone())).await?;
        if resource.organization_id != org.id {
            return Err(PageError::NotFound(format!("No resource {} in {}.", path.resource, org.name)));
        }
        Ok(Subject { env, org, resource })
    }

    fn url(&self) -> String {
        resource_url(&self.env.name, &self.resource)
    }

    fn target(&self) -> ResourceTarget {
        ResourceTarget::Id(self.resource.id.clone())
    }
}

/// The resource's page; with `error`, the refused form again (422), what was `posted` kept.
async fn resource_page(
    state: &AppState,
    console: &Console,
    subject: &Subject,
    status: StatusCode,
    posted: Option<&Change>,
    error: Option<FormError>,
) -> Result<Response, PageError> {
    let (env, org, r) = (&subject.env, &subject.org, &subject.resource);
    let parent = match &r.parent_resource_id {
        Some(id) => Some(state.core.get_resource(env, &ResourceTarget::Id(id.clone())).await?),
        None => None,
    };
    let filter = ResourceFilter {
        organization_id: Some(org.id.clone()),
        parent: Some(ResourceRef::Id(r.id.clone())),
        ..Default::default()
    };
    let children = state.core.list_resources(env, filter, shown()).await?;
    let assignments = state.core.list_resource_role_assignments(env, &subject.target(), None, shown()).await?;
    let members = state
        .core
        .list_memberships(
            env,
            MembershipQuery {
                user_id: None,
                organization_id: Some(org.id.clone()),
                statuses: Vec::new(),
                cursor: shown(),
            },
        )
        .await?;
    let by_membership: HashMap<&str, _> = members.items.iter().map(|m| (m.membership.id.as_str(), m)).collect();
    let roles = state.core.list_roles(env, Some(&org.id)).await?;
    let view = |r: &Resource| {
        context! { name => &r.name, url => resource_url(&env.name, r), kind => &r.resource_type_slug, external_id => &r.external_id }
    };
    // A refused edit shows what was posted; otherwise the resource as stored.
    let details = match posted.filter(|_| error.as_ref().is_some_and(|e| e.form == "details")) {
        Some(c) => context! { name => c.field("name"), description => c.field("description") },
        None => context! { name => &r.name, description => &r.description },
    };
    let ctx = context! {
        title => &r.name,
        details,
        url => subject.url(),
        org => context! { name => &org.name, url => org_base(&env.name, &org.id) },
        resource => context! {
            id => &r.id, name => &r.name, kind => &r.resource_type_slug, external_id => &r.external_id,
            description => &r.description, created => when(r.created_at), updated => when(r.updated_at),
        },
        parent => parent.as_ref().map(view),
        children => children.items.iter().map(view).collect::<Vec<_>>(),
        more_children => children.has_more,
        assignments => assignments.items.iter().map(|a| {
            let m = by_membership.get(a.assignment.organization_membership_id.as_str());
            context! {
                id => &a.assignment.id, membership_id => &a.assignment.organization_membership_id,
                role => &a.assignment.role_slug, since => when(a.assignment.created_at),
                email => m.map(|m| &m.user.email), user_id => m.map(|m| &m.user.id),
            }
        }).collect::<Vec<_>>(),
        more_assignments => assignments.has_more,
        members => members.items.iter().map(|m| context! { id => &m.membership.id, email => &m.user.email, status => m.membership.status.as_str() }).collect::<Vec<_>>(),
        roles => roles.iter().map(|r| context! { slug => &r.slug, name => &r.name }).collect::<Vec<_>>(),
        ..FormError::context(error.as_ref())
    };
    console.render_status(state, status, "console/resource.html", Some(&env.name), "organizations", ctx).await
}

/// `GET …/organizations/{id}/resources/{resource}`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(path): Path<ResourcePath>,
) -> Result<Response, PageError> {
    let subject = Subject::find(&state, &console, &path).await?;
    resource_page(&state, &console, &subject, StatusCode::OK, None, None).await
}

/// `POST …/resources/{resource}/edit`: its name and description (empty clears it); its type,
/// external ID and place stay.
pub async fn edit(
    State(state): State<AppState>,
    Path(path): Path<ResourcePath>,
    change: Change,
) -> Result<Response, PageError> {
    let subject = Subject::find(&state, &change.console, &path).await?;
    let patch = ResourcePatch { name: Some(change.field("name")), description: Some(change.optional("description")) };
    match state.core.update_resource(&subject.env, &subject.target(), patch).await {
        Ok(r) => Ok(page::done(&state, &subject.url(), &format!("Resource {} saved.", r.name))),
        Err(e) => {
            let error = FormError::refused(e, "name")?.in_form("details");
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            resource_page(&state, &change.console, &subject, status, Some(&change), Some(error)).await
        }
    }
}

/// `POST …/resources/{resource}/assign`: gives a member (`membership_id`) a role (`role_slug`)
/// on the resource, and so on every resource under it.
pub async fn assign(
    State(state): State<AppState>,
    Path(path): Path<ResourcePath>,
    change: Change,
) -> Result<Response, PageError> {
    let subject = Subject::find(&state, &change.console, &path).await?;
    let (membership_id, role) = (change.field("membership_id"), change.field("role_slug"));
    let on = ResourceRef::Id(subject.resource.id.clone());
    match state.core.assign_role(&subject.env, &membership_id, &role, &on).await {
        Ok(_) => Ok(page::done(&state, &subject.url(), &format!("Role {role} given on {}.", subject.resource.name))),
        Err(e) => {
            let error = FormError::refused(e, "membership_id")?.in_form("assign");
            resource_page(&state, &change.console, &subject, StatusCode::UNPROCESSABLE_ENTITY, None, Some(error)).await
        }
    }
}

/// `POST …/resources/{resource}/unassign` (confirmed): takes away one assignment on it
/// (`assignment_id`, of the membership `membership_id`).
pub async fn unassign(
    State(state): State<AppState>,
    Path(path): Path<ResourcePath>,
    change: Change,
) -> Result<Response, PageError> {
    let subject = Subject::find(&state, &change.console, &path).await?;
    let (env, r) = (&subject.env, &subject.resource);
    let (id, membership_id) = (change.field("assignment_id"), change.field("membership_id"));
    // The membership's assignments on this resource: one per role at most, however many the
    // resource has.
    let q = AssignmentQuery { resource_id: Some(r.id.clone()), ..Default::default() };
    let on_it = state.core.list_role_assignments(env, &membership_id, q, shown()).await?.items;
    let Some(a) = on_it.into_iter().map(|a| a.assignment).find(|a| a.id == id) else {
        return Err(PageError::NotFound(format!("No role assignment {id} on {}.", r.name)));
    };
    let back = subject.url();
    if !change.confirmed() {
        let title = format!("Take the role {} on {} away?", a.role_slug, r.name);
        let action = format!("{back}/unassign");
        return change
            .console
            .confirm(
                &state,
                Some(&env.name),
                Confirm {
                    title: &title,
                    consequence: "The member keeps their other roles. Checks on this resource and the resources \
                                  under it stop counting this one at once.",
                    action: &action,
                    fields: &[("assignment_id", &a.id), ("membership_id", &a.organization_membership_id)],
                    back: &back,
                    button: "Take role away",
                },
            )
            .await;
    }
    state.core.remove_role_assignment(env, &a.organization_membership_id, &a.id).await?;
    Ok(page::done(&state, &back, &format!("Role {} on {} taken away.", a.role_slug, r.name)))
}

/// `POST …/resources/{resource}/delete` (confirmed): the resource, the resources under it and
/// the role assignments on all of them.
pub async fn delete(
    State(state): State<AppState>,
    Path(path): Path<ResourcePath>,
    change: Change,
) -> Result<Response, PageError> {
    let subject = Subject::find(&state, &change.console, &path).await?;
    let (env, org, r) = (&subject.env, &subject.org, &subject.resource);
    let back = subject.url();
    if !change.confirmed() {
        let title = format!("Delete the resource {}?", r.name);
        let consequence = format!(
            "The resource {} ({} {}) is deleted with every resource under it and every role assignment on them. \
             Apps that still name it get \"not found\". This cannot be undone.",
            r.name, r.resource_type_slug, r.external_id
        );
        let action = format!("{back}/delete");
        return change
            .console
            .confirm(
                &state,
                Some(&env.name),
                Confirm {
                    title: &title,
                    consequence: &consequence,
                    action: &action,
                    fields: &[],
                    back: &back,
                    button: "Delete resource",
                },
            )
            .await;
    }
    state.core.delete_resource(env, &subject.target(), true).await?;
    let org_url = format!("{}#resources", org_base(&env.name, &org.id));
    Ok(page::done(&state, &org_url, &format!("Resource {} deleted.", r.name)))
}
