//! The changes an admin makes on the console's Organizations pages: create, rename and delete
//! an organization; add, verify and remove its domains; change a member's role, deactivate,
//! reactivate or remove them; send and revoke invitations; add a role of its own (its page is
//! `roles.rs`'s). Each calls the same service as the API; a refusal shows the page again (422)
//! with the service's own message. Destructive actions confirm first and say what ends.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use super::organizations::{ListQuery, list_page, org_page};
use super::page::{self, Change, Confirm, PageError};
use crate::service::Error;
use crate::service::invitations::NewInvitation;
use crate::service::organizations::{NewOrganization, OrganizationPatch};
use crate::web::AppState;

/// An organization's page.
pub(super) fn org_base(env: &str, id: &str) -> String {
    format!("/dashboard/env/{env}/organizations/{id}")
}

/// The organization's page again with `error` shown at the form named `form`.
async fn refused(
    state: &AppState,
    change: &Change,
    env: &str,
    id: &str,
    form: &str,
    e: Error,
) -> Result<Response, PageError> {
    let error = page::refusal(e)?;
    let extra = context! { form_error => context! { form => form, message => error } };
    org_page(state, &change.console, env, id, StatusCode::UNPROCESSABLE_ENTITY, extra).await
}

/// A thing named in a form that is not this organization's: not found.
fn not_here(kind: &'static str, id: &str) -> PageError {
    Error::NotFound { kind, id: id.to_owned() }.into()
}

/// `POST /dashboard/env/{env}/organizations`: a new organization (its name).
pub async fn create(
    State(state): State<AppState>,
    Path(env_name): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let new = NewOrganization { name: change.field("name"), ..Default::default() };
    match state.core.create_organization(&env, new).await {
        Ok(org) => {
            Ok(page::done(&state, &org_base(&env.name, &org.id), &format!("Organization {} created.", org.name)))
        }
        Err(e) => {
            let extra = context! { create_error => page::refusal(e)?, open_create => true };
            list_page(&state, &change.console, &env_name, ListQuery::default(), StatusCode::UNPROCESSABLE_ENTITY, extra)
                .await
        }
    }
}

/// `POST …/organizations/{id}/rename`.
pub async fn rename(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let patch = OrganizationPatch { name: Some(change.field("name")), ..Default::default() };
    match state.core.update_organization(&env, &id, patch).await {
        Ok(org) => Ok(page::done(&state, &org_base(&env.name, &org.id), "Organization renamed.")),
        Err(e) => refused(&state, &change, &env_name, &id, "rename", e).await,
    }
}

/// `POST …/organizations/{id}/delete` (confirmed).
pub async fn delete(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let org = state.core.get_organization(&env, &id).await?;
    let base = org_base(&env.name, &org.id);
    if !change.confirmed() {
        let title = format!("Delete the organization {}?", org.name);
        let action = format!("{base}/delete");
        return change
            .console
            .confirm(&state, Some(&env.name), Confirm {
                title: &title,
                consequence: "The organization, its domains, roles and invitations are deleted, every membership in it ends, and every session signed in to it ends (apps are signed out at their next refresh). The users themselves stay. This cannot be undone.",
                action: &action,
                fields: &[],
                back: &base,
                button: "Delete organization",
            })
            .await;
    }
    state.core.delete_organization(&env, &org.id).await?;
    let list = format!("/dashboard/env/{}/organizations", env.name);
    Ok(page::done(&state, &list, &format!("Organization {} deleted.", org.name)))
}

/// `POST …/organizations/{id}/domains/add`: a pending domain, with its TXT record to create.
pub async fn add_domain(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    match state.core.create_domain(&env, &id, &change.field("domain")).await {
        Ok(d) => Ok(page::done(
            &state,
            &org_base(&env.name, &id),
            &format!("Domain {} added: create its TXT record, then verify it.", d.domain),
        )),
        Err(e) => refused(&state, &change, &env_name, &id, "domain", e).await,
    }
}

/// `POST …/organizations/{id}/domains/verify`: checks the TXT record now.
pub async fn verify_domain(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let domain_id = change.field("domain_id");
    let d = state.core.get_domain(&env, &domain_id).await?;
    if d.organization_id != id {
        return Err(not_here("OrganizationDomain", &domain_id));
    }
    match state.core.verify_domain(&env, &d.id).await {
        Ok(d) => {
            let notice = match &d.failure_reason {
                None => format!("Domain {} verified.", d.domain),
                Some(reason) => format!("Domain {} not verified: {reason}", d.domain),
            };
            Ok(page::done(&state, &org_base(&env.name, &id), &notice))
        }
        Err(e) => refused(&state, &change, &env_name, &id, "domains", e).await,
    }
}

/// `POST …/organizations/{id}/domains/remove` (confirmed).
pub async fn remove_domain(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let domain_id = change.field("domain_id");
    let d = state.core.get_domain(&env, &domain_id).await?;
    if d.organization_id != id {
        return Err(not_here("OrganizationDomain", &domain_id));
    }
    let base = org_base(&env.name, &id);
    if !change.confirmed() {
        let title = format!("Remove the domain {}?", d.domain);
        let action = format!("{base}/domains/remove");
        return change
            .console
            .confirm(&state, Some(&env.name), Confirm {
                title: &title,
                consequence: "The organization no longer claims this domain: users with addresses there stop joining it automatically, and verifying it again needs a new TXT record. Existing memberships stay.",
                action: &action,
                fields: &[("domain_id", &d.id)],
                back: &base,
                button: "Remove domain",
            })
            .await;
    }
    state.core.delete_domain(&env, &d.id).await?;
    Ok(page::done(&state, &base, &format!("Domain {} removed.", d.domain)))
}

/// The membership a form names, checked to be in organization `id`.
async fn member_of(
    state: &AppState,
    env: &crate::domain::environment::Environment,
    id: &str,
    membership_id: &str,
) -> Result<crate::service::organizations::MembershipView, PageError> {
    let m = state.core.get_membership(env, membership_id).await?;
    if m.membership.organization_id != id {
        return Err(not_here("OrganizationMembership", membership_id));
    }
    Ok(m)
}

/// `POST …/organizations/{id}/members/role`: the member's role from now on.
pub async fn member_role(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let m = member_of(&state, &env, &id, &change.field("membership_id")).await?;
    let role = change.field("role_slug");
    match state.core.update_membership_roles(&env, &m.membership.id, Some(vec![role.clone()])).await {
        Ok(_) => Ok(page::done(&state, &org_base(&env.name, &id), &format!("{} is now {role}.", m.user.email))),
        Err(e) => refused(&state, &change, &env_name, &id, "members", e).await,
    }
}

/// `POST …/organizations/{id}/members/deactivate` (confirmed) and `…/reactivate`.
async fn set_active(
    state: AppState,
    env_name: String,
    id: String,
    change: Change,
    active: bool,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let m = member_of(&state, &env, &id, &change.field("membership_id")).await?;
    let base = org_base(&env.name, &id);
    if !active && !change.confirmed() {
        let title = format!("Deactivate {} in this organization?", m.user.email);
        let action = format!("{base}/members/deactivate");
        return change
            .console
            .confirm(&state, Some(&env.name), Confirm {
                title: &title,
                consequence: "The membership becomes inactive: the user can no longer sign in to this organization, and their sessions in it end. Reactivating gives it back with the same role.",
                action: &action,
                fields: &[("membership_id", &m.membership.id)],
                back: &base,
                button: "Deactivate",
            })
            .await;
    }
    match state.core.set_membership_active(&env, &m.membership.id, active).await {
        Ok(_) => {
            let done = if active { "reactivated" } else { "deactivated" };
            Ok(page::done(&state, &base, &format!("{} {done}.", m.user.email)))
        }
        Err(e) => refused(&state, &change, &env_name, &id, "members", e).await,
    }
}

pub async fn deactivate_member(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    set_active(state, env_name, id, change, false).await
}

pub async fn reactivate_member(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    set_active(state, env_name, id, change, true).await
}

/// `POST …/organizations/{id}/members/remove` (confirmed).
pub async fn remove_member(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let m = member_of(&state, &env, &id, &change.field("membership_id")).await?;
    let base = org_base(&env.name, &id);
    if !change.confirmed() {
        let title = format!("Remove {} from {}?", m.user.email, m.organization_name);
        let action = format!("{base}/members/remove");
        return change
            .console
            .confirm(&state, Some(&env.name), Confirm {
                title: &title,
                consequence: "The membership is deleted and the user's sessions in this organization end (apps are signed out at their next refresh). The user keeps their account.",
                action: &action,
                fields: &[("membership_id", &m.membership.id)],
                back: &base,
                button: "Remove member",
            })
            .await;
    }
    state.core.delete_membership(&env, &m.membership.id).await?;
    Ok(page::done(&state, &base, &format!("{} removed.", m.user.email)))
}

/// `POST …/organizations/{id}/invitations/send`: invites an address (the email goes out).
pub async fn send_invitation(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let org = state.core.get_organization(&env, &id).await?;
    let role = change.field("role_slug");
    let new = NewInvitation {
        email: change.field("email"),
        organization_id: Some(org.id.clone()),
        role_slug: Some(role).filter(|r| !r.is_empty()),
        ..Default::default()
    };
    match state.core.create_invitation(&env, new).await {
        Ok(i) => Ok(page::done(
            &state,
            &org_base(&env.name, &org.id),
            &format!("Invitation sent to {}.", i.invitation.email),
        )),
        Err(e) => refused(&state, &change, &env_name, &id, "invite", e).await,
    }
}

/// `POST …/organizations/{id}/invitations/revoke` (confirmed).
pub async fn revoke_invitation(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let invitation_id = change.field("invitation_id");
    let i = state.core.get_invitation(&env, &invitation_id).await?;
    if i.invitation.organization_id.as_deref() != Some(id.as_str()) {
        return Err(not_here("Invitation", &invitation_id));
    }
    let base = org_base(&env.name, &id);
    if !change.confirmed() {
        let title = format!("Revoke the invitation of {}?", i.invitation.email);
        let action = format!("{base}/invitations/revoke");
        return change
            .console
            .confirm(&state, Some(&env.name), Confirm {
                title: &title,
                consequence: "The link in the invitation email stops working at once. You can invite the address again later.",
                action: &action,
                fields: &[("invitation_id", &i.invitation.id)],
                back: &base,
                button: "Revoke invitation",
            })
            .await;
    }
    match state.core.revoke_invitation(&env, &i.invitation.id).await {
        Ok(_) => Ok(page::done(&state, &base, &format!("Invitation of {} revoked.", i.invitation.email))),
        Err(e) => refused(&state, &change, &env_name, &id, "invitations", e).await,
    }
}

/// `POST …/organizations/{id}/roles`: a role of the organization's own (name, description, and
/// a slug `org-…`, made from the name when left empty); on to its page to grant permissions.
pub async fn add_role(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let (slug, name, description) = (change.optional("slug"), change.field("name"), change.optional("description"));
    match state.core.create_role(&env, Some(&id), slug, name, description).await {
        Ok(role) => Ok(page::done(
            &state,
            &super::roles::role_url(&env, &role),
            &format!("Role {} added to the organization. Choose the permissions it grants.", role.slug),
        )),
        Err(e @ Error::NotFound { .. }) => Err(e.into()),
        Err(e) => refused(&state, &change, &env_name, &id, "org-role", e).await,
    }
}
