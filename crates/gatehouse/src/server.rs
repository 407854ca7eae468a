//! Starting Gatehouse: open the store, make sure an environment exists, bind, serve (through
//! `connections`, the accept loop with its limits).

mod connections;

pub use connections::ConnectionLimits;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::clock::{Clock, SystemClock};
use crate::crypto::password::{ArgonParams, OWASP_PARAMS, PasswordHasher};
use crate::crypto::sealing::KeySource;
use crate::domain::cookie_policy::{CookiePolicy, SameSite};
use crate::domain::environment::Environment;
use crate::service::environments::IssuedEnvironment;
use crate::service::operators::OperatorRole;
use crate::service::{Core, CoreConfig};
use crate::store::Store;
use crate::web::{AppState, Dashboard, WebConfig};

/// Days ended and expired sessions stay listed by default.
pub const DEFAULT_ENDED_SESSIONS_KEPT_DAYS: i64 = 30;

/// Where the data lives and how the server is reached.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// Overrides the SQLite file in `data_dir`: `postgres://…` or `sqlite://…`.
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    pub public_url: String,
    /// The public URL was not given: it is `http://localhost:<port>` of the address actually
    /// bound (so `--listen 127.0.0.1:0` names the port the system picked).
    pub public_url_follows_listen: bool,
    pub jwks_max_age_secs: i64,
    pub argon: ArgonParams,
    /// `GATEHOUSE_SECRET_KEY` as `KeySource::Value`; without it, `secret.key` in the data folder.
    pub secret_key: Option<KeySource>,
    pub smtp_url: Option<String>,
    pub email_from: Option<String>,
    /// How many issued refresh tokens keep their context in memory (0: off).
    pub refresh_cache_entries: usize,
    /// The bearer token of `GET /metrics` on the main address (`None`: not served there).
    pub metrics_token: Option<String>,
    /// A separate, private address serving `GET /metrics` without a token.
    pub metrics_listen: Option<SocketAddr>,
    /// How many days ended and expired sessions stay listed before the purge deletes them.
    pub ended_sessions_kept_days: i64,
    /// Event retention and webhook delivery (issue 10).
    pub events: crate::service::events::EventsConfig,
    /// `Domain` of the `workos-has-session` cookie; default: the public URL's parent domain.
    pub cookie_domain: Option<String>,
    /// `SameSite` of the cookie-mode cookies (`None` only for a cross-site app, over https).
    pub cookie_same_site: SameSite,
    /// Client addresses (trusted proxies) and development-only pages.
    pub web: WebConfig,
    /// Connection caps and timeouts.
    pub limits: ConnectionLimits,
    /// The DNS server domain verification asks (`None`: the system's resolvers).
    pub dns_server: Option<SocketAddr>,
    /// `--dashboard-listen`: the console on its own address (and not on the public one).
    pub dashboard_listen: Option<SocketAddr>,
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf, listen: SocketAddr, public_url: &str) -> ServerConfig {
        ServerConfig {
            data_dir,
            database_url: None,
            listen,
            public_url: public_url.trim_end_matches('/').to_owned(),
            public_url_follows_listen: false,
            jwks_max_age_secs: 300,
            argon: OWASP_PARAMS,
            secret_key: None,
            smtp_url: None,
            email_from: None,
            refresh_cache_entries: crate::store::DEFAULT_REFRESH_CACHE_ENTRIES,
            metrics_token: None,
            metrics_listen: None,
            ended_sessions_kept_days: DEFAULT_ENDED_SESSIONS_KEPT_DAYS,
            events: crate::service::events::EventsConfig::default(),
            cookie_domain: None,
            cookie_same_site: SameSite::Lax,
            web: WebConfig::default(),
            limits: ConnectionLimits::default(),
            dns_server: None,
            dashboard_listen: None,
        }
    }

    /// Where the server key comes from: the configured value, else a file in the data folder.
    pub fn secret_key_source(&self) -> KeySource {
        self.secret_key.clone().unwrap_or_else(|| KeySource::File(self.data_dir.join("secret.key")))
    }

    /// The cookie-mode cookies' attributes, or why the settings cannot work.
    pub fn cookie_policy(&self) -> anyhow::Result<CookiePolicy> {
        CookiePolicy::new(&self.public_url, self.cookie_domain.as_deref(), self.cookie_same_site)
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("gatehouse.db").display()))
    }
}

/// Opens the store (creating the data folder and schema) and builds the use-case layer.
pub async fn open_core(config: &ServerConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Core> {
    let cookies = config.cookie_policy()?;
    // Everything this process creates (the data folder, the SQLite files and their journals,
    // secret.key, backups) is for its own user only: folders 0700, files 0600.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data folder {}", config.data_dir.display()))?;
    }
    #[cfg(unix)]
    warn_if_readable_by_others(&config.data_dir);
    let url = config.database_url();
    let store = Store::connect(&url, 16, config.refresh_cache_entries)
        .await
        .with_context(|| format!("cannot open the database {}", crate::store::redact_url(&url)))?;
    store.migrate().await.context("cannot apply database migrations")?;
    if store.backend() == crate::store::Backend::Postgres && config.secret_key.is_none() {
        tracing::warn!(
            "GATEHOUSE_SECRET_KEY is not set: provider secrets are sealed with secret.key in the data folder; \
             every server and CLI sharing this PostgreSQL database needs the same key, so set GATEHOUSE_SECRET_KEY"
        );
    }
    let core = Core::new(
        store,
        clock,
        PasswordHasher::new(config.argon),
        CoreConfig {
            public_url: config.public_url.clone(),
            jwks_max_age_secs: config.jwks_max_age_secs,
            ended_sessions_kept_days: config.ended_sessions_kept_days,
            events: config.events.clone(),
            secret_key: config.secret_key_source(),
            smtp_url: config.smtp_url.clone(),
            email_from: config.email_from.clone(),
            cookies,
            dns_server: config.dns_server,
        },
    )
    .await?;
    Ok(core)
}

/// Warns about a data folder, or files in it, that other users can read or enter (a store
/// created before Gatehouse made them private, or copied with other modes).
#[cfg(unix)]
fn warn_if_readable_by_others(data_dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let open_to_others = |path: &std::path::Path| {
        std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o077).filter(|bits| *bits != 0)
    };
    let mut paths = vec![data_dir.to_owned()];
    if let Ok(entries) = std::fs::read_dir(data_dir) {
        paths.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()));
    }
    for path in paths {
        if let Some(bits) = open_to_others(&path) {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{bits:03o}"),
                "other users can access this part of the data folder; run `chmod -R go-rwx` on the folder"
            );
        }
    }
}

/// A bound, not yet serving, server: tests use `local_addr` and then `serve`.
pub struct Server {
    listener: TcpListener,
    /// `--metrics-listen`: `/metrics` without a token, on its own accept loop.
    metrics_listener: Option<TcpListener>,
    /// `--dashboard-listen`: the console, on its own accept loop.
    dashboard_listener: Option<TcpListener>,
    state: AppState,
    limits: ConnectionLimits,
}

impl Server {
    /// A server on a listener bound by the caller (tests bind port 0 first to learn the URL).
    pub fn with_listener(listener: TcpListener, core: Core, config: &ServerConfig) -> Server {
        Server {
            listener,
            metrics_listener: None,
            dashboard_listener: None,
            state: AppState::with_metrics_token(core, config.web.clone(), config.metrics_token.clone()),
            limits: config.limits.clone(),
        }
    }

    /// Also serves `/metrics`, without a token, on `addr` (`--metrics-listen`); returns the
    /// address bound.
    pub async fn bind_metrics(&mut self, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for metrics (is another server using it?)"))?;
        let bound = listener.local_addr()?;
        self.metrics_listener = Some(listener);
        Ok(bound)
    }

    /// Serves the console on `listener` (`--dashboard-listen`), bound by the caller: its origin
    /// must be the configuration's `web.dashboard_url` (the sign-in callback's).
    pub fn with_dashboard_listener(mut self, listener: TcpListener) -> Server {
        self.dashboard_listener = Some(listener);
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let core = self.state.core.clone();
        let janitor = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(600));
            loop {
                tick.tick().await;
                core.purge_expired().await;
            }
        });
        let mailer = tokio::spawn(crate::service::delivery::run(Core::clone(&self.state.core)));
        let webhooks = tokio::spawn(crate::service::webhooks::run(Core::clone(&self.state.core)));
        let core = self.state.core.clone();
        let throttled = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Err(e) = core.flush_throttled().await {
                    tracing::warn!(error = %e, "could not write the throttled attempts' tally");
                }
            }
        });
        let core = self.state.core.clone();
        // Often while writes come in (each checkpoint then syncs less), rarely when idle.
        let checkpoints = tokio::spawn(async move {
            let mut last = None;
            loop {
                let busy = match core.checkpoint().await {
                    Ok(state) => last.replace(state).is_some_and(|before| before != state),
                    Err(e) => {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                        false
                    }
                };
                tokio::time::sleep(if busy { Duration::from_millis(100) } else { Duration::from_secs(1) }).await;
            }
        });
        let metrics = self.metrics_listener.map(|listener| {
            let app = crate::web::metrics_app(self.state.clone());
            let limits = ConnectionLimits::default();
            let serving = connections::serve(listener, app, limits, Default::default(), std::future::pending());
            tokio::spawn(serving)
        });
        let trusted = self.state.web.client_addresses.trusted_proxies.clone();
        let dashboard = self.dashboard_listener.map(|listener| {
            let app = crate::web::dashboard_app(self.state.clone());
            let serving =
                connections::serve(listener, app, self.limits.clone(), trusted.clone(), std::future::pending());
            tokio::spawn(serving)
        });
        let core = self.state.core.clone();
        let app = crate::web::app(self.state);
        connections::serve(self.listener, app, self.limits, trusted, shutdown).await;
        throttled.abort();
        if let Err(e) = core.flush_throttled().await {
            tracing::warn!(error = %e, "could not write the throttled attempts' tally");
        }
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        if let Some(dashboard) = dashboard {
            dashboard.abort();
        }
        janitor.abort();
        mailer.abort();
        webhooks.abort();
        checkpoints.abort();
        Ok(())
    }
}

/// What `serve` reports once it listens (the command line prints it for people).
pub struct Startup {
    pub environments: Vec<Environment>,
    /// The environment created on a first start, with its new API key (shown once).
    pub issued: Option<IssuedEnvironment>,
    /// While there is no operator: a one-time link that creates the first (an admin).
    pub first_operator_link: Option<String>,
}

/// `gatehouse serve`: bind, open, make sure `development` exists, hand `announce` the
/// configuration in effect (the bound address, the public URL) and what to print, serve.
pub async fn run(mut config: ServerConfig, announce: impl FnOnce(&ServerConfig, &Startup)) -> anyhow::Result<()> {
    // How long start-up took is logged, not a rule's "now": the monotonic clock is right here.
    let started = Instant::now();
    // Bind first, so a public URL that follows the listen address names the port actually bound.
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (is another server using it?)", config.listen))?;
    config.listen = listener.local_addr()?;
    if config.public_url_follows_listen {
        config.public_url = format!("http://localhost:{}", config.listen.port());
    }
    let core = open_core(&config, Arc::new(SystemClock)).await?;
    let first_start = core.list_environments().await?.is_empty();
    let issued = if first_start {
        Some(
            core.ensure_environment(crate::domain::environment::DEVELOPMENT, &crate::domain::audit::Actor::System)
                .await?,
        )
    } else {
        None
    };
    // The console's own address is bound before the server is made: its origin is the sign-in
    // callback's.
    let dashboard_listener = match config.dashboard_listen.filter(|_| config.web.dashboard != Dashboard::Off) {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for the dashboard (is another server using it?)"))?;
            let bound = listener.local_addr()?;
            config.web.dashboard = Dashboard::Separate;
            if config.web.dashboard_url.is_none() {
                config.web.dashboard_url = Some(format!("http://{bound}"));
            }
            Some(listener)
        }
        None => None,
    };
    let first_operator_link = match config.web.dashboard {
        Dashboard::Off => None,
        _ => {
            let origin = config.web.dashboard_url.clone().unwrap_or_else(|| config.public_url.clone());
            core.prepare_operator_realm(&format!("{origin}/dashboard/callback")).await?;
            if core.list_operators().await?.is_empty() {
                let token =
                    core.invite_operator(None, OperatorRole::Admin, &crate::domain::audit::Actor::System).await?;
                Some(format!("{origin}/dashboard/setup?token={token}"))
            } else {
                None
            }
        }
    };
    let mut server = Server::with_listener(listener, core.clone(), &config);
    if let Some(listener) = dashboard_listener {
        server = server.with_dashboard_listener(listener);
    }
    if let Some(addr) = config.metrics_listen {
        let bound = server.bind_metrics(addr).await?;
        tracing::info!(metrics_listen = %bound, "serving /metrics without a token on this address: keep it private");
    }
    let startup = Startup { environments: core.list_environments().await?, issued, first_operator_link };
    announce(&config, &startup);
    for warning in core.cookie_warnings().await? {
        tracing::warn!("browser apps: {warning}");
    }
    core.backfill_email_skeletons().await?;
    core.prepare_search_keys().await?;
    if !core.has_smtp() {
        if startup.environments.iter().any(|e| !e.is_development()) {
            tracing::warn!(
                "no SMTP server is configured: production email features (codes, verification, password reset) are \
                 off until GATEHOUSE_SMTP_URL and GATEHOUSE_EMAIL_FROM are set"
            );
        }
        if config.web.dev_emails {
            tracing::info!(
                "development emails go to the log and to {}/dev/emails (no SMTP configured)",
                config.public_url
            );
        } else {
            tracing::info!(
                "development emails go to the log (no SMTP configured; --dev-emails also lists them at /dev/emails)"
            );
        }
    }
    if !config.web.client_addresses.trusted_proxies.is_empty() {
        tracing::info!(
            proxies = %config.web.client_addresses.trusted_proxies.describe(),
            "client addresses are taken from forwarding headers of these proxies only"
        );
    }
    tracing::info!(
        listen = %server.local_addr()?,
        ready_ms = started.elapsed().as_millis() as u64,
        "Gatehouse is ready"
    );
    // aws-lc seeds its random generator on first use from CPU-jitter entropy, which takes a
    // while; a start that finds its store complete draws no random bytes, so seed it now on a
    // spare thread rather than inside the first sign-in or refresh.
    tokio::task::spawn_blocking(|| crate::crypto::secrets::fill_random(&mut [0u8; 16]));
    tokio::spawn(warn_of_look_alikes(core.clone()));
    server.serve(shutdown_signal()).await
}

/// Warns of users whose addresses look alike, or are invalid (stored before Gatehouse refused
/// them). Runs after the ready line: it reads every user, which a large store should not wait for.
async fn warn_of_look_alikes(core: Core) {
    match core.count_email_look_alikes().await {
        Ok(0) => {}
        Ok(groups) => tracing::warn!(
            groups,
            "{groups} group(s) of users have email addresses that look alike (stored before Gatehouse refused them); \
             `gatehouse users look-alikes` lists them"
        ),
        Err(e) => tracing::warn!(error = %e, "could not look for users whose addresses look alike"),
    }
    match core.invalid_emails().await {
        Ok(found) if found.is_empty() => {}
        Ok(found) => tracing::warn!(
            users = found.len(),
            "{} user(s) have email addresses Gatehouse would refuse today (invisible characters, not NFC or mixed \
             scripts; stored before the check); `gatehouse users invalid-emails` lists them",
            found.len()
        ),
        Err(e) => tracing::warn!(error = %e, "could not look for users with invalid email addresses"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
