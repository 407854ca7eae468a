//! Account linking: which Gatehouse user a provider's profile signs in as.
//!
//! 1. An identity already linked (same provider, same subject) signs in its user.
//! 2. Otherwise the profile's email decides, and only if the provider verified it:
//!    an existing user with that email gets the identity linked (if that user's own email was
//!    unverified, it becomes verified and any password set before is removed, so an account
//!    pre-registered by someone else cannot be taken over); a new email creates a user with
//!    `email_verified: true`.
//! 3. An unverified email never links, never creates, never takes over: the caller is told
//!    that the email must be verified first (`LinkOutcome::EmailVerificationRequired`).

use super::upstream::Profile;
use crate::domain::environment::Environment;
use crate::domain::event::NewEvent;
use crate::domain::identity::Identity;
use crate::domain::user::{User, normalize_email};
use crate::ids::new_id;
use crate::service::error::Duplicate;
use crate::service::users::NewUser;
use crate::service::{Core, Error, Result};
use crate::store::StoreError;

/// The result of matching a profile to a user.
#[derive(Debug)]
pub enum LinkOutcome {
    SignedIn(Box<User>),
    /// The provider did not verify the email. Nothing was linked or created; the hosted flow
    /// explains this on a page (continuing with an emailed code instead is a possible extension).
    EmailVerificationRequired {
        email: String,
    },
    /// The provider shared no usable email address.
    NoEmail,
    /// The email is new and the environment does not allow sign-up.
    SignUpDisabled,
}

impl Core {
    /// Finds or creates the user a provider's profile stands for (see the module comment).
    pub async fn link_social_profile(
        &self,
        env: &Environment,
        provider: &str,
        profile: &Profile,
    ) -> Result<LinkOutcome> {
        if profile.subject.is_empty() || profile.subject.len() > 255 {
            return Err(Error::Internal(anyhow::anyhow!("the provider returned an unusable subject")));
        }
        let email = profile.email.as_deref().and_then(normalize_email);
        // Twice at most: a concurrent sign-in with the same account may win a race.
        for _ in 0..2 {
            if let Some(identity) = self.store.find_identity(&env.id, provider, &profile.subject).await? {
                let user = self
                    .store
                    .find_user(&env.id, &identity.user_id)
                    .await?
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("identity without user")))?;
                if identity.email != email {
                    self.store.update_identity_email(&identity.id, email.as_deref(), self.now()).await?;
                }
                return Ok(LinkOutcome::SignedIn(Box::new(user)));
            }
            let Some(email) = email.clone() else {
                return Ok(LinkOutcome::NoEmail);
            };
            if !profile.is_email_verified {
                return Ok(LinkOutcome::EmailVerificationRequired { email });
            }
            let now = self.now();
            let existing = self.store.find_user_by_email(&env.id, &email).await?;
            let user = match existing {
                Some(user) => user,
                None if !env.settings.sign_up_enabled => return Ok(LinkOutcome::SignUpDisabled),
                None => {
                    let new = NewUser {
                        email: email.clone(),
                        first_name: profile.first_name.clone().map(|n| n.chars().take(256).collect()),
                        last_name: profile.last_name.clone().map(|n| n.chars().take(256).collect()),
                        email_verified: true,
                        ..NewUser::default()
                    };
                    match self.create_user(env, new).await {
                        Ok(mut user) => {
                            if let Some(picture) = profile.picture.as_deref().filter(|p| p.starts_with("https://")) {
                                user.profile_picture_url = Some(picture.chars().take(2048).collect());
                                self.store.update_user(&user, &[NewEvent::user("user.updated", &user)]).await?;
                            }
                            user
                        }
                        // Created meanwhile by another request: link to it on the next pass.
                        Err(Error::Conflict { what: Duplicate::UserEmail, .. }) => continue,
                        Err(e) => return Err(e),
                    }
                }
            };
            let identity = Identity {
                id: new_id("identity"),
                environment_id: env.id.clone(),
                user_id: user.id.clone(),
                provider: provider.to_owned(),
                idp_id: profile.subject.clone(),
                email: Some(email.clone()),
                created_at: now,
                updated_at: now,
            };
            let linked = if user.email_verified {
                self.store.insert_identity(&identity).await
            } else {
                self.store.link_identity_claiming_user(&identity, now).await
            };
            match linked {
                Ok(()) => {
                    tracing::info!(user.id = %user.id, provider, "social identity linked");
                    let user = self.store.find_user(&env.id, &user.id).await?.unwrap_or(user);
                    return Ok(LinkOutcome::SignedIn(Box::new(user)));
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Internal(anyhow::anyhow!("could not link a social identity after a concurrent change")))
    }
}
