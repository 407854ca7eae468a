//! Invitations, and accepting one (membership and all) in one transaction.

use super::{Store, StoreResult};
use crate::clock::Millis;
use crate::domain::event::NewEvent;
use crate::domain::listing::{Cursor, Page};
use crate::domain::organization::{Invitation, Membership, MembershipStatus};

const INVITATION_COLUMNS: &str = "id, environment_id, email, organization_id, role_slug, inviter_user_id, sealed_token, \
     expires_at, accepted_at, accepted_user_id, revoked_at, created_at, updated_at";

impl Store {
    pub async fn insert_invitation(&self, i: &Invitation, token_hash: &str, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO invitations ({INVITATION_COLUMNS}, token_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&i.id)
        .bind(&i.environment_id)
        .bind(&i.email)
        .bind(&i.organization_id)
        .bind(&i.role_slug)
        .bind(&i.inviter_user_id)
        .bind(&i.sealed_token)
        .bind(i.expires_at)
        .bind(i.accepted_at)
        .bind(&i.accepted_user_id)
        .bind(i.revoked_at)
        .bind(i.created_at)
        .bind(i.updated_at)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
        super::events::record_in(&mut tx, &i.environment_id, i.updated_at, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn find_invitation(&self, environment_id: &str, id: &str) -> StoreResult<Option<Invitation>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE environment_id = $1 AND id = $2"
        ))
        .bind(environment_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?)
    }

    pub async fn find_invitation_by_token(
        &self,
        environment_id: &str,
        token_hash: &str,
    ) -> StoreResult<Option<Invitation>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE environment_id = $1 AND token_hash = $2"
        ))
        .bind(environment_id)
        .bind(token_hash)
        .fetch_optional(self.reader())
        .await?)
    }

    /// Pending (unaccepted, unrevoked, unexpired) invitations of `email`.
    pub async fn pending_invitations_of(
        &self,
        environment_id: &str,
        email: &str,
        now: Millis,
    ) -> StoreResult<Vec<Invitation>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE environment_id = $1 AND email = $2 \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3"
        ))
        .bind(environment_id)
        .bind(email)
        .bind(now)
        .fetch_all(self.reader())
        .await?)
    }

    pub async fn list_invitations(
        &self,
        environment_id: &str,
        organization_id: Option<&str>,
        email: Option<&str>,
        cursor: &Cursor,
    ) -> StoreResult<Page<Invitation>> {
        let mut sql = format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE environment_id = $1");
        let mut args = vec![environment_id.to_owned()];
        if let Some(org) = organization_id {
            args.push(org.to_owned());
            sql.push_str(&format!(" AND organization_id = ${}", args.len()));
        }
        if let Some(email) = email {
            args.push(email.to_owned());
            sql.push_str(&format!(" AND email = ${}", args.len()));
        }
        super::organizations::fetch_page_as(self.reader(), sql, args, cursor, "id").await
    }

    /// Revokes a pending invitation; false if it was no longer pending.
    pub async fn revoke_invitation(&self, i: &Invitation, now: Millis, events: &[NewEvent]) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE invitations SET revoked_at = $1, updated_at = $1 \
             WHERE id = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(&i.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::events::record_in(&mut tx, &i.environment_id, now, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Accepts a pending invitation for `user_id` in one transaction: the invitation becomes
    /// accepted (only if it still was pending) and, when it names an organization, the user's
    /// membership there is created, or made active with the invitation's role. False if the
    /// invitation was no longer pending.
    pub async fn accept_invitation(
        &self,
        invitation: &Invitation,
        user_id: &str,
        membership: Option<&Membership>,
        now: Millis,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE invitations SET accepted_at = $1, accepted_user_id = $2, updated_at = $1 \
             WHERE id = $3 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(user_id)
        .bind(&invitation.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some(m) = membership {
            let roles = serde_json::Value::from(m.role_slugs.clone()).to_string();
            sqlx::query(
                "INSERT INTO organization_memberships (id, environment_id, organization_id, user_id, status, role_slugs, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (organization_id, user_id) DO UPDATE SET status = $5, updated_at = $7",
            )
            .bind(&m.id)
            .bind(&m.environment_id)
            .bind(&m.organization_id)
            .bind(&m.user_id)
            .bind(MembershipStatus::Active.as_str())
            .bind(roles)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        super::events::record_in(&mut tx, &invitation.environment_id, now, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Marks a resent invitation as changed now.
    pub async fn touch_invitation(&self, i: &Invitation, now: Millis, events: &[NewEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE invitations SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&i.id)
            .execute(&mut *tx)
            .await?;
        super::events::record_in(&mut tx, &i.environment_id, now, events).await?;
        tx.commit().await?;
        Ok(())
    }
}
