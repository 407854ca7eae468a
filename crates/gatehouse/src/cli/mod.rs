//! The `gatehouse` command line: `serve`, `init`, and the operator commands that change an
//! environment directly in the store (safe while a server runs; it picks changes up within
//! seconds). Every command takes `--json` for scripts.

pub mod banner;
mod migrate_store;
mod providers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::clock::{SystemClock, iso8601};
use crate::domain::environment::{DEVELOPMENT, Environment, PRODUCTION};
use crate::server::{ServerConfig, open_core};
use crate::service::Core;

#[derive(Parser, Debug)]
#[command(name = "gatehouse", version, about = "Self-hosted authentication server compatible with WorkOS AuthKit")]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// Folder holding the embedded database.
    #[arg(long, global = true, env = "GATEHOUSE_DATA", default_value = "./gatehouse-data")]
    data: PathBuf,
    /// Use this database instead of the embedded one (postgres://… or sqlite://…).
    #[arg(long, global = true, env = "GATEHOUSE_DATABASE_URL")]
    database_url: Option<String>,
    /// The URL apps and browsers use to reach Gatehouse (issuer and links are built from it).
    #[arg(long, global = true, env = "GATEHOUSE_PUBLIC_URL", default_value = "http://localhost:8080")]
    public_url: String,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    /// The 32-byte key (64 hex digits) that seals stored secrets (provider client secrets, the
    /// SMTP URL, queued emails); default: secret.key in --data, created on first use.
    #[arg(long, global = true, env = "GATEHOUSE_SECRET_KEY", hide_env_values = true, hide = true)]
    secret_key: Option<String>,
    /// SMTP server for outgoing email: smtp://user:pass@host:587?tls=required or smtps://host.
    /// Overrides `gatehouse email configure`.
    #[arg(long, global = true, env = "GATEHOUSE_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The From address of outgoing email, e.g. "Acme <no-reply@acme.com>".
    #[arg(long, global = true, env = "GATEHOUSE_EMAIL_FROM")]
    email_from: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "GATEHOUSE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Cache lifetime of the JWKS; new signing keys are published this long before use.
        #[arg(long, env = "GATEHOUSE_JWKS_MAX_AGE_SECS", default_value_t = 300)]
        jwks_max_age_secs: i64,
        /// Refresh tokens whose session and user stay in memory after they are issued, so their
        /// rotation skips a database read (about 1.5 KB each; 0 turns this off).
        #[arg(long, env = "GATEHOUSE_REFRESH_CACHE_ENTRIES", default_value_t = crate::store::DEFAULT_REFRESH_CACHE_ENTRIES)]
        refresh_cache_entries: usize,
    },
    /// Create the store and the development environment if absent, and issue an API key.
    Init,
    /// Environments: list, show, create, change settings.
    #[command(subcommand)]
    Env(EnvCommand),
    /// API keys of an environment.
    #[command(subcommand)]
    ApiKeys(ApiKeyCommand),
    /// Redirect URIs the hosted sign-in may send codes to.
    #[command(subcommand)]
    RedirectUris(ListCommand),
    /// Browser origins allowed to call the token endpoint.
    #[command(subcommand)]
    CorsOrigins(ListCommand),
    /// The JWT template that adds claims to access tokens.
    #[command(subcommand)]
    JwtTemplate(TemplateCommand),
    /// Signing keys: list and rotate.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Upstream sign-in providers (Google, Microsoft, GitHub, Apple, GitLab, OpenID Connect).
    #[command(subcommand)]
    Providers(Box<providers::ProviderCommand>),
    /// Recent email deliveries and failures.
    Emails {
        #[arg(long = "env")]
        env: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Email delivery settings stored in the database (environment variables take precedence).
    #[command(subcommand)]
    Email(EmailCommand),
    /// Check a token exactly as Convex would, against a provider config shaped like the default
    /// export of convex/auth.config.ts; prints the identity, or Convex's error and a diagnosis.
    VerifyToken {
        /// JSON file: {"providers": [...]}, with ${VAR} taken from the environment.
        #[arg(long)]
        config: PathBuf,
        /// The token, or - to read it from standard input.
        #[arg(default_value = "-")]
        token: String,
    },
    /// Copy every table of a store into another database (e.g. SQLite to PostgreSQL).
    MigrateStore(migrate_store::MigrateStoreArgs),
}

#[derive(Subcommand, Debug)]
enum EmailCommand {
    /// Store the SMTP server and From address (the URL is sealed; it may hold a password).
    Configure {
        #[arg(long = "smtp", value_name = "SMTP_URL")]
        smtp: String,
        #[arg(long = "from")]
        from: String,
    },
    /// Show how email is sent (passwords hidden).
    Show,
    /// Forget the stored SMTP settings.
    Clear,
}

#[derive(Subcommand, Debug)]
enum EnvCommand {
    /// List environments.
    List,
    /// Show one environment's settings and the snippets for apps.
    Show {
        #[arg(default_value = DEVELOPMENT)]
        name: String,
    },
    /// Create an environment (`production`) and print its first API key.
    Create { name: String },
    /// Change settings: `gatehouse env set development access_token_ttl_secs=60 branding.app_name=Acme`.
    Set {
        name: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
    },
}

#[derive(Args, Debug)]
struct EnvArg {
    /// The environment to act on.
    #[arg(long = "env", default_value = DEVELOPMENT)]
    env: String,
}

#[derive(Subcommand, Debug)]
enum ApiKeyCommand {
    /// Issue a new key (printed once).
    Create(EnvArg),
    /// List keys (hints only; keys are stored hashed).
    List(EnvArg),
    /// Revoke a key by its ID (`api_key_…`).
    Revoke {
        id: String,
        #[command(flatten)]
        env: EnvArg,
    },
}

#[derive(Subcommand, Debug)]
enum ListCommand {
    Add {
        value: String,
        #[command(flatten)]
        env: EnvArg,
    },
    List(EnvArg),
    Remove {
        value: String,
        #[command(flatten)]
        env: EnvArg,
    },
}

#[derive(Subcommand, Debug)]
enum TemplateCommand {
    Show(EnvArg),
    /// Set the template, e.g. '{"aud": "client_…", "email": {{ user.email }}}'. Empty clears it.
    Set {
        template: String,
        #[command(flatten)]
        env: EnvArg,
    },
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Show each key and when it signs and stays published.
    List(EnvArg),
    /// Publish a new key now; it starts signing after one JWKS max-age, so cached key sets never miss it.
    Rotate {
        #[command(flatten)]
        env: EnvArg,
        #[arg(long, env = "GATEHOUSE_JWKS_MAX_AGE_SECS", default_value_t = 300)]
        jwks_max_age_secs: i64,
    },
}

/// Entry point of the binary.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn server_config(g: &Global, listen: SocketAddr, jwks_max_age_secs: i64) -> ServerConfig {
    let mut config = ServerConfig::new(g.data.clone(), listen, &g.public_url);
    config.database_url = g.database_url.clone();
    config.jwks_max_age_secs = jwks_max_age_secs;
    config.secret_key = g.secret_key.clone().map(crate::crypto::sealing::KeySource::Value);
    config.smtp_url = g.smtp_url.clone();
    config.email_from = g.email_from.clone();
    config
}

fn check_public_url(url: &str) -> anyhow::Result<()> {
    let parsed = url::Url::parse(url).with_context(|| format!("--public-url '{url}' is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        bail!("--public-url must be an http(s) URL like http://localhost:8080");
    }
    if parsed.path() != "/" || parsed.query().is_some() {
        bail!("--public-url must be a bare origin (no path), like http://localhost:8080");
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let g = cli.global;
    check_public_url(&g.public_url)?;
    if let Command::Serve { listen, jwks_max_age_secs, refresh_cache_entries } = cli.command {
        let mut config = server_config(&g, listen, jwks_max_age_secs);
        config.refresh_cache_entries = refresh_cache_entries;
        let shown = config.clone();
        return crate::server::run(config, move |startup| {
            banner::print_startup(&shown, &startup.environments, startup.issued.as_ref());
        })
        .await;
    }
    if let Command::MigrateStore(args) = cli.command {
        return migrate_store::run(
            args,
            server_config(&g, SocketAddr::from(([127, 0, 0, 1], 0)), 300).database_url(),
            g.json,
        )
        .await;
    }
    if let Command::VerifyToken { config, token } = &cli.command {
        let (code, text) = gatehouse_verify::cli::verify_token_main(config, token).await;
        print!("{text}");
        if code != 0 {
            std::process::exit(i32::from(code));
        }
        return Ok(());
    }
    let max_age = match &cli.command {
        Command::Keys(KeyCommand::Rotate { jwks_max_age_secs, .. }) => *jwks_max_age_secs,
        _ => 300,
    };
    let config = server_config(&g, SocketAddr::from(([127, 0, 0, 1], 0)), max_age);
    let core = open_core(&config, Arc::new(SystemClock)).await?;
    let public_url = config.public_url.clone();
    let out = Output { json: g.json };
    let result = command(&core, &public_url, &out, cli.command).await;
    core.close().await;
    result
}

struct Output {
    json: bool,
}

impl Output {
    /// Prints JSON with `--json`, else the human text.
    fn print(&self, value: serde_json::Value, human: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        } else {
            println!("{}", human());
        }
    }
}

async fn env_named(core: &Core, name: &str) -> anyhow::Result<Environment> {
    core.find_environment_named(name).await?.with_context(|| {
        format!("there is no environment named '{name}'. Run `gatehouse init` (development) or `gatehouse env create {name}`")
    })
}

async fn command(core: &Core, public_url: &str, out: &Output, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { .. } | Command::VerifyToken { .. } | Command::MigrateStore(_) => {
            unreachable!("handled by run")
        }
        Command::Init => {
            let issued = core.ensure_environment(DEVELOPMENT).await?;
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
        }
        Command::Env(EnvCommand::List) => {
            let envs = core.list_environments().await?;
            let list: Vec<_> = envs.iter().map(|e| json!({"name": e.name, "client_id": e.client_id})).collect();
            out.print(json!(list), || {
                envs.iter().map(|e| format!("{:<12} {}", e.name, e.client_id)).collect::<Vec<_>>().join("\n")
            });
        }
        Command::Env(EnvCommand::Show { name }) => {
            let env = env_named(core, &name).await?;
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
        }
        Command::Env(EnvCommand::Create { name }) => {
            if name != DEVELOPMENT && name != PRODUCTION {
                bail!("environments are 'development' and 'production'");
            }
            if core.find_environment_named(&name).await?.is_some() {
                bail!(
                    "the {name} environment already exists; `gatehouse api-keys create --env {name}` issues another key"
                );
            }
            let issued = core.ensure_environment(&name).await?;
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
        }
        Command::Env(EnvCommand::Set { name, pairs }) => {
            let env = env_named(core, &name).await?;
            let mut settings = env.settings.clone();
            for pair in &pairs {
                let (key, value) = pair.split_once('=').with_context(|| format!("'{pair}' is not KEY=VALUE"))?;
                settings.set(key.trim(), value.trim()).map_err(anyhow::Error::msg)?;
            }
            let env = core.update_settings(&env, settings).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            out.print(json!({"name": env.name, "settings": env.settings}), || format!("Updated {}.", env.name));
        }
        Command::ApiKeys(ApiKeyCommand::Create(a)) => {
            let env = env_named(core, &a.env).await?;
            let key = core.issue_api_key(&env).await?;
            out.print(json!({"environment": env.name, "api_key": key}), || {
                format!("New API key for {}: {key}\nIt is shown only now; Gatehouse keeps a hash.", env.name)
            });
        }
        Command::ApiKeys(ApiKeyCommand::List(a)) => {
            let env = env_named(core, &a.env).await?;
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
        }
        Command::ApiKeys(ApiKeyCommand::Revoke { id, env }) => {
            let env = env_named(core, &env.env).await?;
            if !core.revoke_api_key(&env, &id).await? {
                bail!("no active API key '{id}' in {}; see `gatehouse api-keys list`", env.name);
            }
            out.print(json!({"revoked": id}), || format!("Revoked {id}."));
        }
        Command::Providers(c) => providers::run(core, out, *c).await?,
        Command::Emails { env, limit } => {
            let env = match &env {
                Some(name) => Some(env_named(core, name).await?),
                None => None,
            };
            let emails = core.list_emails(env.as_ref(), limit.clamp(1, 500)).await?;
            let list: Vec<_> = emails
                .iter()
                .map(|e| json!({"id": e.id, "kind": e.kind, "to": e.to_address, "subject": e.subject, "status": e.status,
                    "attempts": e.attempts, "last_error": e.last_error, "created_at": iso8601(e.created_at), "sent_at": e.sent_at.map(iso8601)}))
                .collect();
            out.print(json!(list), || {
                if emails.is_empty() {
                    return "No emails yet.".into();
                }
                emails
                    .iter()
                    .map(|e| {
                        let error =
                            e.last_error.as_deref().map(|x| format!("\n      last error: {x}")).unwrap_or_default();
                        format!(
                            "{}  {:<8} {:<18} to {}  ({} attempt{}){error}",
                            iso8601(e.created_at),
                            e.status,
                            e.kind,
                            e.to_address,
                            e.attempts,
                            if e.attempts == 1 { "" } else { "s" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Email(EmailCommand::Configure { smtp, from }) => {
            let parsed =
                url::Url::parse(&smtp).with_context(|| "the SMTP URL must look like smtp://user:pass@host:587")?;
            if !matches!(parsed.scheme(), "smtp" | "smtps") {
                bail!("the SMTP URL must start with smtp:// or smtps://");
            }
            if from.parse::<lettre::message::Mailbox>().is_err() {
                bail!("--from must be an address like \"Acme <no-reply@acme.com>\"");
            }
            core.store_email_settings(&smtp, &from).await?;
            out.print(json!({"smtp_url": crate::store::redact_url(&smtp), "from": from}), || {
                format!(
                    "Email will be sent through {} as {from}. Restart the server to apply.",
                    crate::store::redact_url(&smtp)
                )
            });
        }
        Command::Email(EmailCommand::Show) => {
            let email = core.email_config();
            let smtp = email.smtp_url.as_deref().map(crate::store::redact_url);
            out.print(json!({"smtp_url": smtp, "from": email.from}), || match &smtp {
                Some(url) => format!("SMTP  {url}\nFrom  {}", email.from),
                None => {
                    "No SMTP server: development emails go to the log and /dev/emails; production email is off.".into()
                }
            });
        }
        Command::Email(EmailCommand::Clear) => {
            core.clear_email_settings().await?;
            out.print(json!({"cleared": true}), || "Stored email settings removed.".into());
        }
        Command::RedirectUris(c) => list_command(core, out, c, Kind::Redirect).await?,
        Command::CorsOrigins(c) => list_command(core, out, c, Kind::Cors).await?,
        Command::JwtTemplate(TemplateCommand::Show(a)) => {
            let env = env_named(core, &a.env).await?;
            out.print(json!({"content": env.settings.jwt_template}), || env.settings.jwt_template.clone());
        }
        Command::JwtTemplate(TemplateCommand::Set { template, env }) => {
            let env = env_named(core, &env.env).await?;
            let env = core.set_jwt_template(&env, &template).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            out.print(json!({"content": env.settings.jwt_template}), || "JWT template updated.".into());
        }
        Command::Keys(KeyCommand::List(a)) => {
            let env = env_named(core, &a.env).await?;
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
        }
        Command::Keys(KeyCommand::Rotate { env, .. }) => {
            let env = env_named(core, &env.env).await?;
            let status = core.rotate_signing_key(&env).await?;
            out.print(json!(status), || {
                format!(
                    "Published {} in the JWKS now. It starts signing at {} (after one JWKS max-age, so every cached key set already has it).\nThe previous key stays published until its last tokens expire.",
                    status.kid, iso8601(status.signs_from)
                )
            });
        }
    }
    Ok(())
}

enum Kind {
    Redirect,
    Cors,
}

async fn list_command(core: &Core, out: &Output, c: ListCommand, kind: Kind) -> anyhow::Result<()> {
    let err = |e: crate::service::Error| anyhow::anyhow!("{e}");
    match c {
        ListCommand::Add { value, env } => {
            let env = env_named(core, &env.env).await?;
            match kind {
                Kind::Redirect => core.add_redirect_uri(&env, &value).await.map(|_| ()).map_err(err)?,
                Kind::Cors => core.add_cors_origin(&env, &value).await.map(|_| ()).map_err(err)?,
            }
            out.print(json!({"added": value}), || format!("Added {value} to {}.", env.name));
        }
        ListCommand::Remove { value, env } => {
            let env = env_named(core, &env.env).await?;
            match kind {
                Kind::Redirect => core.remove_redirect_uri(&env, &value).await.map_err(err)?,
                Kind::Cors => core.remove_cors_origin(&env, &value).await.map_err(err)?,
            }
            out.print(json!({"removed": value}), || format!("Removed {value} from {}.", env.name));
        }
        ListCommand::List(a) => {
            let env = env_named(core, &a.env).await?;
            let values: Vec<String> = match kind {
                Kind::Redirect => core.list_redirect_uris(&env).await?.into_iter().map(|r| r.uri).collect(),
                Kind::Cors => core.list_cors_origins(&env).await?.into_iter().map(|o| o.origin).collect(),
            };
            out.print(json!(values), || values.join("\n"));
        }
    }
    Ok(())
}
