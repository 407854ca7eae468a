//! `gatehouse serve`: its arguments, the server configuration they make, and what is printed
//! once the server listens (the banner, and a warning for a public URL on another port).

use std::net::SocketAddr;

use clap::Args;

use super::{Global, banner, server_config};
use crate::domain::client_address::TrustedProxies;
use crate::web::client::ForwardedHeader;

// The arguments of `serve` (its help text is the `Serve` variant's).
#[derive(Args, Debug)]
pub(super) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GATEHOUSE_LISTEN", default_value = "127.0.0.1:8080")]
    pub(super) listen: SocketAddr,
    /// Cache lifetime of the JWKS; new signing keys are published this long before use.
    #[arg(long, env = "GATEHOUSE_JWKS_MAX_AGE_SECS", default_value_t = 300)]
    jwks_max_age_secs: i64,
    /// Refresh tokens whose session and user stay in memory after they are issued, so their
    /// rotation skips a database read (about 1.5 KB each; 0 turns this off).
    #[arg(long, env = "GATEHOUSE_REFRESH_CACHE_ENTRIES", default_value_t = crate::store::DEFAULT_REFRESH_CACHE_ENTRIES)]
    refresh_cache_entries: usize,
    /// Serve Prometheus metrics at /metrics to callers sending `Authorization: Bearer <token>`
    /// (without it there is no /metrics).
    #[arg(long, env = "GATEHOUSE_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Also serve /metrics, without a token, on this address (e.g. 127.0.0.1:9464). Anyone
    /// who reaches it reads the metrics: bind it to loopback or a private network only.
    #[arg(long, env = "GATEHOUSE_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Days that ended and expired sessions stay listed (the user's sessions API) before
    /// the housekeeping (every ten minutes) deletes them with expired codes and sign-in state.
    #[arg(long, env = "GATEHOUSE_ENDED_SESSIONS_DAYS", default_value_t = crate::server::DEFAULT_ENDED_SESSIONS_KEPT_DAYS)]
    ended_sessions_days: i64,
    /// Days events stay listed (`GET /events`) and replayable before the housekeeping
    /// deletes them (at least 1; webhooks retry for three days).
    #[arg(long, env = "GATEHOUSE_EVENTS_DAYS", default_value_t = crate::service::events::DEFAULT_EVENTS_KEPT_DAYS)]
    events_days: i64,
    /// Reverse proxies whose forwarding header names the client (CIDR blocks or addresses,
    /// comma-separated, e.g. 127.0.0.1,10.0.0.0/8). From anyone else the header is ignored.
    #[arg(long, env = "GATEHOUSE_TRUSTED_PROXIES", default_value = "")]
    trusted_proxies: String,
    /// The header trusted proxies set: x-forwarded-for or forwarded (RFC 7239).
    #[arg(long, env = "GATEHOUSE_FORWARDED_HEADER", default_value = "x-forwarded-for")]
    forwarded_header: ForwardedHeader,
    /// Show development mail at /dev/emails (no SMTP, local public URL, direct loopback
    /// clients only, never through a proxy).
    #[arg(long, env = "GATEHOUSE_DEV_EMAILS")]
    dev_emails: bool,
    /// The console: `on` (at /dashboard on the public address, the default) or `off`.
    #[arg(long, env = "GATEHOUSE_DASHBOARD", default_value = "on", value_parser = ["on", "off"])]
    dashboard: String,
    /// Serve the console on this address instead of the public one (e.g. 127.0.0.1:9000).
    #[arg(long, env = "GATEHOUSE_DASHBOARD_LISTEN")]
    dashboard_listen: Option<SocketAddr>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Connection caps and timeouts of `serve` (defaults in `server::ConnectionLimits`).
#[derive(Args, Debug)]
struct LimitArgs {
    /// Open connections at once.
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS", default_value_t = 1000)]
    max_connections: usize,
    /// Open connections from one client address (trusted proxies are exempt).
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 100)]
    max_connections_per_address: usize,
    /// Seconds for a request's headers to arrive, and for an idle keep-alive connection to
    /// send its next request.
    #[arg(long, env = "GATEHOUSE_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    header_timeout_secs: u64,
    /// Seconds for a whole request, its body included, to be read and answered.
    #[arg(long, env = "GATEHOUSE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// Seconds a shutdown waits for requests in flight.
    #[arg(long, env = "GATEHOUSE_SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    shutdown_timeout_secs: u64,
}

impl LimitArgs {
    fn limits(&self) -> crate::server::ConnectionLimits {
        use std::time::Duration;
        crate::server::ConnectionLimits {
            max_connections: self.max_connections.max(1),
            max_connections_per_address: self.max_connections_per_address.max(1),
            header_read_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
        }
    }
}

/// Runs the server until it is stopped.
pub(super) async fn run(g: &Global, public_url: &str, args: ServeArgs) -> anyhow::Result<()> {
    let mut config = server_config(g, public_url, args.listen, args.jwks_max_age_secs);
    config.refresh_cache_entries = args.refresh_cache_entries;
    config.metrics_token = args.metrics_token;
    config.metrics_listen = args.metrics_listen;
    config.ended_sessions_kept_days = args.ended_sessions_days;
    config.events.kept_days = args.events_days.max(1);
    config.public_url_follows_listen = g.public_url.is_none();
    config.web.client_addresses.trusted_proxies =
        TrustedProxies::parse(&args.trusted_proxies).map_err(|e| anyhow::anyhow!("--trusted-proxies: {e}"))?;
    config.web.client_addresses.header = args.forwarded_header;
    config.web.dev_emails = args.dev_emails;
    config.web.dashboard =
        if args.dashboard == "off" { crate::web::Dashboard::Off } else { crate::web::Dashboard::Public };
    config.web.dashboard_url = g.dashboard_url.clone().map(|u| u.trim_end_matches('/').to_owned());
    config.dashboard_listen = args.dashboard_listen;
    config.limits = args.limits.limits();
    crate::server::run(config, move |config, startup| {
        if let Some(warning) = port_mismatch(&config.public_url, config.listen) {
            tracing::warn!("{warning}");
        }
        banner::print_startup(config, &startup.environments, startup.issued.as_ref());
        banner::print_first_operator(startup.first_operator_link.as_deref());
    })
    .await
}

/// Why a public URL on this machine that names another port than the server listens on is
/// probably a mistake (issuer, JWKS URL and links would point elsewhere); `None` when it fits
/// or names another host (a proxy in front is the normal case there).
fn port_mismatch(public_url: &str, listen: SocketAddr) -> Option<String> {
    let url = url::Url::parse(public_url).ok()?;
    let local = match url.host()? {
        url::Host::Domain(d) => d == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    let port = url.port_or_known_default()?;
    (local && port != listen.port()).then(|| {
        format!(
            "the public URL {public_url} names port {port} but the server listens on {listen}: issuer, JWKS URL and \
             links point at port {port}. Drop --public-url (it then follows --listen) or fix one of them \
             (ignore this if something on port {port} forwards to {listen})"
        )
    })
}
