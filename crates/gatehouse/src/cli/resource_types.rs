//! `gatehouse resource-types …`: the kinds of resource an environment's authorization
//! resources may be (WorkOS configures them in its dashboard; its API has none; the console's
//! Roles page has them too).

use clap::Subcommand;
use serde_json::json;

use super::{EnvArg, Output};
use crate::domain::audit::Actor;
use crate::service::Core;

#[derive(Subcommand, Debug)]
pub(super) enum ResourceTypeCommand {
    /// Add a resource type (slug: lower-case letters, digits, - or _).
    Add {
        /// The type's slug (e.g. workspace).
        slug: String,
        /// Its display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// List the environment's resource types.
    List {
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Remove a resource type no resource uses.
    Remove {
        /// The type's slug.
        slug: String,
        #[command(flatten)]
        scope: EnvArg,
    },
}

pub(super) async fn run(core: &Core, out: &Output, command: ResourceTypeCommand) -> anyhow::Result<()> {
    let failed = |e: crate::service::Error| anyhow::anyhow!("{e}");
    match command {
        ResourceTypeCommand::Add { slug, name, scope } => {
            let env = scope.load(core).await?;
            let t = core.add_resource_type(&env, &slug, name, &Actor::Cli).await.map_err(failed)?;
            out.print(json!({"slug": t.slug, "name": t.name}), || format!("Added resource type {}.", t.slug));
        }
        ResourceTypeCommand::List { scope } => {
            let env = scope.load(core).await?;
            let types = core.list_resource_types(&env).await.map_err(failed)?;
            let data: Vec<_> = types.iter().map(|t| json!({"slug": t.slug, "name": t.name})).collect();
            out.print(json!(data), || {
                types.iter().map(|t| format!("{}  {}", t.slug, t.name)).collect::<Vec<_>>().join("\n")
            });
        }
        ResourceTypeCommand::Remove { slug, scope } => {
            let env = scope.load(core).await?;
            core.remove_resource_type(&env, &slug, &Actor::Cli).await.map_err(failed)?;
            out.print(json!({"deleted": slug}), || format!("Removed resource type {slug}."));
        }
    }
    Ok(())
}
