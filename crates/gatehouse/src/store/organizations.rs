//! Organizations, memberships, roles and permissions.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::organization_domains::{DomainChanges, domains_of, insert_domain_in, write_domain_changes};
use super::{Store, StoreError, StoreResult, conflict, get_bool, get_opt_string};
use crate::clock::Millis;
use crate::domain::event::NewEvent;
use crate::domain::listing::{Cursor, ListOrder, MembershipQuery, OrganizationQuery, Page};
use crate::domain::organization::{
    BUILT_IN_ROLES, Membership, MembershipStatus, Organization, Permission, Role, permissions_of,
};
use crate::ids::new_id;

const ORG_COLUMNS: &str = "id, environment_id, name, external_id, metadata, allow_profiles_outside_organization, \
     require_mfa, domain_auto_join, created_at, updated_at";
pub(super) const MEMBERSHIP_COLUMNS: &str =
    "id, environment_id, organization_id, user_id, status, role_slugs, created_at, updated_at";
const ROLE_COLUMNS: &str =
    "id, environment_id, organization_id, slug, name, description, permissions, created_at, updated_at";
const PERMISSION_COLUMNS: &str = "id, environment_id, slug, name, description, created_at, updated_at";

fn json_list(values: &[String]) -> String {
    serde_json::Value::from(values.to_vec()).to_string()
}

fn parse_list(text: &str, what: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn organization_from_row(row: &AnyRow) -> StoreResult<Organization> {
    let metadata: String = row.try_get("metadata")?;
    let metadata =
        serde_json::from_str(&metadata).map_err(|e| StoreError::Corrupt(format!("organization metadata: {e}")))?;
    Ok(Organization {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        name: row.try_get("name")?,
        external_id: get_opt_string(row, "external_id")?,
        metadata,
        allow_profiles_outside_organization: get_bool(row, "allow_profiles_outside_organization")?,
        require_mfa: get_bool(row, "require_mfa")?,
        domain_auto_join: get_bool(row, "domain_auto_join")?,
        domains: Vec::new(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn membership_from_row(row: &AnyRow) -> StoreResult<Membership> {
    let status: String = row.try_get("status")?;
    let roles: String = row.try_get("role_slugs")?;
    Ok(Membership {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        organization_id: row.try_get("organization_id")?,
        user_id: row.try_get("user_id")?,
        status: MembershipStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("membership status '{status}'")))?,
        role_slugs: parse_list(&roles, "membership roles")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn role_from_row(row: &AnyRow) -> StoreResult<Role> {
    let organization_id: String = row.try_get("organization_id")?;
    let permissions: String = row.try_get("permissions")?;
    Ok(Role {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        organization_id: (!organization_id.is_empty()).then_some(organization_id),
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        description: get_opt_string(row, "description")?,
        permissions: parse_list(&permissions, "role permissions")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Appends the keyset conditions, order and limit of `cursor` to `sql`, whose parameters so far
/// are `args` (all text), ordering by `id_column`.
fn page_sql(sql: &mut String, args: &mut Vec<String>, cursor: &Cursor, id_column: &str) -> bool {
    let forward = cursor.before.is_none();
    let ascending = (cursor.order == ListOrder::Asc) == forward;
    if let Some(c) = cursor.after.as_ref().filter(|_| forward).or(cursor.before.as_ref()) {
        args.push(c.clone());
        let op = if ascending { ">" } else { "<" };
        sql.push_str(&format!(" AND {id_column} {op} ${}", args.len()));
    }
    sql.push_str(&format!(" ORDER BY {id_column} {}", if ascending { "ASC" } else { "DESC" }));
    sql.push_str(&format!(" LIMIT {}", i64::from(cursor.limit) + 1));
    forward
}

/// Runs a keyset page query and maps its rows.
pub(super) async fn fetch_page<T>(
    pool: &sqlx::AnyPool,
    mut sql: String,
    mut args: Vec<String>,
    cursor: &Cursor,
    id_column: &str,
    map: impl Fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Page<T>> {
    let forward = page_sql(&mut sql, &mut args, cursor, id_column);
    let mut query = sqlx::query(&sql);
    for a in &args {
        query = query.bind(a);
    }
    let rows = query.fetch_all(pool).await?;
    let has_more = rows.len() > cursor.limit as usize;
    let mut items = rows.iter().take(cursor.limit as usize).map(map).collect::<StoreResult<Vec<_>>>()?;
    if !forward {
        items.reverse();
    }
    Ok(Page { items, has_more })
}

/// `fetch_page` for rows that derive `FromRow`.
pub(super) async fn fetch_page_as<T>(
    pool: &sqlx::AnyPool,
    mut sql: String,
    mut args: Vec<String>,
    cursor: &Cursor,
    id_column: &str,
) -> StoreResult<Page<T>>
where
    T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
{
    let forward = page_sql(&mut sql, &mut args, cursor, id_column);
    let mut query = sqlx::query_as::<_, T>(&sql);
    for a in &args {
        query = query.bind(a);
    }
    let mut items: Vec<T> = query.fetch_all(pool).await?;
    let has_more = items.len() > cursor.limit as usize;
    items.truncate(cursor.limit as usize);
    if !forward {
        items.reverse();
    }
    Ok(Page { items, has_more })
}

/// Ends the sessions of `user_id` (every user when `None`) that are in `organization_id`.
async fn end_sessions_in(
    conn: &mut sqlx::AnyConnection,
    organization_id: &str,
    user_id: Option<&str>,
    now: Millis,
) -> StoreResult<()> {
    let mut sql = String::from(
        "UPDATE sessions SET ended_at = $1, updated_at = $1 WHERE organization_id = $2 AND ended_at IS NULL",
    );
    if user_id.is_some() {
        sql.push_str(" AND user_id = $3");
    }
    let mut query = sqlx::query(&sql).bind(now).bind(organization_id);
    if let Some(u) = user_id {
        query = query.bind(u);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Inserts a membership on the caller's connection or transaction.
/// `Conflict("organization_memberships.user")` when the user is already a member.
pub(super) async fn insert_membership_in(conn: &mut sqlx::AnyConnection, m: &Membership) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO organization_memberships ({MEMBERSHIP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&m.id)
    .bind(&m.environment_id)
    .bind(&m.organization_id)
    .bind(&m.user_id)
    .bind(m.status.as_str())
    .bind(json_list(&m.role_slugs))
    .bind(m.created_at)
    .bind(m.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict(e, "organization_memberships.user"))?;
    Ok(())
}

impl Store {
    // ---- organizations ----

    /// Creates an organization with its domains and events, in one transaction.
    /// `Conflict("organizations.external_id")` when the external ID is taken,
    /// `Conflict("organization_domains.verified")` when a verified domain is verified in another
    /// organization of the environment.
    pub async fn insert_organization(&self, o: &Organization, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO organizations ({ORG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&o.id)
        .bind(&o.environment_id)
        .bind(&o.name)
        .bind(&o.external_id)
        .bind(serde_json::Value::Object(o.metadata.clone()).to_string())
        .bind(i64::from(o.allow_profiles_outside_organization))
        .bind(i64::from(o.require_mfa))
        .bind(i64::from(o.domain_auto_join))
        .bind(o.created_at)
        .bind(o.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, "organizations.external_id"))?;
        for d in &o.domains {
            insert_domain_in(&mut tx, d).await?;
        }
        super::events::record_in(&mut tx, &o.environment_id, o.updated_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Loads the domains of `orgs` into them (one query).
    async fn load_domains(&self, orgs: &mut [Organization]) -> StoreResult<()> {
        if orgs.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = orgs.iter().map(|o| o.id.as_str()).collect();
        let mut domains = domains_of(self.reader(), &ids).await?;
        for o in orgs.iter_mut() {
            let (mine, rest): (Vec<_>, Vec<_>) = domains.into_iter().partition(|d| d.organization_id == o.id);
            o.domains = mine;
            domains = rest;
        }
        Ok(())
    }

    pub async fn find_organization(&self, environment_id: &str, id: &str) -> StoreResult<Option<Organization>> {
        let row =
            sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM organizations WHERE environment_id = $1 AND id = $2"))
                .bind(environment_id)
                .bind(id)
                .fetch_optional(self.reader())
                .await?;
        let mut org = row.as_ref().map(organization_from_row).transpose()?;
        if let Some(o) = org.as_mut() {
            self.load_domains(std::slice::from_mut(o)).await?;
        }
        Ok(org)
    }

    pub async fn find_organization_by_external_id(
        &self,
        environment_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<Organization>> {
        let row = sqlx::query(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations WHERE environment_id = $1 AND external_id = $2"
        ))
        .bind(environment_id)
        .bind(external_id)
        .fetch_optional(self.reader())
        .await?;
        let mut org = row.as_ref().map(organization_from_row).transpose()?;
        if let Some(o) = org.as_mut() {
            self.load_domains(std::slice::from_mut(o)).await?;
        }
        Ok(org)
    }

    pub async fn list_organizations(
        &self,
        environment_id: &str,
        q: &OrganizationQuery,
    ) -> StoreResult<Page<Organization>> {
        let mut sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE environment_id = $1");
        let mut args = vec![environment_id.to_owned()];
        if let Some(search) = &q.search {
            let escaped = search.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            args.push(format!("%{escaped}%"));
            sql.push_str(&format!(" AND LOWER(name) LIKE ${} ESCAPE '\\'", args.len()));
        }
        let mut page = fetch_page(self.reader(), sql, args, &q.cursor, "id", organization_from_row).await?;
        self.load_domains(&mut page.items).await?;
        Ok(page)
    }

    /// Writes an organization's fields and the changes to its domains, with their events, in
    /// one transaction (conflicts as `insert_organization`).
    pub async fn update_organization(
        &self,
        o: &Organization,
        domains: &DomainChanges,
        events: &[NewEvent],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE organizations SET name = $1, external_id = $2, metadata = $3, \
             allow_profiles_outside_organization = $4, require_mfa = $5, domain_auto_join = $6, updated_at = $7 \
             WHERE id = $8 AND environment_id = $9",
        )
        .bind(&o.name)
        .bind(&o.external_id)
        .bind(serde_json::Value::Object(o.metadata.clone()).to_string())
        .bind(i64::from(o.allow_profiles_outside_organization))
        .bind(i64::from(o.require_mfa))
        .bind(i64::from(o.domain_auto_join))
        .bind(o.updated_at)
        .bind(&o.id)
        .bind(&o.environment_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, "organizations.external_id"))?;
        write_domain_changes(&mut tx, domains).await?;
        super::events::record_in(&mut tx, &o.environment_id, o.updated_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes an organization with its memberships and roles, and ends the sessions that are
    /// in it, in one transaction. False if there was no such organization.
    pub async fn delete_organization(
        &self,
        environment_id: &str,
        id: &str,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM organizations WHERE environment_id = $1 AND id = $2")
                .bind(environment_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Ok(false);
        }
        end_sessions_in(&mut tx, id, None, now).await?;
        sqlx::query("UPDATE authorization_codes SET organization_id = NULL, expires_at = 0 WHERE organization_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // Role assignments go with the resources and memberships (foreign keys, cascading).
        sqlx::query("DELETE FROM authorization_resources WHERE organization_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM organization_memberships WHERE organization_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM roles WHERE environment_id = $1 AND organization_id = $2")
            .bind(environment_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM organization_domains WHERE organization_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM organizations WHERE id = $1").bind(id).execute(&mut *tx).await?;
        super::events::record_in(&mut tx, environment_id, now, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Whether the user is an active member of an organization that requires two-factor.
    pub async fn in_organization_requiring_mfa(&self, user_id: &str) -> StoreResult<bool> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT m.id FROM organization_memberships m JOIN organizations o ON o.id = m.organization_id \
             WHERE m.user_id = $1 AND m.status = 'active' AND o.require_mfa = 1 LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(found.is_some())
    }

    // ---- memberships ----

    /// `Conflict("organization_memberships.user")` when the user is already a member.
    pub async fn insert_membership(&self, m: &Membership, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_membership_in(&mut tx, m).await?;
        super::events::record_in(&mut tx, &m.environment_id, m.updated_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn find_membership(&self, environment_id: &str, id: &str) -> StoreResult<Option<Membership>> {
        let row = sqlx::query(&format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM organization_memberships WHERE environment_id = $1 AND id = $2"
        ))
        .bind(environment_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(membership_from_row).transpose()
    }

    /// The membership of `user_id` in `organization_id`, if any.
    pub async fn find_membership_of(&self, organization_id: &str, user_id: &str) -> StoreResult<Option<Membership>> {
        let row = sqlx::query(&format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM organization_memberships WHERE organization_id = $1 AND user_id = $2"
        ))
        .bind(organization_id)
        .bind(user_id)
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(membership_from_row).transpose()
    }

    pub async fn list_memberships(&self, environment_id: &str, q: &MembershipQuery) -> StoreResult<Page<Membership>> {
        let mut sql = format!("SELECT {MEMBERSHIP_COLUMNS} FROM organization_memberships WHERE environment_id = $1");
        let mut args = vec![environment_id.to_owned()];
        if let Some(user_id) = &q.user_id {
            args.push(user_id.clone());
            sql.push_str(&format!(" AND user_id = ${}", args.len()));
        }
        if let Some(org) = &q.organization_id {
            args.push(org.clone());
            sql.push_str(&format!(" AND organization_id = ${}", args.len()));
        }
        if !q.statuses.is_empty() {
            let mut placeholders = Vec::new();
            for s in &q.statuses {
                args.push(s.as_str().to_owned());
                placeholders.push(format!("${}", args.len()));
            }
            sql.push_str(&format!(" AND status IN ({})", placeholders.join(", ")));
        }
        fetch_page(self.reader(), sql, args, &q.cursor, "id", membership_from_row).await
    }

    /// The user's active memberships with their organizations, oldest first.
    pub async fn active_memberships(&self, user_id: &str) -> StoreResult<Vec<(Membership, Organization)>> {
        let rows = sqlx::query(
            "SELECT m.id, m.environment_id, m.organization_id, m.user_id, m.status, m.role_slugs, m.created_at, \
             m.updated_at, o.name AS o_name, o.external_id AS o_external_id, o.metadata AS o_metadata, \
             o.allow_profiles_outside_organization AS o_allow, o.require_mfa AS o_require_mfa, \
             o.domain_auto_join AS o_auto_join, \
             o.created_at AS o_created_at, o.updated_at AS o_updated_at \
             FROM organization_memberships m JOIN organizations o ON o.id = m.organization_id \
             WHERE m.user_id = $1 AND m.status = 'active' ORDER BY m.id ASC LIMIT 100",
        )
        .bind(user_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                let m = membership_from_row(row)?;
                let metadata: String = row.try_get("o_metadata")?;
                let o = Organization {
                    id: m.organization_id.clone(),
                    environment_id: m.environment_id.clone(),
                    name: row.try_get("o_name")?,
                    external_id: get_opt_string(row, "o_external_id")?,
                    metadata: serde_json::from_str(&metadata)
                        .map_err(|e| StoreError::Corrupt(format!("organization metadata: {e}")))?,
                    allow_profiles_outside_organization: get_bool(row, "o_allow")?,
                    require_mfa: get_bool(row, "o_require_mfa")?,
                    domain_auto_join: get_bool(row, "o_auto_join")?,
                    domains: Vec::new(),
                    created_at: row.try_get("o_created_at")?,
                    updated_at: row.try_get("o_updated_at")?,
                };
                Ok((m, o))
            })
            .collect()
    }

    /// Writes a membership's roles and status; a membership that stops being active ends its
    /// user's sessions in the organization, in the same transaction.
    pub async fn update_membership(&self, m: &Membership, now: Millis, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE organization_memberships SET status = $1, role_slugs = $2, updated_at = $3 WHERE id = $4")
            .bind(m.status.as_str())
            .bind(json_list(&m.role_slugs))
            .bind(m.updated_at)
            .bind(&m.id)
            .execute(&mut *tx)
            .await?;
        if m.status != MembershipStatus::Active {
            end_sessions_in(&mut tx, &m.organization_id, Some(&m.user_id), now).await?;
        }
        super::events::record_in(&mut tx, &m.environment_id, now, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a membership (its role assignments cascade) and ends its user's sessions in the
    /// organization, atomically.
    pub async fn delete_membership(&self, m: &Membership, now: Millis, events: &[NewEvent]) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("DELETE FROM organization_memberships WHERE id = $1").bind(&m.id).execute(&mut *tx).await?;
        end_sessions_in(&mut tx, &m.organization_id, Some(&m.user_id), now).await?;
        if done.rows_affected() == 1 {
            super::events::record_in(&mut tx, &m.environment_id, now, events).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- roles ----

    /// Creates the built-in environment roles (`member`, `admin`) if they are missing.
    pub async fn ensure_built_in_roles(&self, environment_id: &str, now: Millis) -> StoreResult<()> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM roles WHERE environment_id = $1 AND organization_id = ''")
                .bind(environment_id)
                .fetch_one(self.reader())
                .await?;
        if count > 0 {
            return Ok(());
        }
        for (slug, name, description) in BUILT_IN_ROLES {
            sqlx::query(&format!(
                "INSERT INTO roles ({ROLE_COLUMNS}) VALUES ($1, $2, '', $3, $4, $5, '[]', $6, $6) \
                 ON CONFLICT (environment_id, organization_id, slug) DO NOTHING"
            ))
            .bind(new_id("role"))
            .bind(environment_id)
            .bind(*slug)
            .bind(*name)
            .bind(*description)
            .bind(now)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// `Conflict("roles.slug")` when the slug is taken in its scope.
    pub async fn insert_role(&self, r: &Role, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!("INSERT INTO roles ({ROLE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            .bind(&r.id)
            .bind(&r.environment_id)
            .bind(r.organization_id.as_deref().unwrap_or(""))
            .bind(&r.slug)
            .bind(&r.name)
            .bind(&r.description)
            .bind(json_list(&r.permissions))
            .bind(r.created_at)
            .bind(r.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict(e, "roles.slug"))?;
        super::events::record_in(&mut tx, &r.environment_id, r.updated_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A role by slug: an environment role (`organization_id` `None`) or one of the organization's.
    pub async fn find_role(
        &self,
        environment_id: &str,
        organization_id: Option<&str>,
        slug: &str,
    ) -> StoreResult<Option<Role>> {
        let row = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE environment_id = $1 AND organization_id = $2 AND slug = $3"
        ))
        .bind(environment_id)
        .bind(organization_id.unwrap_or(""))
        .bind(slug)
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(role_from_row).transpose()
    }

    /// The environment's roles, then the organization's own when one is given, each by slug.
    pub async fn list_roles(&self, environment_id: &str, organization_id: Option<&str>) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE environment_id = $1 AND (organization_id = '' OR organization_id = $2) \
             ORDER BY organization_id ASC, slug ASC"
        ))
        .bind(environment_id)
        .bind(organization_id.unwrap_or(""))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(role_from_row).collect()
    }

    /// Writes a role's name, description and permissions.
    pub async fn update_role(&self, r: &Role, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE roles SET name = $1, description = $2, permissions = $3, updated_at = $4 WHERE id = $5")
            .bind(&r.name)
            .bind(&r.description)
            .bind(json_list(&r.permissions))
            .bind(r.updated_at)
            .bind(&r.id)
            .execute(&mut *tx)
            .await?;
        super::events::record_in(&mut tx, &r.environment_id, r.updated_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes an organization's role with the role assignments that give it, in one transaction.
    pub async fn delete_role(&self, r: &Role, now: Millis, events: &[NewEvent]) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM roles WHERE id = $1").bind(&r.id).execute(&mut *tx).await?;
        if let Some(org) = &r.organization_id {
            sqlx::query(
                "DELETE FROM role_assignments WHERE role_slug = $1 AND organization_membership_id IN \
                 (SELECT id FROM organization_memberships WHERE organization_id = $2)",
            )
            .bind(&r.slug)
            .bind(org)
            .execute(&mut *tx)
            .await?;
        }
        if done.rows_affected() == 1 {
            super::events::record_in(&mut tx, &r.environment_id, now, events).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The permissions a membership's roles grant (organization roles first, else the
    /// environment's of that slug).
    pub async fn membership_permissions(&self, m: &Membership) -> StoreResult<Vec<String>> {
        let roles = self.list_roles(&m.environment_id, Some(&m.organization_id)).await?;
        let held: Vec<Role> = m
            .role_slugs
            .iter()
            .filter_map(|slug| {
                roles
                    .iter()
                    .find(|r| &r.slug == slug && r.organization_id.is_some())
                    .or_else(|| roles.iter().find(|r| &r.slug == slug))
                    .cloned()
            })
            .collect();
        Ok(permissions_of(&held))
    }

    // ---- permissions ----

    /// Stores a new permission with `events` (its `permission.created`), in one transaction;
    /// `Conflict("permissions.slug")` when the slug is taken.
    pub async fn insert_permission(&self, p: &Permission, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!("INSERT INTO permissions ({PERMISSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
            .bind(&p.id)
            .bind(&p.environment_id)
            .bind(&p.slug)
            .bind(&p.name)
            .bind(&p.description)
            .bind(p.created_at)
            .bind(p.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict(e, "permissions.slug"))?;
        super::events::record_in(&mut tx, &p.environment_id, p.updated_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn find_permission(&self, environment_id: &str, slug: &str) -> StoreResult<Option<Permission>> {
        let p = sqlx::query_as(&format!(
            "SELECT {PERMISSION_COLUMNS} FROM permissions WHERE environment_id = $1 AND slug = $2"
        ))
        .bind(environment_id)
        .bind(slug)
        .fetch_optional(self.reader())
        .await?;
        Ok(p)
    }

    pub async fn list_permissions(&self, environment_id: &str, cursor: &Cursor) -> StoreResult<Page<Permission>> {
        let sql = format!("SELECT {PERMISSION_COLUMNS} FROM permissions WHERE environment_id = $1");
        fetch_page(self.reader(), sql, vec![environment_id.to_owned()], cursor, "id", |row| {
            Ok(Permission {
                id: row.try_get("id")?,
                environment_id: row.try_get("environment_id")?,
                slug: row.try_get("slug")?,
                name: row.try_get("name")?,
                description: get_opt_string(row, "description")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        })
        .await
    }

    /// Saves a permission's name and description with `events` (its `permission.updated`), in
    /// one transaction.
    pub async fn update_permission(&self, p: &Permission, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE permissions SET name = $1, description = $2, updated_at = $3 WHERE id = $4")
            .bind(&p.name)
            .bind(&p.description)
            .bind(p.updated_at)
            .bind(&p.id)
            .execute(&mut *tx)
            .await?;
        super::events::record_in(&mut tx, &p.environment_id, p.updated_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a permission and takes it out of every role that grants it, in one transaction,
    /// with `events` (its `permission.deleted`) and a `role.updated` (or
    /// `organization_role.updated`) for each role that lost it.
    pub async fn delete_permission(&self, p: &Permission, now: Millis, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(&format!("SELECT {ROLE_COLUMNS} FROM roles WHERE environment_id = $1"))
            .bind(&p.environment_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut recorded = events.to_vec();
        for row in &rows {
            let mut role = role_from_row(row)?;
            if role.permissions.contains(&p.slug) {
                role.permissions.retain(|s| s != &p.slug);
                role.updated_at = now;
                sqlx::query("UPDATE roles SET permissions = $1, updated_at = $2 WHERE id = $3")
                    .bind(json_list(&role.permissions))
                    .bind(now)
                    .bind(&role.id)
                    .execute(&mut *tx)
                    .await?;
                recorded.push(NewEvent::role("updated", &role));
            }
        }
        sqlx::query("DELETE FROM permissions WHERE id = $1").bind(&p.id).execute(&mut *tx).await?;
        super::events::record_in(&mut tx, &p.environment_id, now, &recorded).await?;
        tx.commit().await?;
        Ok(())
    }
}
