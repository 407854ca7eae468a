//! Step-ups after a first factor: which one the environment needs, the one sequence that starts
//! it (`continue_sign_in`, for the API and the hosted pages alike), and the single-use pending
//! token that carries the half-finished sign-in to the next request (API) or page (hosted).

use super::environments::{LoadedEnvironment, SEC};
use super::error::{StepUp, StepUpKind};
use super::organizations::OrganizationChoice;
use super::verification::VerificationSend;
use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::crypto::secrets::{hash_secret, random_token};
use crate::domain::client_address::ClientAddress;
use crate::domain::one_time_code::OneTimeCode;
use crate::domain::session::{AuthMethod, PURPOSE_ORGANIZATION_SELECTION, PendingAuthentication};
use crate::domain::user::User;

/// Pending tokens live ten minutes: long enough to find a code in an email or an app.
pub const PENDING_TTL_MS: Millis = 600 * SEC;

/// What a user still has to do before a session starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepUpNeeded {
    None,
    /// The environment requires verified emails and this one is not.
    VerifyEmail,
    /// The environment requires two-factor and the user has no factor yet.
    MfaEnrollment,
    /// The user has confirmed factors (these IDs) and must answer one of them.
    MfaChallenge {
        factor_ids: Vec<String>,
    },
}

/// What the throttles concluded about a first factor (`service::throttle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstFactor {
    /// The first factor is enough; the environment's step-ups follow.
    Enough,
    /// The account is under attack from many addresses and this client is not a known device:
    /// the owner must also prove the email address with a code before the other step-ups.
    NeedsEmailProof,
}

/// Where a sign-in stands after its first factor.
#[derive(Debug)]
pub enum SignInProgress {
    /// Nothing more is owed: start the session (API) or issue the code (hosted pages).
    Complete,
    /// A step-up is owed and started; the pending token carries the sign-in to it.
    StepUp { pending_token: String, step: StartedStepUp },
}

/// A step-up, started.
#[derive(Debug)]
pub enum StartedStepUp {
    /// A verification code went to the user's address.
    VerifyEmail(VerificationSent),
    MfaEnrollment,
    MfaChallenge {
        factor_ids: Vec<String>,
    },
}

#[derive(Debug)]
pub enum VerificationSent {
    Sent(Box<OneTimeCode>),
    /// One went out moments ago and is still good; another may be sent after this long.
    RecentlySent {
        retry_after_secs: i64,
    },
}

impl Core {
    /// The first step-up `user` owes after signing in with `method`, in order of precedence.
    /// Each step-up feature adds its check here.
    pub async fn step_up_needed(
        &self,
        env: &LoadedEnvironment,
        user: &User,
        method: &AuthMethod,
    ) -> Result<StepUpNeeded> {
        // Magic Auth and verified upstream emails prove the address; passwords do not.
        if env.settings.email_verification_required && !user.email_verified {
            return Ok(StepUpNeeded::VerifyEmail);
        }
        // Two-factor comes last: the other step-ups prove things the second factor does not.
        self.mfa_step_up(env, user, method).await
    }

    /// What follows a first factor, in order: the step-up `user` owes, if any, started (a
    /// verification code sent, a pending token issued). The API and the hosted pages both go
    /// through here and differ only in how they show the result.
    pub async fn continue_sign_in(
        &self,
        env: &LoadedEnvironment,
        user: &User,
        method: &AuthMethod,
    ) -> Result<SignInProgress> {
        self.continue_sign_in_after(env, user, method, FirstFactor::Enough, None).await
    }

    /// `continue_sign_in` for a first factor the throttles may have doubted, from the client at
    /// `address` (a step-up code counts against the pair's and the recipient's send limits).
    pub async fn continue_sign_in_after(
        &self,
        env: &LoadedEnvironment,
        user: &User,
        method: &AuthMethod,
        first: FirstFactor,
        address: Option<&ClientAddress>,
    ) -> Result<SignInProgress> {
        let needed = match first {
            FirstFactor::NeedsEmailProof => StepUpNeeded::VerifyEmail,
            FirstFactor::Enough => self.step_up_needed(env, user, method).await?,
        };
        let step = match needed {
            StepUpNeeded::None => return Ok(SignInProgress::Complete),
            StepUpNeeded::VerifyEmail => {
                let send = VerificationSend::StepUp(address);
                StartedStepUp::VerifyEmail(match self.send_verification_email_as(env, user, send).await {
                    Ok(code) => VerificationSent::Sent(Box::new(code)),
                    Err(Error::RateLimited { retry_after_secs }) => VerificationSent::RecentlySent { retry_after_secs },
                    Err(e) => return Err(e),
                })
            }
            StepUpNeeded::MfaEnrollment => StartedStepUp::MfaEnrollment,
            StepUpNeeded::MfaChallenge { factor_ids } => StartedStepUp::MfaChallenge { factor_ids },
        };
        let pending_token = self.create_pending_authentication(env, user, method).await?;
        Ok(SignInProgress::StepUp { pending_token, step })
    }

    /// Issues a pending token for a sign-in that passed its first factor.
    pub async fn create_pending_authentication(
        &self,
        env: &LoadedEnvironment,
        user: &User,
        method: &AuthMethod,
    ) -> Result<String> {
        self.create_pending_for(env, user, method, None).await
    }

    /// Issues a pending token for a sign-in that owes only the choice of an organization.
    pub async fn create_pending_selection(
        &self,
        env: &LoadedEnvironment,
        user: &User,
        method: &AuthMethod,
    ) -> Result<String> {
        self.create_pending_for(env, user, method, Some(PURPOSE_ORGANIZATION_SELECTION)).await
    }

    async fn create_pending_for(
        &self,
        env: &LoadedEnvironment,
        user: &User,
        method: &AuthMethod,
        purpose: Option<&str>,
    ) -> Result<String> {
        let token = random_token(32);
        let now = self.now();
        let pending = PendingAuthentication {
            environment_id: env.id.clone(),
            user_id: user.id.clone(),
            auth_method: method.clone(),
            organization_id: None,
            purpose: purpose.map(str::to_owned),
        };
        self.store.insert_pending_authentication(&hash_secret(&token), &pending, now + PENDING_TTL_MS, now).await?;
        Ok(token)
    }

    /// The pending sign-in behind a token (not spent), with its user.
    pub async fn peek_pending_authentication(
        &self,
        env: &LoadedEnvironment,
        token: &str,
    ) -> Result<(PendingAuthentication, User)> {
        let pending = self.store.find_pending_authentication(&hash_secret(token), self.now()).await?;
        self.with_pending_user(env, pending).await
    }

    /// Spends a pending token, atomically, returning the half-finished sign-in and its user.
    pub async fn consume_pending_authentication(
        &self,
        env: &LoadedEnvironment,
        token: &str,
    ) -> Result<(PendingAuthentication, User)> {
        let pending = self.store.consume_pending_authentication(&hash_secret(token), self.now()).await?;
        self.with_pending_user(env, pending).await
    }

    /// A pending sign-in of this environment, with its user; anything else is an invalid token.
    async fn with_pending_user(
        &self,
        env: &LoadedEnvironment,
        pending: Option<PendingAuthentication>,
    ) -> Result<(PendingAuthentication, User)> {
        let pending = pending.filter(|p| p.environment_id == env.id).ok_or(Error::InvalidPendingToken)?;
        let user = self.store.find_user(&env.id, &pending.user_id).await?.ok_or(Error::InvalidPendingToken)?;
        Ok((pending, user))
    }

    /// The API's way to finish a first factor: a session, or a 403 step-up with a pending token.
    pub async fn finish_api_sign_in(
        &self,
        env: &LoadedEnvironment,
        user: User,
        method: &AuthMethod,
        info: &super::auth::RequestInfo,
    ) -> Result<super::auth::Authenticated> {
        self.finish_api_sign_in_after(env, user, method, info, FirstFactor::Enough).await
    }

    /// `finish_api_sign_in` for a first factor the throttles may have doubted.
    pub async fn finish_api_sign_in_after(
        &self,
        env: &LoadedEnvironment,
        user: User,
        method: &AuthMethod,
        info: &super::auth::RequestInfo,
        first: FirstFactor,
    ) -> Result<super::auth::Authenticated> {
        self.finish_api_sign_in_in(env, user, method, info, first, None).await
    }

    /// `finish_api_sign_in_after` into `organization` (one the user just joined by invitation)
    /// when no step-up is owed; after a step-up the organization is chosen as for any sign-in.
    pub async fn finish_api_sign_in_in(
        &self,
        env: &LoadedEnvironment,
        user: User,
        method: &AuthMethod,
        info: &super::auth::RequestInfo,
        first: FirstFactor,
        organization: Option<String>,
    ) -> Result<super::auth::Authenticated> {
        let (token, step) = match self.continue_sign_in_after(env, &user, method, first, info.address.as_ref()).await? {
            SignInProgress::Complete => {
                if let Some(org) = organization {
                    let access = self.sign_in_access(&env.id, &org, &user).await?;
                    return self.start_session(env, user, method, self.now(), Some(access), info).await;
                }
                return self.start_api_session(env, user, method, self.now(), info).await;
            }
            SignInProgress::StepUp { pending_token, step } => (pending_token, step),
        };
        Err(match step {
            StartedStepUp::VerifyEmail(VerificationSent::Sent(verification)) => Self::step_up_error(
                StepUpKind::VerifyEmail { email: user.email.clone(), email_verification_id: verification.id },
                "Email ownership must be verified before authentication.",
                token,
            ),
            // The API must name the code it sent; the page can show the one sent moments ago.
            StartedStepUp::VerifyEmail(VerificationSent::RecentlySent { retry_after_secs }) => {
                Error::RateLimited { retry_after_secs }
            }
            StartedStepUp::MfaEnrollment => Self::step_up_error(
                StepUpKind::MfaEnrollment { user: Box::new(user) },
                "The user must enroll in multi-factor authentication to finish signing in.",
                token,
            ),
            StartedStepUp::MfaChallenge { factor_ids } => Self::step_up_error(
                StepUpKind::MfaChallenge { user: Box::new(user), factor_ids },
                "The user must complete a multi-factor authentication challenge to finish signing in.",
                token,
            ),
        })
    }

    /// Starts an API sign-in's session in the user's organization: the only one they are an
    /// active member of, none if they have none, or, with several, a 403
    /// `organization_selection_required` whose pending token the organization-selection grant
    /// takes.
    pub async fn start_api_session(
        &self,
        env: &LoadedEnvironment,
        user: User,
        method: &AuthMethod,
        auth_time: Millis,
        info: &super::auth::RequestInfo,
    ) -> Result<super::auth::Authenticated> {
        match self.choose_organization(&env.id, &user).await? {
            OrganizationChoice::Enter(access) => {
                self.start_session(env, user, method, auth_time, access.map(|a| *a), info).await
            }
            OrganizationChoice::Choose(organizations) => {
                let token = self.create_pending_selection(env, &user, method).await?;
                Err(Self::step_up_error(
                    StepUpKind::OrganizationSelection { user: Box::new(user), organizations },
                    "The user must choose an organization to finish signing in.",
                    token,
                ))
            }
        }
    }

    /// Builds the 403 error for a step-up.
    pub fn step_up_error(needed: StepUpKind, message: &str, token: String) -> Error {
        Error::StepUp(StepUp { needed, message: message.to_owned(), pending_authentication_token: token })
    }
}
