//! `gatehouse init`, `gatehouse env …` and `gatehouse api-keys …`: environments, their
//! settings, and their API keys.

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::json;

use super::{EnvArg, Output, banner};
use crate::clock::iso8601;
use crate::domain::audit::Actor;
use crate::domain::environment::{DEVELOPMENT, PRODUCTION};
use crate::service::Core;

#[derive(Subcommand, Debug)]
pub(super) enum EnvCommand {
    /// List environments.
    List,
    /// Show one environment's settings and the snippets for apps.
    Show {
        /// The environment to show.
        #[arg(default_value = DEVELOPMENT)]
        name: String,
    },
    /// Create an environment (`production`) and print its first API key.
    Create {
        /// The new environment's name.
        name: String,
    },
    /// Change settings: `gatehouse env set development access_token_ttl_secs=60 branding.app_name=Acme`.
    Set {
        /// The environment to change.
        name: String,
        /// Settings to change, as KEY=VALUE (see `gatehouse env show` for the keys).
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum ApiKeyCommand {
    /// Issue a new key (printed once).
    Create(EnvArg),
    /// List keys (hints only; keys are stored hashed).
    List(EnvArg),
    /// Revoke a key by its ID (`api_key_…`).
    Revoke {
        /// The key's ID (`api_key_…`).
        id: String,
        #[command(flatten)]
        scope: EnvArg,
    },
}

pub(super) async fn run(core: &Core, public_url: &str, out: &Output, command: EnvCommand) -> anyhow::Result<()> {
    match command {
        EnvCommand::List => list(core, out).await,
        EnvCommand::Show { name } => show(core, public_url, out, &name).await,
        EnvCommand::Create { name } => create(core, public_url, out, &name).await,
        EnvCommand::Set { name, pairs } => set(core, out, &name, &pairs).await,
    }
}

pub(super) async fn run_api_keys(core: &Core, out: &Output, command: ApiKeyCommand) -> anyhow::Result<()> {
    match command {
        ApiKeyCommand::Create(scope) => create_api_key(core, out, &scope).await,
        ApiKeyCommand::List(scope) => list_api_keys(core, out, &scope).await,
        ApiKeyCommand::Revoke { id, scope } => revoke_api_key(core, out, &scope, &id).await,
    }
}

/// `gatehouse init`: the development environment (created if absent) and a new API key.
pub(super) async fn init(core: &Core, public_url: &str, out: &Output) -> anyhow::Result<()> {
    let issued = core.ensure_environment(DEVELOPMENT, &Actor::Cli).await?;
    let c = banner::connection(public_url, &issued.environment, &issued.client_id);
    out.print(
        json!({
            "environment": issued.environment, "created": issued.created, "client_id": issued.client_id,
            "api_key": issued.api_key, "issuer": c.issuer, "jwks_url": c.jwks_url, "api_base_url": c.api_base_url,
        }),
        || {
            let verb = if issued.created { "Created" } else { "Found" };
            format!(
                "{verb} the {} environment.\n  Client ID  {}\n  API key    {}   (new; shown once)\n  Issuer     {}\n  JWKS       {}\n\n{}",
                issued.environment, issued.client_id, issued.api_key, c.issuer, c.jwks_url,
                banner::snippets(public_url, &issued.client_id, Some(&issued.api_key))
            )
        },
    );
    Ok(())
}

async fn list(core: &Core, out: &Output) -> anyhow::Result<()> {
    let envs = core.list_environments().await?;
    let list: Vec<_> = envs.iter().map(|e| json!({"name": e.name, "client_id": e.client_id})).collect();
    out.print(json!(list), || {
        envs.iter().map(|e| format!("{:<12} {}", e.name, e.client_id)).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}

async fn show(core: &Core, public_url: &str, out: &Output, name: &str) -> anyhow::Result<()> {
    let env = super::env_named(core, name).await?;
    let c = banner::connection(public_url, &env.name, &env.client_id);
    let redirects: Vec<String> = core.list_redirect_uris(&env).await?.into_iter().map(|r| r.uri).collect();
    let origins: Vec<String> = core.list_cors_origins(&env).await?.into_iter().map(|o| o.origin).collect();
    out.print(
        json!({"name": env.name, "client_id": env.client_id, "issuer": c.issuer, "jwks_url": c.jwks_url,
               "settings": env.settings, "redirect_uris": redirects, "cors_origins": origins}),
        || {
            format!(
                "{} environment\n  Client ID     {}\n  Issuer        {}\n  JWKS          {}\n  Redirect URIs {}\n  CORS origins  {}\n  Settings      {}\n\n{}",
                env.name, env.client_id, c.issuer, c.jwks_url,
                if redirects.is_empty() { "(none)".into() } else { redirects.join(", ") },
                if origins.is_empty() { "(none)".into() } else { origins.join(", ") },
                serde_json::to_string_pretty(&env.settings).unwrap_or_default().replace('\n', "\n  "),
                banner::snippets(public_url, &env.client_id, None)
            )
        },
    );
    Ok(())
}

async fn create(core: &Core, public_url: &str, out: &Output, name: &str) -> anyhow::Result<()> {
    if name != DEVELOPMENT && name != PRODUCTION {
        bail!("environments are 'development' and 'production'");
    }
    if core.find_environment_named(name).await?.is_some() {
        bail!("the {name} environment already exists; `gatehouse api-keys create --env {name}` issues another key");
    }
    let issued = core.ensure_environment(name, &Actor::Cli).await?;
    let c = banner::connection(public_url, &issued.environment, &issued.client_id);
    out.print(
        json!({"environment": issued.environment, "client_id": issued.client_id, "api_key": issued.api_key,
               "issuer": c.issuer, "jwks_url": c.jwks_url}),
        || {
            format!(
                "Created {}.\n  Client ID  {}\n  API key    {}   (shown once)",
                issued.environment, issued.client_id, issued.api_key
            )
        },
    );
    Ok(())
}

async fn set(core: &Core, out: &Output, name: &str, pairs: &[String]) -> anyhow::Result<()> {
    let env = super::env_named(core, name).await?;
    let mut settings = env.settings.clone();
    for pair in pairs {
        let (key, value) = pair.split_once('=').with_context(|| format!("'{pair}' is not KEY=VALUE"))?;
        settings.set(key.trim(), value.trim()).map_err(anyhow::Error::msg)?;
    }
    let env = core.update_settings(&env, settings, &Actor::Cli).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    out.print(json!({"name": env.name, "settings": env.settings}), || format!("Updated {}.", env.name));
    Ok(())
}

async fn create_api_key(core: &Core, out: &Output, scope: &EnvArg) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    let key = core.issue_api_key(&env, &Actor::Cli).await?;
    out.print(json!({"environment": env.name, "api_key": key}), || {
        format!("New API key for {}: {key}\nIt is shown only now; Gatehouse keeps a hash.", env.name)
    });
    Ok(())
}

async fn list_api_keys(core: &Core, out: &Output, scope: &EnvArg) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    let keys = core.list_api_keys(&env).await?;
    let list: Vec<_> = keys
        .iter()
        .map(|k| json!({"id": k.id, "hint": k.key_hint, "created_at": iso8601(k.created_at), "revoked_at": k.revoked_at.map(iso8601)}))
        .collect();
    out.print(json!(list), || {
        keys.iter()
            .map(|k| {
                format!(
                    "{}  {}  created {}{}",
                    k.id,
                    k.key_hint,
                    iso8601(k.created_at),
                    if k.revoked_at.is_some() { "  (revoked)" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

async fn revoke_api_key(core: &Core, out: &Output, scope: &EnvArg, id: &str) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    if !core.revoke_api_key(&env, id, &Actor::Cli).await? {
        bail!("no active API key '{id}' in {}; see `gatehouse api-keys list`", env.name);
    }
    out.print(json!({"revoked": id}), || format!("Revoked {id}."));
    Ok(())
}
