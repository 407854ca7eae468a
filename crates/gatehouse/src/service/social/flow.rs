//! The sign-in through a provider: `begin_social_sign_in` keeps the state server-side and
//! gives the URL to send the browser to; `finish_social_sign_in` takes the provider's callback,
//! checks it belongs to this browser and this sign-in, talks to the provider, and links.
//!
//! What is kept between the two (table `social_logins`): the `/authorize` request ID, a random
//! `state` (stored hashed; it is the lookup key), a nonce, the PKCE verifier, and the hash of a
//! random value in an HttpOnly cookie that binds the sign-in to the browser that started it.

use std::sync::Arc;

use super::link::LinkOutcome;
use super::provider_label;
use super::upstream::UpstreamError;
use crate::clock::Millis;
use crate::crypto::secrets::{hash_secret, pkce_s256, random_token, secrets_equal};
use crate::domain::event::AuthenticationKind;
use crate::domain::provider::{Kind, parse_scopes};
use crate::domain::session::AuthMethod;
use crate::service::auth::{AuthorizeParams, RequestInfo};
use crate::service::counters::SignInMethod;
use crate::service::environments::{LoadedEnvironment, SEC};
use crate::service::{Core, Result};
use crate::store::SocialLogin;

/// A provider has ten minutes to send the browser back.
pub const SOCIAL_LOGIN_TTL_MS: Millis = 600 * SEC;

/// What the app asked for on `/authorize` beyond the provider (wire spec §3.2).
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// `provider_scopes`, added to the provider's configured scopes.
    pub scopes: Vec<String>,
    pub login_hint: Option<String>,
    /// `provider_query_params[k]=v`, passed on to the provider's authorize URL.
    pub query_params: Vec<(String, String)>,
}

/// The provider's answer on the callback URL.
#[derive(Clone, Debug, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Why a social sign-in could not go on.
#[derive(Debug)]
pub enum Failure {
    /// The provider is not configured, or is disabled, for this environment.
    UnknownProvider,
    /// `provider_scopes` or `provider_query_params` are malformed.
    InvalidOptions(String),
    /// No pending sign-in has this state: forged, tampered with, used, or expired.
    InvalidState,
    /// The sign-in was started in another browser (the binding cookie is missing or differs).
    BrowserMismatch,
    /// The `/authorize` request behind the sign-in has expired.
    RequestExpired,
    /// The provider failed or refused.
    Upstream(UpstreamError),
}

pub enum StartOutcome {
    /// Send the browser here.
    Redirect(String),
    Failed(Failure),
}

pub enum CallbackOutcome {
    /// The callback cannot be tied to a sign-in; there is no app to send the browser back to.
    Invalid(Failure),
    /// The person declined at the provider (`access_denied`): tell the app.
    Cancelled { params: AuthorizeParams, description: String },
    /// The provider failed or refused; the sign-in can be retried from the hosted page.
    Failed { env: Arc<LoadedEnvironment>, request_id: String, provider_label: String, failure: Failure },
    /// The provider vouched for someone; `outcome` says what that means here.
    Linked {
        env: Arc<LoadedEnvironment>,
        params: AuthorizeParams,
        request_id: String,
        /// How the sign-in authenticated: `AuthMethod::OAuth` with the provider's name.
        method: AuthMethod,
        provider_label: String,
        outcome: LinkOutcome,
    },
}

impl Core {
    /// Starts a sign-in with `provider_name` for a saved `/authorize` request, bound to the
    /// browser holding `browser_binding` (a random value in an HttpOnly cookie).
    pub async fn begin_social_sign_in(
        &self,
        env: &LoadedEnvironment,
        request_id: &str,
        provider_name: &str,
        options: &StartOptions,
        browser_binding: &str,
    ) -> Result<StartOutcome> {
        let provider = match self.store.find_provider_by_name(&env.id, provider_name).await? {
            Some(p) if p.is_enabled => p,
            _ => return Ok(StartOutcome::Failed(Failure::UnknownProvider)),
        };
        let configured = provider.scopes.split(' ').chain(options.scopes.iter().map(String::as_str));
        let scopes = match parse_scopes(configured) {
            Ok(scopes) => scopes,
            Err(m) => return Ok(StartOutcome::Failed(Failure::InvalidOptions(format!("provider_scopes: {m}")))),
        };
        let upstream = match self.social.upstream(&provider).await {
            Ok(up) => up,
            Err(e) => return Ok(StartOutcome::Failed(Failure::Upstream(e))),
        };
        let state = random_token(32);
        let nonce = random_token(32);
        let verifier = random_token(48);
        let url = match upstream.authorize_url(
            &self.social_callback_url(&provider.name),
            &state,
            &nonce,
            &pkce_s256(&verifier),
            &scopes,
            options.login_hint.as_deref(),
            &options.query_params,
        ) {
            Ok(url) => url,
            Err(e) => return Ok(StartOutcome::Failed(Failure::Upstream(e))),
        };
        let now = self.now();
        self.store
            .insert_social_login(&SocialLogin {
                state_hash: hash_secret(&state),
                browser_hash: hash_secret(browser_binding),
                environment_id: env.id.clone(),
                provider_id: provider.id.clone(),
                request_id: request_id.to_owned(),
                nonce,
                pkce_verifier: verifier,
                expires_at: now + SOCIAL_LOGIN_TTL_MS,
                created_at: now,
            })
            .await?;
        Ok(StartOutcome::Redirect(url))
    }

    /// Handles a provider's callback to `/authkit/callback/{provider_name}`, and counts it for
    /// `/metrics` under the provider's kind: a signed-in person succeeded, anything else failed.
    pub async fn finish_social_sign_in(
        &self,
        provider_name: &str,
        callback: &CallbackParams,
        browser_binding: Option<&str>,
        client: &RequestInfo,
    ) -> Result<CallbackOutcome> {
        let outcome = self.handle_social_callback(provider_name, callback, browser_binding).await;
        if let Ok(outcome) = &outcome {
            let kind = Kind::for_name(provider_name).unwrap_or(Kind::Oidc);
            let succeeded = matches!(outcome, CallbackOutcome::Linked { outcome: LinkOutcome::SignedIn(_), .. });
            self.counters.sign_in_outcome(SignInMethod::OAuth(kind), succeeded);
        }
        if let Ok(CallbackOutcome::Failed { env, failure, .. }) = &outcome {
            // The provider failed or refused: `authentication.oauth_failed`, in a transaction of
            // its own (nothing else changed). Nobody was identified; the browser's address and
            // user agent are recorded.
            let (code, message) = match failure {
                Failure::UnknownProvider => ("provider_not_configured", format!("{provider_name} is not configured.")),
                Failure::Upstream(e) => ("oauth_failed", e.to_string()),
                other => ("oauth_failed", format!("{other:?}")),
            };
            let kind = AuthenticationKind::OAuth;
            self.record_failed_sign_in(&env.id, kind, None, None, Some(client), (code, &message)).await?;
        }
        outcome
    }

    async fn handle_social_callback(
        &self,
        provider_name: &str,
        callback: &CallbackParams,
        browser_binding: Option<&str>,
    ) -> Result<CallbackOutcome> {
        let Some(state) = callback.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 128) else {
            return Ok(CallbackOutcome::Invalid(Failure::InvalidState));
        };
        let Some(login) = self.store.consume_social_login(&hash_secret(state), self.now()).await? else {
            return Ok(CallbackOutcome::Invalid(Failure::InvalidState));
        };
        let is_same_browser = browser_binding.is_some_and(|b| secrets_equal(&hash_secret(b), &login.browser_hash));
        if !is_same_browser {
            return Ok(CallbackOutcome::Invalid(Failure::BrowserMismatch));
        }
        let Some((env, params)) = self.find_authorization_request(&login.request_id).await? else {
            return Ok(CallbackOutcome::Invalid(Failure::RequestExpired));
        };
        if env.id != login.environment_id {
            return Ok(CallbackOutcome::Invalid(Failure::InvalidState));
        }
        let request_id = login.request_id.clone();
        let provider = match self.store.find_provider(&env.id, &login.provider_id).await? {
            Some(p) if p.is_enabled && p.name == provider_name => p,
            _ => {
                let provider_label = provider_name.to_owned();
                return Ok(CallbackOutcome::Failed {
                    env,
                    request_id,
                    provider_label,
                    failure: Failure::UnknownProvider,
                });
            }
        };
        let provider_label = provider_label(&provider);
        let failed = |env, failure| CallbackOutcome::Failed {
            env,
            request_id: request_id.clone(),
            provider_label: provider_label.clone(),
            failure: Failure::Upstream(failure),
        };
        if let Some(error) = callback.error.as_deref() {
            let description = callback.error_description.clone().unwrap_or_default();
            if error == "access_denied" {
                let description = if description.is_empty() {
                    format!("The sign-in with {provider_label} was cancelled.")
                } else {
                    description
                };
                return Ok(CallbackOutcome::Cancelled { params, description });
            }
            let message = format!("{provider_label} reported an error ({error}). {description}");
            return Ok(failed(env, UpstreamError::Rejected(message.trim().to_owned())));
        }
        let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty() && c.len() <= 4096) else {
            return Ok(failed(env, UpstreamError::Rejected(format!("{provider_label} sent no authorization code."))));
        };
        let upstream = match self.social.upstream(&provider).await {
            Ok(up) => up,
            Err(e) => return Ok(failed(env, e)),
        };
        let redirect_uri = self.social_callback_url(&provider.name);
        let tokens = match self.social.exchange_code(&upstream, code, &login.pkce_verifier, &redirect_uri).await {
            Ok(t) => t,
            Err(e) => return Ok(failed(env, e)),
        };
        let profile = if upstream.kind == Kind::GitHub {
            self.social.github_profile(&upstream, &tokens.access_token).await
        } else {
            match tokens.id_token.as_deref() {
                Some(id_token) => {
                    match self.social.verify_id_token(&upstream, id_token, &login.nonce, self.now()).await {
                        Ok(mut profile) => self
                            .social
                            .complete_from_userinfo(&upstream, &tokens.access_token, &mut profile)
                            .await
                            .map(|()| profile),
                        Err(e) => Err(e),
                    }
                }
                None => Err(UpstreamError::InvalidIdToken(format!("{provider_label} returned no ID token."))),
            }
        };
        let profile = match profile {
            Ok(p) => p,
            Err(e) => return Ok(failed(env, e)),
        };
        let outcome = self.link_social_profile(&env, &provider.name, &profile).await?;
        let method = AuthMethod::OAuth(provider.name);
        Ok(CallbackOutcome::Linked { env, params, request_id, method, provider_label, outcome })
    }
}
