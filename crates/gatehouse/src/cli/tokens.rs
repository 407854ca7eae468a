//! `gatehouse jwt-template …` and `gatehouse keys …`: what goes into access tokens, and the
//! keys that sign them.

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::json;

use super::{EnvArg, Output};
use crate::clock::iso8601;
use crate::domain::audit::Actor;
use crate::service::Core;

#[derive(Subcommand, Debug)]
pub(super) enum TemplateCommand {
    /// Show the environment's JWT template.
    Show(EnvArg),
    /// Set the template, e.g. '{"aud": "client_…", "email": {{ user.email }}}'. Empty clears it.
    Set {
        /// The template (JSON with {{ … }} variables); empty clears it.
        template: String,
        #[command(flatten)]
        scope: EnvArg,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum KeyCommand {
    /// Show each key and when it signs and stays published.
    List(EnvArg),
    /// Publish a new key now; it starts signing after one JWKS max-age, so cached key sets never miss it.
    Rotate {
        #[command(flatten)]
        scope: EnvArg,
        /// The JWKS cache lifetime the server runs with: the new key signs after it.
        #[arg(long, env = "GATEHOUSE_JWKS_MAX_AGE_SECS", default_value_t = 300)]
        jwks_max_age_secs: i64,
    },
}

pub(super) async fn run_template(core: &Core, out: &Output, command: TemplateCommand) -> anyhow::Result<()> {
    match command {
        TemplateCommand::Show(scope) => show_template(core, out, &scope).await,
        TemplateCommand::Set { template, scope } => set_template(core, out, &scope, &template).await,
    }
}

pub(super) async fn run_keys(core: &Core, out: &Output, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::List(scope) => list_keys(core, out, &scope).await,
        // The JWKS max-age was already applied to the configuration the core was built with.
        KeyCommand::Rotate { scope, .. } => rotate_key(core, out, &scope).await,
    }
}

async fn show_template(core: &Core, out: &Output, scope: &EnvArg) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    out.print(json!({"content": env.settings.jwt_template}), || env.settings.jwt_template.clone());
    Ok(())
}

async fn set_template(core: &Core, out: &Output, scope: &EnvArg, template: &str) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    let env = core.set_jwt_template(&env, template, &Actor::Cli).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    out.print(json!({"content": env.settings.jwt_template}), || "JWT template updated.".into());
    Ok(())
}

async fn list_keys(core: &Core, out: &Output, scope: &EnvArg) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    let loaded = core.load_environment(&env.client_id).await?.context("environment vanished")?;
    let schedule = core.key_schedule(&loaded);
    out.print(json!(schedule), || {
        schedule
            .iter()
            .map(|k| {
                format!(
                    "{}  {:?}  signs from {}{}",
                    k.kid,
                    k.state,
                    iso8601(k.signs_from),
                    k.published_until.map(|p| format!(", published until {}", iso8601(p))).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

async fn rotate_key(core: &Core, out: &Output, scope: &EnvArg) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    let status = core.rotate_signing_key(&env, &Actor::Cli).await?;
    out.print(json!(status), || {
        format!(
            "Published {} in the JWKS now. It starts signing at {} (after one JWKS max-age, so every cached key set already has it).\nThe previous key stays published until its last tokens expire.",
            status.kid,
            iso8601(status.signs_from)
        )
    });
    Ok(())
}
