//! The `gatehouse` command line: `serve`, `init`, and the operator commands that change an
//! environment directly in the store (safe while a server runs; it picks changes up within
//! seconds). Every command takes `--json` for scripts.

mod backup;
pub mod banner;
mod email;
mod environments;
mod lists;
mod migrate_store;
mod operators;
mod organizations;
mod providers;
mod resource_types;
mod serve;
#[cfg(test)]
mod tests;
mod tokens;
mod users;
mod webhooks;

use crate::domain::cookie_policy::SameSite;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

use crate::clock::SystemClock;
use crate::domain::environment::{DEVELOPMENT, Environment};
use crate::server::{ServerConfig, open_core};
use crate::service::Core;
use environments::{ApiKeyCommand, EnvCommand};
use lists::{Kind, ListCommand};
use tokens::{KeyCommand, TemplateCommand};

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
    /// The URL apps and browsers use to reach Gatehouse (issuer and links are built from it);
    /// default: http://localhost:<port of --listen / GATEHOUSE_LISTEN, else 8080>.
    #[arg(long, global = true, env = "GATEHOUSE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    /// The server key, 32 bytes as 64 hex digits, that seals stored secrets (provider client
    /// secrets, the SMTP URL, queued emails, codes); default: secret.key in --data, created on
    /// first use. Back it up with the database: without it sealed secrets are lost.
    #[arg(long, global = true, env = "GATEHOUSE_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// SMTP server for outgoing email: smtp://user:pass@host:587?tls=required or smtps://host.
    /// Overrides `gatehouse email configure`. (Shown in `serve --help` only.)
    #[arg(long, global = true, env = "GATEHOUSE_SMTP_URL", hide_env_values = true, hide = true)]
    smtp_url: Option<String>,
    /// The From address of outgoing email, e.g. "Acme <no-reply@acme.com>".
    #[arg(long, global = true, env = "GATEHOUSE_EMAIL_FROM", hide = true)]
    email_from: Option<String>,
    /// Domain of the `workos-has-session` cookie browser apps read (the app's site); default: the
    /// public URL's parent domain (auth.example.com → example.com), none on localhost and IPs.
    #[arg(long, global = true, env = "GATEHOUSE_COOKIE_DOMAIN")]
    cookie_domain: Option<String>,
    /// SameSite of the browser apps' cookies: `lax` (the app on Gatehouse's site) or `none` (an app
    /// on another site; needs an https public URL).
    #[arg(long, global = true, env = "GATEHOUSE_COOKIE_SAME_SITE", default_value = "lax", value_parser = SameSite::parse)]
    cookie_same_site: SameSite,
    /// Let webhook endpoints be on loopback, link-local and private addresses, and plain http
    /// (refused by default: a webhook URL must not reach into the server's own network).
    #[arg(long, global = true, env = "GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE")]
    webhooks_allow_private: bool,
    /// How long a webhook receiver has to answer, in milliseconds (default 10 s). A process
    /// holds an endpoint it delivers to for three times this (at least 5 s): after a crash,
    /// another process (or the restarted one) takes the endpoint over that much later.
    #[arg(long, global = true, env = "GATEHOUSE_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    webhook_timeout_ms: u64,
    /// The DNS server (IP:PORT) that organization domain verification asks for TXT records;
    /// default: the system's resolvers (/etc/resolv.conf).
    #[arg(long, global = true, env = "GATEHOUSE_DNS_SERVER")]
    dns_server: Option<SocketAddr>,
    /// The console's origin when it is not the public URL (a proxy in front of
    /// --dashboard-listen); operator links and the console's sign-in callback use it.
    #[arg(long, global = true, env = "GATEHOUSE_DASHBOARD_URL")]
    dashboard_url: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    #[command(after_help = "Email:\n  \
        --smtp-url <URL>      SMTP server for outgoing email [env: GATEHOUSE_SMTP_URL]:\n                        \
        smtp://user:pass@host:587?tls=required or smtps://host; overrides `gatehouse email configure`\n  \
        --email-from <FROM>   The From address, e.g. \"Acme <no-reply@acme.com>\" [env: GATEHOUSE_EMAIL_FROM]\n\n\
        Logs go to standard error: GATEHOUSE_LOG sets the level (default info,sqlx=warn),\n\
        GATEHOUSE_LOG_FORMAT=json writes one JSON object per line.\n\
        Health: GET /health (alive), GET /ready (database reachable, migrations applied).")]
    Serve(serve::ServeArgs),
    /// Create the store and the development environment if absent, and issue an API key
    /// (printed once; `--json` gives scripts client_id, api_key, issuer and jwks_url).
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
    /// Organizations: create, list, show, rename, delete.
    #[command(subcommand)]
    Orgs(organizations::OrgCommand),
    /// Organization memberships: add, list, set roles, deactivate, reactivate, remove.
    #[command(subcommand)]
    Members(organizations::MemberCommand),
    /// Roles and permissions of the environment and of organizations.
    #[command(subcommand)]
    Roles(organizations::RoleCommand),
    /// Resource types of the authorization resources: add, list, remove.
    #[command(subcommand)]
    ResourceTypes(resource_types::ResourceTypeCommand),
    /// Upstream sign-in providers (Google, Microsoft, GitHub, Apple, GitLab, OpenID Connect).
    #[command(subcommand)]
    Providers(Box<providers::ProviderCommand>),
    /// The console's operators: add (prints a one-time link), list, remove, set-role.
    #[command(subcommand)]
    Operators(operators::OperatorCommand),
    /// Reports about users (`users look-alikes`: addresses that look the same; `users invalid-emails`:
    /// stored addresses today's rules would refuse).
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// The event log, oldest first (as `GET /events` lists it), or its audit trail
    /// (`--audit`, `--actor`, or `--type gatehouse.…`: configuration changes and who made them).
    Events {
        /// The environment whose events to list.
        #[arg(long = "env", default_value = DEVELOPMENT)]
        env: String,
        /// Only these event types, comma-separated.
        #[arg(long = "type")]
        types: Option<String>,
        /// Continue after this event ID.
        #[arg(long)]
        after: Option<String>,
        /// Created at or after this ISO-8601 time.
        #[arg(long)]
        since: Option<String>,
        /// Created before this ISO-8601 time.
        #[arg(long)]
        until: Option<String>,
        /// Newest first.
        #[arg(long)]
        desc: bool,
        /// How many events to list.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The audit trail (configuration changes, `gatehouse.*`) instead of WorkOS's events.
        #[arg(long)]
        audit: bool,
        /// Only changes made by this actor: an API key's ID, `cli`, an operator's ID or `system`.
        #[arg(long)]
        actor: Option<String>,
        /// The operators' audit trail (`gatehouse.operator.*`: links, new operators, removals,
        /// roles, the two-factor requirement) instead of an environment's (implies --audit).
        #[arg(long, conflicts_with = "env")]
        operators: bool,
    },
    /// Signs in to the app as a user: prints a one-time link (valid 15 minutes) that, opened
    /// in the operator's browser, sends it to the app, whose next sign-in comes back as the
    /// user for at most an hour, with `impersonator` and the token's `act` claim.
    Impersonate {
        /// The user's ID or email address.
        user: String,
        /// Why (kept in the session, the audit trail and `session.created`).
        #[arg(long)]
        reason: String,
        /// The environment of the user and the app.
        #[arg(long = "env", default_value = DEVELOPMENT)]
        env: String,
        /// The operator's email address (the access token's `act.sub`).
        #[arg(long, env = "GATEHOUSE_OPERATOR", default_value = "operator@gatehouse.local")]
        operator: String,
    },
    /// Webhook endpoints, their delivery log, and replays.
    #[command(subcommand)]
    Webhooks(webhooks::WebhookCommand),
    /// Recent email deliveries and failures.
    Emails {
        /// Only this environment's emails (default: every environment's).
        #[arg(long = "env")]
        env: Option<String>,
        /// How many deliveries to list.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Email delivery settings stored in the database (environment variables take precedence).
    #[command(subcommand)]
    Email(email::EmailCommand),
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
    /// Write a consistent copy of the SQLite store to FILE; safe while the server runs.
    /// (PostgreSQL: pg_dump.) Back up the server key too: secret.key or GATEHOUSE_SECRET_KEY.
    Backup {
        /// The new file (never overwritten).
        file: PathBuf,
    },
    /// Replace the SQLite store with a backup made by `gatehouse backup`. Stop the server first.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
}

// `--env NAME`: the environment a command acts on. (A plain comment: clap would show a doc
// comment as the about line of a subcommand that is only `Variant(EnvArg)` and has none.)
#[derive(Args, Debug)]
struct EnvArg {
    /// The environment to act on.
    #[arg(long = "env", default_value = DEVELOPMENT)]
    env: String,
}

impl EnvArg {
    async fn load(&self, core: &Core) -> anyhow::Result<Environment> {
        env_named(core, &self.env).await
    }
}

/// Entry point of the binary.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Colour only for a person at a terminal: a file, journald or Docker would keep the escapes.
    // GATEHOUSE_LOG_FORMAT=json: one JSON object per line, for log collectors.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match std::env::var("GATEHOUSE_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().flatten_event(true).with_current_span(false).init(),
        Ok("text") | Err(_) => builder.with_ansi(colour).init(),
        Ok(other) => {
            builder.with_ansi(colour).init();
            tracing::warn!(format = other, "GATEHOUSE_LOG_FORMAT is `text` (default) or `json`; using text");
        }
    }
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

fn server_config(g: &Global, public_url: &str, listen: SocketAddr, jwks_max_age_secs: i64) -> ServerConfig {
    let mut config = ServerConfig::new(g.data.clone(), listen, public_url);
    config.database_url = g.database_url.clone();
    config.jwks_max_age_secs = jwks_max_age_secs;
    config.secret_key = g.secret_key.clone().map(crate::crypto::sealing::KeySource::Value);
    config.smtp_url = g.smtp_url.clone();
    config.email_from = g.email_from.clone();
    config.cookie_domain = g.cookie_domain.clone();
    config.cookie_same_site = g.cookie_same_site;
    config.events.webhooks_allow_private = g.webhooks_allow_private;
    config.events.webhook_timeout_ms = g.webhook_timeout_ms;
    config.dns_server = g.dns_server;
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

/// The port the server listens on when this command runs: `serve`'s `--listen`, else
/// `GATEHOUSE_LISTEN` (so `gatehouse env show` prints the same URLs as the server), else 8080.
fn listen_port(command: &Command) -> u16 {
    match command {
        Command::Serve(args) => args.listen.port(),
        _ => {
            std::env::var("GATEHOUSE_LISTEN").ok().and_then(|l| l.parse::<SocketAddr>().ok()).map_or(8080, |a| a.port())
        }
    }
}

/// The public URL in effect: the one given, else `http://localhost:<listen port>`.
fn public_url(given: Option<&str>, listen_port: u16) -> anyhow::Result<String> {
    match given {
        Some(url) => {
            check_public_url(url)?;
            Ok(url.trim_end_matches('/').to_owned())
        }
        None => Ok(format!("http://localhost:{listen_port}")),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let g = cli.global;
    let public_url = public_url(g.public_url.as_deref(), listen_port(&cli.command))?;
    if let Command::Serve(args) = cli.command {
        return serve::run(&g, &public_url, args).await;
    }
    if let Command::MigrateStore(args) = cli.command {
        return migrate_store::run(
            args,
            server_config(&g, &public_url, SocketAddr::from(([127, 0, 0, 1], 0)), 300).database_url(),
            g.json,
        )
        .await;
    }
    if let Command::Backup { file } | Command::Restore { file } = &cli.command {
        let url = server_config(&g, &public_url, SocketAddr::from(([127, 0, 0, 1], 0)), 300).database_url();
        return match cli.command {
            Command::Backup { .. } => backup::backup(&url, file, g.json).await,
            _ => backup::restore(&url, file, g.json).await,
        };
    }
    if let Command::VerifyToken { config, token } = &cli.command {
        let (code, text) = gatehouse_verify::cli::verify_token_main(config, token).await;
        write_stdout(&text);
        if code != 0 {
            std::process::exit(i32::from(code));
        }
        return Ok(());
    }
    let max_age = match &cli.command {
        Command::Keys(KeyCommand::Rotate { jwks_max_age_secs, .. }) => *jwks_max_age_secs,
        _ => 300,
    };
    let config = server_config(&g, &public_url, SocketAddr::from(([127, 0, 0, 1], 0)), max_age);
    let core = open_core(&config, Arc::new(SystemClock)).await?;
    let public_url = config.public_url.clone();
    let out = Output { json: g.json };
    let result = match cli.command {
        Command::Operators(c) => {
            let dashboard_url = g.dashboard_url.as_deref().unwrap_or(&public_url).trim_end_matches('/');
            operators::run(&core, dashboard_url, &out, c).await
        }
        other => command(&core, &public_url, &out, other).await,
    };
    core.close().await;
    result
}

/// Writes to standard output; when the reader has gone (`gatehouse env show | head`), stops
/// quietly instead of panicking as `println!` does on a closed pipe.
fn write_stdout(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

struct Output {
    json: bool,
}

impl Output {
    /// Prints JSON with `--json`, else the human text.
    fn print(&self, value: serde_json::Value, human: impl FnOnce() -> String) {
        if self.json {
            write_stdout(&format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default()));
        } else {
            write_stdout(&format!("{}\n", human()));
        }
    }
}

async fn env_named(core: &Core, name: &str) -> anyhow::Result<Environment> {
    core.find_environment_named(name).await?.with_context(|| {
        format!("there is no environment named '{name}'. Run `gatehouse init` (development) or `gatehouse env create {name}`")
    })
}

/// Runs one operator command on the core (not `serve`, `verify-token` or `migrate-store`).
async fn command(core: &Core, public_url: &str, out: &Output, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(_)
        | Command::VerifyToken { .. }
        | Command::MigrateStore(_)
        | Command::Backup { .. }
        | Command::Restore { .. } => {
            bail!("handled before the store is opened")
        }
        Command::Operators(_) => bail!("handled by `run`, which knows the dashboard's URL"),
        Command::Init => environments::init(core, public_url, out).await,
        Command::Env(c) => environments::run(core, public_url, out, c).await,
        Command::ApiKeys(c) => environments::run_api_keys(core, out, c).await,
        Command::RedirectUris(c) => lists::run(core, out, c, Kind::Redirect).await,
        Command::CorsOrigins(c) => lists::run(core, out, c, Kind::Cors).await,
        Command::JwtTemplate(c) => tokens::run_template(core, out, c).await,
        Command::Keys(c) => tokens::run_keys(core, out, c).await,
        Command::Providers(c) => providers::run(core, out, *c).await,
        Command::Webhooks(c) => webhooks::run(core, out, c).await,
        Command::Events { env, types, after, since, until, desc, limit, audit, actor, operators } => {
            let query = webhooks::EventsQuery { env, types, after, since, until, desc, limit, audit, actor, operators };
            webhooks::list_events(core, out, query).await
        }
        Command::Orgs(c) => organizations::run_orgs(core, out, c).await,
        Command::Members(c) => organizations::run_members(core, out, c).await,
        Command::Roles(c) => organizations::run_roles(core, out, c).await,
        Command::ResourceTypes(c) => resource_types::run(core, out, c).await,
        Command::Emails { env, limit } => email::list(core, out, env.as_deref(), limit).await,
        Command::Email(c) => email::run(core, out, c).await,
        Command::Users(c) => users::run(core, out, c).await,
        Command::Impersonate { user, reason, env, operator } => {
            let env = env_named(core, &env).await?;
            let link = core
                .impersonate(&env, &user, &operator, &reason, &crate::domain::audit::Actor::Cli)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            out.print(serde_json::to_value(&link).unwrap_or_default(), || {
                format!(
                    "Open this link in your browser (once, before {}) to sign in to the app as {}:\n{}",
                    link.expires_at, link.email, link.url
                )
            });
            Ok(())
        }
    }
}
