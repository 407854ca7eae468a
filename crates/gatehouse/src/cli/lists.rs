//! `gatehouse redirect-uris …` and `gatehouse cors-origins …`: an environment's redirect URIs
//! and the browser origins allowed to call the token endpoint.

use crate::domain::cookie_policy::OriginFit;
use clap::Subcommand;
use serde_json::json;

use super::{EnvArg, Output};
use crate::domain::audit::Actor;
use crate::service::Core;

#[derive(Subcommand, Debug)]
pub(super) enum ListCommand {
    /// Add one: a redirect URI (e.g. https://app.example.com/callback; http only for localhost)
    /// or a browser origin (e.g. https://app.example.com, no path).
    Add {
        /// The redirect URI or origin, exactly as the app sends it.
        value: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// List them (the first redirect URI added is the default).
    List(EnvArg),
    /// Remove one.
    Remove {
        /// The redirect URI or origin, as listed.
        value: String,
        #[command(flatten)]
        scope: EnvArg,
    },
}

/// Which list a command is about.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Redirect,
    Cors,
}

pub(super) async fn run(core: &Core, out: &Output, command: ListCommand, kind: Kind) -> anyhow::Result<()> {
    match command {
        ListCommand::Add { value, scope } => add(core, out, kind, &scope, &value).await,
        ListCommand::Remove { value, scope } => remove(core, out, kind, &scope, &value).await,
        ListCommand::List(scope) => list(core, out, kind, &scope).await,
    }
}

fn service_error(e: crate::service::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

async fn add(core: &Core, out: &Output, kind: Kind, scope: &EnvArg, value: &str) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    match kind {
        Kind::Redirect => core.add_redirect_uri(&env, value, &Actor::Cli).await.map(|_| ()).map_err(service_error)?,
        Kind::Cors => core.add_cors_origin(&env, value, &Actor::Cli).await.map(|_| ()).map_err(service_error)?,
    }
    out.print(json!({"added": value}), || format!("Added {value} to {}.", env.name));
    if let (Kind::Cors, OriginFit::Warning(w)) = (kind, core.config().cookies.check_origin(value)) {
        eprintln!("warning: {w}");
    }
    Ok(())
}

async fn remove(core: &Core, out: &Output, kind: Kind, scope: &EnvArg, value: &str) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    match kind {
        Kind::Redirect => core.remove_redirect_uri(&env, value, &Actor::Cli).await.map_err(service_error)?,
        Kind::Cors => core.remove_cors_origin(&env, value, &Actor::Cli).await.map_err(service_error)?,
    }
    out.print(json!({"removed": value}), || format!("Removed {value} from {}.", env.name));
    Ok(())
}

async fn list(core: &Core, out: &Output, kind: Kind, scope: &EnvArg) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    let values: Vec<String> = match kind {
        Kind::Redirect => core.list_redirect_uris(&env).await?.into_iter().map(|r| r.uri).collect(),
        Kind::Cors => core.list_cors_origins(&env).await?.into_iter().map(|o| o.origin).collect(),
    };
    out.print(json!(values), || values.join("\n"));
    Ok(())
}
