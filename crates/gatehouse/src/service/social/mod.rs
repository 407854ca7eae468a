//! Social login: upstream OAuth 2.0 / OpenID Connect providers per environment, the sign-in
//! flow through them, and account linking.
//!
//! * this file: configuring providers (client secrets sealed with the server key);
//! * `upstream.rs`: talking to a provider (discovery, code exchange, ID-token verification,
//!   userinfo, GitHub's API);
//! * `flow.rs`: starting a sign-in and handling the provider's callback;
//! * `link.rs`: turning a provider's profile into a Gatehouse user.

mod flow;
mod link;
mod upstream;

use std::time::Duration;

use super::{Core, Error, Result};
use crate::crypto::sealing::{KeySource, SecretBox};
use crate::domain::audit::{Actor, audit_event, diff, target};
use crate::domain::environment::Environment;
use crate::domain::identity::Identity;
use crate::domain::provider::StoredProvider;
use crate::domain::provider::{Kind, check_custom_name, check_endpoint, check_icon_url, parse_scopes};
use crate::ids::new_id;

pub use flow::{CallbackOutcome, CallbackParams, Failure, StartOptions, StartOutcome};
pub use link::LinkOutcome;
pub use upstream::{Profile, UpstreamError};

/// Upstream requests give up after this long; a slow provider must not hold a sign-in forever.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What social login needs beyond the store: the server key and an HTTP client for providers.
#[derive(Clone, Debug)]
pub struct Social {
    secrets: SecretBox,
    http: reqwest::Client,
}

impl Social {
    pub fn new(key: KeySource) -> anyhow::Result<Social> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(UPSTREAM_TIMEOUT)
            .connect_timeout(UPSTREAM_CONNECT_TIMEOUT)
            .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Social { secrets: SecretBox::new(key), http })
    }
}

/// A provider to add, as given by an operator (CLI or API).
#[derive(Debug, Default)]
pub struct NewProvider {
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Option<Vec<String>>,
    pub display_name: Option<String>,
    pub icon_url: Option<String>,
    pub issuer: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub emails_url: Option<String>,
    pub jwks_url: Option<String>,
    pub is_enabled: Option<bool>,
}

/// A partial change: `None` keeps a field; `Some(None)` clears an optional one.
#[derive(Debug, Default)]
pub struct ProviderPatch {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub display_name: Option<Option<String>>,
    pub icon_url: Option<Option<String>>,
    pub issuer: Option<Option<String>>,
    pub authorize_url: Option<Option<String>>,
    pub token_url: Option<Option<String>>,
    pub userinfo_url: Option<Option<String>>,
    pub emails_url: Option<Option<String>>,
    pub jwks_url: Option<Option<String>>,
    pub is_enabled: Option<bool>,
}

/// A provider as shown on the hosted pages.
#[derive(Clone, Debug)]
pub struct ProviderButton {
    pub name: String,
    pub kind: String,
    pub label: String,
    pub icon_url: Option<String>,
}

/// The label a provider's button and messages use.
pub fn provider_label(p: &StoredProvider) -> String {
    if let Some(label) = p.display_name.as_deref().filter(|s| !s.is_empty()) {
        return label.to_owned();
    }
    match Kind::parse(&p.kind) {
        Some(Kind::Oidc) | None => p.name.clone(),
        Some(kind) => kind.preset().label.to_owned(),
    }
}

fn invalid(field: &str, message: String) -> Error {
    Error::validation(field, "invalid", message)
}

fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Checks every operator-set field of a provider.
fn check_provider(p: &StoredProvider, kind: Kind) -> Result<()> {
    if p.client_id.is_empty() || p.client_id.len() > 512 {
        return Err(invalid("client_id", "client_id is required (at most 512 characters).".into()));
    }
    if p.display_name.as_deref().is_some_and(|d| d.chars().count() > 64) {
        return Err(invalid("display_name", "display_name is at most 64 characters.".into()));
    }
    if let Some(icon) = &p.icon_url {
        check_icon_url(icon).map_err(|m| invalid("icon_url", m))?;
    }
    for (field, value) in [
        ("issuer", &p.issuer),
        ("authorize_url", &p.authorize_url),
        ("token_url", &p.token_url),
        ("userinfo_url", &p.userinfo_url),
        ("emails_url", &p.emails_url),
        ("jwks_url", &p.jwks_url),
    ] {
        if let Some(v) = value {
            check_endpoint(field, v).map_err(|m| invalid(field, m))?;
        }
    }
    if kind == Kind::Oidc && p.issuer.is_none() {
        return Err(invalid(
            "issuer",
            "A custom OpenID Connect provider needs its issuer (discovery is read from <issuer>/.well-known/openid-configuration)."
                .into(),
        ));
    }
    if kind.is_oidc() && !p.scopes.split(' ').any(|s| s == "openid") {
        return Err(invalid("scopes", "OpenID Connect providers need the openid scope.".into()));
    }
    Ok(())
}

/// A provider as its audit events show it: everything but the secret.
fn provider_audit(p: &StoredProvider) -> serde_json::Value {
    serde_json::json!({
        "name": p.name,
        "kind": p.kind,
        "client_id": p.client_id,
        "client_secret": crate::domain::audit::REDACTED,
        "scopes": p.scopes,
        "display_name": p.display_name,
        "icon_url": p.icon_url,
        "issuer": p.issuer,
        "authorize_url": p.authorize_url,
        "token_url": p.token_url,
        "userinfo_url": p.userinfo_url,
        "emails_url": p.emails_url,
        "jwks_url": p.jwks_url,
        "is_enabled": p.is_enabled,
    })
}

fn sealing_error(e: crate::crypto::sealing::SealError) -> Error {
    Error::Internal(anyhow::Error::new(e))
}

impl Core {
    /// Adds a provider to an environment. Built-in names (`GoogleOAuth`…) get their preset;
    /// any other valid name is a custom OpenID Connect provider and needs an issuer.
    pub async fn add_provider(&self, env: &Environment, new: NewProvider, actor: &Actor) -> Result<StoredProvider> {
        let name = new.name.trim().to_owned();
        let kind = match Kind::for_name(&name) {
            Some(kind) => kind,
            None => {
                check_custom_name(&name).map_err(|m| invalid("name", m))?;
                Kind::Oidc
            }
        };
        let secret = new.client_secret.trim().to_owned();
        if secret.is_empty() || secret.len() > 4096 {
            return Err(invalid("client_secret", "client_secret is required (at most 4096 characters).".into()));
        }
        let scopes = match new.scopes {
            Some(scopes) => parse_scopes(scopes.iter().map(String::as_str)).map_err(|m| invalid("scopes", m))?,
            None => kind.preset().scopes.split(' ').map(str::to_owned).collect(),
        };
        let now = self.now();
        let id = new_id("oauth_provider");
        let sealed = self.social.secrets.seal(&format!("provider:{id}"), &secret).map_err(sealing_error)?;
        let provider = StoredProvider {
            id,
            environment_id: env.id.clone(),
            name,
            kind: kind.as_str().to_owned(),
            client_id: new.client_id.trim().to_owned(),
            client_secret_sealed: sealed,
            scopes: scopes.join(" "),
            display_name: clean(new.display_name),
            icon_url: clean(new.icon_url),
            issuer: clean(new.issuer).map(|i| i.trim_end_matches('/').to_owned()),
            authorize_url: clean(new.authorize_url),
            token_url: clean(new.token_url),
            userinfo_url: clean(new.userinfo_url),
            emails_url: clean(new.emails_url),
            jwks_url: clean(new.jwks_url),
            is_enabled: new.is_enabled.unwrap_or(true),
            created_at: now,
            updated_at: now,
        };
        check_provider(&provider, kind)?;
        let event = audit_event(
            "gatehouse.provider.created",
            actor,
            target("provider", &provider.id),
            serde_json::Value::Null,
            provider_audit(&provider),
        );
        self.store.insert_provider(&provider, &[event]).await.map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => Error::Conflict {
                what: crate::service::error::Duplicate::Provider,
                message: format!("The provider '{}' is already configured for this environment.", provider.name),
            },
            other => other.into(),
        })?;
        tracing::info!(provider = %provider.name, environment = %env.name, "social provider added");
        Ok(provider)
    }

    pub async fn get_provider(&self, env: &Environment, name: &str) -> Result<StoredProvider> {
        self.store
            .find_provider_by_name(&env.id, name)
            .await?
            .ok_or_else(|| Error::NotFound { kind: "Provider", id: name.to_owned() })
    }

    pub async fn list_providers(&self, env: &Environment) -> Result<Vec<StoredProvider>> {
        Ok(self.store.list_providers(&env.id).await?)
    }

    pub async fn update_provider(
        &self,
        env: &Environment,
        name: &str,
        patch: ProviderPatch,
        actor: &Actor,
    ) -> Result<StoredProvider> {
        let mut p = self.get_provider(env, name).await?;
        let old = p.clone();
        let kind = Kind::parse(&p.kind).unwrap_or(Kind::Oidc);
        if let Some(v) = patch.client_id {
            p.client_id = v.trim().to_owned();
        }
        if let Some(secret) = patch.client_secret {
            let secret = secret.trim();
            if secret.is_empty() || secret.len() > 4096 {
                return Err(invalid("client_secret", "client_secret must be 1-4096 characters.".into()));
            }
            p.client_secret_sealed =
                self.social.secrets.seal(&format!("provider:{}", p.id), secret).map_err(sealing_error)?;
        }
        if let Some(scopes) = patch.scopes {
            p.scopes = parse_scopes(scopes.iter().map(String::as_str)).map_err(|m| invalid("scopes", m))?.join(" ");
        }
        let set = |slot: &mut Option<String>, value: Option<Option<String>>| {
            if let Some(v) = value {
                *slot = clean(v);
            }
        };
        set(&mut p.display_name, patch.display_name);
        set(&mut p.icon_url, patch.icon_url);
        set(&mut p.issuer, patch.issuer);
        set(&mut p.authorize_url, patch.authorize_url);
        set(&mut p.token_url, patch.token_url);
        set(&mut p.userinfo_url, patch.userinfo_url);
        set(&mut p.emails_url, patch.emails_url);
        set(&mut p.jwks_url, patch.jwks_url);
        p.issuer = p.issuer.map(|i| i.trim_end_matches('/').to_owned());
        if let Some(enabled) = patch.is_enabled {
            p.is_enabled = enabled;
        }
        p.updated_at = self.now();
        check_provider(&p, kind)?;
        let (mut before, mut after) = diff(&provider_audit(&old), &provider_audit(&p));
        if old.client_secret_sealed != p.client_secret_sealed
            && let (Some(b), Some(a)) = (before.as_object_mut(), after.as_object_mut())
        {
            b.insert("secret_changed".into(), false.into());
            a.insert("secret_changed".into(), true.into());
        }
        let event = audit_event("gatehouse.provider.updated", actor, target("provider", &p.id), before, after);
        if !self.store.update_provider(&p, &[event]).await? {
            return Err(Error::NotFound { kind: "Provider", id: name.to_owned() });
        }
        Ok(p)
    }

    pub async fn remove_provider(&self, env: &Environment, name: &str, actor: &Actor) -> Result<()> {
        let p = self.get_provider(env, name).await?;
        let event = audit_event(
            "gatehouse.provider.deleted",
            actor,
            target("provider", &p.id),
            provider_audit(&p),
            serde_json::Value::Null,
        );
        if !self.store.delete_provider(&env.id, &p.id, self.now(), &[event]).await? {
            return Err(Error::NotFound { kind: "Provider", id: name.to_owned() });
        }
        tracing::info!(provider = %p.name, environment = %env.name, "social provider removed");
        Ok(())
    }

    /// The buttons of the hosted pages: every enabled provider, in the order they were added.
    pub async fn provider_buttons(&self, env: &Environment) -> Result<Vec<ProviderButton>> {
        Ok(self
            .store
            .list_providers(&env.id)
            .await?
            .into_iter()
            .filter(|p| p.is_enabled)
            .map(|p| ProviderButton { label: provider_label(&p), name: p.name, kind: p.kind, icon_url: p.icon_url })
            .collect())
    }

    /// A user's linked identities (`GET /user_management/users/{id}/identities`).
    pub async fn list_identities(&self, env: &Environment, user_id: &str) -> Result<Vec<Identity>> {
        self.get_user(env, user_id).await?;
        Ok(self.store.list_identities(&env.id, user_id).await?)
    }

    /// The URL a provider must send the browser back to; operators register it at the provider.
    pub fn social_callback_url(&self, provider_name: &str) -> String {
        format!("{}/authkit/callback/{provider_name}", self.config.public_url)
    }
}
