//! Impersonation (issue 10.3): an operator signs in to an app as one of its users, to see what
//! they see.
//!
//! `impersonate` (the CLI's `gatehouse impersonate`, the console's button) checks the
//! environment allows it, records a `gatehouse.impersonation.created` audit event and returns a
//! one-time link to `/authkit/impersonate?token=…`, valid `LINK_TTL_MS`. Opening it spends the
//! token and leaves a grant in the operator's browser (an HttpOnly cookie), then sends the
//! browser to the app. The app's next sign-in (`/user_management/authorize`, with its own
//! PKCE challenge and state, so SPAs like authkit-js accept the answer) spends the grant and
//! goes straight back to the app's redirect URI with a code for the user; that code starts a
//! session that carries `impersonator: {email, reason}` (the authenticate response and the
//! session object), whose access tokens carry `act: {sub: <operator email>}`, which lasts
//! `IMPERSONATION_TTL_MS` at most (refresh stops there), and whose `session.created` names the
//! impersonator. No `authentication.*` event: nobody proved anything.

use super::auth::AuthorizeParams;
use super::environments::{LoadedEnvironment, SEC};
use super::{Core, Error, Result};
use crate::clock::{Millis, iso8601};
use crate::crypto::secrets::{hash_secret, random_token};
use crate::domain::audit::{Actor, audit_event, target};
use crate::domain::environment::Environment;
use crate::domain::event::Impersonator;
use crate::domain::session::AuthMethod;
use crate::domain::user::normalize_email;
use crate::store::{Impersonation, NewImpersonation};

/// The longest an impersonated session lasts (WorkOS: one hour at most).
pub const IMPERSONATION_TTL_MS: Millis = 60 * 60 * SEC;
/// How long an impersonation link may wait to be opened.
pub const LINK_TTL_MS: Millis = 15 * 60 * SEC;
/// How long the opened link's grant waits for the app's sign-in.
pub const GRANT_TTL_MS: Millis = 10 * 60 * SEC;
/// The longest reason kept.
const MAX_REASON_CHARS: usize = 500;

/// What `impersonate` hands the operator.
#[derive(Debug, serde::Serialize)]
pub struct ImpersonationLink {
    pub url: String,
    pub user_id: String,
    pub email: String,
    pub operator_email: String,
    pub reason: String,
    pub expires_at: String,
}

/// An opened link: the grant for the browser's cookie and where to send the browser.
#[derive(Debug)]
pub struct OpenedImpersonation {
    pub grant: String,
    pub grant_max_age_secs: i64,
    pub landing: String,
}

fn disabled(env: &Environment) -> Error {
    Error::validation(
        "allow_impersonation",
        "impersonation_disabled",
        format!(
            "Impersonation is off in {}: turn it on with `gatehouse env set allow_impersonation true --env {}`.",
            env.name, env.name
        ),
    )
}

impl Core {
    /// Starts an impersonation of `user` (an ID or an email address) by `operator_email` for
    /// `reason`, and returns its one-time link.
    pub async fn impersonate(
        &self,
        env: &Environment,
        user: &str,
        operator_email: &str,
        reason: &str,
        actor: &Actor,
    ) -> Result<ImpersonationLink> {
        if !env.settings.allow_impersonation {
            return Err(disabled(env));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(Error::validation(
                "reason",
                "reason_required",
                format!("Give the reason for impersonating (1-{MAX_REASON_CHARS} characters)."),
            ));
        }
        let operator_email = normalize_email(operator_email).ok_or_else(|| {
            Error::validation("operator", "invalid_email", "The operator's email address is invalid.")
        })?;
        let found = match self.store.find_user(&env.id, user).await? {
            Some(u) => Some(u),
            None => match normalize_email(user) {
                Some(email) => self.store.find_user_by_email(&env.id, &email).await?,
                None => None,
            },
        };
        let target_user = found.ok_or_else(|| Error::NotFound { kind: "User", id: user.to_owned() })?;
        let now = self.now();
        let token = random_token(32);
        let impersonation = Impersonation {
            environment_id: env.id.clone(),
            user_id: target_user.id.clone(),
            operator_email: operator_email.clone(),
            reason: Some(reason.to_owned()),
            expires_at: now + LINK_TTL_MS,
        };
        let event = audit_event(
            "gatehouse.impersonation.created",
            actor,
            target("user", &target_user.id),
            serde_json::Value::Null,
            serde_json::json!({
                "user_id": target_user.id,
                "email": target_user.email,
                "operator_email": operator_email,
                "reason": reason,
                "link_expires_at": iso8601(impersonation.expires_at),
            }),
        );
        let token_hash = hash_secret(&token);
        let new = NewImpersonation { token_hash: &token_hash, impersonation: &impersonation, created_at: now };
        self.store.insert_impersonation(&new, &[event]).await?;
        tracing::info!(
            environment = %env.name, user.id = %target_user.id, operator = %operator_email,
            "impersonation link issued"
        );
        Ok(ImpersonationLink {
            url: format!("{}/authkit/impersonate?token={token}", self.config.public_url),
            user_id: target_user.id,
            email: target_user.email,
            operator_email,
            reason: reason.to_owned(),
            expires_at: iso8601(impersonation.expires_at),
        })
    }

    /// Opens an impersonation link: spends its token, and returns the grant the browser keeps
    /// and the app page to send it to (the origin of the environment's default redirect URI).
    pub async fn open_impersonation(&self, token: &str) -> Result<OpenedImpersonation> {
        let invalid = || {
            Error::InvalidRequest("This impersonation link has expired or was already used. Start a new one.".into())
        };
        if token.is_empty() || token.len() > 128 {
            return Err(invalid());
        }
        let now = self.now();
        let grant = random_token(32);
        let opened = self
            .store
            .open_impersonation(&hash_secret(token), &hash_secret(&grant), now + GRANT_TTL_MS, now)
            .await?
            .ok_or_else(invalid)?;
        let env = self
            .load_environment_by_id(&opened.environment_id)
            .await?
            .ok_or_else(|| Error::NotFound { kind: "Environment", id: opened.environment_id.clone() })?;
        if !env.settings.allow_impersonation {
            return Err(disabled(&env));
        }
        let redirects = self.store.list_redirect_uris(&env.id).await?;
        let default = redirects.iter().find(|r| r.is_default).or(redirects.first()).ok_or_else(|| {
            Error::InvalidRequest(format!("{} has no redirect URI to send the browser to.", env.name))
        })?;
        let landing = url::Url::parse(&default.uri)
            .map(|u| format!("{}/", u.origin().ascii_serialization()))
            .map_err(|_| Error::InvalidRequest("The default redirect URI is not a URL.".into()))?;
        Ok(OpenedImpersonation { grant, grant_max_age_secs: GRANT_TTL_MS / SEC, landing })
    }

    /// At `/user_management/authorize`: if the browser holds an impersonation grant of this
    /// environment, spends it and returns the URL back to the app with a code for the user.
    pub async fn redeem_impersonation_grant(
        &self,
        env: &LoadedEnvironment,
        grant: &str,
        params: &AuthorizeParams,
    ) -> Result<Option<String>> {
        if !env.settings.allow_impersonation {
            return Ok(None);
        }
        let Some(granted) = self.store.use_impersonation_grant(&env.id, &hash_secret(grant), self.now()).await? else {
            return Ok(None);
        };
        let Some(user) = self.store.find_user(&env.id, &granted.user_id).await? else {
            return Ok(None);
        };
        let impersonator = Impersonator { email: granted.operator_email, reason: granted.reason };
        let params = AuthorizeParams { organization_id: None, ..params.clone() };
        let url = self.issue_code_as(env, &params, &user, &AuthMethod::Impersonation, Some(&impersonator)).await?;
        Ok(Some(url))
    }
}
