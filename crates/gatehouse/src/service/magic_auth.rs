//! Magic Auth: sign in with a six-digit code sent by email. A first-time address gets an
//! account, verified once the code is redeemed.

use super::codes::{CodeKind, CodeProblem, Presenter};
use super::email::Compose;
use super::environments::LoadedEnvironment;
use super::error::{Duplicate, Rejection};
use super::users::NewUser;
use super::{Core, Error, Result};
use crate::domain::event::{AuthenticationKind, NewEvent};
use crate::domain::one_time_code::OneTimeCode;
use crate::domain::user::{User, normalize_email};

impl Core {
    /// Creates a code for `email` (and the user, if new) and emails it.
    pub async fn create_magic_auth(
        &self,
        env: &LoadedEnvironment,
        email: &str,
        ip: Option<&crate::domain::client_address::ClientAddress>,
    ) -> Result<(OneTimeCode, String)> {
        self.check_email_available(env)?;
        let email = normalize_email(email).ok_or_else(|| {
            Error::validation("email", "invalid_email", format!("'{email}' is not a valid email address."))
        })?;
        self.throttle_sends(&env.id, "magic_auth", &email, ip).await?;
        let user = match self.store.find_user_by_email(&env.id, &email).await? {
            Some(user) => user,
            None => match self.create_user(env, NewUser { email: email.clone(), ..NewUser::default() }).await {
                Ok(user) => user,
                // Created by a concurrent request: use that one.
                Err(Error::Conflict { what: Duplicate::UserEmail, .. }) => self
                    .store
                    .find_user_by_email(&env.id, &email)
                    .await?
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("user vanished")))?,
                Err(e) => return Err(e),
            },
        };
        let (code, secret) = self.issue_code(&env.id, CodeKind::MagicAuth, &user).await?;
        let app = &env.settings.branding.app_name;
        self.send_email(
            env,
            Compose {
                kind: "magic_auth",
                to: &user.email,
                subject: format!("Your {app} sign-in code is {secret}"),
                heading: format!("Sign in to {app}"),
                intro: "Enter this code to sign in. It expires in 10 minutes.".into(),
                code: Some(&secret),
                link: None,
                link_text: "",
                outro: "If you didn't try to sign in, you can ignore this email: nobody can sign in without the code."
                    .into(),
            },
        )
        .await?;
        Ok((code, secret))
    }

    /// The hosted page's "Email me a code": `create_magic_auth`, except that without sign-up an
    /// unknown address gets no account and no email, only the same answer and the same send
    /// limit (so neither tells known addresses apart).
    pub async fn request_magic_auth(
        &self,
        env: &LoadedEnvironment,
        email: &str,
        ip: Option<&crate::domain::client_address::ClientAddress>,
    ) -> Result<()> {
        let known = match normalize_email(email) {
            Some(e) => self.store.find_user_by_email(&env.id, &e).await.ok().flatten().is_some(),
            None => false,
        };
        if env.settings.sign_up_enabled || known {
            return match self.create_magic_auth(env, email, ip).await {
                // A new address that looks like an account's gets no account and no email, and
                // the same answer (its sends were counted), so the page does not reveal the account.
                Ok(_) | Err(Error::Conflict { .. }) => Ok(()),
                Err(e) => Err(e),
            };
        }
        let Some(normalized) = normalize_email(email) else {
            return Err(Error::validation("email", "invalid_email", "Enter a valid email address."));
        };
        self.throttle_sends(&env.id, "magic_auth", &normalized, ip).await
    }

    /// Checks a Magic Auth code from `presenter`; the user's email counts as verified afterwards.
    pub async fn redeem_magic_auth(
        &self,
        env: &LoadedEnvironment,
        email: &str,
        code: &str,
        presenter: Presenter<'_>,
    ) -> Result<User> {
        let result: Result<User> = async {
            let refused = |problem: CodeProblem| Error::Rejected {
                reason: Rejection::OneTimeCode(problem),
                message: problem.message().into(),
            };
            let Some(email) = normalize_email(email) else { return Err(refused(CodeProblem::Incorrect)) };
            let Some(user) = self.store.find_user_by_email(&env.id, &email).await? else {
                return Err(refused(CodeProblem::Incorrect));
            };
            if let Err(problem) = self.redeem_code(env, CodeKind::MagicAuth, &user, code, presenter).await? {
                let error = (problem_code(problem), problem.message());
                let kind = AuthenticationKind::MagicAuth;
                self.record_failed_sign_in(&env.id, kind, Some(&user), Some(&email), presenter.client, error).await?;
                return Err(refused(problem));
            }
            self.claim_by_email_proof(user, None).await
        }
        .await;
        self.counters.sign_in(super::counters::SignInMethod::MagicAuth, &result);
        result
    }

    /// The user has just proved they receive this address. If it was never verified, the
    /// account changes hands (`Store::claim_unverified_account`): whoever registered the address
    /// before without proving it keeps no password, session, factor or passkey.
    pub async fn claim_by_email_proof(&self, user: User, new_password_hash: Option<String>) -> Result<User> {
        self.claim_by_email_proof_with(user, new_password_hash, None).await
    }

    /// `claim_by_email_proof`, recording `also` with the change (or alone, when the address
    /// was already verified and nothing changes).
    pub(super) async fn claim_by_email_proof_with(
        &self,
        mut user: User,
        new_password_hash: Option<String>,
        also: Option<NewEvent>,
    ) -> Result<User> {
        let now = self.now();
        if user.email_verified {
            if let Some(event) = also {
                self.store.record_events(&user.environment_id, now, &[event]).await?;
            }
            return Ok(user);
        }
        user.email_verified = true;
        user.password_hash = new_password_hash;
        user.updated_at = now.max(user.updated_at + 1);
        let events: Vec<NewEvent> = std::iter::once(NewEvent::user("user.updated", &user)).chain(also).collect();
        self.store.claim_unverified_account(&user, now, &events).await?;
        tracing::info!(user.id = %user.id, "unverified account claimed by proof of its email address");
        Ok(user)
    }

    pub async fn mark_email_verified(&self, user: User) -> Result<User> {
        self.mark_email_verified_with(user, Vec::new()).await
    }

    /// Marks the email verified with more events in the same transaction (the
    /// `authentication.email_verification_succeeded` of a confirmed code).
    pub(super) async fn mark_email_verified_with(&self, mut user: User, mut events: Vec<NewEvent>) -> Result<User> {
        if !user.email_verified {
            user.email_verified = true;
            user.updated_at = self.now().max(user.updated_at + 1);
            events.push(NewEvent::user("user.updated", &user));
            self.store.update_user(&user, &events).await?;
        }
        Ok(user)
    }
}

/// The WorkOS error code of a refused one-time code, for `authentication.*_failed`.
pub fn problem_code(problem: CodeProblem) -> &'static str {
    match problem {
        CodeProblem::Incorrect => "invalid_one_time_code",
        CodeProblem::Expired => "one_time_code_expired",
        CodeProblem::PreviouslyUsed => "one_time_code_previously_used",
        CodeProblem::TooManyAttempts => "one_time_code_too_many_attempts",
    }
}
