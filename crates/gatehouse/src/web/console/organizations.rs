//! The console's Organizations pages (`/dashboard/env/{env}/organizations…`): the list (search
//! by part of the name) and one organization with its members, roles, invitations, domains
//! (each domain's TXT record to create) and authorization resources (each with its own page,
//! `resources.rs`). The changes they offer are in `organization_changes.rs`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use super::page::{Console, PageError};
use super::resources::resource_url;
use super::setup::when;
use crate::domain::listing::{Cursor, ListOrder, MembershipQuery, OrganizationQuery};
use crate::service::resources::ResourceFilter;
use crate::web::AppState;

const PAGE_SIZE: u32 = 50;
/// Members, invitations, resources shown on an organization's page (the API pages through more).
const SHOWN: u32 = 100;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    after: Option<String>,
    before: Option<String>,
}

fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `GET /dashboard/env/{env}/organizations`.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    list_page(&state, &console, &env, query, StatusCode::OK, context! {}).await
}

/// The list of organizations, with `extra` (the create form's error) merged in.
pub(super) async fn list_page(
    state: &AppState,
    console: &Console,
    env: &str,
    query: ListQuery,
    status: StatusCode,
    extra: Value,
) -> Result<Response, PageError> {
    let env = console.environment(state, env).await?;
    let q: String = query.q.trim().chars().take(200).collect();
    let before = query.before.filter(|c| is_id(c));
    let after = query.after.filter(|c| is_id(c)).filter(|_| before.is_none());
    let moved = before.is_some() || after.is_some();
    let backward = before.is_some();
    let cursor = Cursor { limit: PAGE_SIZE, before, after, order: ListOrder::Desc };
    let search = Some(q.clone()).filter(|s| !s.is_empty());
    let page = state.core.list_organizations(&env, OrganizationQuery { search, cursor }).await?;
    let base = format!("/dashboard/env/{}/organizations", env.name);
    let link = |key: &str, id: &str| super::users::href(&base, &[("q", q.as_str()), (key, id)]);
    let (more_after, more_before) = if backward { (true, page.has_more) } else { (page.has_more, moved) };
    let organizations: Vec<minijinja::Value> = page
        .items
        .iter()
        .map(|o| {
            context! {
                id => &o.id, name => &o.name, external_id => &o.external_id, require_mfa => o.require_mfa,
                created => when(o.created_at),
            }
        })
        .collect();
    let ctx = context! {
        title => "Organizations",
        q => &q,
        organizations,
        next => page.items.last().filter(|_| more_after).map(|o| link("after", &o.id)),
        previous => page.items.first().filter(|_| more_before).map(|o| link("before", &o.id)),
    };
    let ctx = context! { ..extra, ..ctx };
    console.render_status(state, status, "console/organizations.html", Some(&env.name), "organizations", ctx).await
}

/// `GET /dashboard/env/{env}/organizations/{id}`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path((env, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    org_page(&state, &console, &env, &id, StatusCode::OK, context! {}).await
}

/// An organization's page, with `extra` (a form's error) merged in.
pub(super) async fn org_page(
    state: &AppState,
    console: &Console,
    env: &str,
    id: &str,
    status: StatusCode,
    extra: Value,
) -> Result<Response, PageError> {
    let env = console.environment(state, env).await?;
    let org = state.core.get_organization(&env, id).await?;
    let cursor = || Cursor { limit: SHOWN, before: None, after: None, order: ListOrder::Desc };
    let members = state
        .core
        .list_memberships(
            &env,
            MembershipQuery {
                user_id: None,
                organization_id: Some(org.id.clone()),
                statuses: Vec::new(),
                cursor: cursor(),
            },
        )
        .await?;
    let roles = state.core.list_roles(&env, Some(&org.id)).await?;
    let invitations = state.core.list_invitations(&env, Some(&org.id), None, cursor()).await?;
    // Oldest first, so a parent comes before the resources inside it.
    let in_order = Cursor { order: ListOrder::Asc, ..cursor() };
    let filter = ResourceFilter { organization_id: Some(org.id.clone()), ..Default::default() };
    let resources = state.core.list_resources(&env, filter, in_order).await?;
    let names: HashMap<&str, &str> = resources.items.iter().map(|r| (r.id.as_str(), r.name.as_str())).collect();
    let base = format!("/dashboard/env/{}/organizations/{}", env.name, org.id);
    let ctx = context! {
        title => &org.name,
        base => &base,
        org => context! {
            id => &org.id, name => &org.name, external_id => &org.external_id, require_mfa => org.require_mfa,
            outside_profiles => org.allow_profiles_outside_organization, created => when(org.created_at),
            auto_join => org.domain_auto_join,
            metadata => (!org.metadata.is_empty()).then(|| serde_json::to_string_pretty(&org.metadata).unwrap_or_default()),
        },
        members => members.items.iter().map(|m| context! {
            id => &m.membership.id, user_id => &m.user.id, email => &m.user.email, name => m.user.display_name(),
            status => m.membership.status.as_str(), roles => &m.membership.role_slugs, since => when(m.membership.created_at),
        }).collect::<Vec<_>>(),
        more_members => members.has_more,
        roles => roles.iter().map(|r| context! {
            slug => &r.slug, name => &r.name, description => &r.description, permissions => &r.permissions,
            own => r.organization_id.is_some(), url => super::roles::role_url(&env, r),
        }).collect::<Vec<_>>(),
        invitations => invitations.items.iter().map(|i| context! {
            id => &i.invitation.id, email => &i.invitation.email, state => i.state.as_str(), role => &i.invitation.role_slug,
            sent => when(i.invitation.created_at), expires => when(i.invitation.expires_at),
        }).collect::<Vec<_>>(),
        more_invitations => invitations.has_more,
        resources => resources.items.iter().map(|r| context! {
            name => &r.name, url => resource_url(&env.name, r), kind => &r.resource_type_slug, external_id => &r.external_id,
            parent => r.parent_resource_id.as_deref().map(|p| names.get(p).copied().unwrap_or(p)),
        }).collect::<Vec<_>>(),
        more_resources => resources.has_more,
        domains => org.domains.iter().map(|d| context! {
            id => &d.id, domain => &d.domain, state => d.state.as_str(), strategy => d.verification_strategy.as_str(),
            record_name => d.txt_record_name(), record_value => &d.verification_token, failure => &d.failure_reason,
        }).collect::<Vec<_>>(),
        organizations => format!("/dashboard/env/{}/organizations", env.name),
    };
    let ctx = context! { ..extra, ..ctx };
    console.render_status(state, status, "console/organization.html", Some(&env.name), "organizations", ctx).await
}
