//! Two-factor authentication with TOTP: enrolment (API and hosted), challenges, the
//! `mfa-totp` grant, recovery codes, and the attempt limit that guards every code check.
//!
//! TOTP secrets are sealed with AES-256-GCM under the server key (`crypto::sealing`), bound to
//! the factor ID. Each accepted code records its time step on the factor with
//! a conditional update, so a code works once.

use super::auth::{Authenticated, RequestInfo};
use super::environments::{LoadedEnvironment, SEC};
use super::error::FactorError;
use super::pending::StepUpNeeded;
use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::crypto::secrets::{fill_random, hash_secret};
use crate::domain::environment::Environment;
use crate::domain::event::{Attempted, AuthenticationKind, NewEvent};
use crate::domain::factor::{AuthChallenge, AuthFactor};
use crate::domain::session::{AuthMethod, SecuritySession};
use crate::domain::totp;
use crate::domain::user::User;
use crate::ids::new_id;

/// Challenges of TOTP factors live as long as a pending sign-in.
pub const CHALLENGE_TTL_MS: Millis = 600 * SEC;
/// Wrong codes allowed per user in one throttle window (15 minutes).
pub const MAX_CODE_FAILURES: i64 = 5;
const FACTOR_TOTP: &str = "totp";

/// Server-wide two-factor settings.
pub struct MfaKeys {
    /// The WebAuthn relying party's origin (the public URL), or why passkeys are off (an IP
    /// address has no relying-party ID).
    pub passkey_origin: std::result::Result<url::Url, String>,
}

impl MfaKeys {
    pub fn new(public_url: &str) -> MfaKeys {
        MfaKeys { passkey_origin: super::passkeys::relying_party_origin(public_url) }
    }
}

impl Core {
    /// TOTP secrets must be readable to check codes, so they are sealed with the server key,
    /// bound to their factor.
    fn seal_totp_secret(&self, secret: &[u8], factor_id: &str) -> Result<String> {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
        self.sealer.seal(&format!("totp:{factor_id}"), &encoded).map_err(|e| Error::Internal(e.into()))
    }

    fn open_totp_secret(&self, factor: &AuthFactor) -> std::result::Result<Vec<u8>, String> {
        use base64::Engine as _;
        let encoded =
            self.sealer.open(&format!("totp:{}", factor.id), &factor.secret_sealed).map_err(|e| e.to_string())?;
        base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|e| e.to_string())
    }
}

/// A new TOTP factor with what the user needs to add it to an app (shown once).
pub struct TotpEnrolment {
    pub factor: AuthFactor,
    pub secret_base32: String,
    pub uri: String,
    pub qr_code: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment").field("factor", &self.factor).finish_non_exhaustive()
    }
}

/// What enrolling through the API asked for.
#[derive(Debug, Default)]
pub struct TotpOptions {
    pub issuer: Option<String>,
    pub user: Option<String>,
    pub secret: Option<String>,
}

fn secs(ms: Millis) -> i64 {
    ms.div_euclid(1000)
}

impl Core {
    /// The user's factors that count (confirmed), oldest first.
    pub async fn verified_factors(&self, user_id: &str) -> Result<Vec<AuthFactor>> {
        Ok(self.store.list_auth_factors(user_id).await?.into_iter().filter(|f| f.verified_at.is_some()).collect())
    }

    /// The two-factor step-up `user` owes after a first factor `method`, if any: a passkey is
    /// strong on its own; otherwise a user with a factor is always challenged, and one without
    /// must enrol when the environment requires two-factor.
    pub async fn mfa_step_up(&self, env: &Environment, user: &User, method: &AuthMethod) -> Result<StepUpNeeded> {
        if method.is_multi_factor() {
            return Ok(StepUpNeeded::None);
        }
        let factors = self.verified_factors(&user.id).await?;
        if !factors.is_empty() {
            return Ok(StepUpNeeded::MfaChallenge { factor_ids: factors.into_iter().map(|f| f.id).collect() });
        }
        // The environment, or an organization the user is an active member of, requires it.
        if env.settings.mfa_required || self.store.in_organization_requiring_mfa(&user.id).await? {
            return Ok(StepUpNeeded::MfaEnrollment);
        }
        Ok(StepUpNeeded::None)
    }

    /// A new TOTP factor of `user`, or of no user (the older MFA API), whose account name must
    /// then be given.
    async fn new_totp_factor(
        &self,
        env: &Environment,
        user: Option<&User>,
        options: TotpOptions,
        verified_at: Option<Millis>,
    ) -> Result<TotpEnrolment> {
        let secret = match options.secret.as_deref().filter(|s| !s.is_empty()) {
            Some(given) => totp::parse_secret_base32(given).ok_or_else(|| {
                Error::validation("totp_secret", "invalid_totp_secret", "totp_secret must be base32 of 16 to 64 bytes.")
            })?,
            None => {
                let mut secret = vec![0u8; totp::SECRET_BYTES];
                fill_random(&mut secret);
                secret
            }
        };
        let issuer =
            options.issuer.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| env.settings.branding.app_name.clone());
        let account =
            options.user.filter(|s| !s.trim().is_empty()).or_else(|| user.map(|u| u.email.clone())).ok_or_else(
                || {
                    Error::validation(
                        "totp_user",
                        "totp_user_required",
                        "totp_user is required for a factor without a user_id.",
                    )
                },
            )?;
        if issuer.len() > 200 || account.len() > 320 || issuer.contains(':') {
            return Err(Error::validation(
                "totp_issuer",
                "invalid_totp_issuer",
                "totp_issuer must be at most 200 characters without ':' and totp_user at most 320.",
            ));
        }
        let now = self.now();
        let id = new_id("auth_factor");
        let factor = AuthFactor {
            secret_sealed: self.seal_totp_secret(&secret, &id)?,
            id,
            environment_id: env.id.clone(),
            user_id: user.map(|u| u.id.clone()),
            factor_type: FACTOR_TOTP.into(),
            issuer,
            account,
            verified_at,
            last_used_step: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_auth_factor(&factor).await?;
        let uri = totp::otpauth_uri(&secret, &factor.issuer, &factor.account);
        let qr_code = totp::qr_png_data_url(&uri)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the QR code could not be rendered")))?;
        Ok(TotpEnrolment { secret_base32: totp::secret_base32(&secret), uri, qr_code, factor })
    }

    /// `POST /user_management/users/{id}/auth_factors`: a TOTP factor that counts at once (as
    /// in WorkOS: the API caller is trusted), with a first challenge.
    pub async fn enroll_factor(
        &self,
        env: &Environment,
        user_id: &str,
        factor_type: &str,
        options: TotpOptions,
    ) -> Result<(TotpEnrolment, AuthChallenge)> {
        if factor_type != FACTOR_TOTP {
            return Err(Error::validation("type", "invalid_factor_type", "type must be totp."));
        }
        let user = self.get_user(env, user_id).await?;
        let enrolment = self.new_totp_factor(env, Some(&user), options, Some(self.now())).await?;
        let challenge = self.new_challenge(&enrolment.factor).await?;
        Ok((enrolment, challenge))
    }

    /// `POST /auth/factors/enroll` without `user_id` (the SDKs' `mfa.enrollFactor`): a TOTP factor
    /// of no user, as in WorkOS. The app challenges and verifies it (`challenge_factor`,
    /// `verify_challenge`); no sign-in ever asks for it.
    pub async fn enroll_standalone_factor(
        &self,
        env: &Environment,
        factor_type: &str,
        options: TotpOptions,
    ) -> Result<TotpEnrolment> {
        if factor_type != FACTOR_TOTP {
            return Err(Error::validation("type", "invalid_factor_type", "type must be totp."));
        }
        self.new_totp_factor(env, None, options, Some(self.now())).await
    }

    pub async fn list_factors(&self, env: &Environment, user_id: &str) -> Result<Vec<AuthFactor>> {
        let user = self.get_user(env, user_id).await?;
        self.verified_factors(&user.id).await
    }

    pub async fn get_factor(&self, env: &Environment, id: &str) -> Result<AuthFactor> {
        self.store
            .find_auth_factor(&env.id, id)
            .await?
            .ok_or_else(|| Error::NotFound { kind: "Authentication Factor", id: id.to_owned() })
    }

    /// Removes a factor; the user's recovery codes go with their last factor.
    pub async fn delete_factor(&self, env: &Environment, id: &str) -> Result<()> {
        let factor = self.get_factor(env, id).await?;
        self.store.delete_auth_factor(&env.id, id).await?;
        if let Some(user_id) = &factor.user_id
            && self.verified_factors(user_id).await?.is_empty()
        {
            self.store.delete_recovery_codes(user_id).await?;
        }
        tracing::info!(user.id = ?factor.user_id, factor.id = %id, "authentication factor removed");
        Ok(())
    }

    async fn new_challenge(&self, factor: &AuthFactor) -> Result<AuthChallenge> {
        let now = self.now();
        let challenge = AuthChallenge {
            id: new_id("auth_challenge"),
            environment_id: factor.environment_id.clone(),
            factor_id: factor.id.clone(),
            expires_at: now + CHALLENGE_TTL_MS,
            verified_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_auth_challenge(&challenge).await?;
        Ok(challenge)
    }

    /// `POST /auth/factors/{id}/challenge`.
    pub async fn challenge_factor(&self, env: &Environment, factor_id: &str) -> Result<AuthChallenge> {
        let factor = self.get_factor(env, factor_id).await?;
        self.new_challenge(&factor).await
    }

    /// A challenge that can still be answered, with its factor.
    async fn open_challenge(&self, env_id: &str, challenge_id: &str) -> Result<(AuthChallenge, AuthFactor)> {
        let not_found = || Error::NotFound { kind: "Authentication Challenge", id: challenge_id.to_owned() };
        let challenge = self.store.find_auth_challenge(env_id, challenge_id).await?.ok_or_else(not_found)?;
        let factor = self.store.find_auth_factor(env_id, &challenge.factor_id).await?.ok_or_else(not_found)?;
        if challenge.verified_at.is_some() {
            return Err(Error::Factor(FactorError::ChallengeUsed));
        }
        if challenge.expires_at <= self.now() {
            return Err(Error::Factor(FactorError::ChallengeExpired));
        }
        Ok((challenge, factor))
    }

    /// `POST /auth/challenges/{id}/verify`: `valid: false` for a wrong code (the attempt
    /// counts), an error for a spent or expired challenge or too many attempts.
    pub async fn verify_challenge(
        &self,
        env: &Environment,
        challenge_id: &str,
        code: &str,
    ) -> Result<(AuthChallenge, bool)> {
        let (challenge, factor) = self.open_challenge(&env.id, challenge_id).await?;
        match self.check_totp(&factor, code).await {
            Ok(()) => {}
            Err(Error::Factor(FactorError::InvalidCode)) => return Ok((challenge, false)),
            Err(e) => return Err(e),
        }
        if !self.store.consume_auth_challenge(&challenge.id, self.now()).await? {
            return Err(Error::Factor(FactorError::ChallengeUsed));
        }
        self.store.mark_factor_verified(&factor.id, self.now()).await?;
        let challenge = self.store.find_auth_challenge(&env.id, challenge_id).await?.unwrap_or(challenge);
        Ok((challenge, true))
    }

    /// Counts an attempt against a second-factor limit (`key`: a user's, or a factor's without
    /// a user); refuses beyond it.
    async fn count_code_attempt(&self, key: String) -> Result<String> {
        let now = self.now();
        let attempt = self.store.record_attempt(&key, super::auth::THROTTLE_WINDOW_MS, now).await?;
        if attempt.count > MAX_CODE_FAILURES {
            let remaining = (attempt.window_start + super::auth::THROTTLE_WINDOW_MS - now).max(1000);
            tracing::warn!(limit = %key, "too many two-factor attempts");
            return Err(Error::RateLimited { retry_after_secs: (remaining + 999) / 1000 });
        }
        Ok(key)
    }

    /// Checks a TOTP code against one factor: throttled, constant-time, single use.
    async fn check_totp(&self, factor: &AuthFactor, code: &str) -> Result<()> {
        // A user's factors share one limit; a factor of no user has its own.
        let key = self
            .count_code_attempt(match &factor.user_id {
                Some(user_id) => user_attempts(user_id),
                None => format!("mfa:factor:{}", factor.id),
            })
            .await?;
        let secret =
            self.open_totp_secret(factor).map_err(|e| Error::Internal(anyhow::anyhow!("factor {}: {e}", factor.id)))?;
        let now = self.now();
        let Some(step) = totp::matching_step(&secret, code, secs(now)) else {
            return Err(Error::Factor(FactorError::InvalidCode));
        };
        if !self.store.consume_totp_step(&factor.id, step, now).await? {
            tracing::warn!(user.id = ?factor.user_id, factor.id = %factor.id, "replayed TOTP code refused");
            return Err(Error::Factor(FactorError::InvalidCode));
        }
        self.store.clear_attempts(&key).await?;
        Ok(())
    }

    /// Whether a pending sign-in owes exactly a two-factor step-up (so proving a second factor
    /// finishes it, and no other step-up can be skipped with a pending token).
    async fn owes_mfa(&self, env: &LoadedEnvironment, user: &User, method: &AuthMethod) -> Result<bool> {
        Ok(match self.step_up_needed(env, user, method).await? {
            StepUpNeeded::MfaChallenge { .. } | StepUpNeeded::MfaEnrollment => true,
            // Email verification comes first; a second factor does not prove the address.
            StepUpNeeded::None | StepUpNeeded::VerifyEmail => false,
        })
    }

    /// The `urn:workos:oauth:grant-type:mfa-totp` grant: a pending sign-in, a challenge of one of
    /// the user's factors, and its code. A wrong code leaves the pending token usable.
    pub async fn authenticate_with_totp(
        &self,
        env: &LoadedEnvironment,
        pending_token: &str,
        challenge_id: &str,
        code: &str,
        info: &RequestInfo,
    ) -> Result<Authenticated> {
        let result: Result<Authenticated> = async {
            let (pending, user) = self.peek_pending_authentication(env, pending_token).await?;
            let (challenge, factor) = match self.open_challenge(&env.id, challenge_id).await {
                Err(Error::NotFound { .. }) => {
                    return Err(Error::InvalidGrant("The authentication challenge is invalid.".into()));
                }
                other => other?,
            };
            if factor.user_id.as_deref() != Some(user.id.as_str()) {
                return Err(Error::InvalidGrant("The authentication challenge belongs to another user.".into()));
            }
            if !self.owes_mfa(env, &user, &pending.auth_method).await? {
                return Err(Error::InvalidGrant("This sign-in does not need a second factor.".into()));
            }
            if let Err(e) = self.check_totp(&factor, code).await {
                if let Error::Factor(problem) = &e {
                    let refused = ("invalid_one_time_code", problem.message());
                    self.record_failed_sign_in(
                        &env.id,
                        AuthenticationKind::Mfa,
                        Some(&user),
                        Some(&user.email),
                        Some(info),
                        (refused.0, &refused.1),
                    )
                    .await?;
                }
                return Err(e);
            }
            if !self.store.consume_auth_challenge(&challenge.id, self.now()).await? {
                return Err(Error::Factor(FactorError::ChallengeUsed));
            }
            self.store.mark_factor_verified(&factor.id, self.now()).await?;
            let (pending, user) = self.consume_pending_authentication(env, pending_token).await?;
            tracing::info!(user.id = %user.id, "signed in with a second factor (TOTP)");
            self.record_second_factor(&env.id, &user, info).await?;
            self.start_api_session(env, user, &pending.auth_method, self.now(), info).await
        }
        .await;
        self.counters.sign_in(super::counters::SignInMethod::Mfa, &result);
        result
    }

    /// Hosted enrolment: the user's unconfirmed factor if one was started, otherwise a new
    /// one. Unconfirmed factors never count; confirming one activates it.
    pub async fn start_hosted_enrolment(&self, env: &Environment, user: &User) -> Result<TotpEnrolment> {
        let existing = self.store.list_auth_factors(&user.id).await?.into_iter().find(|f| f.verified_at.is_none());
        if let Some(factor) = existing {
            if let Ok(secret) = self.open_totp_secret(&factor) {
                let uri = totp::otpauth_uri(&secret, &factor.issuer, &factor.account);
                if let Some(qr_code) = totp::qr_png_data_url(&uri) {
                    return Ok(TotpEnrolment { secret_base32: totp::secret_base32(&secret), uri, qr_code, factor });
                }
            }
            self.store.delete_unverified_factors(&user.id).await?;
        }
        self.new_totp_factor(env, Some(user), TotpOptions::default(), None).await
    }

    /// Confirms a hosted enrolment with its first code; returns new recovery codes (shown once).
    pub async fn confirm_hosted_enrolment(&self, env: &Environment, user: &User, code: &str) -> Result<Vec<String>> {
        let factor = self
            .store
            .list_auth_factors(&user.id)
            .await?
            .into_iter()
            .find(|f| f.verified_at.is_none() && f.environment_id == env.id)
            .ok_or_else(|| Error::InvalidRequest("Start the authenticator app setup again.".into()))?;
        self.check_totp(&factor, code).await?;
        self.store.mark_factor_verified(&factor.id, self.now()).await?;
        tracing::info!(user.id = %user.id, factor.id = %factor.id, "authenticator app enrolled");
        self.regenerate_recovery_codes(user).await
    }

    /// New recovery codes for a user, replacing the old ones; stored hashed, returned once.
    pub async fn regenerate_recovery_codes(&self, user: &User) -> Result<Vec<String>> {
        let codes: Vec<String> = (0..totp::RECOVERY_CODES)
            .map(|_| {
                let mut random = [0u8; 8];
                fill_random(&mut random);
                totp::recovery_code_from(&random)
            })
            .collect();
        let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(&user.id, c)).collect();
        self.store.replace_recovery_codes(&user.id, &hashes, self.now()).await?;
        Ok(codes)
    }

    pub async fn unused_recovery_codes(&self, user: &User) -> Result<i64> {
        Ok(self.store.count_unused_recovery_codes(&user.id).await?)
    }

    /// Hosted sign-in's second step: a code from any of the user's factors, or a recovery code,
    /// from `client`. Records `authentication.mfa_succeeded` or `authentication.mfa_failed`.
    pub async fn verify_hosted_second_factor(
        &self,
        env: &LoadedEnvironment,
        user: &User,
        method: &AuthMethod,
        input: &str,
        client: &RequestInfo,
    ) -> Result<()> {
        let result = match self.check_hosted_second_factor(env, user, method, input).await {
            Ok(()) => self.record_second_factor(&env.id, user, client).await,
            Err(Error::Factor(problem)) => {
                let message = problem.message();
                self.record_failed_sign_in(
                    &env.id,
                    AuthenticationKind::Mfa,
                    Some(user),
                    Some(&user.email),
                    Some(client),
                    ("invalid_one_time_code", &message),
                )
                .await?;
                Err(Error::Factor(problem))
            }
            Err(e) => Err(e),
        };
        self.counters.sign_in(super::counters::SignInMethod::Mfa, &result);
        result
    }

    /// `authentication.mfa_succeeded` for `user`.
    async fn record_second_factor(&self, env_id: &str, user: &User, info: &RequestInfo) -> Result<()> {
        let ip = info.ip_address();
        let who = Attempted {
            user_id: Some(&user.id),
            email: Some(&user.email),
            ip_address: ip.as_deref(),
            user_agent: info.user_agent.as_deref(),
        };
        let event = NewEvent::authentication_succeeded(AuthenticationKind::Mfa, who);
        self.store.record_events(env_id, self.now(), &[event]).await?;
        Ok(())
    }

    async fn check_hosted_second_factor(
        &self,
        env: &LoadedEnvironment,
        user: &User,
        method: &AuthMethod,
        input: &str,
    ) -> Result<()> {
        if !self.owes_mfa(env, user, method).await? {
            return Err(Error::InvalidPendingToken);
        }
        let digits = totp::normalize_code(input);
        if digits.len() == totp::DIGITS && digits.bytes().all(|b| b.is_ascii_digit()) {
            let factors = self.verified_factors(&user.id).await?;
            let mut last = Error::Factor(FactorError::InvalidCode);
            for factor in &factors {
                match self.check_totp(factor, &digits).await {
                    Ok(()) => return Ok(()),
                    Err(e @ Error::Factor(_)) => last = e,
                    Err(e) => return Err(e),
                }
            }
            return Err(last);
        }
        let key = self.count_code_attempt(user_attempts(&user.id)).await?;
        let Some(code) = totp::normalize_recovery_code(input) else {
            return Err(Error::Factor(FactorError::InvalidCode));
        };
        if !self.store.consume_recovery_code(&user.id, &recovery_hash(&user.id, &code), self.now()).await? {
            return Err(Error::Factor(FactorError::InvalidCode));
        }
        self.store.clear_attempts(&key).await?;
        tracing::warn!(user.id = %user.id, "signed in with a recovery code");
        Ok(())
    }

    /// Removes every TOTP factor of a user, and their recovery codes (hosted security page).
    pub async fn remove_authenticator_apps(&self, env: &Environment, user: &User) -> Result<()> {
        for factor in self.store.list_auth_factors(&user.id).await? {
            self.store.delete_auth_factor(&env.id, &factor.id).await?;
        }
        self.store.delete_recovery_codes(&user.id).await?;
        tracing::info!(user.id = %user.id, "authenticator app removed");
        Ok(())
    }
}

/// The attempt-limit key of a user's second-factor codes.
fn user_attempts(user_id: &str) -> String {
    format!("mfa:user:{user_id}")
}

/// Recovery codes are hashed with the user ID so equal codes of two users differ in storage.
fn recovery_hash(user_id: &str, code: &str) -> String {
    hash_secret(&format!("recovery:{user_id}:{code}"))
}

/// How long the account-security page stays open after a sign-in.
pub const SECURITY_SESSION_TTL_MS: Millis = 600 * SEC;

impl Core {
    /// Parks a finished hosted sign-in on the account-security page; returns the cookie token.
    pub async fn create_security_session(
        &self,
        env: &Environment,
        user: &User,
        method: &AuthMethod,
        request_id: &str,
    ) -> Result<String> {
        let token = crate::crypto::secrets::random_token(32);
        let now = self.now();
        let session = SecuritySession {
            environment_id: env.id.clone(),
            user_id: user.id.clone(),
            auth_method: method.clone(),
            request_id: request_id.to_owned(),
        };
        self.store.insert_security_session(&hash_secret(&token), &session, now + SECURITY_SESSION_TTL_MS, now).await?;
        Ok(token)
    }

    /// The open security session behind a cookie token, with its user.
    pub async fn find_security_session(&self, token: &str) -> Result<Option<(SecuritySession, User)>> {
        if token.is_empty() || token.len() > 64 {
            return Ok(None);
        }
        let Some(session) = self.store.find_security_session(&hash_secret(token), self.now()).await? else {
            return Ok(None);
        };
        let user = self.store.find_user(&session.environment_id, &session.user_id).await?;
        Ok(user.map(|u| (session, u)))
    }

    /// Ends a security session (continue to the app), atomically.
    pub async fn end_security_session(&self, token: &str) -> Result<Option<SecuritySession>> {
        if token.is_empty() || token.len() > 64 {
            return Ok(None);
        }
        Ok(self.store.consume_security_session(&hash_secret(token), self.now()).await?)
    }
}
