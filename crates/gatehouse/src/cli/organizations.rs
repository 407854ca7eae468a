//! `gatehouse orgs …`, `gatehouse members …` and `gatehouse roles …`: organizations, their
//! members, and roles and permissions, as the API manages them. `--json` prints the API's
//! objects.

use clap::Subcommand;
use serde_json::{Value, json};

use super::{EnvArg, Output};
use crate::domain::audit::Actor;
use crate::domain::listing::{Cursor, ListOrder, MembershipQuery, OrganizationQuery};
use crate::domain::organization::{DomainState, MembershipStatus, OrganizationDomain, normalize_domain};
use crate::service::Core;
use crate::service::organization_domains::DomainInput;
use crate::service::organizations::{NewOrganization, OrganizationPatch};
use crate::web::wire;

#[derive(Subcommand, Debug)]
pub(super) enum OrgCommand {
    /// Create an organization.
    Create {
        /// The organization's name.
        name: String,
        /// Your own ID for it (unique in the environment).
        #[arg(long)]
        external_id: Option<String>,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// List organizations (newest first).
    List {
        /// Only names containing this text.
        #[arg(long)]
        search: Option<String>,
        /// How many to list (at most 100).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Show one organization.
    Show {
        /// The organization's ID (`org_…`).
        id: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Rename an organization.
    Rename {
        /// The organization's ID (`org_…`).
        id: String,
        /// The new name.
        name: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Require (true) or stop requiring (false) two-factor of the organization's members.
    RequireMfa {
        /// The organization's ID (`org_…`).
        id: String,
        /// true or false.
        #[arg(action = clap::ArgAction::Set)]
        required: bool,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Delete an organization with its memberships and roles; sessions in it end.
    Delete {
        /// The organization's ID (`org_…`).
        id: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Let users whose verified email is at one of the organization's verified domains join it
    /// (default role) when they sign in (true), or stop that (false).
    AutoJoin {
        /// The organization's ID (`org_…`).
        id: String,
        /// true or false.
        #[arg(action = clap::ArgAction::Set)]
        enabled: bool,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// An organization's domains and their DNS verification.
    #[command(subcommand)]
    Domains(DomainCommand),
}

#[derive(Subcommand, Debug)]
pub(super) enum DomainCommand {
    /// Add a domain to an organization: pending, with the TXT record that verifies it (or
    /// verified at once with --verified, on your word).
    Add {
        /// The organization's ID (`org_…`).
        #[arg(long)]
        org: String,
        /// The domain, e.g. example.com.
        domain: String,
        /// Mark it verified without a DNS check.
        #[arg(long)]
        verified: bool,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// List an organization's domains with their state and TXT records.
    List {
        /// The organization's ID (`org_…`).
        #[arg(long)]
        org: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Check a domain's TXT record now (see --dns-server): verified, or failed with the reason.
    Verify {
        /// The domain's ID (`org_domain_…`).
        id: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Remove a domain from its organization.
    Remove {
        /// The domain's ID (`org_domain_…`).
        id: String,
        #[command(flatten)]
        scope: EnvArg,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum MemberCommand {
    /// Add a user (ID or email) to an organization.
    Add {
        /// The organization's ID (`org_…`).
        #[arg(long)]
        org: String,
        /// The user's ID or email address.
        #[arg(long)]
        user: String,
        /// A role slug (repeat for several); default: member.
        #[arg(long = "role")]
        roles: Vec<String>,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// List the memberships of an organization or of a user (every status).
    List {
        /// The organization's ID (`org_…`).
        #[arg(long)]
        org: Option<String>,
        /// The user's ID or email address.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Replace a membership's roles.
    SetRoles {
        /// The membership's ID (`om_…`).
        id: String,
        /// Role slugs; the first is the primary role.
        #[arg(required = true)]
        roles: Vec<String>,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Deactivate a membership (the user's sessions in the organization end).
    Deactivate {
        /// The membership's ID (`om_…`).
        id: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Reactivate a membership.
    Reactivate {
        /// The membership's ID (`om_…`).
        id: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Remove a membership (the user's sessions in the organization end).
    Remove {
        /// The membership's ID (`om_…`).
        id: String,
        #[command(flatten)]
        scope: EnvArg,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum RoleCommand {
    /// List the environment's roles, and an organization's own with --org.
    List {
        /// The organization's ID (`org_…`).
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Create a role: an environment role, or with --org one of the organization's (slug org-…).
    Create {
        /// The role's slug (an organization's starts with org-).
        slug: String,
        /// The role's name.
        #[arg(long)]
        name: String,
        /// What the role is for.
        #[arg(long)]
        description: Option<String>,
        /// Make it this organization's role (its ID, `org_…`).
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Replace a role's permissions (permission slugs; none clears them).
    SetPermissions {
        /// The role's slug.
        slug: String,
        /// Permission slugs; none clears them.
        permissions: Vec<String>,
        /// The organization of an organization role (its ID, `org_…`).
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Delete one of an organization's own roles.
    Delete {
        /// The role's slug.
        slug: String,
        /// The organization's ID (`org_…`).
        #[arg(long)]
        org: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Remove an environment role (not the default `member`, nor one a membership holds or a
    /// role assignment gives); records `role.deleted`.
    Remove {
        /// The role's slug.
        slug: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Create a permission.
    CreatePermission {
        /// The permission's slug (e.g. posts:write).
        slug: String,
        /// The permission's name.
        #[arg(long)]
        name: String,
        /// What the permission allows.
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// List the permissions.
    Permissions {
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Remove a permission: every role that grants it stops granting it; records
    /// `permission.deleted` and an update of each such role.
    RemovePermission {
        /// The permission's slug.
        slug: String,
        #[command(flatten)]
        scope: EnvArg,
    },
}

fn service_error(e: crate::service::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn to_json(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn all(limit: u32) -> Cursor {
    Cursor { limit: limit.clamp(1, 100), before: None, after: None, order: ListOrder::Desc }
}

pub(super) async fn run_orgs(core: &Core, out: &Output, command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Create { name, external_id, scope } => {
            let env = scope.load(core).await?;
            let new = NewOrganization { name, external_id, ..Default::default() };
            let org = core.create_organization(&env, new).await.map_err(service_error)?;
            out.print(to_json(wire::Organization::from(&org)), || format!("Created {} ({}).", org.name, org.id));
        }
        OrgCommand::List { search, limit, scope } => {
            let env = scope.load(core).await?;
            let page = core
                .list_organizations(&env, OrganizationQuery { search, cursor: all(limit) })
                .await
                .map_err(service_error)?;
            let data: Vec<Value> = page.items.iter().map(|o| to_json(wire::Organization::from(o))).collect();
            out.print(json!(data), || {
                page.items.iter().map(|o| format!("{}  {}", o.id, o.name)).collect::<Vec<_>>().join("\n")
            });
        }
        OrgCommand::Show { id, scope } => {
            let env = scope.load(core).await?;
            let org = core.get_organization(&env, &id).await.map_err(service_error)?;
            out.print(to_json(wire::Organization::from(&org)), || {
                format!("{}  {}  external_id: {}", org.id, org.name, org.external_id.as_deref().unwrap_or("-"))
            });
        }
        OrgCommand::Rename { id, name, scope } => {
            let env = scope.load(core).await?;
            let patch = OrganizationPatch { name: Some(name), ..Default::default() };
            let org = core.update_organization(&env, &id, patch).await.map_err(service_error)?;
            out.print(to_json(wire::Organization::from(&org)), || format!("Renamed {} to {}.", org.id, org.name));
        }
        OrgCommand::RequireMfa { id, required, scope } => {
            let env = scope.load(core).await?;
            let patch = OrganizationPatch { require_mfa: Some(required), ..Default::default() };
            let org = core.update_organization(&env, &id, patch).await.map_err(service_error)?;
            let mut value = to_json(wire::Organization::from(&org));
            value["require_mfa"] = json!(org.require_mfa);
            out.print(value, || {
                let what = if org.require_mfa { "now requires" } else { "no longer requires" };
                format!("{} {what} two-factor.", org.name)
            });
        }
        OrgCommand::Delete { id, scope } => {
            let env = scope.load(core).await?;
            core.delete_organization(&env, &id).await.map_err(service_error)?;
            out.print(json!({"deleted": id}), || format!("Deleted {id}."));
        }
        OrgCommand::AutoJoin { id, enabled, scope } => {
            let env = scope.load(core).await?;
            let patch = OrganizationPatch { domain_auto_join: Some(enabled), ..Default::default() };
            let org = core.update_organization(&env, &id, patch).await.map_err(service_error)?;
            out.print(to_json(wire::Organization::from(&org)), || {
                let what = if org.domain_auto_join { "now lets" } else { "no longer lets" };
                format!("{} {what} users of its verified domains join at sign-in.", org.name)
            });
        }
        OrgCommand::Domains(command) => run_domains(core, out, command).await?,
    }
    Ok(())
}

fn domain_line(d: &OrganizationDomain) -> String {
    let mut line = format!("{}  {}  {}", d.id, d.domain, d.state.as_str());
    if d.state != DomainState::Verified {
        line.push_str(&format!("  TXT {} \"{}\"", d.txt_record_name(), d.verification_token));
    }
    if let Some(reason) = &d.failure_reason {
        line.push_str(&format!("\n  {reason}"));
    }
    line
}

async fn run_domains(core: &Core, out: &Output, command: DomainCommand) -> anyhow::Result<()> {
    match command {
        DomainCommand::Add { org, domain, verified: false, scope } => {
            let env = scope.load(core).await?;
            let d = core.create_domain(&env, &org, &domain).await.map_err(service_error)?;
            out.print(to_json(wire::OrganizationDomain::from(&d)), || {
                format!(
                    "Added {}. To verify it, publish a TXT record at {} with the value \"{}\", then run `gatehouse orgs domains verify {}`.",
                    d.domain,
                    d.txt_record_name(),
                    d.verification_token,
                    d.id
                )
            });
        }
        DomainCommand::Add { org, domain, verified: true, scope } => {
            let env = scope.load(core).await?;
            let current = core.list_domains(&env, &org).await.map_err(service_error)?;
            let mut inputs: Vec<DomainInput> = current
                .iter()
                .map(|d| DomainInput { domain: d.domain.clone(), verified: d.state == DomainState::Verified })
                .collect();
            inputs.push(DomainInput { domain: domain.clone(), verified: true });
            let patch = OrganizationPatch { domains: Some(inputs), ..Default::default() };
            let o = core.update_organization(&env, &org, patch).await.map_err(service_error)?;
            let wanted = normalize_domain(&domain).unwrap_or(domain);
            let d = o
                .domains
                .iter()
                .find(|d| d.domain == wanted)
                .ok_or_else(|| anyhow::anyhow!("the domain was not added"))?;
            out.print(to_json(wire::OrganizationDomain::from(d)), || {
                format!("Added {} as verified ({}).", d.domain, d.id)
            });
        }
        DomainCommand::List { org, scope } => {
            let env = scope.load(core).await?;
            let domains = core.list_domains(&env, &org).await.map_err(service_error)?;
            let data: Vec<Value> = domains.iter().map(|d| to_json(wire::OrganizationDomain::from(d))).collect();
            out.print(json!(data), || domains.iter().map(domain_line).collect::<Vec<_>>().join("\n"));
        }
        DomainCommand::Verify { id, scope } => {
            let env = scope.load(core).await?;
            let d = core.verify_domain(&env, &id).await.map_err(service_error)?;
            out.print(to_json(wire::OrganizationDomain::from(&d)), || match &d.failure_reason {
                None => format!("{} is verified.", d.domain),
                Some(reason) => format!("{} failed verification: {reason}", d.domain),
            });
            if d.state != DomainState::Verified {
                anyhow::bail!("the domain {} is not verified", d.domain);
            }
        }
        DomainCommand::Remove { id, scope } => {
            let env = scope.load(core).await?;
            core.delete_domain(&env, &id).await.map_err(service_error)?;
            out.print(json!({"deleted": id}), || format!("Removed {id}."));
        }
    }
    Ok(())
}

/// A user by ID, or by email when it contains `@`.
async fn user_id(core: &Core, env: &crate::domain::environment::Environment, user: &str) -> anyhow::Result<String> {
    if user.contains('@') {
        let found = core.find_user_by_email(env, user).await.map_err(service_error)?;
        return found.map(|u| u.id).ok_or_else(|| anyhow::anyhow!("there is no user with the email {user}"));
    }
    Ok(user.to_owned())
}

fn print_membership(out: &Output, view: &crate::service::organizations::MembershipView, verb: &str) {
    let m = &view.membership;
    out.print(to_json(wire::OrganizationMembership::from(view)), || {
        format!(
            "{verb} {} ({}) in {}: {}, roles {}",
            m.id,
            view.user.email,
            view.organization_name,
            m.status.as_str(),
            m.role_slugs.join(", ")
        )
    });
}

pub(super) async fn run_members(core: &Core, out: &Output, command: MemberCommand) -> anyhow::Result<()> {
    match command {
        MemberCommand::Add { org, user, roles, scope } => {
            let env = scope.load(core).await?;
            let user = user_id(core, &env, &user).await?;
            let roles = (!roles.is_empty()).then_some(roles);
            let view = core.create_membership(&env, &user, &org, roles).await.map_err(service_error)?;
            print_membership(out, &view, "Added");
        }
        MemberCommand::List { org, user, scope } => {
            let env = scope.load(core).await?;
            let user = match user {
                Some(u) => Some(user_id(core, &env, &u).await?),
                None => None,
            };
            let q = MembershipQuery {
                user_id: user,
                organization_id: org,
                statuses: vec![MembershipStatus::Active, MembershipStatus::Inactive, MembershipStatus::Pending],
                cursor: all(100),
            };
            let page = core.list_memberships(&env, q).await.map_err(service_error)?;
            let data: Vec<Value> = page.items.iter().map(|v| to_json(wire::OrganizationMembership::from(v))).collect();
            out.print(json!(data), || {
                page.items
                    .iter()
                    .map(|v| {
                        let m = &v.membership;
                        format!(
                            "{}  {}  {}  {}  {}",
                            m.id,
                            v.user.email,
                            v.organization_name,
                            m.status.as_str(),
                            m.role_slugs.join(",")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        MemberCommand::SetRoles { id, roles, scope } => {
            let env = scope.load(core).await?;
            let view = core.update_membership_roles(&env, &id, Some(roles)).await.map_err(service_error)?;
            print_membership(out, &view, "Updated");
        }
        MemberCommand::Deactivate { id, scope } => {
            let env = scope.load(core).await?;
            let view = core.set_membership_active(&env, &id, false).await.map_err(service_error)?;
            print_membership(out, &view, "Deactivated");
        }
        MemberCommand::Reactivate { id, scope } => {
            let env = scope.load(core).await?;
            let view = core.set_membership_active(&env, &id, true).await.map_err(service_error)?;
            print_membership(out, &view, "Reactivated");
        }
        MemberCommand::Remove { id, scope } => {
            let env = scope.load(core).await?;
            core.delete_membership(&env, &id).await.map_err(service_error)?;
            out.print(json!({"deleted": id}), || format!("Removed {id}."));
        }
    }
    Ok(())
}

pub(super) async fn run_roles(core: &Core, out: &Output, command: RoleCommand) -> anyhow::Result<()> {
    match command {
        RoleCommand::List { org, scope } => {
            let env = scope.load(core).await?;
            let roles = core.list_roles(&env, org.as_deref()).await.map_err(service_error)?;
            let data: Vec<Value> = roles.iter().map(|r| to_json(wire::Role::from(r))).collect();
            out.print(json!(data), || {
                roles
                    .iter()
                    .map(|r| format!("{}  {}  {}  [{}]", r.slug, r.name, r.kind(), r.permissions.join(", ")))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        RoleCommand::Create { slug, name, description, org, scope } => {
            let env = scope.load(core).await?;
            let role =
                core.create_role(&env, org.as_deref(), Some(slug), name, description).await.map_err(service_error)?;
            out.print(to_json(wire::Role::from(&role)), || format!("Created role {}.", role.slug));
        }
        RoleCommand::SetPermissions { slug, permissions, org, scope } => {
            let env = scope.load(core).await?;
            let role = core
                .set_role_permissions(&env, org.as_deref(), &slug, permissions, true)
                .await
                .map_err(service_error)?;
            out.print(to_json(wire::Role::from(&role)), || {
                format!("{} now grants: {}", role.slug, role.permissions.join(", "))
            });
        }
        RoleCommand::Delete { slug, org, scope } => {
            let env = scope.load(core).await?;
            core.delete_organization_role(&env, &org, &slug).await.map_err(service_error)?;
            out.print(json!({"deleted": slug}), || format!("Deleted role {slug}."));
        }
        RoleCommand::Remove { slug, scope } => {
            let env = scope.load(core).await?;
            core.delete_environment_role(&env, &slug, &Actor::Cli).await.map_err(service_error)?;
            out.print(json!({"deleted": slug}), || format!("Removed role {slug}."));
        }
        RoleCommand::CreatePermission { slug, name, description, scope } => {
            let env = scope.load(core).await?;
            let p = core.create_permission(&env, slug, name, description).await.map_err(service_error)?;
            out.print(to_json(wire::Permission::from(&p)), || format!("Created permission {}.", p.slug));
        }
        RoleCommand::RemovePermission { slug, scope } => {
            let env = scope.load(core).await?;
            core.delete_permission(&env, &slug).await.map_err(service_error)?;
            out.print(json!({"deleted": slug}), || format!("Removed permission {slug}; no role grants it now."));
        }
        RoleCommand::Permissions { scope } => {
            let env = scope.load(core).await?;
            let page = core.list_permissions(&env, all(100)).await.map_err(service_error)?;
            let data: Vec<Value> = page.items.iter().map(|p| to_json(wire::Permission::from(p))).collect();
            out.print(json!(data), || {
                page.items.iter().map(|p| format!("{}  {}", p.slug, p.name)).collect::<Vec<_>>().join("\n")
            });
        }
    }
    Ok(())
}
