//! WorkOS's resource-based authorization: resource types (configured per environment, as
//! WorkOS's dashboard does), resources of an organization in a hierarchy, and role assignments
//! that give an organization membership a role on one resource. What a check decides is here
//! too (`effective_permissions`), from what the store loaded.

use crate::clock::Millis;

use super::listing::{Cursor, ListOrder, Page};
use super::organization::Role;

/// The deepest hierarchy Gatehouse keeps (a resource and its ancestors); it also bounds the
/// walk up the tree.
pub const MAX_DEPTH: usize = 16;

/// A kind of resource (`workspace`, `project`…).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct ResourceType {
    pub id: String,
    pub environment_id: String,
    pub slug: String,
    pub name: String,
    pub created_at: Millis,
}

/// One resource of an organization.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Resource {
    pub id: String,
    pub environment_id: String,
    pub organization_id: String,
    pub resource_type_slug: String,
    /// Unique within the organization and resource type.
    pub external_id: String,
    pub name: String,
    pub description: Option<String>,
    pub parent_resource_id: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A role an organization membership holds on one resource.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct RoleAssignment {
    pub id: String,
    pub environment_id: String,
    pub organization_membership_id: String,
    pub role_slug: String,
    pub resource_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Filters of a role-assignment list (each `None` leaves it open).
#[derive(Debug, Default)]
pub struct AssignmentQuery {
    pub membership_id: Option<String>,
    pub resource_id: Option<String>,
    /// Resources with this external ID (of any type unless `resource_type_slug` says).
    pub resource_external_id: Option<String>,
    pub resource_type_slug: Option<String>,
    pub role_slug: Option<String>,
}

/// A resource type's slug: like a permission's (1 to 48 lower-case letters, digits or `-_`),
/// and never `organization`, the type WorkOS gives the organization itself.
pub fn is_valid_resource_type_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 48
        && slug != "organization"
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_".contains(&b))
}

/// The role of `slug` as an assignment in `organization_id` means it: the organization's own
/// role of that slug, else the environment's.
pub fn resolve_role<'a>(roles: &'a [Role], slug: &str) -> Option<&'a Role> {
    roles
        .iter()
        .find(|r| r.slug == slug && r.organization_id.is_some())
        .or_else(|| roles.iter().find(|r| r.slug == slug))
}

/// The permissions a membership has on a resource: those of its organization-level roles
/// (`membership_roles`), and of every role assigned to it on the resource or one of its
/// ancestors (`assigned_roles`), each once, in that order.
pub fn effective_permissions(roles: &[Role], membership_roles: &[String], assigned_roles: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for slug in membership_roles.iter().chain(assigned_roles) {
        if let Some(role) = resolve_role(roles, slug) {
            for p in &role.permissions {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
    }
    out
}

/// One page of `items` (sorted by ID, ascending) as `cursor` asks, like the store's keyset
/// pages: for listings Gatehouse computes rather than reads.
pub fn page_in_memory<T>(items: Vec<T>, id: impl Fn(&T) -> &str, cursor: &Cursor) -> Page<T> {
    let forward = cursor.before.is_none();
    let ascending = (cursor.order == ListOrder::Asc) == forward;
    let mark = if forward { cursor.after.as_deref() } else { cursor.before.as_deref() };
    let mut kept: Vec<T> = items
        .into_iter()
        .filter(|item| match mark {
            None => true,
            Some(m) if ascending => id(item) > m,
            Some(m) => id(item) < m,
        })
        .collect();
    if !ascending {
        kept.reverse();
    }
    let limit = cursor.limit as usize;
    let has_more = kept.len() > limit;
    kept.truncate(limit);
    if !forward {
        kept.reverse();
    }
    Page { items: kept, has_more }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(slug: &str, org: Option<&str>, permissions: &[&str]) -> Role {
        Role {
            id: format!("role_{slug}"),
            environment_id: "env".into(),
            organization_id: org.map(str::to_owned),
            slug: slug.into(),
            name: slug.into(),
            description: None,
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn pages_in_memory_like_the_store() {
        let ids: Vec<String> = (1..=5).map(|i| format!("r{i}")).collect();
        let cursor = |after: Option<&str>, before: Option<&str>, order| Cursor {
            limit: 2,
            after: after.map(str::to_owned),
            before: before.map(str::to_owned),
            order,
        };
        let page = page_in_memory(ids.clone(), |s| s, &cursor(None, None, ListOrder::Desc));
        assert_eq!((page.items, page.has_more), (vec!["r5".to_owned(), "r4".into()], true));
        let page = page_in_memory(ids.clone(), |s| s, &cursor(Some("r4"), None, ListOrder::Desc));
        assert_eq!((page.items, page.has_more), (vec!["r3".to_owned(), "r2".into()], true));
        let page = page_in_memory(ids.clone(), |s| s, &cursor(Some("r3"), None, ListOrder::Asc));
        assert_eq!((page.items, page.has_more), (vec!["r4".to_owned(), "r5".into()], false));
        let page = page_in_memory(ids, |s| s, &cursor(None, Some("r2"), ListOrder::Desc));
        assert_eq!((page.items, page.has_more), (vec!["r4".to_owned(), "r3".into()], true));
    }

    #[test]
    fn resource_type_slugs() {
        assert!(is_valid_resource_type_slug("workspace"));
        assert!(is_valid_resource_type_slug("project_v2"));
        assert!(!is_valid_resource_type_slug("organization"));
        assert!(!is_valid_resource_type_slug("Project"));
        assert!(!is_valid_resource_type_slug(""));
        assert!(!is_valid_resource_type_slug("a:b"));
    }

    #[test]
    fn organization_roles_shadow_environment_roles_and_permissions_add_up() {
        let roles = [
            role("member", None, &["posts:read"]),
            role("editor", None, &["posts:write"]),
            role("org-editor", Some("org"), &["posts:delete"]),
        ];
        let all = effective_permissions(&roles, &["member".into()], &["editor".into(), "org-editor".into()]);
        assert_eq!(all, ["posts:read", "posts:write", "posts:delete"]);
        assert_eq!(effective_permissions(&roles, &["member".into()], &[]), ["posts:read"]);
        assert!(effective_permissions(&roles, &["gone".into()], &[]).is_empty());
    }
}
