//! One-time codes and tokens, shared by Magic Auth, email verification and password reset:
//! issued with a hash (and a sealed copy for the API), redeemed once, with an attempt limit per
//! code and the guess throttles of `service::throttle` across codes.

use super::auth::RequestInfo;
use super::environments::{LoadedEnvironment, SEC};
use super::throttle::Attempt;
use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::crypto::secrets::{hash_secret, random_digits, random_token, secrets_equal};
use crate::domain::client_address::ClientAddress;
use crate::domain::environment::Environment;
use crate::domain::event::NewEvent;
use crate::domain::one_time_code::OneTimeCode;
use crate::domain::user::User;
use crate::ids::new_id;

/// Wrong guesses (and the right one) allowed per code; the next attempt voids it.
pub const MAX_CODE_ATTEMPTS: i64 = 5;

/// Who presents a code: the client (its address and user agent; `None` for a backend with the
/// API key that named no end user) and the device cookie. The guess throttles count the guess
/// under the address and the device (`Core::admit_code_guess`); a refused code's event records
/// the client.
#[derive(Clone, Copy, Debug, Default)]
pub struct Presenter<'a> {
    pub client: Option<&'a RequestInfo>,
    pub device_cookie: Option<&'a str>,
}

impl<'a> Presenter<'a> {
    pub fn address(&self) -> Option<&'a ClientAddress> {
        self.client.and_then(|c| c.address.as_ref())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeKind {
    MagicAuth,
    EmailVerification,
    PasswordReset,
}

impl CodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeKind::MagicAuth => "magic_auth",
            CodeKind::EmailVerification => "email_verification",
            CodeKind::PasswordReset => "password_reset",
        }
    }

    /// The WorkOS object the code stands for, as named in errors.
    pub fn object_name(self) -> &'static str {
        match self {
            CodeKind::MagicAuth => "MagicAuth",
            CodeKind::EmailVerification => "EmailVerification",
            CodeKind::PasswordReset => "PasswordReset",
        }
    }

    fn ttl_ms(self) -> Millis {
        match self {
            CodeKind::MagicAuth | CodeKind::EmailVerification => 600 * SEC,
            CodeKind::PasswordReset => 3600 * SEC,
        }
    }

    fn seal_context(self) -> &'static str {
        self.as_str()
    }
}

/// Why a code was refused; each flow maps these to its own WorkOS codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeProblem {
    Incorrect,
    Expired,
    PreviouslyUsed,
    TooManyAttempts,
}

impl CodeProblem {
    /// What the user is told.
    pub fn message(self) -> &'static str {
        match self {
            CodeProblem::Incorrect => "The code is incorrect.",
            CodeProblem::Expired => "The code has expired.",
            CodeProblem::PreviouslyUsed => "The code has already been used.",
            CodeProblem::TooManyAttempts => "Too many incorrect attempts. Request a new code.",
        }
    }
}

impl Core {
    /// Issues a code (6 digits) or token (a long random string, for links) for `user`.
    pub async fn issue_code(&self, env_id: &str, kind: CodeKind, user: &User) -> Result<(OneTimeCode, String)> {
        let secret = match kind {
            CodeKind::PasswordReset => random_token(32),
            _ => random_digits(6),
        };
        let now = self.now();
        let code = OneTimeCode {
            id: new_id(kind.as_str()),
            kind: kind.as_str().to_owned(),
            environment_id: env_id.to_owned(),
            user_id: user.id.clone(),
            email: user.email.clone(),
            code_hash: hash_secret(&secret),
            sealed_code: self.sealer.seal(kind.seal_context(), &secret).map_err(|e| Error::Internal(e.into()))?,
            attempts: 0,
            expires_at: now + kind.ttl_ms(),
            used_at: None,
            created_at: now,
            updated_at: now,
        };
        let created = match kind {
            CodeKind::MagicAuth => "magic_auth.created",
            CodeKind::EmailVerification => "email_verification.created",
            CodeKind::PasswordReset => "password_reset.created",
        };
        self.store.insert_one_time_code(&code, &[NewEvent::code(created, &code)]).await?;
        Ok((code, secret))
    }

    /// A code of this environment by ID, or a 404 naming the object kind (`MagicAuth`…).
    pub async fn find_one_time_code(&self, env: &Environment, kind: CodeKind, id: &str) -> Result<OneTimeCode> {
        self.store
            .find_one_time_code(&env.id, kind.as_str(), id)
            .await?
            .ok_or_else(|| Error::NotFound { kind: kind.object_name(), id: id.to_owned() })
    }

    /// The code in clear, for the API's GET endpoints (the API key already allows issuing one).
    pub fn reveal_code(&self, code: &OneTimeCode, kind: CodeKind) -> Option<String> {
        self.sealer.open(kind.seal_context(), &code.sealed_code).ok()
    }

    /// Redeems the newest code of `kind` for `user`: counts the guess first (atomically, per
    /// presenter and account, `service::throttle`), compares in constant time, then spends it.
    /// A guess the throttles refuse is not evaluated: `RateLimited` (429), as for passwords,
    /// since a new code would not help until the window ends.
    pub async fn redeem_code(
        &self,
        env: &LoadedEnvironment,
        kind: CodeKind,
        user: &User,
        presented: &str,
        presenter: Presenter<'_>,
    ) -> Result<std::result::Result<OneTimeCode, CodeProblem>> {
        // Each code allows a few attempts, and a resend starts a new code: these counters span
        // codes, so resending cannot buy more guesses than the policy allows. They count per
        // (account, client address) and per client address, with a high ceiling per account,
        // so guesses from elsewhere do not lock the owner out.
        let attempt =
            Attempt { env, account: &user.email, address: presenter.address(), device_cookie: presenter.device_cookie };
        let admitted = self.admit_code_guess(&attempt, kind).await?;
        let Some(code) = self.store.latest_one_time_code(&env.id, kind.as_str(), &user.id).await? else {
            return Ok(Err(CodeProblem::Incorrect));
        };
        let outcome = self.check_and_spend(code, presented).await?;
        if outcome.is_ok() {
            self.settle_success(&admitted).await?;
        }
        Ok(outcome)
    }

    /// Redeems a token that identifies itself (password-reset links).
    pub async fn redeem_token(
        &self,
        kind: CodeKind,
        presented: &str,
    ) -> Result<std::result::Result<OneTimeCode, CodeProblem>> {
        if presented.is_empty() || presented.len() > 128 {
            return Ok(Err(CodeProblem::Incorrect));
        }
        match self.store.find_one_time_code_by_hash(kind.as_str(), &hash_secret(presented)).await? {
            Some(code) => self.check_and_spend(code, presented).await,
            None => Ok(Err(CodeProblem::Incorrect)),
        }
    }

    async fn check_and_spend(
        &self,
        code: OneTimeCode,
        presented: &str,
    ) -> Result<std::result::Result<OneTimeCode, CodeProblem>> {
        let now = self.now();
        if code.used_at.is_some() {
            return Ok(Err(CodeProblem::PreviouslyUsed));
        }
        let Some(attempts) = self.store.count_code_attempt(&code.id, now).await? else {
            return Ok(Err(CodeProblem::PreviouslyUsed));
        };
        if attempts > MAX_CODE_ATTEMPTS {
            return Ok(Err(CodeProblem::TooManyAttempts));
        }
        if code.expires_at <= now {
            return Ok(Err(CodeProblem::Expired));
        }
        if !secrets_equal(&hash_secret(presented.trim()), &code.code_hash) {
            return Ok(Err(if attempts >= MAX_CODE_ATTEMPTS {
                CodeProblem::TooManyAttempts
            } else {
                CodeProblem::Incorrect
            }));
        }
        if !self.store.consume_one_time_code(&code.id, now).await? {
            return Ok(Err(CodeProblem::PreviouslyUsed));
        }
        Ok(Ok(code))
    }
}
