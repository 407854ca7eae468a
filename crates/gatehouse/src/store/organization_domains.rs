//! Organization domains: a domain an organization claims and its verification state.
//!
//! An environment has each domain verified in at most one organization: the partial unique
//! index `organization_domains_verified` refuses a second, so two verifications racing for one
//! domain cannot both commit (`Conflict("organization_domains.verified")`).

use sqlx::Row as _;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool};

use super::{Store, StoreError, StoreResult, get_bool, get_opt_string};
use crate::domain::event::NewEvent;
use crate::domain::organization::{DomainState, OrganizationDomain, VerificationStrategy};

const DOMAIN_COLUMNS: &str = "id, environment_id, organization_id, domain, state, verification_strategy, \
     verification_prefix, verification_token, failure_reason, created_at, updated_at";

/// What an organization update does to its domains (written in its transaction).
#[derive(Debug, Default)]
pub struct DomainChanges {
    pub inserted: Vec<OrganizationDomain>,
    /// Their state, strategy and failure reason are written.
    pub updated: Vec<OrganizationDomain>,
    /// IDs.
    pub deleted: Vec<String>,
}

fn domain_from_row(row: &AnyRow) -> StoreResult<OrganizationDomain> {
    let state: String = row.try_get("state")?;
    let strategy: String = row.try_get("verification_strategy")?;
    Ok(OrganizationDomain {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        organization_id: row.try_get("organization_id")?,
        domain: row.try_get("domain")?,
        state: DomainState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("domain state '{state}'")))?,
        verification_strategy: VerificationStrategy::parse(&strategy)
            .ok_or_else(|| StoreError::Corrupt(format!("domain verification strategy '{strategy}'")))?,
        verification_prefix: row.try_get("verification_prefix")?,
        verification_token: row.try_get("verification_token")?,
        failure_reason: get_opt_string(row, "failure_reason")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A unique violation on `organization_domains`: the organization has the domain already
/// (`organization_domains.domain`), or another organization has it verified
/// (`organization_domains.verified`). PostgreSQL names the index; SQLite names its columns.
fn domain_conflict(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let verified = db.constraint().is_some_and(|c| c.contains("verified"))
                || db.message().contains("organization_domains.environment_id");
            StoreError::Conflict(if verified { "organization_domains.verified" } else { "organization_domains.domain" })
        }
        _ => StoreError::Database(err),
    }
}

/// The domains of these organizations, by name.
pub(super) async fn domains_of(pool: &AnyPool, organization_ids: &[&str]) -> StoreResult<Vec<OrganizationDomain>> {
    let marks: Vec<String> = (1..=organization_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {DOMAIN_COLUMNS} FROM organization_domains WHERE organization_id IN ({}) ORDER BY domain",
        marks.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in organization_ids {
        query = query.bind(*id);
    }
    query.fetch_all(pool).await?.iter().map(domain_from_row).collect()
}

pub(super) async fn insert_domain_in(conn: &mut AnyConnection, d: &OrganizationDomain) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO organization_domains ({DOMAIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&d.id)
    .bind(&d.environment_id)
    .bind(&d.organization_id)
    .bind(&d.domain)
    .bind(d.state.as_str())
    .bind(d.verification_strategy.as_str())
    .bind(&d.verification_prefix)
    .bind(&d.verification_token)
    .bind(&d.failure_reason)
    .bind(d.created_at)
    .bind(d.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(domain_conflict)?;
    Ok(())
}

async fn update_domain_in(conn: &mut AnyConnection, d: &OrganizationDomain) -> StoreResult<()> {
    sqlx::query(
        "UPDATE organization_domains SET state = $1, verification_strategy = $2, failure_reason = $3, \
         updated_at = $4 WHERE id = $5",
    )
    .bind(d.state.as_str())
    .bind(d.verification_strategy.as_str())
    .bind(&d.failure_reason)
    .bind(d.updated_at)
    .bind(&d.id)
    .execute(&mut *conn)
    .await
    .map_err(domain_conflict)?;
    Ok(())
}

/// Writes `changes` inside the caller's transaction (deletions first, so a domain removed and
/// re-added in one update does not collide with itself).
pub(super) async fn write_domain_changes(conn: &mut AnyConnection, changes: &DomainChanges) -> StoreResult<()> {
    for id in &changes.deleted {
        sqlx::query("DELETE FROM organization_domains WHERE id = $1").bind(id).execute(&mut *conn).await?;
    }
    for d in &changes.updated {
        update_domain_in(conn, d).await?;
    }
    for d in &changes.inserted {
        insert_domain_in(conn, d).await?;
    }
    Ok(())
}

impl Store {
    /// Adds a domain to an organization with its events, in one transaction.
    /// `Conflict("organization_domains.domain")` when the organization has it already.
    pub async fn insert_domain(&self, d: &OrganizationDomain, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_domain_in(&mut tx, d).await?;
        super::events::record_in(&mut tx, &d.environment_id, d.updated_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn find_domain(&self, environment_id: &str, id: &str) -> StoreResult<Option<OrganizationDomain>> {
        let row = sqlx::query(&format!(
            "SELECT {DOMAIN_COLUMNS} FROM organization_domains WHERE environment_id = $1 AND id = $2"
        ))
        .bind(environment_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(domain_from_row).transpose()
    }

    /// The domains of one organization, by name.
    pub async fn organization_domains(&self, organization_id: &str) -> StoreResult<Vec<OrganizationDomain>> {
        domains_of(self.reader(), &[organization_id]).await
    }

    /// The organization of the environment that has `domain` verified, if one has.
    pub async fn verified_domain_owner(&self, environment_id: &str, domain: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT organization_id FROM organization_domains \
             WHERE environment_id = $1 AND domain = $2 AND state = 'verified'",
        )
        .bind(environment_id)
        .bind(domain)
        .fetch_optional(self.reader())
        .await?)
    }

    /// Writes a domain's state (after a verification) with its events, in one transaction.
    /// `Conflict("organization_domains.verified")` when another organization verified the
    /// domain first.
    pub async fn update_domain(&self, d: &OrganizationDomain, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        update_domain_in(&mut tx, d).await?;
        super::events::record_in(&mut tx, &d.environment_id, d.updated_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a domain with its events, in one transaction; false if it was already gone.
    pub async fn delete_domain(&self, d: &OrganizationDomain, events: &[NewEvent]) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM organization_domains WHERE id = $1").bind(&d.id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        super::events::record_in(&mut tx, &d.environment_id, d.updated_at, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The organization a user whose verified email is at `domain` may join at sign-in: the one
    /// with the auto-join policy on that has `domain` verified, if the user has no membership
    /// there (an inactive or pending one is never turned active this way).
    pub async fn auto_join_organization(
        &self,
        environment_id: &str,
        domain: &str,
        user_id: &str,
    ) -> StoreResult<Option<String>> {
        let row = sqlx::query(
            "SELECT o.id, o.domain_auto_join FROM organizations o \
             JOIN organization_domains d ON d.organization_id = o.id \
             WHERE d.environment_id = $1 AND d.domain = $2 AND d.state = 'verified' \
             AND NOT EXISTS (SELECT 1 FROM organization_memberships m WHERE m.organization_id = o.id AND m.user_id = $3)",
        )
        .bind(environment_id)
        .bind(domain)
        .bind(user_id)
        .fetch_optional(self.reader())
        .await?;
        match row {
            Some(row) if get_bool(&row, "domain_auto_join")? => Ok(Some(row.try_get("id")?)),
            _ => Ok(None),
        }
    }
}
