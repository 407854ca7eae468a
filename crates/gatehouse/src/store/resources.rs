//! Resource types, authorization resources and role assignments (WorkOS's resource-based
//! authorization), and the deletion of an environment role.

use super::organizations::{MEMBERSHIP_COLUMNS, fetch_page_as, membership_from_row};
use super::{Store, StoreResult, conflict};
use crate::clock::Millis;
use crate::domain::event::NewEvent;
use crate::domain::listing::{Cursor, Page};
use crate::domain::organization::{Membership, Role};
use crate::domain::resource::{AssignmentQuery, MAX_DEPTH, Resource, ResourceType, RoleAssignment};

const RESOURCE_COLUMNS: &str = "id, environment_id, organization_id, resource_type_slug, external_id, name, \
     description, parent_resource_id, created_at, updated_at";
const ASSIGNMENT_COLUMNS: &str =
    "id, environment_id, organization_membership_id, role_slug, resource_id, created_at, updated_at";
/// The most rows a computed listing (children, members) reads at once.
const MAX_SCAN: i64 = 10_000;

/// Filters of the resources list.
#[derive(Debug, Default)]
pub struct ResourceQuery {
    pub organization_id: Option<String>,
    pub resource_type_slug: Option<String>,
    pub external_id: Option<String>,
    pub parent_resource_id: Option<String>,
    /// Part of the name, in any case.
    pub search: Option<String>,
    pub cursor: Option<Cursor>,
}

/// What deleting a resource did.
#[derive(Debug, PartialEq, Eq)]
pub enum ResourceDeletion {
    Deleted,
    /// It has child resources or role assignments and no cascade was asked for.
    HasDependents,
    Gone,
}

/// What deleting an environment role did.
#[derive(Debug, PartialEq, Eq)]
pub enum RoleDeletion {
    Deleted,
    /// This many memberships hold it.
    UsedByMemberships(i64),
    /// This many role assignments give it.
    UsedByAssignments(i64),
    Gone,
}

/// The IDs of `root` and all its descendants, on the caller's transaction.
async fn subtree(conn: &mut sqlx::AnyConnection, root: &str) -> StoreResult<Vec<String>> {
    let mut all = vec![root.to_owned()];
    let mut level = vec![root.to_owned()];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for id in &level {
            let children: Vec<String> =
                sqlx::query_scalar("SELECT id FROM authorization_resources WHERE parent_resource_id = $1")
                    .bind(id)
                    .fetch_all(&mut *conn)
                    .await?;
            next.extend(children);
        }
        if next.is_empty() {
            break;
        }
        all.extend(next.iter().cloned());
        level = next;
    }
    Ok(all)
}

impl Store {
    // ---- resource types ----

    /// Inserts a type with `events` (its audit event) in the same transaction;
    /// `Conflict("resource_types.slug")` when the slug is taken.
    pub async fn insert_resource_type(&self, t: &ResourceType, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO resource_types (id, environment_id, slug, name, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&t.id)
        .bind(&t.environment_id)
        .bind(&t.slug)
        .bind(&t.name)
        .bind(t.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, "resource_types.slug"))?;
        super::events::record_in(&mut tx, &t.environment_id, t.created_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_resource_types(&self, environment_id: &str) -> StoreResult<Vec<ResourceType>> {
        Ok(sqlx::query_as(
            "SELECT id, environment_id, slug, name, created_at FROM resource_types WHERE environment_id = $1 \
             ORDER BY slug ASC",
        )
        .bind(environment_id)
        .fetch_all(self.reader())
        .await?)
    }

    /// Removes a resource type no resource uses (one conditional statement), with `events` in the
    /// same transaction. False, and no events, if it was missing or in use.
    pub async fn delete_resource_type(
        &self,
        environment_id: &str,
        slug: &str,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "DELETE FROM resource_types WHERE environment_id = $1 AND slug = $2 AND NOT EXISTS \
             (SELECT 1 FROM authorization_resources r WHERE r.environment_id = $1 AND r.resource_type_slug = $2)",
        )
        .bind(environment_id)
        .bind(slug)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::events::record_in(&mut tx, environment_id, now, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// How many resources of the environment are of this type.
    pub async fn count_resources_of_type(&self, environment_id: &str, slug: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM authorization_resources WHERE environment_id = $1 AND resource_type_slug = $2",
        )
        .bind(environment_id)
        .bind(slug)
        .fetch_one(self.reader())
        .await?)
    }

    // ---- resources ----

    /// `Conflict("authorization_resources.external_id")` when the organization has a resource
    /// of this type and external ID.
    pub async fn insert_resource(&self, r: &Resource) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO authorization_resources ({RESOURCE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&r.id)
        .bind(&r.environment_id)
        .bind(&r.organization_id)
        .bind(&r.resource_type_slug)
        .bind(&r.external_id)
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.parent_resource_id)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict(e, "authorization_resources.external_id"))?;
        Ok(())
    }

    pub async fn find_resource(&self, environment_id: &str, id: &str) -> StoreResult<Option<Resource>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM authorization_resources WHERE environment_id = $1 AND id = $2"
        ))
        .bind(environment_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?)
    }

    pub async fn find_resource_by_external_id(
        &self,
        environment_id: &str,
        organization_id: &str,
        resource_type_slug: &str,
        external_id: &str,
    ) -> StoreResult<Option<Resource>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM authorization_resources WHERE environment_id = $1 AND organization_id = $2 \
             AND resource_type_slug = $3 AND external_id = $4"
        ))
        .bind(environment_id)
        .bind(organization_id)
        .bind(resource_type_slug)
        .bind(external_id)
        .fetch_optional(self.reader())
        .await?)
    }

    /// A page of the environment's resources (a cursor is required), or every match up to
    /// `MAX_SCAN` by ID when the query has none.
    pub async fn list_resources(&self, environment_id: &str, q: &ResourceQuery) -> StoreResult<Page<Resource>> {
        let mut sql = format!("SELECT {RESOURCE_COLUMNS} FROM authorization_resources WHERE environment_id = $1");
        let mut args = vec![environment_id.to_owned()];
        let filters = [
            ("organization_id", &q.organization_id),
            ("resource_type_slug", &q.resource_type_slug),
            ("external_id", &q.external_id),
            ("parent_resource_id", &q.parent_resource_id),
        ];
        for (column, value) in filters {
            if let Some(v) = value {
                args.push(v.clone());
                sql.push_str(&format!(" AND {column} = ${}", args.len()));
            }
        }
        if let Some(search) = &q.search {
            let escaped = search.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            args.push(format!("%{escaped}%"));
            sql.push_str(&format!(" AND LOWER(name) LIKE ${} ESCAPE '\\'", args.len()));
        }
        match &q.cursor {
            Some(cursor) => fetch_page_as(self.reader(), sql, args, cursor, "id").await,
            None => {
                sql.push_str(&format!(" ORDER BY id ASC LIMIT {MAX_SCAN}"));
                let mut query = sqlx::query_as(&sql);
                for a in &args {
                    query = query.bind(a);
                }
                Ok(Page { items: query.fetch_all(self.reader()).await?, has_more: false })
            }
        }
    }

    /// The organization's resources without a parent, up to `MAX_SCAN`, by ID.
    pub async fn root_resources(&self, environment_id: &str, organization_id: &str) -> StoreResult<Vec<Resource>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM authorization_resources WHERE environment_id = $1 AND organization_id = $2 \
             AND parent_resource_id IS NULL ORDER BY id ASC LIMIT {MAX_SCAN}"
        ))
        .bind(environment_id)
        .bind(organization_id)
        .fetch_all(self.reader())
        .await?)
    }

    /// Writes a resource's name, description and parent.
    pub async fn update_resource(&self, r: &Resource) -> StoreResult<()> {
        sqlx::query(
            "UPDATE authorization_resources SET name = $1, description = $2, parent_resource_id = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.parent_resource_id)
        .bind(r.updated_at)
        .bind(&r.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a resource, in one transaction: with `cascade`, its descendants and every role
    /// assignment on them too; without, only a resource with neither children nor assignments.
    pub async fn delete_resource(&self, r: &Resource, cascade: bool) -> StoreResult<ResourceDeletion> {
        let mut tx = self.begin().await?;
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM authorization_resources WHERE id = $1")
            .bind(&r.id)
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Ok(ResourceDeletion::Gone);
        }
        let ids = subtree(&mut tx, &r.id).await?;
        if !cascade {
            let assignments: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM role_assignments WHERE resource_id = $1")
                .bind(&r.id)
                .fetch_one(&mut *tx)
                .await?;
            if ids.len() > 1 || assignments > 0 {
                return Ok(ResourceDeletion::HasDependents);
            }
        }
        for id in ids.iter().rev() {
            sqlx::query("DELETE FROM role_assignments WHERE resource_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM authorization_resources WHERE id = $1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ResourceDeletion::Deleted)
    }

    // ---- role assignments ----

    /// `Conflict("role_assignments.role")` when the membership holds this role on the resource.
    pub async fn insert_role_assignment(&self, a: &RoleAssignment) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO role_assignments ({ASSIGNMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&a.id)
        .bind(&a.environment_id)
        .bind(&a.organization_membership_id)
        .bind(&a.role_slug)
        .bind(&a.resource_id)
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict(e, "role_assignments.role"))?;
        Ok(())
    }

    /// A page of role assignments matching `q`.
    pub async fn list_role_assignments(
        &self,
        environment_id: &str,
        q: &AssignmentQuery,
        cursor: &Cursor,
    ) -> StoreResult<Page<RoleAssignment>> {
        let mut sql = format!("SELECT {ASSIGNMENT_COLUMNS} FROM role_assignments WHERE environment_id = $1");
        let mut args = vec![environment_id.to_owned()];
        for (column, value) in [
            ("organization_membership_id", &q.membership_id),
            ("resource_id", &q.resource_id),
            ("role_slug", &q.role_slug),
        ] {
            if let Some(v) = value {
                args.push(v.clone());
                sql.push_str(&format!(" AND {column} = ${}", args.len()));
            }
        }
        if let Some(external_id) = &q.resource_external_id {
            args.push(external_id.clone());
            let mut inner = format!("SELECT id FROM authorization_resources WHERE external_id = ${}", args.len());
            if let Some(kind) = &q.resource_type_slug {
                args.push(kind.clone());
                inner.push_str(&format!(" AND resource_type_slug = ${}", args.len()));
            }
            sql.push_str(&format!(" AND resource_id IN ({inner})"));
        } else if let Some(kind) = &q.resource_type_slug {
            args.push(kind.clone());
            sql.push_str(&format!(
                " AND resource_id IN (SELECT id FROM authorization_resources WHERE resource_type_slug = ${})",
                args.len()
            ));
        }
        fetch_page_as(self.reader(), sql, args, cursor, "id").await
    }

    /// The role assignments of a membership on any of `resource_ids`.
    pub async fn assignments_on(
        &self,
        membership_id: &str,
        resource_ids: &[String],
    ) -> StoreResult<Vec<RoleAssignment>> {
        if resource_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..resource_ids.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT {ASSIGNMENT_COLUMNS} FROM role_assignments WHERE organization_membership_id = $1 \
             AND resource_id IN ({}) ORDER BY id ASC",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as(&sql).bind(membership_id);
        for id in resource_ids {
            query = query.bind(id);
        }
        Ok(query.fetch_all(self.reader()).await?)
    }

    /// Every role assignment on one resource, by ID.
    pub async fn assignments_on_resource(&self, resource_id: &str) -> StoreResult<Vec<RoleAssignment>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {ASSIGNMENT_COLUMNS} FROM role_assignments WHERE resource_id = $1 ORDER BY id ASC LIMIT {MAX_SCAN}"
        ))
        .bind(resource_id)
        .fetch_all(self.reader())
        .await?)
    }

    /// Deletes one of a membership's role assignments. False if there was none.
    pub async fn delete_role_assignment(&self, membership_id: &str, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM role_assignments WHERE organization_membership_id = $1 AND id = $2")
            .bind(membership_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the assignment of `role_slug` on `resource_id` to a membership. False if there
    /// was none.
    pub async fn delete_role_assignment_by(
        &self,
        membership_id: &str,
        role_slug: &str,
        resource_id: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM role_assignments WHERE organization_membership_id = $1 AND role_slug = $2 AND resource_id = $3",
        )
        .bind(membership_id)
        .bind(role_slug)
        .bind(resource_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The organization's memberships, up to `MAX_SCAN`, by ID.
    pub async fn organization_members(&self, organization_id: &str) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM organization_memberships WHERE organization_id = $1 \
             ORDER BY id ASC LIMIT {MAX_SCAN}"
        ))
        .bind(organization_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(membership_from_row).collect()
    }

    // ---- environment roles ----

    /// Deletes an environment role no membership holds and no role assignment gives, with its
    /// events, in one transaction.
    pub async fn delete_environment_role(
        &self,
        r: &Role,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<RoleDeletion> {
        let mut tx = self.begin().await?;
        // Memberships keep their role slugs as a JSON list (`["member","admin"]`); a slug has no
        // quote, and `_` is escaped for LIKE.
        let pattern = format!("%\"{}\"%", r.slug.replace('\\', "\\\\").replace('_', "\\_"));
        let memberships: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM organization_memberships WHERE environment_id = $1 AND role_slugs LIKE $2 ESCAPE '\\'",
        )
        .bind(&r.environment_id)
        .bind(&pattern)
        .fetch_one(&mut *tx)
        .await?;
        if memberships > 0 {
            return Ok(RoleDeletion::UsedByMemberships(memberships));
        }
        let assignments: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM role_assignments WHERE environment_id = $1 AND role_slug = $2")
                .bind(&r.environment_id)
                .bind(&r.slug)
                .fetch_one(&mut *tx)
                .await?;
        if assignments > 0 {
            return Ok(RoleDeletion::UsedByAssignments(assignments));
        }
        let done = sqlx::query("DELETE FROM roles WHERE id = $1 AND organization_id = ''")
            .bind(&r.id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(RoleDeletion::Gone);
        }
        super::events::record_in(&mut tx, &r.environment_id, now, events).await?;
        tx.commit().await?;
        Ok(RoleDeletion::Deleted)
    }
}
