//! Authentication: the token grants of `POST /user_management/authenticate`, password
//! sign-in with throttling, and the authorization-code half of the hosted flow.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::codes::{CodeProblem, Presenter};
use super::counters::{RefreshOutcome, SignInMethod};
use super::environments::{LoadedEnvironment, SEC};
use super::error::{FactorError, Rejection};
use super::pending::FirstFactor;
use super::throttle::Attempt;
use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::crypto::password::Verdict;
use crate::crypto::secrets::{
    derive_chain, derive_token, hash_secret, is_valid_pkce_verifier, pkce_s256_matches, random_token, secrets_equal,
};
use crate::domain::client_address::ClientAddress;
use crate::domain::event::{Attempted, AuthenticationKind, Impersonator, NewEvent};
use crate::domain::organization::OrganizationAccess;
use crate::domain::refresh_token::RefreshToken;
use crate::domain::session::{AuthMethod, PURPOSE_ORGANIZATION_SELECTION, Session, SessionStatus};
use crate::domain::user::{User, normalize_email};
use crate::ids::new_id;
use crate::store::{CodeOutcome, NewAuthCode, RefreshContext};

/// Authorization codes live ten minutes (RFC 6749 recommends at most ten).
pub const AUTH_CODE_TTL_MS: Millis = 600 * SEC;
/// The window of the two-factor code throttle (`service::mfa`).
pub const THROTTLE_WINDOW_MS: Millis = 15 * 60 * SEC;

/// The derivation purpose of a rotated refresh token's secret.
const REFRESH_ROTATION: &str = "refresh-rotation";
/// How far back a reused refresh token is still recognised as one of its chain's (and so
/// revokes the session): about three and a half days of five-minute refreshes. Older tokens are
/// just invalid; the bound keeps the forward derivation (one HMAC per generation) cheap.
const MAX_REUSE_DETECTION_GENERATIONS: u32 = 1000;

/// Whether an `/authorize` request's `code_challenge` can be an S256 challenge: the base64url
/// SHA-256 of a verifier, 43 characters of the verifier alphabet.
pub fn is_valid_code_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && is_valid_pkce_verifier(challenge)
}

/// One grant of the token endpoint, parsed from the wire.
#[derive(Debug)]
pub enum Grant {
    AuthorizationCode {
        code: String,
        code_verifier: Option<String>,
        /// When sent, must be the `redirect_uri` the code was issued for (RFC 6749 §4.1.3).
        redirect_uri: Option<String>,
        /// Accept this invitation for the user, and start the session in its organization.
        invitation_token: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        /// Move the session to this organization (the SDKs' organization switch); the user
        /// must be an active member.
        organization_id: Option<String>,
    },
    Password {
        email: String,
        password: String,
        /// Accept this invitation for the user (the password proves the account).
        invitation_token: Option<String>,
    },
    MagicAuth {
        email: String,
        code: String,
    },
    EmailVerification {
        code: String,
        pending_authentication_token: String,
    },
    /// `urn:workos:oauth:grant-type:organization-selection`: finishes a sign-in that got
    /// `organization_selection_required`.
    OrganizationSelection {
        pending_authentication_token: String,
        organization_id: String,
    },
    /// `urn:workos:oauth:grant-type:mfa-totp`: finishes a sign-in that got `mfa_challenge`.
    MfaTotp {
        pending_authentication_token: String,
        authentication_challenge_id: String,
        code: String,
    },
}

/// An authorization code as the client presents it at the token endpoint.
struct Presented<'a> {
    code: &'a str,
    verifier: Option<&'a str>,
    redirect_uri: Option<&'a str>,
    invitation_token: Option<&'a str>,
}

/// Who is asking: the client ID, and the API key when the client is confidential.
#[derive(Debug)]
pub struct ClientAuth {
    pub client_id: String,
    pub client_secret: Option<String>,
    /// The end user's address and user agent as the caller states them (`ip_address`,
    /// `user_agent`); believed only from a caller with the API key.
    pub stated_ip_address: Option<String>,
    pub stated_user_agent: Option<String>,
}

/// Request metadata recorded on sessions and used for throttling: the client's address as the
/// web layer resolved it (`web::client`), or as an API-key holder stated it.
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    pub address: Option<ClientAddress>,
    pub user_agent: Option<String>,
}

impl RequestInfo {
    /// The address as text, for session metadata.
    pub fn ip_address(&self) -> Option<String> {
        self.address.map(|a| a.to_string())
    }

    /// What per-address limits count under (an IPv6 client's /64).
    pub fn bucket(&self) -> Option<String> {
        self.address.map(|a| a.bucket())
    }

    /// What a confidential client (one that sent the API key) says about its own client, which
    /// replaces what the socket shows: a backend signing users in speaks for them (WorkOS's
    /// `ip_address` and `user_agent`). An unparsable address is ignored.
    pub fn as_stated_by_backend(&self, ip_address: Option<&str>, user_agent: Option<&str>) -> RequestInfo {
        RequestInfo {
            address: ip_address.and_then(ClientAddress::parse_claimed).or(self.address),
            user_agent: user_agent.map(|ua| ua.chars().take(512).collect()).or_else(|| self.user_agent.clone()),
        }
    }
}

/// A correct password, and whether the throttles want more proof before the step-ups.
#[derive(Debug)]
pub struct PasswordChecked {
    pub user: User,
    pub first: FirstFactor,
}

/// A successful authentication.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub user: User,
    pub access_token: String,
    pub refresh_token: String,
    pub authentication_method: AuthMethod,
    pub session_id: String,
    /// When the session ends (Unix ms): cookies holding its refresh token expire with it.
    pub session_expires_at: Millis,
    /// The organization the session is in.
    pub organization_id: Option<String>,
    /// The operator signed in as the user, when this is an impersonation.
    pub impersonator: Option<Impersonator>,
}

/// The parameters of an `/authorize` request, kept while the user is on the hosted pages.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthorizeParams {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub login_hint: Option<String>,
    pub screen_hint: Option<String>,
    /// The ID of the saved request these came from (not stored; filled in when loaded).
    #[serde(skip)]
    pub request_id: String,
    /// A hosted page to show after sign-in, before returning to the app (`security`: the
    /// account-security page for passkeys and two-factor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<String>,
    /// The organization to sign in to (`organization_id`), or the one chosen on the picker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The invitation whose `invitation_token` came with the request (checked then): the
    /// sign-up or sign-in accepts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<String>,
}

impl Core {
    /// Runs one grant for a client. Public clients (no secret) may use PKCE codes and refresh
    /// tokens; the password grant needs the API key.
    pub async fn authenticate(&self, client: &ClientAuth, grant: Grant, info: &RequestInfo) -> Result<Authenticated> {
        let env = self
            .load_environment(&client.client_id)
            .await?
            .ok_or_else(|| Error::InvalidClient("Invalid client ID.".into()))?;
        let confidential = match &client.client_secret {
            Some(secret) => {
                let owner = self.environment_for_api_key(secret).await.map_err(|e| match e {
                    Error::Unauthorized => Error::InvalidClient("Invalid client secret.".into()),
                    other => other,
                })?;
                if owner.id != env.id {
                    return Err(Error::InvalidClient("The client secret does not belong to this client ID.".into()));
                }
                true
            }
            None => false,
        };
        let stated;
        let info = if confidential {
            stated =
                info.as_stated_by_backend(client.stated_ip_address.as_deref(), client.stated_user_agent.as_deref());
            &stated
        } else {
            info
        };
        match grant {
            Grant::Password { email, password, invitation_token } => {
                if !confidential {
                    return Err(Error::InvalidClient(
                        "The password grant requires a client_secret (your API key).".into(),
                    ));
                }
                let invitation = match &invitation_token {
                    Some(token) => Some(self.pending_invitation(&env.id, token).await?),
                    None => None,
                };
                let checked = self.verify_password_sign_in(&env, &email, &password, info, None).await?;
                let organization = match &invitation {
                    Some(invitation) => self.redeem_invitation(invitation, &checked.user).await?,
                    None => None,
                };
                self.finish_api_sign_in_in(&env, checked.user, &AuthMethod::Password, info, checked.first, organization)
                    .await
            }
            Grant::AuthorizationCode { code, code_verifier, redirect_uri, invitation_token } => {
                let presented = Presented {
                    code: &code,
                    verifier: code_verifier.as_deref(),
                    redirect_uri: redirect_uri.as_deref(),
                    invitation_token: invitation_token.as_deref(),
                };
                self.exchange_code(&env, &presented, confidential, info).await
            }
            Grant::RefreshToken { refresh_token, organization_id } => {
                self.refresh(&env, &refresh_token, organization_id.as_deref()).await
            }
            Grant::OrganizationSelection { pending_authentication_token, organization_id } => {
                if !confidential {
                    return Err(Error::InvalidClient(
                        "The organization-selection grant requires a client_secret (your API key).".into(),
                    ));
                }
                self.select_organization(&env, &pending_authentication_token, &organization_id, info).await
            }
            Grant::MagicAuth { email, code } => {
                if !confidential {
                    return Err(Error::InvalidClient(
                        "The magic-auth grant requires a client_secret (your API key).".into(),
                    ));
                }
                let presenter = Presenter { client: Some(info), device_cookie: None };
                let user = self.redeem_magic_auth(&env, &email, &code, presenter).await?;
                self.finish_api_sign_in(&env, user, &AuthMethod::MagicAuth, info).await
            }
            Grant::EmailVerification { code, pending_authentication_token } => {
                if !confidential {
                    return Err(Error::InvalidClient(
                        "The email-verification grant requires a client_secret (your API key).".into(),
                    ));
                }
                let (pending, user) = self.peek_pending_authentication(&env, &pending_authentication_token).await?;
                // On this grant WorkOS names code problems as for any one-time code.
                let presenter = Presenter { client: Some(info), device_cookie: None };
                let user =
                    self.confirm_email_verification(&env, user, &code, presenter).await.map_err(|e| match e {
                        Error::Rejected { reason: Rejection::EmailVerificationCode(problem), message } => {
                            Error::Rejected { reason: Rejection::OneTimeCode(problem), message }
                        }
                        other => other,
                    })?;
                self.consume_pending_authentication(&env, &pending_authentication_token).await?;
                self.finish_api_sign_in(&env, user, &pending.auth_method, info).await
            }
            Grant::MfaTotp { pending_authentication_token, authentication_challenge_id, code } => {
                if !confidential {
                    return Err(Error::InvalidClient(
                        "The mfa-totp grant requires a client_secret (your API key).".into(),
                    ));
                }
                self.authenticate_with_totp(
                    &env,
                    &pending_authentication_token,
                    &authentication_challenge_id,
                    &code,
                    info,
                )
                .await
                .map_err(|e| match e {
                    // The grant names a spent or expired challenge as WorkOS names one-time codes.
                    Error::Factor(FactorError::ChallengeUsed) => {
                        let problem = CodeProblem::PreviouslyUsed;
                        Error::Rejected { reason: Rejection::OneTimeCode(problem), message: problem.message().into() }
                    }
                    Error::Factor(FactorError::ChallengeExpired) => {
                        let problem = CodeProblem::Expired;
                        Error::Rejected { reason: Rejection::OneTimeCode(problem), message: problem.message().into() }
                    }
                    other => other,
                })
            }
        }
    }

    /// Checks an email and password under the throttling policy (`service::throttle`).
    /// Unknown emails cost the same time as known ones and get the same answer.
    pub async fn verify_password_sign_in(
        &self,
        env: &LoadedEnvironment,
        email: &str,
        password: &str,
        info: &RequestInfo,
        device_cookie: Option<&str>,
    ) -> Result<PasswordChecked> {
        let result: Result<PasswordChecked> = async {
            let invalid = || Error::InvalidCredentials { email: email.to_owned() };
            let Some(normalized) = normalize_email(email) else {
                return Err(invalid());
            };
            let attempt = Attempt { env, account: &normalized, address: info.address.as_ref(), device_cookie };
            let admitted = self.admit_password_attempt(&attempt).await?;
            let user = self.store.find_user_by_email(&env.id, &normalized).await?;
            let verdict = match user.as_ref().and_then(|u| u.password_hash.as_deref()) {
                Some(hash) => self.passwords.verify(password, hash).await?,
                None => {
                    self.passwords.verify_dummy(password).await?;
                    Verdict::Mismatch
                }
            };
            let user = match (verdict, user) {
                (Verdict::Match, Some(user)) => user,
                (Verdict::MatchRehash { new_hash }, Some(user)) => {
                    self.store.set_password_hash(&user.id, &new_hash).await?;
                    user
                }
                (_, user) => {
                    let error = invalid();
                    let message = error.to_string();
                    let refused = ("invalid_credentials", message.as_str());
                    self.record_failed_sign_in(
                        &env.id,
                        AuthenticationKind::Password,
                        user.as_ref(),
                        Some(&normalized),
                        Some(info),
                        refused,
                    )
                    .await?;
                    return Err(error);
                }
            };
            self.settle_success(&admitted).await?;
            let first = if admitted.email_proof_owed { FirstFactor::NeedsEmailProof } else { FirstFactor::Enough };
            Ok(PasswordChecked { user, first })
        }
        .await;
        self.counters.sign_in(SignInMethod::Password, &result);
        result
    }

    /// Finishes a sign-in that got `organization_selection_required`: spends its pending token
    /// (only one issued for that choice) and starts the session in the chosen organization.
    async fn select_organization(
        &self,
        env: &LoadedEnvironment,
        pending_token: &str,
        organization_id: &str,
        info: &RequestInfo,
    ) -> Result<Authenticated> {
        let (pending, user) = self.peek_pending_authentication(env, pending_token).await?;
        if pending.purpose.as_deref() != Some(PURPOSE_ORGANIZATION_SELECTION) {
            return Err(Error::InvalidPendingToken);
        }
        let access = self.sign_in_access(&env.id, organization_id, &user).await?;
        let (pending, user) = self.consume_pending_authentication(env, pending_token).await?;
        self.start_session(env, user, &pending.auth_method, self.now(), Some(access), info).await
    }

    /// Starts a session for a user who signed in at `auth_time`, in an organization or none,
    /// and issues its first token pair.
    pub async fn start_session(
        &self,
        env: &LoadedEnvironment,
        user: User,
        method: &AuthMethod,
        auth_time: Millis,
        access: Option<OrganizationAccess>,
        info: &RequestInfo,
    ) -> Result<Authenticated> {
        self.start_session_as(env, user, method, auth_time, access, info, None).await
    }

    /// `start_session`, or an impersonation's (`impersonator`): that session ends after
    /// `IMPERSONATION_TTL_MS` at most, and records no `authentication.*` event.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn start_session_as(
        &self,
        env: &LoadedEnvironment,
        mut user: User,
        method: &AuthMethod,
        auth_time: Millis,
        access: Option<OrganizationAccess>,
        info: &RequestInfo,
        impersonator: Option<&Impersonator>,
    ) -> Result<Authenticated> {
        let now = self.now();
        let first_secret = random_token(32);
        let lifetime = match impersonator {
            Some(_) => (env.settings.session_ttl_secs * SEC).min(super::impersonation::IMPERSONATION_TTL_MS),
            None => env.settings.session_ttl_secs * SEC,
        };
        let session = Session {
            id: new_id("session"),
            environment_id: env.id.clone(),
            user_id: user.id.clone(),
            auth_method: method.clone(),
            ip_address: info.ip_address(),
            user_agent: info.user_agent.clone(),
            expires_at: now + lifetime,
            ended_at: None,
            created_at: now,
            updated_at: now,
            auth_time,
            organization_id: access.as_ref().map(|a| a.organization.id.clone()),
            impersonator_email: impersonator.map(|i| i.email.clone()),
            impersonator_reason: impersonator.and_then(|i| i.reason.clone()),
        };
        let signed_in = Attempted {
            user_id: Some(&user.id),
            email: Some(&user.email),
            ip_address: session.ip_address.as_deref(),
            user_agent: session.user_agent.as_deref(),
        };
        let mut events: Vec<NewEvent> = AuthenticationKind::of_method(method)
            .map(|kind| NewEvent::authentication_succeeded(kind, signed_in))
            .into_iter()
            .chain([NewEvent::session(&session, false, now)])
            .collect();
        // Auto-join: the membership is created with the session, or neither is.
        let joined = access.as_ref().filter(|a| a.joined).map(|a| &a.membership);
        if let Some(a) = access.as_ref().filter(|a| a.joined) {
            events.insert(
                0,
                NewEvent::membership("organization_membership.created", &a.membership, &a.organization.name),
            );
        }
        if let Err(e) = self.store.start_session(&session, &hash_secret(&first_secret), joined, &events).await {
            // A concurrent sign-in of the same user joined the organization first: enter it
            // through the membership that one created (or be refused if it is not active).
            if let (Some(m), crate::store::StoreError::Conflict("organization_memberships.user")) = (joined, &e) {
                let existing = self.organization_access(&env.id, &m.organization_id, &user.id).await?;
                return Box::pin(self.start_session_as(
                    env,
                    user,
                    method,
                    auth_time,
                    Some(existing),
                    info,
                    impersonator,
                ))
                .await;
            }
            return Err(e.into());
        }
        let refresh_token = RefreshToken::format(&session.id, 0, &first_secret);
        user.last_sign_in_at = Some(now);
        let claims = self.access_claims(env, &user, &session, access.as_ref(), now)?;
        let access_token = self.sign_access_token(env, &claims)?;
        Ok(Authenticated {
            user,
            access_token,
            refresh_token,
            authentication_method: method.clone(),
            session_expires_at: session.expires_at,
            session_id: session.id,
            organization_id: session.organization_id,
            impersonator: impersonator.cloned(),
        })
    }

    async fn exchange_code(
        &self,
        env: &LoadedEnvironment,
        presented: &Presented<'_>,
        confidential: bool,
        info: &RequestInfo,
    ) -> Result<Authenticated> {
        let verifier = presented.verifier;
        let invitation = match presented.invitation_token {
            Some(token) => Some(self.pending_invitation(&env.id, token).await?),
            None => None,
        };
        let code_hash = hash_secret(presented.code);
        let issued = match self.store.consume_auth_code(&code_hash, self.now()).await? {
            CodeOutcome::Consumed(c) => c,
            CodeOutcome::Replayed => {
                return Err(Error::InvalidGrant(
                    "The code has already been used; the session it started has been revoked.".into(),
                ));
            }
            CodeOutcome::Expired => {
                return Err(Error::InvalidGrant("The code has expired.".into()));
            }
            CodeOutcome::Unknown => return Err(Error::InvalidGrant("The code is invalid.".into())),
        };
        if issued.environment_id != env.id {
            return Err(Error::InvalidGrant("The code was not issued to this client.".into()));
        }
        if presented.redirect_uri.is_some_and(|uri| uri != issued.redirect_uri) {
            return Err(Error::InvalidGrant("The redirect_uri does not match the one the code was issued for.".into()));
        }
        match (&issued.code_challenge, verifier) {
            (Some(challenge), Some(verifier)) => {
                if !pkce_s256_matches(verifier, challenge) {
                    return Err(Error::InvalidGrant("The code_verifier does not match the code_challenge.".into()));
                }
            }
            (Some(_), None) => {
                return Err(Error::InvalidGrant("A code_verifier is required for this code.".into()));
            }
            (None, Some(_)) => {
                return Err(Error::InvalidGrant("The code was issued without a code_challenge.".into()));
            }
            (None, None) if !confidential => {
                return Err(Error::InvalidClient(
                    "A client_secret or a PKCE code_verifier is required to exchange a code.".into(),
                ));
            }
            (None, None) => {}
        }
        let user = self
            .store
            .find_user(&env.id, &issued.user_id)
            .await?
            .ok_or_else(|| Error::InvalidGrant("The code's user no longer exists.".into()))?;
        // The sign-in ended when the hosted pages issued the code, in the organization it chose
        // (if the membership is still active) or, if it chose none, as an API sign-in would.
        let invited_to = match &invitation {
            Some(invitation) => self.redeem_invitation(invitation, &user).await?,
            None => None,
        };
        let impersonator = issued
            .impersonator_email
            .clone()
            .map(|email| Impersonator { email, reason: issued.impersonator_reason.clone() });
        let authenticated = match (&impersonator, invited_to.as_ref().or(issued.organization_id.as_ref())) {
            (Some(impersonator), _) => {
                // An impersonation starts outside any organization, for its short lifetime.
                let method = AuthMethod::Impersonation;
                self.start_session_as(env, user, &method, issued.created_at, None, info, Some(impersonator)).await?
            }
            (None, Some(org)) => {
                let access = self.sign_in_access(&env.id, org, &user).await?;
                self.start_session(env, user, &issued.auth_method, issued.created_at, Some(access), info).await?
            }
            (None, None) => self.start_api_session(env, user, &issued.auth_method, issued.created_at, info).await?,
        };
        self.store.attach_code_session(&code_hash, &authenticated.session_id).await?;
        Ok(authenticated)
    }

    /// Rotates a refresh token (`<session>.<generation>.<secret>`, see `domain::refresh_token`).
    ///
    /// * The session's current generation with the right secret: the next generation, whose
    ///   secret is derived from the presented one with a server key, replaces it in one
    ///   conditional UPDATE, and is returned.
    /// * The immediately previous generation again, within the grace window (two tabs racing, a
    ///   retried request): the current token and access token again. Deriving the presented
    ///   secret forward gives the current one, and RSASSA-PKCS1-v1_5 signatures are
    ///   deterministic, so re-signing the stored claims gives the same access token.
    /// * Any other earlier generation of the chain (proven by deriving forward to the current
    ///   hash) is treated as theft: the whole session is revoked.
    /// * Anything else (a guess, a wrong secret) is just invalid.
    ///
    /// The usual case costs no read: the context kept when this process issued the token is
    /// used, and the UPDATE re-checks it.
    ///
    /// Each outcome is counted for `/metrics` where it is decided (`invalid` counts a rejection).
    ///
    /// `switch_to` moves the session to another organization (the user must be an active
    /// member); a session in an organization stays there only while its membership is active.
    async fn refresh(
        &self,
        env: &LoadedEnvironment,
        presented: &str,
        switch_to: Option<&str>,
    ) -> Result<Authenticated> {
        let invalid = || {
            self.counters.refresh(RefreshOutcome::Rejected);
            Error::InvalidGrant("Invalid refresh token.".into())
        };
        let token = RefreshToken::parse(presented).ok_or_else(invalid)?;
        let presented_hash = hash_secret(token.secret);
        let mut cached = self.store.take_cached_refresh(token.session_id);
        // Up to three passes: the cached context may be stale, and a read-then-update pass fails
        // only when another request changed the session (or its user) in between.
        for _ in 0..3 {
            let ctx = match cached.take().filter(|c| c.generation == token.generation) {
                Some(ctx) => ctx,
                None => self.store.find_refresh(token.session_id).await?.ok_or_else(invalid)?,
            };
            let now = self.now();
            if ctx.session.environment_id != env.id || ctx.session.status(now) != SessionStatus::Active {
                return Err(invalid());
            }
            let Some(current_hash) = ctx.refresh_hash.as_deref() else { return Err(invalid()) };
            if token.generation == ctx.generation {
                if !secrets_equal(&presented_hash, current_hash) {
                    return Err(invalid());
                }
                let target = switch_to.filter(|o| !o.is_empty()).or(ctx.session.organization_id.as_deref());
                let access = match target {
                    Some(org) => {
                        Some(self.organization_access(&env.id, org, &ctx.user.id).await.map_err(|e| match e {
                            // The session's own organization is gone from under it.
                            Error::Rejected { .. } if switch_to.is_none() => invalid(),
                            other => other,
                        })?)
                    }
                    None => None,
                };
                let organization_id = access.as_ref().map(|a| a.organization.id.clone());
                let next_secret = derive_token(&self.refresh_key, REFRESH_ROTATION, token.secret);
                let claims = self.access_claims(env, &ctx.user, &ctx.session, access.as_ref(), now)?;
                let claims_json = serde_json::Value::Object(claims.clone()).to_string();
                if !self
                    .store
                    .rotate_refresh(
                        &ctx,
                        &presented_hash,
                        &hash_secret(&next_secret),
                        &claims_json,
                        organization_id.as_deref(),
                        now,
                    )
                    .await?
                {
                    continue;
                }
                self.counters.refresh(RefreshOutcome::Rotated);
                let mut done = self.refreshed(env, ctx, token.generation + 1, &next_secret, &claims)?;
                done.organization_id = organization_id;
                return Ok(done);
            }
            // An earlier generation: is it really one of this chain's?
            let steps = u32::try_from(ctx.generation - token.generation).unwrap_or(0);
            if !(1..=MAX_REUSE_DETECTION_GENERATIONS).contains(&steps) {
                return Err(invalid());
            }
            let secret = derive_chain(&self.refresh_key, REFRESH_ROTATION, token.secret, steps);
            if !secrets_equal(&hash_secret(&secret), current_hash) {
                return Err(invalid());
            }
            let grace = env.settings.refresh_grace_secs * SEC;
            let replay = ctx
                .refresh_claims
                .as_deref()
                .filter(|_| steps == 1 && ctx.refreshed_at.is_some_and(|at| now - at <= grace));
            let Some(claims) = replay else {
                let events = [NewEvent::session(&ctx.session, true, now)];
                self.store.revoke_session(&ctx.session.environment_id, &ctx.session.id, now, &events).await?;
                self.counters.refresh(RefreshOutcome::ReuseDetected);
                tracing::warn!(session.id = %ctx.session.id, "refresh token reused after rotation; session revoked");
                return Err(Error::InvalidGrant(
                    "The refresh token has already been used; the session has been revoked.".into(),
                ));
            };
            let claims = serde_json::from_str(claims).map_err(|e| Error::Internal(e.into()))?;
            let generation = ctx.generation;
            self.counters.refresh(RefreshOutcome::GraceRetry);
            return self.refreshed(env, ctx, generation, &secret, &claims);
        }
        Err(invalid())
    }

    /// The answer to a refresh: the token of `generation` and an access token for `claims`.
    fn refreshed(
        &self,
        env: &LoadedEnvironment,
        ctx: RefreshContext,
        generation: i64,
        secret: &str,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Authenticated> {
        let impersonator = ctx.session.impersonator();
        Ok(Authenticated {
            impersonator,
            access_token: self.sign_access_token(env, claims)?,
            refresh_token: RefreshToken::format(&ctx.session.id, generation, secret),
            user: ctx.user,
            authentication_method: ctx.session.auth_method,
            session_expires_at: ctx.session.expires_at,
            session_id: ctx.session.id,
            organization_id: ctx.session.organization_id,
        })
    }

    /// Issues a single-use code for the hosted flow and returns the URL to send the browser to.
    pub async fn issue_authorization_code(
        &self,
        env: &LoadedEnvironment,
        params: &AuthorizeParams,
        user: &User,
        method: &AuthMethod,
    ) -> Result<String> {
        self.issue_code_as(env, params, user, method, None).await
    }

    /// `issue_authorization_code`, for an impersonation when `impersonator` is given.
    pub(super) async fn issue_code_as(
        &self,
        env: &LoadedEnvironment,
        params: &AuthorizeParams,
        user: &User,
        method: &AuthMethod,
        impersonator: Option<&Impersonator>,
    ) -> Result<String> {
        let organization_id = match &params.organization_id {
            Some(org) => Some(self.sign_in_access(&env.id, org, user).await?.organization.id),
            None => None,
        };
        let code = random_token(32);
        let now = self.now();
        self.store
            .insert_auth_code(&NewAuthCode {
                organization_id,
                code_hash: hash_secret(&code),
                environment_id: env.id.clone(),
                user_id: user.id.clone(),
                redirect_uri: params.redirect_uri.clone(),
                code_challenge: params.code_challenge.clone(),
                auth_method: method.clone(),
                impersonator: impersonator.cloned(),
                expires_at: now + AUTH_CODE_TTL_MS,
                created_at: now,
            })
            .await?;
        let mut query = vec![("code", code.as_str())];
        if let Some(state) = &params.state {
            query.push(("state", state.as_str()));
        }
        Ok(crate::domain::redirect::with_query(&params.redirect_uri, &query))
    }

    /// Keeps an `/authorize` request for the hosted pages; returns its opaque ID.
    pub async fn save_authorization_request(
        &self,
        env: &LoadedEnvironment,
        params: &AuthorizeParams,
    ) -> Result<String> {
        let id = random_token(24);
        let now = self.now();
        let json = serde_json::to_string(params).map_err(|e| Error::Internal(e.into()))?;
        // Long enough to read the page, find a password manager and type a name.
        self.store.insert_authorization_request(&id, &env.id, &json, now + 3600 * SEC, now).await?;
        Ok(id)
    }

    /// A saved `/authorize` request with its environment, if it has not expired.
    pub async fn find_authorization_request(
        &self,
        id: &str,
    ) -> Result<Option<(Arc<LoadedEnvironment>, AuthorizeParams)>> {
        if id.is_empty() || id.len() > 64 {
            return Ok(None);
        }
        let Some((env_id, params)) = self.store.find_authorization_request(id, self.now()).await? else {
            return Ok(None);
        };
        let mut params: AuthorizeParams = serde_json::from_str(&params).map_err(|e| Error::Internal(e.into()))?;
        params.request_id = id.to_owned();
        let Some(env) = self.load_environment_by_id(&env_id).await? else {
            return Ok(None);
        };
        Ok(Some((env, params)))
    }
}
