//! Email verification: a six-digit code proves the user owns the address. Environments can
//! require it before any session starts.

use serde_json::{Value, json};

use super::codes::{CodeKind, CodeProblem};
use super::email::Compose;
use super::environments::LoadedEnvironment;
use super::{Core, Error, Result};
use crate::clock::iso8601;
use crate::domain::one_time_code::OneTimeCode;
use crate::domain::user::User;

impl Core {
    /// Sends a verification code to the user's address.
    pub async fn send_verification_email(&self, env: &LoadedEnvironment, user: &User) -> Result<OneTimeCode> {
        if user.email_verified {
            return Err(Error::Rejected {
                code: "email_already_verified",
                message: "The email is already verified.".into(),
            });
        }
        self.check_email_available(env)?;
        self.throttle_sends("email_verification", &user.email, None).await?;
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
                code: "email_previously_verified",
                message: "The email has already been verified.".into(),
            });
        }
        let rejected = |code: &'static str, message: &str| Err(Error::Rejected { code, message: message.into() });
        match self.redeem_code(&env.id, CodeKind::EmailVerification, &user.id, code).await? {
            Ok(_) => self.mark_email_verified(user).await,
            Err(CodeProblem::Incorrect) => rejected("email_verification_code_incorrect", "The code is incorrect."),
            Err(CodeProblem::Expired) => rejected("email_verification_code_expired", "The code has expired."),
            Err(CodeProblem::PreviouslyUsed) => {
                rejected("email_verification_code_previously_used", "The code has already been used.")
            }
            Err(CodeProblem::TooManyAttempts) => {
                rejected("one_time_code_too_many_attempts", "Too many incorrect attempts. Request a new code.")
            }
        }
    }

    pub fn email_verification_to_wire(&self, code: &OneTimeCode) -> Value {
        json!({
            "object": "email_verification",
            "id": code.id,
            "user_id": code.user_id,
            "email": code.email,
            "expires_at": iso8601(code.expires_at),
            "code": self.reveal_code(code, CodeKind::EmailVerification),
            "created_at": iso8601(code.created_at),
            "updated_at": iso8601(code.updated_at),
        })
    }
}
