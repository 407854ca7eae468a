//! Password reset: an emailed single-use link. The hosted request page never says whether an
//! address has an account; a reset ends every session of the user.

use super::codes::{CodeKind, CodeProblem};
use super::email::Compose;
use super::environments::LoadedEnvironment;
use super::error::Rejection;
use super::{Core, Error, Result};
use crate::crypto::secrets::hash_secret;
use crate::domain::event::NewEvent;
use crate::domain::one_time_code::OneTimeCode;
use crate::domain::redirect::with_query;
use crate::domain::user::{User, normalize_email};

impl Core {
    /// Where the emailed link points: the environment's own page, or the hosted one.
    pub fn password_reset_url(&self, env: &LoadedEnvironment, token: &str) -> String {
        let base = env
            .settings
            .password_reset_url
            .clone()
            .unwrap_or_else(|| format!("{}/authkit/reset-password", self.config.public_url));
        with_query(&base, &[("token", token)])
    }

    /// Creates a reset for an existing user and emails the link (API; 404 for unknown emails).
    pub async fn create_password_reset(&self, env: &LoadedEnvironment, email: &str) -> Result<(OneTimeCode, String)> {
        self.check_email_available(env)?;
        let user = match normalize_email(email) {
            Some(e) => self.store.find_user_by_email(&env.id, &e).await?,
            None => None,
        }
        .ok_or_else(|| Error::NotFound { kind: "User", id: email.to_owned() })?;
        self.throttle_sends(&env.id, "password_reset", &user.email, None).await?;
        self.issue_password_reset(env, &user).await
    }

    /// The hosted "forgot password" request: same outcome whether or not the account exists.
    pub async fn request_password_reset(
        &self,
        env: &LoadedEnvironment,
        email: &str,
        ip: Option<&crate::domain::client_address::ClientAddress>,
    ) -> Result<()> {
        self.check_email_available(env)?;
        let Some(email) = normalize_email(email) else {
            return Err(Error::validation("email", "invalid_email", "Enter a valid email address."));
        };
        self.throttle_sends(&env.id, "password_reset", &email, ip).await?;
        if let Some(user) = self.store.find_user_by_email(&env.id, &email).await? {
            self.issue_password_reset(env, &user).await?;
        }
        Ok(())
    }

    async fn issue_password_reset(&self, env: &LoadedEnvironment, user: &User) -> Result<(OneTimeCode, String)> {
        let (code, token) = self.issue_code(&env.id, CodeKind::PasswordReset, user).await?;
        let link = self.password_reset_url(env, &token);
        let app = &env.settings.branding.app_name;
        self.send_email(
            env,
            Compose {
                kind: "password_reset",
                to: &user.email,
                subject: format!("Reset your {app} password"),
                heading: "Reset your password".into(),
                intro: format!(
                    "Someone asked to reset the password of your {app} account. The link works once, for one hour."
                ),
                code: None,
                link: Some(&link),
                link_text: "Choose a new password",
                outro: "If it wasn't you, ignore this email: your password stays as it is.".into(),
            },
        )
        .await?;
        Ok((code, token))
    }

    /// The open reset behind a link's token, without spending it (to show the form).
    pub async fn find_open_password_reset(
        &self,
        token: &str,
    ) -> Result<Option<(OneTimeCode, std::sync::Arc<LoadedEnvironment>)>> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let found =
            self.store.find_one_time_code_by_hash(CodeKind::PasswordReset.as_str(), &hash_secret(token)).await?;
        let Some(found) = found.filter(|c| c.used_at.is_none() && c.expires_at > self.now()) else { return Ok(None) };
        let env = self.load_environment_by_id(&found.environment_id).await?;
        Ok(env.map(|env| (found, env)))
    }

    /// Sets a new password with a reset token; every session of the user ends. With
    /// `environment_id`, a token of another environment is refused before anything changes.
    pub async fn reset_password(&self, environment_id: Option<&str>, token: &str, new_password: &str) -> Result<User> {
        let invalid =
            |message: &str| Error::Rejected { reason: Rejection::PasswordResetToken, message: message.into() };
        let Some(found) = self
            .store
            .find_one_time_code_by_hash(CodeKind::PasswordReset.as_str(), &hash_secret(token))
            .await?
            .filter(|c| environment_id.is_none_or(|id| id == c.environment_id))
        else {
            return Err(invalid("The password reset link is invalid."));
        };
        let env = self
            .store
            .find_environment(&found.environment_id)
            .await?
            .ok_or_else(|| invalid("The password reset link is invalid."))?;
        let mut user = self.get_user(&env, &found.user_id).await?;
        // Check the password before spending the token, so a weak choice can be corrected.
        let inputs =
            [user.email.as_str(), user.first_name.as_deref().unwrap_or(""), user.last_name.as_deref().unwrap_or("")];
        self.check_password(&env, new_password, &inputs)?;
        let spent = match self.redeem_token(CodeKind::PasswordReset, token).await? {
            Ok(code) => code,
            Err(CodeProblem::Expired) => {
                return Err(invalid("The password reset link has expired. Request a new one."));
            }
            Err(CodeProblem::PreviouslyUsed) => return Err(invalid("The password reset link has already been used.")),
            Err(_) => return Err(invalid("The password reset link is invalid.")),
        };
        let now = self.now();
        let new_hash = self.passwords.hash(new_password).await?;
        if user.email_verified {
            user.password_hash = Some(new_hash);
            user.updated_at = now.max(user.updated_at + 1);
            let events = [NewEvent::user("user.updated", &user), NewEvent::code("password_reset.succeeded", &spent)];
            self.store.update_user_revoking_sessions(&user, now, &events).await?;
        } else {
            // Receiving the link proves the address: the account changes hands.
            let succeeded = NewEvent::code("password_reset.succeeded", &spent);
            user = self.claim_by_email_proof_with(user, Some(new_hash), Some(succeeded)).await?;
        }
        self.store.void_one_time_codes(CodeKind::PasswordReset.as_str(), &user.id, now).await?;
        tracing::info!(user.id = %user.id, "password reset; sessions revoked");
        Ok(user)
    }
}
