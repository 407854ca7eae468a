//! Roles and permissions, per environment: the environment's roles with the permissions each
//! grants, adding a role, and per role its name and description, its permissions (checkboxes)
//! and removing it (confirmed; refused for the default role and while memberships or resource
//! assignments hold it); the permissions, adding, renaming and removing one (confirmed: it
//! leaves every role). The same service calls as `/authorization/roles…` in the API and `gatehouse
//! roles`, so the same checks, messages and events (`role.*`, `permission.*`), with the operator
//! as their actor. The role page also serves an organization's own roles, under the
//! organization (`organization_changes::add_role` adds them). The page also lists the resource
//! types, which `resource_types.rs` adds and removes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use super::page::{self, Change, Confirm, Console, FormError, PageError};
use super::setup::when;
use crate::domain::listing::{Cursor, ListOrder};
use crate::domain::organization::{DEFAULT_ROLE, Organization, Permission, Role};
use crate::service::Error;
use crate::service::environments::LoadedEnvironment;
use crate::service::organizations::RolePatch;
use crate::web::AppState;

/// The most permissions the pages list (the API pages through any number).
const PERMISSIONS_SHOWN: usize = 500;

pub(super) fn base(env: &LoadedEnvironment) -> String {
    format!("/dashboard/env/{}/roles", env.name)
}

/// A role's page, by its ID (a slug may be `..`, which no path can carry): the environment's
/// under Roles, an organization's own under the organization.
pub(super) fn role_url(env: &LoadedEnvironment, role: &Role) -> String {
    match &role.organization_id {
        None => format!("{}/{}", base(env), role.id),
        Some(org) => format!("/dashboard/env/{}/organizations/{org}/roles/{}", env.name, role.id),
    }
}

/// A role page's path: `/dashboard/env/{env}/roles/{role}`, or an organization's own role at
/// `/dashboard/env/{env}/organizations/{id}/roles/{role}` (`id` as in the organization's other
/// routes).
#[derive(Deserialize)]
pub struct RolePath {
    env: String,
    #[serde(rename = "id")]
    org: Option<String>,
    role: String,
}

/// What a role page is about: the environment, the organization that owns the role (`None`:
/// the environment's own role) and the role.
struct Subject {
    env: Arc<LoadedEnvironment>,
    org: Option<Organization>,
    role: Role,
}

impl Subject {
    async fn find(state: &AppState, console: &Console, path: &RolePath) -> Result<Subject, PageError> {
        let env = console.environment(state, &path.env).await?;
        let org = match &path.org {
            Some(id) => Some(state.core.get_organization(&env, id).await?),
            None => None,
        };
        let owner = org.as_ref().map(|o| o.id.as_str());
        let role = state
            .core
            .list_roles(&env, owner)
            .await?
            .into_iter()
            .find(|r| r.id == path.role && r.organization_id.as_deref() == owner)
            .ok_or_else(|| PageError::NotFound(format!("No role {} here.", path.role)))?;
        Ok(Subject { env, org, role })
    }

    fn org_id(&self) -> Option<&str> {
        self.org.as_ref().map(|o| o.id.as_str())
    }
}

/// The form field of one permission's checkbox.
fn permission_field(slug: &str) -> String {
    format!("permission:{slug}")
}

/// The environment's permissions, oldest first, up to [`PERMISSIONS_SHOWN`]; and whether there
/// are more.
async fn permissions(state: &AppState, env: &LoadedEnvironment) -> Result<(Vec<Permission>, bool), PageError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let cursor = Cursor { limit: 100, before: None, after, order: ListOrder::Asc };
        let page = state.core.list_permissions(env, cursor).await?;
        after = page.items.last().map(|p| p.id.clone());
        all.extend(page.items);
        if !page.has_more || after.is_none() {
            return Ok((all, false));
        }
        if all.len() >= PERMISSIONS_SHOWN {
            return Ok((all, true));
        }
    }
}

fn role_view(env: &LoadedEnvironment, r: &Role) -> Value {
    context! {
        slug => &r.slug, name => &r.name, description => &r.description, permissions => &r.permissions,
        url => role_url(env, r), default => r.slug == DEFAULT_ROLE,
        created => when(r.created_at), updated => when(r.updated_at),
    }
}

fn permission_view(p: &Permission) -> Value {
    context! { slug => &p.slug, name => &p.name, description => &p.description, created => when(p.created_at) }
}

/// The fields a refused add form showed, to fill it again.
fn posted_fields(posted: Option<&Change>, form: &str, error: Option<&FormError>) -> Value {
    match posted.filter(|_| error.is_some_and(|e| e.form == form)) {
        Some(c) => context! { slug => c.field("slug"), name => c.field("name"), description => c.field("description") },
        None => context! {},
    }
}

/// The Roles page: roles, permissions and resource types (`resource_types.rs` changes those);
/// with `error`, the refused form again, what was `posted` kept.
pub(super) async fn list_page(
    state: &AppState,
    console: &Console,
    env: &LoadedEnvironment,
    status: StatusCode,
    posted: Option<&Change>,
    error: Option<FormError>,
) -> Result<Response, PageError> {
    let roles: Vec<Value> = state.core.list_roles(env, None).await?.iter().map(|r| role_view(env, r)).collect();
    let (permissions, more_permissions) = permissions(state, env).await?;
    let resource_types = state.core.list_resource_types(env).await?;
    let ctx = context! {
        title => "Roles and permissions", roles, more_permissions,
        resource_types => resource_types.iter().map(|t| context! { slug => &t.slug, name => &t.name, created => when(t.created_at) }).collect::<Vec<_>>(),
        type_form => posted_fields(posted, "resource-type", error.as_ref()),
        permissions => permissions.iter().map(permission_view).collect::<Vec<_>>(),
        role_form => posted_fields(posted, "role", error.as_ref()),
        permission_form => posted_fields(posted, "permission", error.as_ref()),
        edit_form => match posted.filter(|_| error.as_ref().is_some_and(|e| e.form == "permission-edit")) {
            Some(c) => context! { slug => c.field("permission"), name => c.field("name"), description => c.field("description") },
            None => context! {},
        },
        ..FormError::context(error.as_ref())
    };
    console.render_status(state, status, "console/roles.html", Some(&env.name), "roles", ctx).await
}

/// `GET /dashboard/env/{env}/roles`.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    list_page(&state, &console, &env, StatusCode::OK, None, None).await
}

/// The add-a-role and add-a-permission forms' fields: slug, name and description.
fn added_fields(change: &Change) -> (String, String, Option<String>) {
    (change.field("slug"), change.field("name"), change.optional("description"))
}

/// After an add form: on to the page and notice `outcome` gives, or the list again (422) with
/// the refusal at the form `form`.
async fn after_adding(
    state: &AppState,
    change: &Change,
    env: &LoadedEnvironment,
    form: &'static str,
    outcome: Result<(String, String), Error>,
) -> Result<Response, PageError> {
    match outcome {
        Ok((location, notice)) => Ok(page::done(state, &location, &notice)),
        Err(e) => {
            let error = FormError::refused(e, "slug")?.in_form(form);
            list_page(state, &change.console, env, StatusCode::UNPROCESSABLE_ENTITY, Some(change), Some(error)).await
        }
    }
}

/// `POST /dashboard/env/{env}/roles`: a new environment role (slug, name, description).
pub async fn add_role(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let (slug, name, description) = added_fields(&change);
    let outcome =
        state.core.create_role(&env, None, Some(slug), name, description).await.map(|role| {
            (role_url(&env, &role), format!("Role {} added. Choose the permissions it grants.", role.slug))
        });
    after_adding(&state, &change, &env, "role", outcome).await
}

/// `POST /dashboard/env/{env}/permissions`: a new permission (slug, name, description).
pub async fn add_permission(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let (slug, name, description) = added_fields(&change);
    let outcome = state.core.create_permission(&env, slug, name, description).await.map(|p| {
        (
            format!("{}#permissions", base(&env)),
            format!("Permission {} added. Roles grant it from their own pages.", p.slug),
        )
    });
    after_adding(&state, &change, &env, "permission", outcome).await
}

/// `POST /dashboard/env/{env}/permissions/edit` with `permission`: its name and description
/// (empty clears it); the slug stays.
pub async fn edit_permission(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let permission = state.core.get_permission(&env, &change.field("permission")).await?;
    let patch = RolePatch { name: Some(change.field("name")), description: Some(change.optional("description")) };
    match state.core.update_permission(&env, &permission.slug, patch).await {
        Ok(p) => {
            Ok(page::done(&state, &format!("{}#permissions", base(&env)), &format!("Permission {} saved.", p.slug)))
        }
        Err(e) => {
            let error = FormError::refused(e, "name")?.in_form("permission-edit");
            list_page(&state, &change.console, &env, StatusCode::UNPROCESSABLE_ENTITY, Some(&change), Some(error)).await
        }
    }
}

/// `POST /dashboard/env/{env}/permissions/remove` with `permission` (confirmed).
pub async fn remove_permission(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let permission = state.core.get_permission(&env, &change.field("permission")).await?;
    let back = base(&env);
    if !change.confirmed() {
        let action = format!("/dashboard/env/{}/permissions/remove", env.name);
        let title = format!("Remove the permission {}?", permission.slug);
        let consequence = "Every role that grants it stops granting it, and tokens issued from now on leave it out \
                           of their permissions claim. Tokens already issued keep it until they expire.";
        return change
            .console
            .confirm(
                &state,
                Some(&env.name),
                Confirm {
                    title: &title,
                    consequence,
                    action: &action,
                    fields: &[("permission", &permission.slug)],
                    back: &format!("{back}#permissions"),
                    button: "Remove permission",
                },
            )
            .await;
    }
    state.core.delete_permission(&env, &permission.slug).await?;
    Ok(page::done(&state, &format!("{back}#permissions"), &format!("Permission {} removed.", permission.slug)))
}

/// The role's page again (422) with the refusal `e` shown at its form `form`, about `field`
/// when the refusal names none.
async fn refused(
    state: &AppState,
    change: &Change,
    subject: &Subject,
    e: Error,
    form: &'static str,
    field: &str,
) -> Result<Response, PageError> {
    let error = FormError::refused(e, field)?.in_form(form);
    role_page(state, &change.console, subject, StatusCode::UNPROCESSABLE_ENTITY, Some(change), Some(error)).await
}

async fn role_page(
    state: &AppState,
    console: &Console,
    subject: &Subject,
    status: StatusCode,
    posted: Option<&Change>,
    error: Option<FormError>,
) -> Result<Response, PageError> {
    let Subject { env, org, role } = subject;
    let (permissions, more_permissions) = permissions(state, env).await?;
    // A refused form shows what was posted; otherwise the role as stored.
    let posted_to = |form: &str| posted.filter(|_| error.as_ref().is_some_and(|e| e.form == form));
    let granted = |slug: &str| match posted_to("permissions") {
        Some(c) => !c.field(&permission_field(slug)).is_empty(),
        None => role.permissions.iter().any(|p| p == slug),
    };
    let choices: Vec<Value> = permissions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            context! {
                id => format!("permission-{i}"), field => permission_field(&p.slug), slug => &p.slug,
                name => &p.name, checked => granted(&p.slug),
            }
        })
        .collect();
    let details = match posted_to("details") {
        Some(c) => context! { name => c.field("name"), description => c.field("description") },
        None => context! { name => &role.name, description => &role.description },
    };
    // The page it belongs to: Roles, or its organization's page.
    let owner = match org {
        None => context! { url => base(env), label => "Roles and permissions" },
        Some(o) => context! { url => format!("/dashboard/env/{}/organizations/{}", env.name, o.id), label => &o.name },
    };
    let section = if org.is_some() { "organizations" } else { "roles" };
    let ctx = context! {
        title => &role.name, role => role_view(env, role), choices, more_permissions, details, owner,
        own => org.is_some(),
        ..FormError::context(error.as_ref())
    };
    console.render_status(state, status, "console/role.html", Some(&env.name), section, ctx).await
}

/// `GET /dashboard/env/{env}/roles/{role}` and `…/organizations/{id}/roles/{role}`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(path): Path<RolePath>,
) -> Result<Response, PageError> {
    let subject = Subject::find(&state, &console, &path).await?;
    role_page(&state, &console, &subject, StatusCode::OK, None, None).await
}

/// `POST …/roles/{role}/edit`: the name and the description (empty clears it).
pub async fn edit(
    State(state): State<AppState>,
    Path(path): Path<RolePath>,
    change: Change,
) -> Result<Response, PageError> {
    let subject = Subject::find(&state, &change.console, &path).await?;
    let patch = RolePatch { name: Some(change.field("name")), description: Some(change.optional("description")) };
    match state.core.update_role(&subject.env, subject.org_id(), &subject.role.slug, patch).await {
        Ok(role) => Ok(page::done(&state, &role_url(&subject.env, &role), "Role saved.")),
        Err(e) => refused(&state, &change, &subject, e, "details", "name").await,
    }
}

/// `POST …/roles/{role}/permissions`: the permissions it grants, as ticked (none clears them).
pub async fn set_permissions(
    State(state): State<AppState>,
    Path(path): Path<RolePath>,
    change: Change,
) -> Result<Response, PageError> {
    let subject = Subject::find(&state, &change.console, &path).await?;
    let (env, role) = (&subject.env, &subject.role);
    let (permissions, _) = permissions(&state, env).await?;
    let mut ticked: Vec<String> = permissions
        .iter()
        .filter(|p| !change.field(&permission_field(&p.slug)).is_empty())
        .map(|p| p.slug.clone())
        .collect();
    // Permissions past the page's list had no checkbox: the role keeps those it grants.
    ticked.extend(role.permissions.iter().filter(|g| !permissions.iter().any(|p| &p.slug == *g)).cloned());
    match state.core.set_role_permissions(env, subject.org_id(), &role.slug, ticked, true).await {
        Ok(role) => {
            let notice = match role.permissions.len() {
                0 => format!("{} now grants no permissions.", role.slug),
                n => format!("{} now grants {n} permission{}.", role.slug, if n == 1 { "" } else { "s" }),
            };
            Ok(page::done(&state, &role_url(env, &role), &notice))
        }
        Err(e) => refused(&state, &change, &subject, e, "permissions", "permissions").await,
    }
}

/// `POST …/roles/{role}/remove` (confirmed). An environment role is refused, on its page, when it
/// is the default role or while a membership or a resource assignment holds it; an
/// organization's own role goes with the resource assignments that give it.
pub async fn remove(
    State(state): State<AppState>,
    Path(path): Path<RolePath>,
    change: Change,
) -> Result<Response, PageError> {
    let subject = Subject::find(&state, &change.console, &path).await?;
    let (env, role) = (&subject.env, &subject.role);
    let back = role_url(env, role);
    if !change.confirmed() {
        let action = format!("{back}/remove");
        let title = format!("Remove the role {}?", role.slug);
        let consequence = match &subject.org {
            None => "The role goes from the environment. Gatehouse refuses while an organization membership \
                     holds it or a role assignment on a resource gives it."
                .to_owned(),
            Some(o) => format!(
                "The role goes from {}, with the role assignments on resources that give it. Members who hold \
                 it get no permissions from it from their next token on; give them another role.",
                o.name
            ),
        };
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
                    button: "Remove role",
                },
            )
            .await;
    }
    let (removed, after) = match &subject.org {
        None => (state.core.delete_environment_role(env, &role.slug, &change.actor()).await, base(env)),
        Some(o) => (
            state.core.delete_organization_role(env, &o.id, &role.slug).await,
            format!("/dashboard/env/{}/organizations/{}", env.name, o.id),
        ),
    };
    match removed {
        Ok(()) => Ok(page::done(&state, &after, &format!("Role {} removed.", role.slug))),
        Err(e) => refused(&state, &change, &subject, e, "remove", "").await,
    }
}
