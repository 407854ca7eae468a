//! The hosted sign-up that does not tell who has an account (issue 17.5): every sign-up with a
//! well-formed address and an acceptable password gets the same answer, a pending sign-in and
//! the email-code page. A new address gets its account (unverified) and a verification code;
//! an address that already has an account, or looks like one that has (UTS #39), gets no
//! account: its owner gets an email saying someone tried to sign up, and the pending sign-in is
//! a decoy on which every code is wrong. Both are rows of `hosted_sign_ups`, which only the code
//! page reads (not the two-factor pages, nor the API's grants), so nothing else tells them apart
//! or lets either go on before the address is proved. Both paths hash the password with
//! argon2id once and queue one email, so neither the answer nor its time tells them apart.

use super::email::Compose;
use super::environments::LoadedEnvironment;
use super::pending::PENDING_TTL_MS;
use super::users::NewUser;
use super::verification::VerificationSend;
use super::{Core, Error, Result};
use crate::crypto::secrets::{hash_secret, random_token};
use crate::domain::client_address::ClientAddress;
use crate::domain::user::User;

/// The scope of the send limits a hosted sign-up's emails count against (a new account's code,
/// first or resent, and a decoy's notice and resends alike), so a decoy is refused or admitted
/// exactly when a real sign-up's code would be, and decoys for an address never use up the
/// verification codes its owner's sign-ins need (scope `email_verification`).
pub(super) const SEND_SCOPE: &str = "sign_up";

/// What a hosted sign-up leads to: in both cases a pending token for the email-code page.
#[derive(Debug)]
pub struct SignUpStarted {
    pub pending_token: String,
    /// The address the code page names (normalised).
    pub email: String,
}

/// A hosted sign-up waiting for its code (`find_hosted_sign_up`).
#[derive(Debug)]
pub enum HostedSignUp {
    /// A new account, to be signed in once its address is proved.
    New(Box<User>),
    /// A decoy for a taken address.
    Taken { email: String },
}

impl Core {
    /// Whether hosted sign-ups of `env` answer uniformly: the setting, and an email can be sent
    /// (without email no address can be proved, so sign-up can only say what happened).
    pub fn uniform_sign_up(&self, env: &LoadedEnvironment) -> bool {
        env.settings.uniform_sign_up && self.check_email_available(env).is_ok()
    }

    /// Starts a uniform hosted sign-up (see the module). `sign_in_link` is where the owner of an
    /// existing account is sent to sign in instead. Validation errors (a malformed address, a
    /// weak password) are the same for every address and are returned as they are.
    pub async fn start_uniform_sign_up(
        &self,
        env: &LoadedEnvironment,
        new: NewUser,
        ip: Option<&ClientAddress>,
        sign_in_link: &str,
    ) -> Result<SignUpStarted> {
        // The same refusals for every address (malformed, mixed scripts, a weak password).
        let email = self.check_new_user(env, &new)?;
        let password = new.password.clone().unwrap_or_default();
        let taken = self.store.find_user_by_email(&env.id, &email).await?.is_some()
            || self.store.email_look_alike_exists(&env.id, &email).await?;
        let now = self.now();
        let pending_token = random_token(32);
        if !taken {
            match self.create_user(env, new).await {
                Ok(user) => {
                    match self.send_verification_email_as(env, &user, VerificationSend::SignUp(ip)).await {
                        // A code sent moments ago is still good; the page offers to resend.
                        Ok(_) | Err(Error::RateLimited { .. }) => {}
                        Err(e) => return Err(e),
                    }
                    let (hash, expires_at) = (hash_secret(&pending_token), now + PENDING_TTL_MS);
                    self.store
                        .insert_hosted_sign_up(&hash, &env.id, &user.email, Some(&user.id), expires_at, now)
                        .await?;
                    return Ok(SignUpStarted { pending_token, email: user.email });
                }
                // Taken meanwhile (a parallel sign-up): answered as any taken address, whose
                // argon2id cost `create_user` has just paid.
                Err(Error::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        } else {
            // The argon2id cost of creating the account.
            self.passwords.hash(&password).await?;
        }
        match self.throttle_sends(&env.id, SEND_SCOPE, &email, ip).await {
            Ok(()) => self.send_sign_up_notice(env, &email, sign_in_link).await?,
            Err(Error::RateLimited { .. }) => {}
            Err(e) => return Err(e),
        }
        self.store
            .insert_hosted_sign_up(&hash_secret(&pending_token), &env.id, &email, None, now + PENDING_TTL_MS, now)
            .await?;
        tracing::info!(environment = %env.name, "hosted sign-up for an address that is taken: its owner was emailed");
        Ok(SignUpStarted { pending_token, email })
    }

    /// The hosted sign-up behind `token` (unused, unexpired, of this environment), if any.
    pub async fn find_hosted_sign_up(&self, env: &LoadedEnvironment, token: &str) -> Result<Option<HostedSignUp>> {
        let Some((email, user_id)) = self.store.find_hosted_sign_up(&hash_secret(token), &env.id, self.now()).await?
        else {
            return Ok(None);
        };
        Ok(match user_id {
            None => Some(HostedSignUp::Taken { email }),
            Some(id) => self.store.find_user(&env.id, &id).await?.map(|u| HostedSignUp::New(Box::new(u))),
        })
    }

    /// Spends a hosted sign-up once its address is proved; false if it was spent meanwhile.
    pub async fn consume_hosted_sign_up(&self, token: &str) -> Result<bool> {
        Ok(self.store.consume_hosted_sign_up(&hash_secret(token), self.now()).await?)
    }

    /// A code typed on a decoy's page: always wrong, with the attempts counted as a real
    /// code's are (five, then the code stops working).
    pub async fn refuse_decoy_code(&self, token: &str) -> Result<Error> {
        use super::codes::CodeProblem;
        let now = self.now();
        let attempts = self.store.record_attempt(&format!("decoy:{}", hash_secret(token)), PENDING_TTL_MS, now).await?;
        let problem = if attempts.count >= super::codes::MAX_CODE_ATTEMPTS {
            CodeProblem::TooManyAttempts
        } else {
            CodeProblem::Incorrect
        };
        Ok(Error::Rejected {
            reason: super::error::Rejection::EmailVerificationCode(problem),
            message: problem.message().into(),
        })
    }

    /// "Send a new code" on a decoy's page: the same send limits as a real resend; nothing is
    /// sent (the owner was told once).
    pub async fn resend_decoy_code(
        &self,
        env: &LoadedEnvironment,
        email: &str,
        ip: Option<&ClientAddress>,
    ) -> Result<()> {
        self.throttle_sends(&env.id, SEND_SCOPE, email, ip).await
    }

    /// Tells the owner of `email` (or, for a look-alike, whoever holds that address) that someone
    /// tried to sign up with it.
    async fn send_sign_up_notice(&self, env: &LoadedEnvironment, email: &str, sign_in_link: &str) -> Result<()> {
        let app = &env.settings.branding.app_name;
        let exact = self.store.find_user_by_email(&env.id, email).await?.is_some();
        let (heading, intro, outro) = if exact {
            (
                "You already have an account",
                format!(
                    "Someone (maybe you) tried to create a {app} account with this address, which already has one. \
                     No new account was made and nothing was changed. To use your account, sign in; if you forgot \
                     your password, choose \"Forgot your password?\" there."
                ),
                "If it wasn't you, you can ignore this email: your account is unchanged.".to_owned(),
            )
        } else {
            (
                "This address cannot be used",
                format!(
                    "Someone (maybe you) tried to create a {app} account with this address. It looks too much like \
                     the address of an existing account (some of its characters look the same), so no account was \
                     made. Sign up with a different address, or sign in if the existing account is yours."
                ),
                "If it wasn't you, you can ignore this email.".to_owned(),
            )
        };
        self.send_email(
            env,
            Compose {
                kind: "sign_up_attempt",
                to: email,
                subject: format!("Someone tried to sign up to {app} with your address"),
                heading: heading.into(),
                intro,
                code: None,
                link: Some(sign_in_link),
                link_text: "Sign in",
                outro,
            },
        )
        .await
    }
}
