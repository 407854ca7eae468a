//! Environments: creation, API keys, settings, redirect URIs, CORS origins, JWT template and
//! signing keys, with a short-lived in-process cache for the hot paths.

use crate::domain::cookie_policy::OriginFit;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, RwLock};

use super::keys::{KeyState, KeyStatus, schedule};
use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::crypto::secrets::{hash_secret, prefixed_token};
use crate::crypto::signing::{SigningKey, certificate_thumbprint, self_signed_certificate};
use crate::domain::audit::{Actor, audit_event, diff, target, to_value};
use crate::domain::environment::{ApiKeyRecord, CorsOrigin, RedirectUri, StoredSigningKey};
use crate::domain::environment::{Environment, MIN_ACCESS_TOKEN_TTL_SECS, Settings, short_lifetime_reason};
use crate::domain::jwt_template::JwtTemplate;
use crate::domain::public_key::PublicKey;
use crate::domain::redirect;
use crate::ids::new_id;
use crate::store::NewEnvironment;

/// How long a cached environment (settings, redirect URIs, keys) is trusted before reloading,
/// by the injected clock. Changes made through this process are visible at once; changes from
/// another process (the CLI, another server) within this time.
const CACHE_TTL_MS: Millis = 2 * SEC;

/// The redirect URIs a new non-production environment accepts: the Vite/React example's
/// (the default) and the Next.js example's.
pub const DEVELOPMENT_REDIRECT_URIS: [&str; 2] = ["http://localhost:5173/callback", "http://localhost:3000/callback"];

/// An environment with everything the request paths need, loaded together. It reads as the
/// `Environment` it extends (`env.settings`, `env.id`).
pub struct LoadedEnvironment {
    pub environment: Environment,
    pub redirect_uris: Vec<String>,
    pub cors_origins: Vec<String>,
    pub signing_keys: Vec<StoredSigningKey>,
    pub template: Option<Arc<JwtTemplate>>,
    loaded_at: Millis,
}

impl Deref for LoadedEnvironment {
    type Target = Environment;

    fn deref(&self) -> &Environment {
        &self.environment
    }
}

#[derive(Clone, Default)]
pub struct EnvironmentCache {
    by_client_id: Arc<RwLock<HashMap<String, Arc<LoadedEnvironment>>>>,
}

impl EnvironmentCache {
    /// The cached environment of a client ID, unless it was loaded `CACHE_TTL_MS` or more
    /// before `now` (or after it: a clock set back expires the cache too).
    fn get(&self, client_id: &str, now: Millis) -> Option<Arc<LoadedEnvironment>> {
        let map = self.by_client_id.read().ok()?;
        map.get(client_id).filter(|e| (0..CACHE_TTL_MS).contains(&(now - e.loaded_at))).cloned()
    }

    fn put(&self, loaded: Arc<LoadedEnvironment>) {
        if let Ok(mut map) = self.by_client_id.write() {
            map.insert(loaded.client_id.clone(), loaded);
        }
    }

    pub(super) fn forget(&self, client_id: &str) {
        if let Ok(mut map) = self.by_client_id.write() {
            map.remove(client_id);
        }
    }
}

/// What `init` and `env create` report. The API key is shown once and never stored in clear.
#[derive(Debug, serde::Serialize)]
pub struct IssuedEnvironment {
    pub environment: String,
    pub client_id: String,
    pub api_key: String,
    pub created: bool,
}

impl Core {
    /// Creates the named environment if absent, then issues a new API key for it.
    pub async fn ensure_environment(&self, name: &str, actor: &Actor) -> Result<IssuedEnvironment> {
        if name == super::operators::OPERATOR_REALM {
            return Err(Error::validation("name", "reserved", "This environment name is reserved."));
        }
        let created = match self.store.find_environment_by_name(name).await? {
            Some(_) => false,
            None => {
                self.create_environment(name, actor).await?;
                true
            }
        };
        let env = self
            .store
            .find_environment_by_name(name)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("environment {name} vanished")))?;
        let api_key = self.issue_api_key(&env, actor).await?;
        Ok(IssuedEnvironment { environment: env.name, client_id: env.client_id, api_key, created })
    }

    pub(super) async fn create_environment(&self, name: &str, actor: &Actor) -> Result<()> {
        let now = self.now();
        let client_id = new_id("client");
        let signing_key = self.new_signing_key().await?;
        // Outside production an environment starts with the callbacks of the two example apps
        // (Vite/React on 5173, the default; Next.js on 3000), so they work without a step.
        let redirect_uris = if name == crate::domain::environment::PRODUCTION {
            Vec::new()
        } else {
            DEVELOPMENT_REDIRECT_URIS
                .iter()
                .enumerate()
                .map(|(i, uri)| RedirectUri {
                    id: new_id("redir"),
                    uri: (*uri).to_owned(),
                    is_default: i == 0,
                    created_at: now,
                    updated_at: now,
                })
                .collect()
        };
        let environment = Environment {
            id: new_id("environment"),
            name: name.to_owned(),
            settings: Settings::new_for(name, &client_id, now),
            client_id,
            created_at: now,
            updated_at: now,
        };
        let events = vec![audit_event(
            "gatehouse.environment.created",
            actor,
            target("environment", &environment.id),
            serde_json::Value::Null,
            serde_json::json!({
                "name": environment.name,
                "client_id": environment.client_id,
                "settings": to_value(&environment.settings),
                "redirect_uris": redirect_uris.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>(),
                "signing_key": signing_key.kid,
            }),
        )];
        match self.store.insert_environment(&NewEnvironment { environment, signing_key, redirect_uris, events }).await {
            // Another process created it first: fine, the caller reloads by name.
            Err(crate::store::StoreError::Conflict(_)) => Ok(()),
            other => Ok(other?),
        }
    }

    /// Issues a new API key (`sk_test_…` or `sk_live_…`); only its hash is stored.
    pub async fn issue_api_key(&self, env: &Environment, actor: &Actor) -> Result<String> {
        let key = prefixed_token(env.api_key_prefix(), 32);
        let record = ApiKeyRecord {
            id: new_id("api_key"),
            environment_id: env.id.clone(),
            key_hint: format!("{}…", &key[..env.api_key_prefix().len() + 4]),
            created_at: self.now(),
            revoked_at: None,
        };
        let event = audit_event(
            "gatehouse.api_key.created",
            actor,
            target("api_key", &record.id),
            serde_json::Value::Null,
            serde_json::json!({ "key_hint": record.key_hint, "key": crate::domain::audit::REDACTED }),
        );
        self.store.insert_api_key(&record, &hash_secret(&key), &[event]).await?;
        Ok(key)
    }

    /// The environment an API key belongs to; `Unauthorized` for unknown or revoked keys.
    pub async fn environment_for_api_key(&self, api_key: &str) -> Result<Environment> {
        Ok(self.api_key_caller(api_key).await?.0)
    }

    /// The environment an API key belongs to and the key as the `Actor` of the changes it
    /// makes; `Unauthorized` for unknown or revoked keys.
    pub async fn api_key_caller(&self, api_key: &str) -> Result<(Environment, Actor)> {
        if !(api_key.starts_with("sk_test_") || api_key.starts_with("sk_live_")) {
            return Err(Error::Unauthorized);
        }
        // The operator realm never has API keys; refused even if one were planted.
        let (env, id) = self
            .store
            .find_environment_by_api_key(&hash_secret(api_key))
            .await?
            .filter(|(env, _)| !Core::is_operator_realm(env))
            .ok_or(Error::Unauthorized)?;
        Ok((env, Actor::ApiKey { id }))
    }

    /// The environment of a client ID with its redirect URIs, CORS origins and keys (cached).
    pub async fn load_environment(&self, client_id: &str) -> Result<Option<Arc<LoadedEnvironment>>> {
        let now = self.now();
        if let Some(hit) = self.environments.get(client_id, now) {
            return Ok(Some(hit));
        }
        let Some(env) = self.store.find_environment_by_client_id(client_id).await? else {
            return Ok(None);
        };
        let redirect_uris = self.store.list_redirect_uris(&env.id).await?.into_iter().map(|r| r.uri).collect();
        let cors_origins = self.store.list_cors_origins(&env.id).await?.into_iter().map(|c| c.origin).collect();
        let mut signing_keys = self.store.list_signing_keys(&env.id).await?;
        if signing_keys.iter().any(|k| k.certificate.is_none()) {
            // Keys made before keys had certificates get theirs now, once (a data migration).
            for key in signing_keys.iter().filter(|k| k.certificate.is_none()) {
                let private_key = super::keys::open_signing_key(&self.sealer, &key.kid, &key.private_key)?;
                let (certificate, _) = self.certify(key.kid.clone(), private_key).await?;
                self.store.set_signing_key_certificate(&key.kid, &certificate).await?;
            }
            signing_keys = self.store.list_signing_keys(&env.id).await?;
        }
        let template = if env.settings.jwt_template.trim().is_empty() {
            None
        } else {
            // A template is validated when set; one that no longer parses is reported per token.
            JwtTemplate::parse(&env.settings.jwt_template).ok().map(Arc::new)
        };
        if env.settings.access_token_ttl_secs < MIN_ACCESS_TOKEN_TTL_SECS {
            // Stored before the floor existed: served as set, but said loudly.
            tracing::warn!(environment = %env.name, "{}", short_lifetime_reason(env.settings.access_token_ttl_secs));
        }
        let loaded = Arc::new(LoadedEnvironment {
            environment: env,
            redirect_uris,
            cors_origins,
            signing_keys,
            template,
            loaded_at: now,
        });
        self.environments.put(loaded.clone());
        Ok(Some(loaded))
    }

    pub async fn load_environment_by_id(&self, environment_id: &str) -> Result<Option<Arc<LoadedEnvironment>>> {
        match self.store.find_environment(environment_id).await? {
            Some(env) => self.load_environment(&env.client_id).await,
            None => Ok(None),
        }
    }

    pub async fn environment_by_name(&self, name: &str) -> Result<Environment> {
        self.find_environment_named(name)
            .await?
            .ok_or_else(|| Error::NotFound { kind: "Environment", id: name.to_owned() })
    }

    /// The environment named `name`; never the operator realm.
    pub async fn find_environment_named(&self, name: &str) -> Result<Option<Environment>> {
        Ok(self.store.find_environment_by_name(name).await?.filter(|env| !Core::is_operator_realm(env)))
    }

    /// Every environment, oldest first; never the operator realm.
    pub async fn list_environments(&self) -> Result<Vec<Environment>> {
        Ok(self.store.list_environments().await?.into_iter().filter(|env| !Core::is_operator_realm(env)).collect())
    }

    /// An environment's API keys (hints only: keys are stored hashed), oldest first.
    pub async fn list_api_keys(&self, env: &Environment) -> Result<Vec<ApiKeyRecord>> {
        Ok(self.store.list_api_keys(&env.id).await?)
    }

    /// Revokes an active API key of the environment; false if there was none by that ID.
    pub async fn revoke_api_key(&self, env: &Environment, id: &str, actor: &Actor) -> Result<bool> {
        let hint = self.store.list_api_keys(&env.id).await?.into_iter().find(|k| k.id == id).map(|k| k.key_hint);
        let event = audit_event(
            "gatehouse.api_key.revoked",
            actor,
            target("api_key", id),
            serde_json::json!({ "key_hint": hint, "revoked": false }),
            serde_json::json!({ "key_hint": hint, "revoked": true }),
        );
        Ok(self.store.revoke_api_key(&env.id, id, self.now(), &[event]).await?)
    }

    pub async fn list_redirect_uris(&self, env: &Environment) -> Result<Vec<RedirectUri>> {
        Ok(self.store.list_redirect_uris(&env.id).await?)
    }

    pub async fn list_cors_origins(&self, env: &Environment) -> Result<Vec<CorsOrigin>> {
        Ok(self.store.list_cors_origins(&env.id).await?)
    }

    /// Replaces an environment's settings; the audit event holds the fields that changed
    /// (`gatehouse.jwt_template.updated` when only the JWT template did).
    pub async fn update_settings(&self, env: &Environment, settings: Settings, actor: &Actor) -> Result<Environment> {
        settings.validate().map_err(|m| Error::validation("settings", "invalid_setting", m))?;
        let (before, after) = diff(&to_value(&env.settings), &to_value(&settings));
        let only_template = after
            .as_object()
            .is_some_and(|changed| changed.keys().all(|k| k == "jwt_template" || k == "jwt_template_updated_at"));
        let kind =
            if only_template { "gatehouse.jwt_template.updated" } else { "gatehouse.environment.settings_updated" };
        let changed = after.as_object().is_some_and(|c| !c.is_empty());
        let events: Vec<_> = changed
            .then(|| audit_event(kind, actor, target("environment", &env.id), before, after))
            .into_iter()
            .collect();
        self.store.update_environment_settings(&env.id, &settings, self.now(), &events).await?;
        self.environments.forget(&env.client_id);
        Ok(Environment { settings, ..env.clone() })
    }

    pub async fn set_jwt_template(&self, env: &Environment, content: &str, actor: &Actor) -> Result<Environment> {
        if !content.trim().is_empty() {
            JwtTemplate::parse(content)
                .map_err(|e| Error::validation("content", "invalid_jwt_template", e.to_string()))?;
        }
        let mut settings = env.settings.clone();
        settings.jwt_template = content.to_owned();
        settings.jwt_template_updated_at = self.now();
        self.update_settings(env, settings, actor).await
    }

    pub async fn add_redirect_uri(&self, env: &Environment, uri: &str, actor: &Actor) -> Result<RedirectUri> {
        redirect::parse_absolute(uri).map_err(|m| Error::validation("uri", "invalid_redirect_uri", m))?;
        if !env.is_development() && uri.starts_with("http://") && !redirect::is_localhost_origin(uri) {
            return Err(Error::validation("uri", "invalid_redirect_uri", "Production redirect URIs must use https."));
        }
        let now = self.now();
        let record = RedirectUri {
            id: new_id("redir"),
            uri: uri.to_owned(),
            is_default: false,
            created_at: now,
            updated_at: now,
        };
        let event = audit_event(
            "gatehouse.redirect_uri.created",
            actor,
            target("redirect_uri", &record.id),
            serde_json::Value::Null,
            serde_json::json!({ "uri": record.uri }),
        );
        let stored = self.store.insert_redirect_uri(&env.id, &record, &[event]).await.map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => Error::Conflict {
                what: super::error::Duplicate::RedirectUri,
                message: format!("The redirect URI '{uri}' is already registered."),
            },
            other => other.into(),
        })?;
        self.environments.forget(&env.client_id);
        Ok(stored)
    }

    pub async fn remove_redirect_uri(&self, env: &Environment, id_or_uri: &str, actor: &Actor) -> Result<()> {
        let not_found = || Error::NotFound { kind: "RedirectUri", id: id_or_uri.to_owned() };
        let all = self.store.list_redirect_uris(&env.id).await?;
        let r = all.iter().find(|r| r.id == id_or_uri || r.uri == id_or_uri).ok_or_else(not_found)?;
        let event = audit_event(
            "gatehouse.redirect_uri.deleted",
            actor,
            target("redirect_uri", &r.id),
            serde_json::json!({ "uri": r.uri }),
            serde_json::Value::Null,
        );
        if !self.store.delete_redirect_uri(&env.id, &r.id, self.now(), &[event]).await? {
            return Err(not_found());
        }
        self.environments.forget(&env.client_id);
        Ok(())
    }

    pub async fn add_cors_origin(&self, env: &Environment, origin: &str, actor: &Actor) -> Result<CorsOrigin> {
        let origin = redirect::parse_origin(origin).map_err(|m| Error::validation("origin", "invalid_origin", m))?;
        let now = self.now();
        let record = CorsOrigin { id: new_id("cors_origin"), origin: origin.clone(), created_at: now, updated_at: now };
        let event = audit_event(
            "gatehouse.cors_origin.created",
            actor,
            target("cors_origin", &record.id),
            serde_json::Value::Null,
            serde_json::json!({ "origin": record.origin }),
        );
        self.store.insert_cors_origin(&env.id, &record, &[event]).await.map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => Error::Conflict {
                what: super::error::Duplicate::CorsOrigin,
                message: format!("The origin '{origin}' is already allowed."),
            },
            other => other.into(),
        })?;
        self.environments.forget(&env.client_id);
        Ok(record)
    }

    /// Allowed CORS origins that cannot use cookie-mode refresh with the server's cookie settings
    /// (another site, http beside https, http in production), each with what to change.
    pub async fn cookie_warnings(&self) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        for env in self.store.list_environments().await? {
            for origin in self.list_cors_origins(&env).await? {
                if let OriginFit::Warning(w) = self.config().cookies.check_origin(&origin.origin) {
                    warnings.push(format!("environment {}: {w}", env.name));
                }
            }
        }
        Ok(warnings)
    }

    pub async fn remove_cors_origin(&self, env: &Environment, id_or_origin: &str, actor: &Actor) -> Result<()> {
        let not_found = || Error::NotFound { kind: "CorsOrigin", id: id_or_origin.to_owned() };
        let all = self.store.list_cors_origins(&env.id).await?;
        let c = all.iter().find(|c| c.id == id_or_origin || c.origin == id_or_origin).ok_or_else(not_found)?;
        let event = audit_event(
            "gatehouse.cors_origin.deleted",
            actor,
            target("cors_origin", &c.id),
            serde_json::json!({ "origin": c.origin }),
            serde_json::Value::Null,
        );
        if !self.store.delete_cors_origin(&env.id, &c.id, self.now(), &[event]).await? {
            return Err(not_found());
        }
        self.environments.forget(&env.client_id);
        Ok(())
    }

    /// Whether `origin` may call the token endpoint from a browser, for any environment
    /// (preflights carry no client ID) or for the given one.
    pub async fn is_allowed_origin(&self, origin: &str, client_id: Option<&str>) -> Result<bool> {
        if let Some(client_id) = client_id {
            let Some(env) = self.load_environment(client_id).await? else {
                return Ok(false);
            };
            return Ok(origin_allowed(&env, origin));
        }
        for env in self.store.list_environments().await? {
            if let Some(loaded) = self.load_environment(&env.client_id).await?
                && origin_allowed(&loaded, origin)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The key that signs tokens now.
    pub fn active_signing_key(&self, env: &LoadedEnvironment) -> Result<Arc<SigningKey>> {
        let statuses = self.key_schedule(env);
        let active = statuses
            .iter()
            .zip(&env.signing_keys)
            .find(|(s, _)| s.state == KeyState::Active)
            .map(|(_, k)| k)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("environment {} has no signing key", env.name)))?;
        self.keys.parsed(active, &self.sealer)
    }

    pub fn key_schedule(&self, env: &LoadedEnvironment) -> Vec<KeyStatus> {
        schedule(
            &env.signing_keys,
            self.now(),
            self.config.jwks_max_age_secs * 1000,
            env.settings.access_token_ttl_secs * 1000,
        )
    }

    /// The public keys to publish: next, active and retired-but-alive keys.
    pub fn jwks(&self, env: &LoadedEnvironment) -> Result<Vec<PublicKey>> {
        let mut keys = Vec::new();
        for (status, stored) in self.key_schedule(env).iter().zip(&env.signing_keys) {
            if status.state != KeyState::Expired {
                let parsed = self.keys.parsed(stored, &self.sealer)?;
                let (n, e) = parsed.public_numbers();
                let certificate_sha256 = stored.certificate.as_deref().and_then(certificate_thumbprint);
                keys.push(PublicKey {
                    kid: stored.kid.clone(),
                    n: n.to_owned(),
                    e: e.to_owned(),
                    certificate: stored.certificate.clone(),
                    certificate_sha256,
                });
            }
        }
        Ok(keys)
    }

    /// A new RSA key with its self-signed certificate (CPU-heavy: off the async threads).
    async fn new_signing_key(&self) -> Result<StoredSigningKey> {
        let now = self.now();
        let kid = new_id("key");
        let kid_for_key = kid.clone();
        let (_, private_key) = tokio::task::spawn_blocking(move || SigningKey::generate(kid_for_key))
            .await
            .map_err(|e| Error::Internal(e.into()))??;
        let (certificate, _) = self.certify(kid.clone(), private_key.clone()).await?;
        let private_key = super::keys::seal_signing_key(&self.sealer, &kid, &private_key)?;
        Ok(StoredSigningKey { kid, private_key, published_at: now, created_at: now, certificate: Some(certificate) })
    }

    /// The self-signed certificate of a (clear) private key and its thumbprint.
    async fn certify(&self, kid: String, private_key: String) -> Result<(String, String)> {
        let now = self.now();
        Ok(tokio::task::spawn_blocking(move || self_signed_certificate(&kid, &private_key, now))
            .await
            .map_err(|e| Error::Internal(e.into()))??)
    }

    /// Publishes a new signing key; it starts signing after one JWKS max-age.
    pub async fn rotate_signing_key(&self, env: &Environment, actor: &Actor) -> Result<KeyStatus> {
        let key = self.new_signing_key().await?;
        let kid = key.kid.clone();
        let event = audit_event(
            "gatehouse.signing_key.created",
            actor,
            target("signing_key", &kid),
            serde_json::Value::Null,
            serde_json::json!({ "kid": kid, "published_at": crate::clock::iso8601(key.published_at) }),
        );
        self.store.insert_signing_key(&env.id, &key, &[event]).await?;
        self.environments.forget(&env.client_id);
        let loaded = self
            .load_environment(&env.client_id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("environment vanished")))?;
        self.key_schedule(&loaded)
            .into_iter()
            .find(|s| s.kid == kid)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("new key missing")))
    }

    pub fn redirect_uri_allowed(env: &LoadedEnvironment, uri: &str) -> bool {
        env.redirect_uris.iter().any(|r| r == uri)
    }
}

fn origin_allowed(env: &LoadedEnvironment, origin: &str) -> bool {
    env.cors_origins.iter().any(|o| o == origin)
        || (env.settings.allow_localhost_origins && redirect::is_localhost_origin(origin))
}

/// Milliseconds in a second, for readability at call sites.
pub const SEC: Millis = 1000;
