//! Email verification: a six-digit code proves the user owns the address. Environments can
//! require it before any session starts.

use super::codes::CodeKind;
use super::email::Compose;
use super::environments::LoadedEnvironment;
use super::error::Rejection;
use super::{Core, Error, Result};
use crate::domain::event::{Attempted, AuthenticationKind, NewEvent};
use crate::domain::one_time_code::OneTimeCode;
use crate::domain::user::User;

impl Core {
    /// Sends a verification code to the user's address.
    pub async fn send_verification_email(&self, env: &LoadedEnvironment, user: &User) -> Result<OneTimeCode> {
        self.send_verification_email_from(env, user, None).await
    }

    /// `send_verification_email` asked for by a client at `ip` (its send limits count it).
    pub async fn send_verification_email_from(
        &self,
        env: &LoadedEnvironment,
        user: &User,
        ip: Option<&crate::domain::client_address::ClientAddress>,
    ) -> Result<OneTimeCode> {
        if user.email_verified {
            return Err(Error::Rejected {
                reason: Rejection::EmailAlreadyVerified,
                message: "The email is already verified.".into(),
            });
        }
        self.check_email_available(env)?;
        self.throttle_sends(&env.id, "email_verification", &user.email, ip).await?;
        let (code, secret) = self.issue_code(&env.id, CodeKind::EmailVerification, user).await?;
        let app = &env.settings.branding.app_name;
        self.send_email(
            env,
            Compose {
                kind: "email_verification",
                to: &user.email,
                subject: format!("Your {app} verification code is {secret}"),
                heading: "Verify your email".into(),
                intro: format!(
                    "Enter this code in {app} to confirm this is your email address. It expires in 10 minutes."
                ),
                code: Some(&secret),
                link: None,
                link_text: "",
                outro: "If you didn't create an account, you can ignore this email.".into(),
            },
        )
        .await?;
        Ok(code)
    }

    /// Checks a verification code and marks the email verified.
    pub async fn confirm_email_verification(&self, env: &LoadedEnvironment, user: User, code: &str) -> Result<User> {
        if user.email_verified {
            return Err(Error::Rejected {
                reason: Rejection::EmailPreviouslyVerified,
                message: "The email has already been verified.".into(),
            });
        }
        let result = match self.redeem_code(&env.id, CodeKind::EmailVerification, &user.id, code).await? {
            Ok(_) => {
                let who =
                    Attempted { user_id: Some(&user.id), email: Some(&user.email), ip_address: None, user_agent: None };
                let succeeded = NewEvent::authentication_succeeded(AuthenticationKind::EmailVerification, who);
                self.mark_email_verified_with(user, vec![succeeded]).await
            }
            Err(problem) => {
                let refused = (super::magic_auth::problem_code(problem), problem.message());
                let kind = AuthenticationKind::EmailVerification;
                self.record_failed_sign_in(&env.id, kind, Some(&user), &user.email, None, refused).await?;
                Err(Error::Rejected {
                    reason: Rejection::EmailVerificationCode(problem),
                    message: problem.message().into(),
                })
            }
        };
        self.counters.sign_in(super::counters::SignInMethod::EmailVerification, &result);
        result
    }
}
