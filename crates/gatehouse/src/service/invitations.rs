//! Invitations: create (the email goes through the outbox), read, list, revoke, resend,
//! accept; and redeeming an `invitation_token` at sign-in or sign-up, which accepts the
//! invitation and makes the user a member of its organization, in one transaction.

use super::email::Compose;
use super::error::{InvitationProblem, Rejection};
use super::{Core, Error, Result};
use crate::crypto::secrets::{hash_secret, random_token};
use crate::domain::environment::Environment;
use crate::domain::event::NewEvent;
use crate::domain::listing::{Cursor, Page};
use crate::domain::organization::{DEFAULT_ROLE, Invitation, InvitationState, Membership, MembershipStatus};
use crate::domain::user::{User, normalize_email};
use crate::ids::new_id;

/// The sealing purpose of invitation tokens.
const SEAL_PURPOSE: &str = "invitation-token";
const DAY_MS: i64 = 86_400_000;

/// A new invitation, parsed from the wire.
#[derive(Debug, Default)]
pub struct NewInvitation {
    pub email: String,
    pub organization_id: Option<String>,
    pub role_slug: Option<String>,
    pub expires_in_days: Option<i64>,
    pub inviter_user_id: Option<String>,
}

/// An invitation with what its wire shape shows beside it.
#[derive(Clone, Debug)]
pub struct InvitationView {
    pub invitation: Invitation,
    pub state: InvitationState,
    pub token: String,
    pub accept_invitation_url: String,
}

fn refused(problem: InvitationProblem, message: impl Into<String>) -> Error {
    Error::Rejected { reason: Rejection::Invitation(problem), message: message.into() }
}

impl Core {
    fn invitation_view(&self, env: &Environment, invitation: Invitation) -> Result<InvitationView> {
        let token = self.sealer.open(SEAL_PURPOSE, &invitation.sealed_token).map_err(|e| Error::Internal(e.into()))?;
        let accept_invitation_url = format!(
            "{}/authkit/invitation?client_id={}&invitation_token={token}",
            self.config.public_url, env.client_id
        );
        Ok(InvitationView { state: invitation.state(self.now()), invitation, token, accept_invitation_url })
    }

    async fn invitation(&self, env: &Environment, id: &str) -> Result<Invitation> {
        self.store
            .find_invitation(&env.id, id)
            .await?
            .ok_or_else(|| Error::NotFound { kind: "Invitation", id: id.to_owned() })
    }

    pub async fn create_invitation(&self, env: &Environment, new: NewInvitation) -> Result<InvitationView> {
        let email = normalize_email(&new.email).ok_or_else(|| {
            Error::validation("email", "invalid_email", format!("'{}' is not a valid email address.", new.email))
        })?;
        let days = new.expires_in_days.unwrap_or(7);
        if days < 1 {
            return Err(refused(InvitationProblem::ExpiresTooShort, "expires_in_days must be at least 1."));
        }
        if days > 30 {
            return Err(refused(InvitationProblem::ExpiresTooLong, "expires_in_days must be at most 30."));
        }
        if let Some(inviter) = &new.inviter_user_id {
            self.get_user(env, inviter).await?;
        }
        let now = self.now();
        let existing = self.store.find_user_by_email(&env.id, &email).await?;
        let pending = self.store.pending_invitations_of(&env.id, &email, now).await?;
        match &new.organization_id {
            Some(org) => {
                self.get_organization(env, org).await?;
                if let Some(role) = &new.role_slug {
                    self.store.ensure_built_in_roles(&env.id, now).await?;
                    if !self.store.list_roles(&env.id, Some(org)).await?.iter().any(|r| &r.slug == role) {
                        return Err(refused(InvitationProblem::InvalidRole, format!("There is no role '{role}'.")));
                    }
                }
                if let Some(user) = &existing
                    && self.store.find_membership_of(org, &user.id).await?.is_some()
                {
                    return Err(refused(
                        InvitationProblem::AlreadyMember,
                        "The user is already a member of this organization.",
                    ));
                }
                if pending.iter().any(|i| i.organization_id.as_deref() == Some(org)) {
                    return Err(refused(
                        InvitationProblem::AlreadyInvitedToOrganization,
                        "This email already has a pending invitation to this organization.",
                    ));
                }
            }
            None => {
                if new.role_slug.is_some() {
                    return Err(Error::validation("role_slug", "invalid", "role_slug needs an organization_id."));
                }
                if existing.is_some() {
                    return Err(Error::Conflict {
                        what: super::error::Duplicate::UserEmail,
                        message: "A user with this email already exists.".into(),
                    });
                }
                if pending.iter().any(|i| i.organization_id.is_none()) {
                    return Err(refused(
                        InvitationProblem::AlreadyInvited,
                        "This email already has a pending invitation.",
                    ));
                }
            }
        }
        let token = random_token(32);
        let invitation = Invitation {
            id: new_id("invitation"),
            environment_id: env.id.clone(),
            email,
            organization_id: new.organization_id,
            role_slug: new.role_slug,
            inviter_user_id: new.inviter_user_id,
            sealed_token: self.sealer.seal(SEAL_PURPOSE, &token).map_err(|e| Error::Internal(e.into()))?,
            expires_at: now + days * DAY_MS,
            accepted_at: None,
            accepted_user_id: None,
            revoked_at: None,
            created_at: now,
            updated_at: now,
        };
        let events = [NewEvent::invitation("invitation.created", &invitation, now)];
        self.store.insert_invitation(&invitation, &hash_secret(&token), &events).await?;
        let view = self.invitation_view(env, invitation)?;
        self.send_invitation_email(env, &view).await?;
        Ok(view)
    }

    async fn send_invitation_email(&self, env: &Environment, view: &InvitationView) -> Result<()> {
        let loaded = self
            .load_environment_by_id(&env.id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("environment {} vanished", env.id)))?;
        let app = loaded.settings.branding.app_name.clone();
        let org = match &view.invitation.organization_id {
            Some(id) => Some(self.get_organization(env, id).await?.name),
            None => None,
        };
        let inviter = match &view.invitation.inviter_user_id {
            Some(id) => self.store.find_user(&env.id, id).await?.and_then(|u| u.display_name().or(Some(u.email))),
            None => None,
        };
        let what = org.as_deref().map_or_else(|| app.clone(), |o| format!("{o} on {app}"));
        let intro = match inviter {
            Some(name) => format!("{name} invited you to join {what}."),
            None => format!("You have been invited to join {what}."),
        };
        self.send_email(
            &loaded,
            Compose {
                kind: "invitation",
                to: &view.invitation.email,
                subject: format!("You're invited to {what}"),
                heading: format!("Join {what}"),
                intro,
                code: None,
                link: Some(&view.accept_invitation_url),
                link_text: "Accept the invitation",
                outro: "The invitation expires in a few days. If you weren't expecting it, you can ignore this email."
                    .into(),
            },
        )
        .await
    }

    pub async fn get_invitation(&self, env: &Environment, id: &str) -> Result<InvitationView> {
        let invitation = self.invitation(env, id).await?;
        self.invitation_view(env, invitation)
    }

    pub async fn get_invitation_by_token(&self, env: &Environment, token: &str) -> Result<InvitationView> {
        let invitation = self
            .store
            .find_invitation_by_token(&env.id, &hash_secret(token))
            .await?
            .ok_or_else(|| Error::NotFound { kind: "Invitation", id: "(token)".into() })?;
        self.invitation_view(env, invitation)
    }

    pub async fn list_invitations(
        &self,
        env: &Environment,
        organization_id: Option<&str>,
        email: Option<&str>,
        cursor: Cursor,
    ) -> Result<Page<InvitationView>> {
        let email = email.map(|e| normalize_email(e).unwrap_or_else(|| e.to_owned()));
        let page = self.store.list_invitations(&env.id, organization_id, email.as_deref(), &cursor).await?;
        let items = page.items.into_iter().map(|i| self.invitation_view(env, i)).collect::<Result<Vec<_>>>()?;
        Ok(Page { items, has_more: page.has_more })
    }

    pub async fn revoke_invitation(&self, env: &Environment, id: &str) -> Result<InvitationView> {
        let mut invitation = self.invitation(env, id).await?;
        let now = self.now();
        invitation.revoked_at = Some(now);
        invitation.updated_at = now;
        let events = [NewEvent::invitation("invitation.revoked", &invitation, now)];
        if !self.store.revoke_invitation(&invitation, now, &events).await? {
            return Err(refused(InvitationProblem::NotPending, "Invite is not pending."));
        }
        self.get_invitation(env, id).await
    }

    /// Sends a pending invitation's email again.
    pub async fn resend_invitation(&self, env: &Environment, id: &str) -> Result<InvitationView> {
        let invitation = self.invitation(env, id).await?;
        match invitation.state(self.now()) {
            InvitationState::Pending => {}
            InvitationState::Expired => return Err(refused(InvitationProblem::Expired, "Invite has expired.")),
            InvitationState::Revoked => return Err(refused(InvitationProblem::Revoked, "Invite has been revoked.")),
            InvitationState::Accepted => {
                return Err(refused(InvitationProblem::Accepted, "Invite has already been accepted."));
            }
        }
        let mut touched = invitation.clone();
        touched.updated_at = self.now();
        let events = [NewEvent::invitation("invitation.resent", &touched, self.now())];
        self.store.touch_invitation(&invitation, self.now(), &events).await?;
        let view = self.get_invitation(env, id).await?;
        self.send_invitation_email(env, &view).await?;
        Ok(view)
    }

    /// Accepts an invitation for the account that has its address.
    pub async fn accept_invitation(&self, env: &Environment, id: &str) -> Result<InvitationView> {
        let invitation = self.invitation(env, id).await?;
        self.check_pending(&invitation, InvitationProblem::NotPending)?;
        let user =
            self.store.find_user_by_email(&env.id, &invitation.email).await?.ok_or_else(|| {
                refused(InvitationProblem::NoUser, "There is no user with the invitation's email yet.")
            })?;
        self.accept_for(&invitation, &user).await?;
        self.get_invitation(env, id).await
    }

    fn check_pending(&self, invitation: &Invitation, otherwise: InvitationProblem) -> Result<()> {
        match invitation.state(self.now()) {
            InvitationState::Pending => Ok(()),
            _ => Err(refused(otherwise, "Invite is not pending.")),
        }
    }

    /// Accepts `invitation` for `user` (membership included), atomically.
    async fn accept_for(&self, invitation: &Invitation, user: &User) -> Result<()> {
        let now = self.now();
        let membership = invitation.organization_id.as_ref().map(|org| Membership {
            id: new_id("om"),
            environment_id: invitation.environment_id.clone(),
            organization_id: org.clone(),
            user_id: user.id.clone(),
            status: MembershipStatus::Active,
            role_slugs: vec![invitation.role_slug.clone().unwrap_or_else(|| DEFAULT_ROLE.to_owned())],
            created_at: now,
            updated_at: now,
        });
        let mut accepted = invitation.clone();
        accepted.accepted_at = Some(now);
        accepted.accepted_user_id = Some(user.id.clone());
        accepted.updated_at = now;
        let mut events = vec![NewEvent::invitation("invitation.accepted", &accepted, now)];
        if let Some(m) = &membership
            && let Some(org) = self.store.find_organization(&invitation.environment_id, &m.organization_id).await?
        {
            events.push(NewEvent::membership("organization_membership.created", m, &org.name));
        }
        if !self.store.accept_invitation(invitation, &user.id, membership.as_ref(), now, &events).await? {
            return Err(refused(InvitationProblem::NotPending, "Invite is not pending."));
        }
        Ok(())
    }

    /// The pending invitation behind an `invitation_token`, for sign-up pages (not accepted).
    pub async fn pending_invitation(&self, environment_id: &str, token: &str) -> Result<Invitation> {
        let invitation = self
            .store
            .find_invitation_by_token(environment_id, &hash_secret(token))
            .await?
            .ok_or_else(|| refused(InvitationProblem::InvalidToken, "The invitation is invalid."))?;
        self.check_pending(&invitation, InvitationProblem::InvalidToken)?;
        Ok(invitation)
    }

    /// A pending invitation by ID (one the hosted flow already checked the token of).
    pub async fn pending_invitation_by_id(&self, environment_id: &str, id: &str) -> Result<Invitation> {
        let invitation = self
            .store
            .find_invitation(environment_id, id)
            .await?
            .ok_or_else(|| refused(InvitationProblem::InvalidToken, "The invitation is invalid."))?;
        self.check_pending(&invitation, InvitationProblem::InvalidToken)?;
        Ok(invitation)
    }

    /// Redeems an invitation at sign-in or sign-up for `user`, whose email must be the
    /// invitation's: accepts it and returns the organization it joins, if any.
    pub async fn redeem_invitation(&self, invitation: &Invitation, user: &User) -> Result<Option<String>> {
        if invitation.email != user.email {
            return Err(refused(InvitationProblem::OtherEmail, "This invitation was sent to another email address."));
        }
        self.accept_for(invitation, user).await.map_err(|e| match e {
            Error::Rejected { reason: Rejection::Invitation(_), message } => {
                refused(InvitationProblem::InvalidToken, message)
            }
            other => other,
        })?;
        Ok(invitation.organization_id.clone())
    }
}
