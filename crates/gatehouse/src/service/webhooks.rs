//! Webhooks: endpoints (`/webhook_endpoints`, `gatehouse webhooks`), and the worker that
//! delivers the event log to them.
//!
//! Each endpoint walks the event log with its own cursor, so deliveries go out in log order per
//! endpoint, survive restarts (the log and the cursor are in the database) and cost the
//! sign-in path nothing. A process works an endpoint under a lease (`store::webhooks`); a
//! crash mid-delivery leaves the cursor where it was, so the event goes again: at least once.
//! An event that fails holds up the endpoint (order) and is retried with backoff; after three
//! days of failures the endpoint is disabled, with a `webhook_endpoint.disabled` event.
//!
//! Requests have a timeout, follow no redirects and may only reach public addresses unless the
//! server allows private ones (`--webhooks-allow-private`): the URL is checked when it is set,
//! and every connection's addresses again through the resolver (DNS may change).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::error::{Duplicate, FieldError, Rejection};
use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::crypto::secrets::{random_token, webhook_signature};
use crate::domain::audit::{Actor, audit_event, diff, target};
use crate::domain::environment::Environment;
use crate::domain::event::{Event, NewEvent, is_known_type};
use crate::domain::webhook::{DISABLE_AFTER_MS, Delivery, WebhookEndpoint, backoff_ms, check_url_shape, delivery_body};
use crate::ids::new_id;
use crate::store::{StoreError, StoredEndpoint};

/// How long a process holds an endpoint it is delivering to: three receiver timeouts, at
/// least this. A process gives an endpoint back after half its lease (so one more send, at
/// most a timeout, still ends inside it); a process that dies holds it until the lease ends.
const MIN_LEASE_MS: Millis = 5_000;
/// Endpoints claimed per pass, and events sent to one endpoint per claim.
const ENDPOINTS_PER_PASS: i64 = 16;
const EVENTS_PER_CLAIM: i64 = 100;
/// The part of a receiver's answer kept in the delivery log.
const MAX_ERROR_LEN: usize = 300;

/// The worker's HTTP client and identity.
pub(super) struct Webhooks {
    http: reqwest::Client,
    /// This process's name on the leases it takes.
    owner: String,
    allow_private: bool,
    poll: Duration,
    lease_ms: Millis,
}

impl Webhooks {
    pub(super) fn new(config: &super::events::EventsConfig) -> anyhow::Result<Webhooks> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(config.webhook_timeout_ms.max(100)))
            .connect_timeout(Duration::from_millis(config.webhook_timeout_ms.clamp(100, 5_000)))
            .user_agent("Gatehouse-Webhooks")
            .dns_resolver(Arc::new(GuardedResolver { allow_private: config.webhooks_allow_private }))
            .build()?;
        Ok(Webhooks {
            http,
            owner: new_id("worker"),
            allow_private: config.webhooks_allow_private,
            poll: Duration::from_millis(config.webhook_poll_ms.max(50)),
            lease_ms: i64::try_from(config.webhook_timeout_ms.max(100))
                .unwrap_or(60_000)
                .saturating_mul(3)
                .max(MIN_LEASE_MS),
        })
    }
}

/// Whether an address is one a webhook must not reach: loopback, private, link-local,
/// carrier-grade NAT, unspecified, broadcast, multicast, documentation, and the IPv6 forms.
pub fn is_refused_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_refused_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
        }
    }
}

/// Resolves host names for deliveries, dropping refused addresses (all of them refused: the
/// connection fails).
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                found.into_iter().filter(|a| allow_private || !is_refused_ip(a.ip())).collect();
            if allowed.is_empty() {
                return Err("the host resolves only to refused (private) addresses".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// A change to an endpoint; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct EndpointPatch {
    pub endpoint_url: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// `webhook_endpoint.disabled`'s payload: the endpoint without its secret.
#[derive(Serialize)]
struct DisabledData<'a> {
    object: &'static str,
    id: &'a str,
    endpoint_url: &'a str,
    status: &'static str,
    events: &'a [String],
    failing_since: Option<String>,
}

fn url_error(message: impl Into<String>) -> Error {
    Error::Rejected { reason: Rejection::WebhookUrl, message: message.into() }
}

fn check_events(events: &[String]) -> Result<()> {
    if events.is_empty() {
        return Err(Error::validation("events", "events_required", "events must name at least one event type."));
    }
    if events.len() > 100 {
        return Err(Error::validation("events", "too_many_events", "events may name at most 100 event types."));
    }
    let unknown: Vec<FieldError> = events
        .iter()
        .filter(|e| !is_known_type(e))
        .map(|e| FieldError {
            field: "events".into(),
            code: "unknown_event_type".into(),
            message: format!("'{}' is not an event type Gatehouse records.", e.chars().take(100).collect::<String>()),
        })
        .collect();
    if !unknown.is_empty() {
        let message = unknown.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" ");
        return Err(Error::Validation { message, errors: unknown });
    }
    Ok(())
}

/// An endpoint as the audit trail shows it: everything but its secret.
fn endpoint_audit(e: &WebhookEndpoint) -> serde_json::Value {
    serde_json::json!({
        "endpoint_url": e.endpoint_url,
        "events": e.events,
        "status": e.status(),
    })
}

fn secret_purpose(id: &str) -> String {
    format!("webhook-secret:{id}")
}

impl Core {
    /// Checks an endpoint URL: its shape, https unless private addresses are allowed, and that
    /// its host resolves only to addresses a webhook may reach.
    async fn check_endpoint_url(&self, raw: &str) -> Result<String> {
        let url = check_url_shape(raw).map_err(url_error)?;
        if self.webhooks.allow_private {
            return Ok(url.to_string());
        }
        if url.scheme() != "https" {
            return Err(url_error("The endpoint URL must use https."));
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<IpAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
            Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
            Some(url::Host::Domain(host)) => {
                let lookup = tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host, port))).await;
                match lookup {
                    Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                    _ => return Err(url_error(format!("The endpoint host '{host}' cannot be resolved."))),
                }
            }
            None => return Err(url_error("The endpoint URL has no host.")),
        };
        if addrs.is_empty() || addrs.iter().any(|ip| is_refused_ip(*ip)) {
            return Err(url_error(
                "The endpoint URL reaches a loopback, private or link-local address; webhooks go to public addresses only.",
            ));
        }
        Ok(url.to_string())
    }

    fn open_endpoint(&self, stored: StoredEndpoint) -> Result<WebhookEndpoint> {
        let mut endpoint = stored.endpoint;
        endpoint.secret = self
            .sealer
            .open(&secret_purpose(&endpoint.id), &stored.sealed_secret)
            .map_err(|e| Error::Internal(anyhow::anyhow!("cannot open webhook secret of {}: {e}", endpoint.id)))?;
        Ok(endpoint)
    }

    fn duplicate(err: StoreError) -> Error {
        match err {
            StoreError::Conflict(_) => Error::Conflict {
                what: Duplicate::WebhookEndpoint,
                message: "A webhook endpoint with this URL already exists.".into(),
            },
            other => other.into(),
        }
    }

    pub async fn create_webhook_endpoint(
        &self,
        env: &Environment,
        endpoint_url: &str,
        events: Vec<String>,
        actor: &Actor,
    ) -> Result<WebhookEndpoint> {
        check_events(&events)?;
        let endpoint_url = self.check_endpoint_url(endpoint_url).await?;
        let now = self.now();
        let id = new_id("we");
        let secret = format!("whsec_{}", random_token(24));
        let sealed = self.sealer.seal(&secret_purpose(&id), &secret).map_err(|e| Error::Internal(e.into()))?;
        let endpoint = WebhookEndpoint {
            id,
            environment_id: env.id.clone(),
            endpoint_url,
            secret,
            events,
            enabled: true,
            cursor_seq: 0,
            attempts: 0,
            failing_since: None,
            next_attempt_at: now,
            created_at: now,
            updated_at: now,
        };
        let event = audit_event(
            "gatehouse.webhook_endpoint.created",
            actor,
            target("webhook_endpoint", &endpoint.id),
            serde_json::Value::Null,
            endpoint_audit(&endpoint),
        );
        self.store.insert_webhook_endpoint(&endpoint, &sealed, &[event]).await.map_err(Core::duplicate)?;
        tracing::info!(webhook.id = %endpoint.id, environment = %env.name, "webhook endpoint created");
        Ok(endpoint)
    }

    pub async fn get_webhook_endpoint(&self, env: &Environment, id: &str) -> Result<WebhookEndpoint> {
        let stored = self
            .store
            .find_webhook_endpoint(&env.id, id)
            .await?
            .ok_or_else(|| Error::NotFound { kind: "WebhookEndpoint", id: id.to_owned() })?;
        self.open_endpoint(stored)
    }

    /// One page of endpoints (newest first unless `ascending`), and whether more follow.
    pub async fn list_webhook_endpoints(
        &self,
        env: &Environment,
        after: Option<&str>,
        ascending: bool,
        limit: u32,
    ) -> Result<(Vec<WebhookEndpoint>, bool)> {
        let mut stored = self.store.list_webhook_endpoints(&env.id, after, ascending, limit).await?;
        let has_more = stored.len() > limit as usize;
        stored.truncate(limit as usize);
        let endpoints = stored.into_iter().map(|s| self.open_endpoint(s)).collect::<Result<Vec<_>>>()?;
        Ok((endpoints, has_more))
    }

    pub async fn update_webhook_endpoint(
        &self,
        env: &Environment,
        id: &str,
        patch: EndpointPatch,
        actor: &Actor,
    ) -> Result<WebhookEndpoint> {
        let mut endpoint = self.get_webhook_endpoint(env, id).await?;
        let old = endpoint_audit(&endpoint);
        if let Some(events) = patch.events {
            check_events(&events)?;
            endpoint.events = events;
        }
        if let Some(url) = patch.endpoint_url {
            endpoint.endpoint_url = self.check_endpoint_url(&url).await?;
        }
        if let Some(enabled) = patch.enabled {
            if enabled && !endpoint.enabled {
                endpoint.attempts = 0;
                endpoint.failing_since = None;
            }
            endpoint.enabled = enabled;
        }
        endpoint.updated_at = self.now().max(endpoint.updated_at + 1);
        // An update that changes nothing records nothing.
        let (before, after) = diff(&old, &endpoint_audit(&endpoint));
        let changed = after.as_object().is_some_and(|c| !c.is_empty());
        let events: Vec<NewEvent> = changed
            .then(|| {
                let target = target("webhook_endpoint", &endpoint.id);
                audit_event("gatehouse.webhook_endpoint.updated", actor, target, before, after)
            })
            .into_iter()
            .collect();
        if !self.store.update_webhook_endpoint(&endpoint, &events).await.map_err(Core::duplicate)? {
            return Err(Error::NotFound { kind: "WebhookEndpoint", id: id.to_owned() });
        }
        Ok(endpoint)
    }

    pub async fn delete_webhook_endpoint(&self, env: &Environment, id: &str, actor: &Actor) -> Result<()> {
        let endpoint = self.get_webhook_endpoint(env, id).await?;
        let event = audit_event(
            "gatehouse.webhook_endpoint.deleted",
            actor,
            target("webhook_endpoint", id),
            endpoint_audit(&endpoint),
            serde_json::Value::Null,
        );
        if !self.store.delete_webhook_endpoint(&env.id, id, self.now(), &[event]).await? {
            return Err(Error::NotFound { kind: "WebhookEndpoint", id: id.to_owned() });
        }
        tracing::info!(webhook.id = %id, environment = %env.name, "webhook endpoint deleted");
        Ok(())
    }

    /// The newest deliveries to an endpoint (at most `limit`), newest first.
    pub async fn webhook_deliveries(&self, env: &Environment, endpoint_id: &str, limit: i64) -> Result<Vec<Delivery>> {
        self.get_webhook_endpoint(env, endpoint_id).await?;
        Ok(self.store.list_deliveries(endpoint_id, limit.clamp(1, 1000)).await?)
    }

    /// Sends the event of one delivery again, now, and logs the attempt. The endpoint's place
    /// in the log does not move.
    pub async fn replay_delivery(&self, env: &Environment, delivery_id: &str) -> Result<Delivery> {
        let not_found = || Error::NotFound { kind: "WebhookDelivery", id: delivery_id.to_owned() };
        let earlier = self.store.find_delivery(&env.id, delivery_id).await?.ok_or_else(not_found)?;
        let endpoint = self.get_webhook_endpoint(env, &earlier.endpoint_id).await?;
        let event = self.store.find_event(&env.id, &earlier.event_id).await?.ok_or_else(|| {
            Error::validation("delivery", "event_purged", "The event of this delivery is no longer kept.")
        })?;
        let delivery = self.send(&endpoint, &event, earlier.attempt + 1).await;
        self.store.log_delivery(&delivery).await?;
        Ok(delivery)
    }

    /// Posts one event to one endpoint and says how it went.
    async fn send(&self, endpoint: &WebhookEndpoint, event: &Event, attempt: i64) -> Delivery {
        let body = delivery_body(event);
        let started = self.now();
        let signature = webhook_signature(&endpoint.secret, started, &body);
        let refused_literal = !self.webhooks.allow_private
            && url::Url::parse(&endpoint.endpoint_url).ok().is_some_and(|u| match u.host() {
                Some(url::Host::Ipv4(ip)) => is_refused_ip(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => is_refused_ip(IpAddr::V6(ip)),
                _ => false,
            });
        let result = if refused_literal {
            Err("the endpoint URL is a refused (private) address".to_owned())
        } else {
            self.webhooks
                .http
                .post(&endpoint.endpoint_url)
                .header("content-type", "application/json")
                .header("workos-signature", signature)
                .body(body)
                .send()
                .await
                .map_err(|e| describe(&e))
        };
        let (status_code, error, succeeded) = match result {
            Ok(res) => {
                let status = res.status();
                if status.is_success() {
                    (Some(i64::from(status.as_u16())), None, true)
                } else {
                    let why = if status.is_redirection() {
                        "redirects are not followed".to_owned()
                    } else {
                        format!("HTTP {}", status.as_u16())
                    };
                    (Some(i64::from(status.as_u16())), Some(why), false)
                }
            }
            Err(error) => (None, Some(error), false),
        };
        let now = self.now();
        Delivery {
            id: new_id("webhook_delivery"),
            environment_id: endpoint.environment_id.clone(),
            endpoint_id: endpoint.id.clone(),
            event_id: event.id.clone(),
            event: event.event.clone(),
            attempt,
            status_code,
            error: error.map(|e| e.chars().take(MAX_ERROR_LEN).collect()),
            succeeded: i64::from(succeeded),
            duration_ms: now - started,
            created_at: now,
        }
    }

    /// One pass of the worker: claims the due endpoints and delivers to each what it has not
    /// had yet, in order, stopping at the first failure. Returns the deliveries attempted.
    pub async fn deliver_webhooks(&self) -> Result<usize> {
        let claimed = self
            .store
            .claim_due_endpoints(&self.webhooks.owner, self.now(), self.webhooks.lease_ms, ENDPOINTS_PER_PASS)
            .await?;
        // Each endpoint on its own task: a slow receiver must not hold up the others.
        let mut runs = tokio::task::JoinSet::new();
        for stored in claimed {
            let core = self.clone();
            runs.spawn(async move {
                let id = stored.endpoint.id.clone();
                let result = match core.open_endpoint(stored) {
                    Ok(endpoint) => core.deliver_to(endpoint).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = &result {
                    tracing::warn!(webhook.id = %id, error = %e, "webhook delivery pass failed");
                    let _ = core.store.release_endpoint(&id, &core.webhooks.owner).await;
                }
                result.unwrap_or(0)
            });
        }
        let mut total = 0;
        while let Some(done) = runs.join_next().await {
            total += done.unwrap_or(0);
        }
        Ok(total)
    }

    async fn deliver_to(&self, mut endpoint: WebhookEndpoint) -> Result<usize> {
        let owner = self.webhooks.owner.clone();
        let claimed_at = self.now();
        let mut sent = 0;
        loop {
            // Read the log's end first: every event up to it is visible (store::events), so
            // when none of them is for this endpoint the cursor can move past them all.
            let latest = self.store.latest_event_seq(&endpoint.environment_id).await?;
            let events = self.store.events_for_endpoint(&endpoint, EVENTS_PER_CLAIM).await?;
            let events: Vec<Event> = events.into_iter().filter(|e| e.seq <= latest).collect();
            if events.is_empty() {
                self.store.skip_to(&endpoint.id, &owner, latest).await?;
                self.store.release_endpoint(&endpoint.id, &owner).await?;
                return Ok(sent);
            }
            for event in events {
                let delivery = self.send(&endpoint, &event, endpoint.attempts + 1).await;
                sent += 1;
                if delivery.succeeded != 0 {
                    if !self.store.record_delivery(&owner, &delivery, event.seq, 0, false, &[]).await? {
                        return Ok(sent); // the lease was lost: another process has it now
                    }
                    endpoint.cursor_seq = event.seq;
                    endpoint.attempts = 0;
                    endpoint.failing_since = None;
                    // Give the endpoint back before the lease could run out; the next pass
                    // goes on (this process or another).
                    if self.now() - claimed_at > self.webhooks.lease_ms / 2 {
                        self.store.release_endpoint(&endpoint.id, &owner).await?;
                        return Ok(sent);
                    }
                    continue;
                }
                let now = delivery.created_at;
                let failing_since = endpoint.failing_since.unwrap_or(now);
                let disable = now - failing_since >= DISABLE_AFTER_MS;
                let next = now + backoff_ms(endpoint.attempts + 1);
                let disabled_event = disable.then(|| {
                    let data = DisabledData {
                        object: "webhook_endpoint",
                        id: &endpoint.id,
                        endpoint_url: &endpoint.endpoint_url,
                        status: "disabled",
                        events: &endpoint.events,
                        failing_since: Some(crate::clock::iso8601(failing_since)),
                    };
                    NewEvent::new("webhook_endpoint.disabled", &data, None)
                });
                let events: Vec<NewEvent> = disabled_event.into_iter().collect();
                self.store.record_delivery(&owner, &delivery, event.seq, next, disable, &events).await?;
                if disable {
                    tracing::warn!(webhook.id = %endpoint.id, url = %endpoint.endpoint_url, "webhook endpoint disabled after three days of failures");
                } else {
                    tracing::info!(webhook.id = %endpoint.id, event.id = %event.id, error = ?delivery.error, "webhook delivery failed; will retry");
                }
                return Ok(sent);
            }
        }
    }
}

/// A delivery error in a few words (timeouts, refused connections, refused addresses).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        let mut detail = String::new();
        while let Some(s) = source {
            detail = s.to_string();
            source = s.source();
        }
        format!("could not connect: {detail}")
    } else {
        e.to_string()
    }
}

/// The worker: a pass, then a pause, until the process ends.
pub async fn run(core: Core) {
    loop {
        if let Err(e) = core.deliver_webhooks().await {
            tracing::warn!(error = %e, "webhook delivery pass failed");
        }
        tokio::time::sleep(core.webhooks.poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_addresses() {
        for ip in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"] {
            assert!(is_refused_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::"] {
            assert!(is_refused_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!is_refused_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn event_lists_are_checked() {
        assert!(check_events(&["user.created".into()]).is_ok());
        assert!(check_events(&[]).is_err());
        assert!(matches!(check_events(&["user.exploded".into()]), Err(Error::Validation { .. })));
    }
}
