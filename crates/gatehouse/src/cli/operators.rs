//! `gatehouse operators …`: the people who may use the console (`/dashboard`). `add` prints a
//! one-time link (valid for a day) where the new operator chooses a password; there is never a
//! default password.

use anyhow::bail;
use clap::Subcommand;
use serde_json::json;

use super::Output;
use crate::domain::audit::Actor;
use crate::service::Core;
use crate::service::operators::OperatorRole;

#[derive(Subcommand, Debug)]
pub(super) enum OperatorCommand {
    /// Print a one-time link that creates an operator with this email address.
    Add {
        /// The new operator's email address.
        email: String,
        /// admin (everything) or viewer (read only).
        #[arg(long, default_value = "admin", value_parser = parse_role)]
        role: OperatorRole,
    },
    /// List the operators.
    List,
    /// Remove an operator (their console sessions end at once).
    Remove {
        /// The operator's email address.
        email: String,
    },
    /// Change an operator's role: admin or viewer.
    SetRole {
        /// The operator's email address.
        email: String,
        /// admin (everything) or viewer (read only).
        #[arg(value_parser = parse_role)]
        role: OperatorRole,
    },
    /// Require a second factor (authenticator app) or a passkey for every operator sign-in: on|off.
    RequireTwoFactor {
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        setting: String,
    },
}

fn parse_role(s: &str) -> Result<OperatorRole, String> {
    OperatorRole::parse(s).ok_or_else(|| "the role is admin or viewer".to_owned())
}

pub(super) async fn run(
    core: &Core,
    dashboard_url: &str,
    out: &Output,
    command: OperatorCommand,
) -> anyhow::Result<()> {
    let fail = |e: crate::service::Error| anyhow::anyhow!("{e}");
    match command {
        OperatorCommand::Add { email, role } => {
            let token = core.invite_operator(Some(&email), role, &Actor::Cli).await.map_err(fail)?;
            let link = format!("{dashboard_url}/dashboard/setup?token={token}");
            out.print(json!({"email": email, "role": role.as_str(), "link": link}), || {
                format!("Send this one-time link to {email} ({}); it works once, for a day:\n{link}", role.as_str())
            });
        }
        OperatorCommand::List => {
            let operators = core.list_operators().await.map_err(fail)?;
            let list: Vec<_> = operators
                .iter()
                .map(|o| json!({"email": o.user.email, "role": o.role.as_str(), "id": o.user.id}))
                .collect();
            out.print(json!({"operators": list}), || {
                if operators.is_empty() {
                    return "No operators yet: `gatehouse operators add EMAIL` prints a link that creates one.".into();
                }
                operators
                    .iter()
                    .map(|o| format!("{:<8} {}", o.role.as_str(), o.user.email))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        OperatorCommand::Remove { email } => {
            core.remove_operator(&email, &Actor::Cli).await.map_err(fail)?;
            out.print(json!({"removed": email}), || format!("Removed {email}; their console sessions have ended."));
        }
        OperatorCommand::SetRole { email, role } => {
            core.set_operator_role(&email, role, &Actor::Cli).await.map_err(fail)?;
            out.print(json!({"email": email, "role": role.as_str()}), || format!("{email} is now {}.", role.as_str()));
        }
        OperatorCommand::RequireTwoFactor { setting } => {
            let on = match setting.as_str() {
                "on" => true,
                "off" => false,
                _ => bail!("on or off"),
            };
            core.set_operator_two_factor_required(on, &Actor::Cli).await.map_err(fail)?;
            out.print(json!({"two_factor_required": on}), || {
                if on {
                    "Operators now need an authenticator app or a passkey to sign in (those without one set it up at their next sign-in).".into()
                } else {
                    "Operators may sign in with a password alone.".into()
                }
            });
        }
    }
    Ok(())
}
