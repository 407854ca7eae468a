//! Use cases: one method is one unit of work, in domain terms. HTTP handlers and the CLI call
//! these; these call the store. Nothing here knows about HTTP.

pub mod auth;
pub mod codes;
pub mod counters;
pub mod delivery;
pub mod dns;
pub mod email;
pub mod email_settings;
pub mod environments;
pub mod error;
pub mod events;
pub mod impersonation;
pub mod insights;
pub mod invitations;
pub mod keys;
pub mod magic_auth;
pub mod mfa;
pub mod operators;
pub mod organization_domains;
pub mod organizations;
pub mod passkeys;
pub mod password_reset;
pub mod pending;
pub mod resources;
pub mod sessions;
pub mod sign_up;
pub mod social;
pub mod throttle;
pub mod throttle_history;
pub mod tokens;
pub mod user_admin;
pub mod users;
pub mod verification;
pub mod webhooks;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::clock::{Clock, Millis};
use crate::crypto::password::PasswordHasher;
use crate::crypto::sealing::SecretBox;
use crate::store::Store;

pub use error::{Error, Result};

/// Server-wide settings the services need (from the command line / environment variables).
#[derive(Clone, Debug)]
pub struct CoreConfig {
    /// The public base URL without a trailing slash, e.g. `http://localhost:8080`.
    pub public_url: String,
    /// `Cache-Control: max-age` of the JWKS; a new signing key is published this long before use.
    pub jwks_max_age_secs: i64,
    /// The key that seals secrets Gatehouse must read back (providers' client secrets, the SMTP
    /// URL, queued emails, one-time codes).
    pub secret_key: crate::crypto::sealing::KeySource,
    /// How many days ended and expired sessions stay listed before the purge deletes them.
    pub ended_sessions_kept_days: i64,
    /// Event retention and webhook delivery.
    pub events: events::EventsConfig,
    /// SMTP URL and From address from the command line or environment; the stored
    /// configuration (`gatehouse email configure`) is used when these are absent.
    pub smtp_url: Option<String>,
    pub email_from: Option<String>,
    /// The attributes of the cookies of cookie-mode refresh (browser apps outside devMode).
    pub cookies: crate::domain::cookie_policy::CookiePolicy,
    /// The DNS server organization domain verification asks (`None`: the system's resolvers).
    pub dns_server: Option<std::net::SocketAddr>,
}

impl CoreConfig {
    pub fn issuer(&self, client_id: &str) -> String {
        format!("{}/user_management/{client_id}", self.public_url)
    }

    pub fn jwks_url(&self, client_id: &str) -> String {
        format!("{}/sso/jwks/{client_id}", self.public_url)
    }

    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Whether the public URL names this machine (`localhost`, a loopback address): a
    /// development server, not one others reach.
    pub fn is_local(&self) -> bool {
        url::Url::parse(&self.public_url).ok().is_some_and(|u| match u.host() {
            Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        })
    }
}

/// Everything the use cases share. Cheap to clone.
///
/// The fields are private to `service`: the layers above call its methods, and only the
/// services reach the store.
#[derive(Clone)]
pub struct Core {
    store: Store,
    clock: Arc<dyn Clock>,
    passwords: PasswordHasher,
    config: Arc<CoreConfig>,
    keys: keys::KeyRing,
    environments: environments::EnvironmentCache,
    social: social::Social,
    /// Derives the successor of a refresh token (see `auth::refresh`).
    refresh_key: Arc<[u8]>,
    sealer: Arc<SecretBox>,
    /// How email is sent; swapped when an operator saves SMTP settings in the console.
    email: Arc<std::sync::RwLock<Arc<email::EmailConfig>>>,
    email_templates: Arc<email::EmailTemplates>,
    /// Wakes the delivery worker when a message is queued.
    outbox_ready: Arc<Notify>,
    /// Two-factor keys: the TOTP secret encryption key and the WebAuthn relying party.
    mfa: Arc<mfa::MfaKeys>,
    /// Sign-ins and refreshes by outcome, for `/metrics` (relaxed atomics).
    counters: Arc<counters::Counters>,
    /// The webhook worker's HTTP client and lease name.
    webhooks: Arc<webhooks::Webhooks>,
    /// Throttled attempts not yet written to the daily history.
    throttled: Arc<throttle_history::ThrottledTally>,
}

/// A server secret (the refresh-rotation key) kept sealed with the server key, so a copy of the
/// database alone cannot derive refresh tokens. A store from before sealing holds it in clear;
/// the first process to open it seals it in place, keeping its value (issued tokens stay good).
async fn sealed_server_secret(store: &Store, sealer: &SecretBox, name: &str) -> anyhow::Result<String> {
    let purpose = format!("server-secret:{name}");
    // Usually it exists: then no fresh secret is made (drawing random bytes is the first use of
    // aws-lc's generator, whose entropy set-up would otherwise cost every start ~20 ms).
    let stored = match store.find_server_secret(name).await? {
        Some(stored) => stored,
        None => {
            let fresh = sealer.seal(&purpose, &crate::crypto::secrets::random_token(32))?;
            store.server_secret(name, &fresh).await?
        }
    };
    // Sealed values start `v1.`; a clear one is base64url, which has no dot.
    if stored.starts_with("v1.") {
        return sealer.open(&purpose, &stored).map_err(|e| anyhow::anyhow!("cannot open the stored {name}: {e}"));
    }
    store.replace_server_secret(name, &stored, &sealer.seal(&purpose, &stored)?).await?;
    tracing::info!(secret = name, "sealed a server secret that was stored in clear");
    Ok(stored)
}

/// Seals, in place, signing keys that a store from before sealing holds in clear (one
/// conditional update each, so processes starting together convert each key once).
async fn seal_clear_signing_keys(store: &Store, sealer: &SecretBox) -> anyhow::Result<()> {
    let mut sealed = 0;
    for (kid, private_key) in store.all_signing_keys().await? {
        if private_key.starts_with("v1.") {
            continue;
        }
        let new = sealer.seal(&keys::signing_key_purpose(&kid), &private_key)?;
        store.replace_signing_key(&kid, &private_key, &new).await?;
        sealed += 1;
    }
    if sealed > 0 {
        tracing::info!(keys = sealed, "sealed signing keys that were stored in clear");
    }
    Ok(())
}

impl Core {
    pub async fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        passwords: PasswordHasher,
        config: CoreConfig,
    ) -> anyhow::Result<Core> {
        let sealer = SecretBox::new(config.secret_key.clone());
        let refresh_key = sealed_server_secret(&store, &sealer, "refresh_rotation_key").await?;
        seal_clear_signing_keys(&store, &sealer).await?;
        let email = email::EmailConfig {
            smtp_url: match &config.smtp_url {
                Some(url) => Some(url.clone()),
                None => match store.setting("smtp_url").await? {
                    Some(sealed) => Some(sealer.open("smtp-url", &sealed).map_err(|e| {
                        anyhow::anyhow!(
                            "the stored SMTP URL cannot be opened: {e}; run `gatehouse email configure` again"
                        )
                    })?),
                    None => None,
                },
            },
            smtp_overridden: config.smtp_url.is_some(),
            from_overridden: config.email_from.is_some(),
            from: match &config.email_from {
                Some(from) => from.clone(),
                None => store.setting("email_from").await?.unwrap_or_else(|| default_from(&config.public_url)),
            },
        };
        let social = social::Social::new(config.secret_key.clone())?;
        let mfa = mfa::MfaKeys::new(&config.public_url);
        let webhooks = webhooks::Webhooks::new(&config.events)?;
        Ok(Core {
            social,
            store,
            clock,
            passwords,
            config: Arc::new(config),
            keys: keys::KeyRing::default(),
            environments: environments::EnvironmentCache::default(),
            refresh_key: Arc::from(refresh_key.into_bytes()),
            sealer: Arc::new(sealer),
            email: Arc::new(std::sync::RwLock::new(Arc::new(email))),
            email_templates: Arc::new(email::EmailTemplates::default()),
            outbox_ready: Arc::new(Notify::new()),
            mfa: Arc::new(mfa),
            counters: Arc::new(counters::Counters::default()),
            webhooks: Arc::new(webhooks),
            throttled: Arc::default(),
        })
    }

    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// The server-wide settings.
    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// Sign-ins and refreshes counted so far (`/metrics` reads them).
    pub fn counters(&self) -> &counters::Counters {
        &self.counters
    }

    /// Deletes what has expired (codes, requests, challenges, ceremonies, throttle rows,
    /// operator links, sessions ended or expired longer ago than `ended_sessions_kept_days`,
    /// events older than `events.kept_days`), in small batches; the server runs it every ten
    /// minutes. Failures are logged: the next run tries again.
    pub async fn purge_expired(&self) -> crate::store::PurgeReport {
        let kept = self.config.ended_sessions_kept_days.max(0) * 24 * 3600 * 1000;
        let events_kept = self.config.events.kept_days.max(1) * 24 * 3600 * 1000;
        match self.store.purge_expired(self.now(), kept, events_kept).await {
            Ok(mut report) => {
                match self.purge_throttled_history().await {
                    Ok(n) => report.removed += n,
                    Err(e) => tracing::warn!(error = %e, "could not purge the throttled history"),
                }
                match self.purge_expired_operator_links().await {
                    Ok(n) => report.removed += n,
                    Err(e) => tracing::warn!(error = %e, "could not purge expired operator links"),
                }
                tracing::debug!(
                    removed = report.removed,
                    batches = report.batches,
                    longest_batch_ms = report.longest_batch.as_secs_f64() * 1000.0,
                    "purged expired records"
                );
                report
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not purge expired records");
                crate::store::PurgeReport::default()
            }
        }
    }

    /// Gauges for `/metrics`, read at scrape time: (name, labels, help, value). Off the
    /// request path.
    pub async fn gauges(&self) -> Vec<(&'static str, String, &'static str, f64)> {
        let now = self.now();
        let mut out = Vec::new();
        match self.store.gauges().await {
            Ok(g) => {
                out.push((
                    "gatehouse_db_pool_connections",
                    String::new(),
                    "Open database connections (writer pool).",
                    f64::from(g.pool_size),
                ));
                out.push((
                    "gatehouse_db_pool_idle",
                    String::new(),
                    "Idle database connections (writer pool).",
                    f64::from(g.pool_idle),
                ));
                out.push((
                    "gatehouse_outbox_pending",
                    String::new(),
                    "Emails waiting to be sent.",
                    g.outbox_pending as f64,
                ));
                let age = g.outbox_oldest_created_at.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
                out.push((
                    "gatehouse_outbox_oldest_age_seconds",
                    String::new(),
                    "Age of the oldest email waiting to be sent.",
                    age,
                ));
            }
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read the store's gauges"),
        }
        // The age of the newest published signing key per environment: how long since the
        // last rotation (`gatehouse keys rotate`).
        if let Ok(environments) = self.list_environments().await {
            for env in environments {
                if let Ok(Some(loaded)) = self.load_environment(&env.client_id).await
                    && let Some(newest) = loaded.signing_keys.iter().map(|k| k.published_at).max()
                {
                    let labels = format!("environment=\"{}\"", env.name.replace(['\\', '"', '\n'], "_"));
                    let age = (now - newest).max(0) as f64 / 1000.0;
                    out.push((
                        "gatehouse_signing_key_age_seconds",
                        labels,
                        "Age of the newest published signing key.",
                        age,
                    ));
                }
            }
        }
        out
    }

    /// Whether this server can serve: the database answers (within two seconds) and has every
    /// migration this binary knows. `Err` says why, for `/ready` (details go to the log).
    pub async fn readiness(&self) -> std::result::Result<(), &'static str> {
        match tokio::time::timeout(std::time::Duration::from_secs(2), self.store.missing_migrations()).await {
            Ok(Ok(0)) => Ok(()),
            Ok(Ok(missing)) => {
                tracing::warn!(missing, "not ready: database migrations are missing");
                Err("database migrations are not applied")
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "not ready: the database does not answer");
                Err("the database does not answer")
            }
            Err(_) => {
                tracing::warn!("not ready: the database did not answer within 2 s");
                Err("the database does not answer")
            }
        }
    }

    /// SQLite: copies the write-ahead log into the database (see `Store::checkpoint`); the
    /// log's state after it, which changes between calls while writes come in.
    pub async fn checkpoint(&self) -> Result<crate::store::WalState> {
        Ok(self.store.checkpoint().await?)
    }

    /// Closes the database connections (the command line, before it exits).
    pub async fn close(&self) {
        self.store.close().await;
    }
}

/// `no-reply@<host of the public URL>`, or `@localhost`.
fn default_from(public_url: &str) -> String {
    let host = url::Url::parse(public_url).ok().and_then(|u| u.host_str().map(str::to_owned));
    let host = host
        .filter(|h| h.contains('.') && h.parse::<std::net::IpAddr>().is_err())
        .unwrap_or_else(|| "localhost".into());
    format!("Gatehouse <no-reply@{host}>")
}
