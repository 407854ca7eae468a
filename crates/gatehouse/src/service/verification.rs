//! Email verification: a six-digit code proves the user owns the address. Environments can
//! require it before any session starts.

use super::codes::{CodeKind, Presenter};
use super::email::Compose;
use super::environments::LoadedEnvironment;
use super::error::Rejection;
use super::{Core, Error, Result};
use crate::domain::client_address::ClientAddress;
use crate::domain::event::{Attempted, AuthenticationKind, NewEvent};
use crate::domain::one_time_code::OneTimeCode;
use crate::domain::user::User;

/// Which send limits a verification code counts against (`service::throttle`).
#[derive(Clone, Copy, Debug)]
pub enum VerificationSend<'a> {
    /// Asked for by a client at this address, or by a backend with the API key (no address):
    /// the usual send limits.
    Request(Option<&'a ClientAddress>),
    /// A step-up after a correct first factor from this address: per recipient and pair, never
    /// per client address (`Core::throttle_step_up_send`).
    StepUp(Option<&'a ClientAddress>),
    /// A hosted sign-up's code, first send or resend: counted in the sign-up scope with the
    /// decoys for taken addresses (`service::sign_up`), so decoys never use up an account's
    /// own verification codes.
    SignUp(Option<&'a ClientAddress>),
}

impl Core {
    /// Sends a verification code to the user's address (a backend or operator asked).
    pub async fn send_verification_email(&self, env: &LoadedEnvironment, user: &User) -> Result<OneTimeCode> {
        self.send_verification_email_as(env, user, VerificationSend::Request(None)).await
    }

    /// `send_verification_email`, counted against the limits `send` names.
    pub async fn send_verification_email_as(
        &self,
        env: &LoadedEnvironment,
        user: &User,
        send: VerificationSend<'_>,
    ) -> Result<OneTimeCode> {
        if user.email_verified {
            return Err(Error::Rejected {
                reason: Rejection::EmailAlreadyVerified,
                message: "The email is already verified.".into(),
            });
        }
        self.check_email_available(env)?;
        match send {
            VerificationSend::Request(ip) => {
                self.throttle_sends(&env.id, "email_verification", &user.email, ip).await?
            }
            VerificationSend::StepUp(ip) => self.throttle_step_up_send(&env.id, &user.email, ip).await?,
            VerificationSend::SignUp(ip) => {
                self.throttle_sends(&env.id, super::sign_up::SEND_SCOPE, &user.email, ip).await?;
            }
        }
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

    /// Checks a verification code from `presenter` and marks the email verified.
    pub async fn confirm_email_verification(
        &self,
        env: &LoadedEnvironment,
        user: User,
        code: &str,
        presenter: Presenter<'_>,
    ) -> Result<User> {
        if user.email_verified {
            return Err(Error::Rejected {
                reason: Rejection::EmailPreviouslyVerified,
                message: "The email has already been verified.".into(),
            });
        }
        let result = match self.redeem_code(env, CodeKind::EmailVerification, &user, code, presenter).await? {
            Ok(_) => {
                let ip = presenter.address().map(ToString::to_string);
                let who = Attempted {
                    user_id: Some(&user.id),
                    email: Some(&user.email),
                    ip_address: ip.as_deref(),
                    user_agent: presenter.client.and_then(|c| c.user_agent.as_deref()),
                };
                let succeeded = NewEvent::authentication_succeeded(AuthenticationKind::EmailVerification, who);
                self.mark_email_verified_with(user, vec![succeeded]).await
            }
            Err(problem) => {
                let refused = (super::magic_auth::problem_code(problem), problem.message());
                let kind = AuthenticationKind::EmailVerification;
                self.record_failed_sign_in(&env.id, kind, Some(&user), None, presenter.client, refused).await?;
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
