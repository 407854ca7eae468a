//! `gatehouse providers …`: the environment's upstream sign-in providers (social login).

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;

use super::{EnvArg, Output};
use crate::domain::audit::Actor;
use crate::domain::provider::StoredProvider;
use crate::service::Core;
use crate::service::social::{NewProvider, ProviderPatch, provider_label};

#[derive(Subcommand, Debug)]
pub(super) enum ProviderCommand {
    /// Add a provider: GoogleOAuth, MicrosoftOAuth, GitHubOAuth, AppleOAuth, GitLabOAuth, or any
    /// other name for a custom OpenID Connect provider (needs --issuer).
    Add(AddArgs),
    /// List the providers (client secrets are never shown).
    List(EnvArg),
    /// Show one provider and the callback URL to register at the provider.
    Show {
        /// The provider's name (e.g. GoogleOAuth).
        name: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Change a provider: any of the `add` options; an empty value clears an optional one.
    Set(SetArgs),
    /// Show the provider's button and accept `provider=` again.
    Enable {
        /// The provider's name (e.g. GoogleOAuth).
        name: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Hide the provider's button and refuse `provider=` (linked identities stay).
    Disable {
        /// The provider's name (e.g. GoogleOAuth).
        name: String,
        #[command(flatten)]
        scope: EnvArg,
    },
    /// Remove a provider (linked identities stay, so adding it again keeps its users' links).
    Remove {
        /// The provider's name (e.g. GoogleOAuth).
        name: String,
        #[command(flatten)]
        scope: EnvArg,
    },
}

#[derive(Args, Debug)]
pub(super) struct Endpoints {
    /// Space- or comma-separated scopes (default: the provider's, e.g. "openid email profile").
    #[arg(long)]
    scopes: Option<String>,
    /// The button's label, e.g. "Acme SSO" (default: the provider's name).
    #[arg(long)]
    display_name: Option<String>,
    /// The button's icon: an https or data:image/ URL (built-in providers have their own).
    #[arg(long)]
    icon_url: Option<String>,
    /// The OpenID Connect issuer; discovery is read from <issuer>/.well-known/openid-configuration.
    #[arg(long)]
    issuer: Option<String>,
    /// The provider's authorization endpoint (instead of discovery, or to override it).
    #[arg(long)]
    authorize_url: Option<String>,
    /// The provider's token endpoint (instead of discovery).
    #[arg(long)]
    token_url: Option<String>,
    /// The provider's userinfo endpoint (instead of discovery).
    #[arg(long)]
    userinfo_url: Option<String>,
    /// GitHub-style list of the user's emails (`/user/emails`).
    #[arg(long)]
    emails_url: Option<String>,
    /// The provider's JWKS, which verifies its ID tokens (instead of discovery).
    #[arg(long)]
    jwks_url: Option<String>,
}

#[derive(Args, Debug)]
pub(super) struct AddArgs {
    /// GoogleOAuth, MicrosoftOAuth, GitHubOAuth, AppleOAuth, GitLabOAuth, or a name of your own
    /// for an OpenID Connect provider (the `provider=` value apps send).
    name: String,
    /// The client ID the provider gave you for this app.
    #[arg(long)]
    client_id: String,
    /// The client secret (or use --client-secret-file, or env GATEHOUSE_PROVIDER_CLIENT_SECRET).
    #[arg(long, env = "GATEHOUSE_PROVIDER_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Read the client secret from this file.
    #[arg(long, conflicts_with = "client_secret")]
    client_secret_file: Option<std::path::PathBuf>,
    /// Add it disabled.
    #[arg(long)]
    disabled: bool,
    #[command(flatten)]
    endpoints: Endpoints,
    #[command(flatten)]
    scope: EnvArg,
}

#[derive(Args, Debug)]
pub(super) struct SetArgs {
    /// The provider's name, as listed.
    name: String,
    /// A new client ID.
    #[arg(long)]
    client_id: Option<String>,
    /// A new client secret (or use --client-secret-file, or env GATEHOUSE_PROVIDER_CLIENT_SECRET).
    #[arg(long, env = "GATEHOUSE_PROVIDER_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Read the new client secret from this file.
    #[arg(long, conflicts_with = "client_secret")]
    client_secret_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    endpoints: Endpoints,
    #[command(flatten)]
    scope: EnvArg,
}

fn read_secret(value: Option<String>, file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the client secret from {}", path.display()))?;
            Ok(Some(text.trim().to_owned()))
        }
        None => Ok(value),
    }
}

fn split_scopes(scopes: Option<String>) -> Option<Vec<String>> {
    scopes.map(|s| vec![s])
}

/// `Some("")` clears an optional field.
fn clearable(value: Option<String>) -> Option<Option<String>> {
    value.map(|v| Some(v).filter(|v| !v.trim().is_empty()))
}

fn describe(core: &Core, p: &StoredProvider) -> serde_json::Value {
    json!({
        "name": p.name, "type": p.kind, "label": provider_label(p), "client_id": p.client_id,
        "scopes": p.scopes, "enabled": p.is_enabled, "display_name": p.display_name, "icon_url": p.icon_url,
        "issuer": p.issuer, "authorize_url": p.authorize_url, "token_url": p.token_url,
        "userinfo_url": p.userinfo_url, "emails_url": p.emails_url, "jwks_url": p.jwks_url,
        "callback_url": core.social_callback_url(&p.name),
    })
}

fn human(core: &Core, p: &StoredProvider) -> String {
    let mut lines = vec![
        format!("{}  ({}, {})", p.name, p.kind, if p.is_enabled { "enabled" } else { "disabled" }),
        format!("  Client ID     {}", p.client_id),
        format!("  Scopes        {}", p.scopes),
        format!("  Callback URL  {}   (register this at the provider)", core.social_callback_url(&p.name)),
    ];
    for (label, value) in [
        ("Issuer", &p.issuer),
        ("Authorize URL", &p.authorize_url),
        ("Token URL", &p.token_url),
        ("Userinfo URL", &p.userinfo_url),
        ("Emails URL", &p.emails_url),
        ("JWKS URL", &p.jwks_url),
        ("Display name", &p.display_name),
        ("Icon URL", &p.icon_url),
    ] {
        if let Some(v) = value {
            lines.push(format!("  {label:<13} {v}"));
        }
    }
    lines.join("\n")
}

pub(super) async fn run(core: &Core, out: &Output, command: ProviderCommand) -> anyhow::Result<()> {
    match command {
        ProviderCommand::Add(a) => add(core, out, a).await,
        ProviderCommand::List(scope) => list(core, out, &scope).await,
        ProviderCommand::Show { name, scope } => show(core, out, &scope, &name).await,
        ProviderCommand::Set(a) => set(core, out, a).await,
        ProviderCommand::Enable { name, scope } => toggle(core, out, &scope, &name, true).await,
        ProviderCommand::Disable { name, scope } => toggle(core, out, &scope, &name, false).await,
        ProviderCommand::Remove { name, scope } => remove(core, out, &scope, &name).await,
    }
}

fn service_error(e: crate::service::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

async fn add(core: &Core, out: &Output, a: AddArgs) -> anyhow::Result<()> {
    let env = a.scope.load(core).await?;
    let secret = read_secret(a.client_secret, a.client_secret_file.as_deref())?.context(
        "give the client secret with --client-secret, --client-secret-file or GATEHOUSE_PROVIDER_CLIENT_SECRET",
    )?;
    let e = a.endpoints;
    let new = NewProvider {
        name: a.name,
        client_id: a.client_id,
        client_secret: secret,
        scopes: split_scopes(e.scopes),
        display_name: e.display_name,
        icon_url: e.icon_url,
        issuer: e.issuer,
        authorize_url: e.authorize_url,
        token_url: e.token_url,
        userinfo_url: e.userinfo_url,
        emails_url: e.emails_url,
        jwks_url: e.jwks_url,
        is_enabled: Some(!a.disabled),
    };
    let p = core.add_provider(&env, new, &Actor::Cli).await.map_err(service_error)?;
    out.print(describe(core, &p), || format!("Added to {}:\n{}", env.name, human(core, &p)));
    Ok(())
}

async fn list(core: &Core, out: &Output, scope: &EnvArg) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    let all = core.list_providers(&env).await.map_err(service_error)?;
    let list: Vec<_> = all.iter().map(|p| describe(core, p)).collect();
    out.print(json!(list), || {
        if all.is_empty() {
            format!("No providers in {}. Add one with `gatehouse providers add GoogleOAuth --client-id …`.", env.name)
        } else {
            all.iter().map(|p| human(core, p)).collect::<Vec<_>>().join("\n\n")
        }
    });
    Ok(())
}

async fn show(core: &Core, out: &Output, scope: &EnvArg, name: &str) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    let p = core.get_provider(&env, name).await.map_err(service_error)?;
    out.print(describe(core, &p), || human(core, &p));
    Ok(())
}

async fn set(core: &Core, out: &Output, a: SetArgs) -> anyhow::Result<()> {
    let env = a.scope.load(core).await?;
    let e = a.endpoints;
    let patch = ProviderPatch {
        client_id: a.client_id,
        client_secret: read_secret(a.client_secret, a.client_secret_file.as_deref())?,
        scopes: split_scopes(e.scopes),
        display_name: clearable(e.display_name),
        icon_url: clearable(e.icon_url),
        issuer: clearable(e.issuer),
        authorize_url: clearable(e.authorize_url),
        token_url: clearable(e.token_url),
        userinfo_url: clearable(e.userinfo_url),
        emails_url: clearable(e.emails_url),
        jwks_url: clearable(e.jwks_url),
        is_enabled: None,
    };
    let p = core.update_provider(&env, &a.name, patch, &Actor::Cli).await.map_err(service_error)?;
    out.print(describe(core, &p), || format!("Updated:\n{}", human(core, &p)));
    Ok(())
}

async fn remove(core: &Core, out: &Output, scope: &EnvArg, name: &str) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    core.remove_provider(&env, name, &Actor::Cli).await.map_err(service_error)?;
    out.print(json!({"removed": name}), || format!("Removed {name} from {}.", env.name));
    Ok(())
}

async fn toggle(core: &Core, out: &Output, scope: &EnvArg, name: &str, enabled: bool) -> anyhow::Result<()> {
    let env = scope.load(core).await?;
    let patch = ProviderPatch { is_enabled: Some(enabled), ..ProviderPatch::default() };
    let p = core.update_provider(&env, name, patch, &Actor::Cli).await.map_err(service_error)?;
    let verb = if enabled { "Enabled" } else { "Disabled" };
    out.print(describe(core, &p), || format!("{verb} {name} in {}.", env.name));
    Ok(())
}
