//! Prometheus metrics of the web layer, in a small hand-written registry: per route template
//! and status, a request counter and a latency histogram; refused sign-ins by reason; throttled
//! requests. Recording is an uncontended read lock on a map looked up by the borrowed route
//! (no allocation; a new series takes the write lock once) and a few relaxed atomic additions.
//! The use cases' own counters (sign-ins by method and outcome, refreshes by outcome) live in
//! `service::counters` and are rendered here with the store's gauges.
//!
//! `GET /metrics` serves the text format on the main address behind
//! `Authorization: Bearer <--metrics-token>`, and without a token on `--metrics-listen`'s own
//! address (`private_router`), which must stay private.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use crate::service::counters::Counters;
use crate::web::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// One route and status: how many requests, and how long they took.
#[derive(Default)]
struct Series {
    count: AtomicU64,
    /// Requests at most `BUCKETS[i]` seconds (not cumulative; summed when rendered).
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
}

impl Series {
    fn add(&self, seconds: f64) {
        self.count.fetch_add(1, Relaxed);
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.sum_micros.fetch_add((seconds * 1e6) as u64, Relaxed);
    }
}

/// One route's series, by status.
type Statuses = Vec<(u16, Series)>;

/// The registry the middleware records into.
#[derive(Default)]
pub struct Metrics {
    /// Route template → the series of each status seen on it (a handful: a linear scan).
    requests: RwLock<HashMap<Box<str>, Statuses>>,
    refused: RwLock<HashMap<&'static str, Arc<AtomicU64>>>,
    throttled: AtomicU64,
    /// The bearer token `/metrics` asks for; `None`: `/metrics` answers 404.
    token: Option<String>,
}

impl Metrics {
    pub fn new(token: Option<String>) -> Metrics {
        Metrics { token: token.filter(|t| !t.is_empty()), ..Metrics::default() }
    }

    /// Records one request: its route template (`"unmatched"` when none), status and duration.
    pub fn record(&self, route: &str, status: u16, seconds: f64) {
        if let Ok(map) = self.requests.read()
            && let Some((_, series)) = map.get(route).and_then(|v| v.iter().find(|(s, _)| *s == status))
        {
            series.add(seconds);
            return;
        }
        let mut map = self.requests.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let statuses = map.entry(Box::from(route)).or_default();
        match statuses.iter().find(|(s, _)| *s == status) {
            Some((_, series)) => series.add(seconds),
            None => {
                let series = Series::default();
                series.add(seconds);
                statuses.push((status, series));
            }
        }
    }

    pub fn refused(&self, reason: &'static str) {
        if let Ok(map) = self.refused.read()
            && let Some(counter) = map.get(reason)
        {
            counter.fetch_add(1, Relaxed);
            return;
        }
        let mut map = self.refused.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(reason).or_default().fetch_add(1, Relaxed);
    }

    pub fn throttled(&self) {
        self.throttled.fetch_add(1, Relaxed);
    }

    /// Requests refused by throttling since this process started (the console's home page).
    pub fn throttled_total(&self) -> u64 {
        self.throttled.load(Relaxed)
    }

    /// The Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP gatehouse_http_requests_total HTTP requests by route template and status.\n");
        out.push_str("# TYPE gatehouse_http_requests_total counter\n");
        let requests = self.requests.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut keys: Vec<(&str, u16, &Series)> = requests
            .iter()
            .flat_map(|(route, statuses)| statuses.iter().map(move |(status, series)| (&**route, *status, series)))
            .collect();
        keys.sort_by_key(|(route, status, _)| (*route, *status));
        for (route, status, series) in &keys {
            let labels = format!("route=\"{}\",status=\"{status}\"", escape(route));
            let _ = writeln!(out, "gatehouse_http_requests_total{{{labels}}} {}", series.count.load(Relaxed));
        }
        out.push_str(
            "# HELP gatehouse_http_request_duration_seconds HTTP request latency by route template and status.\n",
        );
        out.push_str("# TYPE gatehouse_http_request_duration_seconds histogram\n");
        for (route, status, series) in &keys {
            let labels = format!("route=\"{}\",status=\"{status}\"", escape(route));
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS.iter().zip(&series.buckets) {
                cumulative += bucket.load(Relaxed);
                let _ = writeln!(
                    out,
                    "gatehouse_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = series.count.load(Relaxed);
            let _ = writeln!(out, "gatehouse_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}");
            let sum = series.sum_micros.load(Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "gatehouse_http_request_duration_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "gatehouse_http_request_duration_seconds_count{{{labels}}} {count}");
        }
        drop(keys);
        drop(requests);
        out.push_str("# HELP gatehouse_sign_ins_refused_total Refused sign-ins by reason (the error code sent).\n");
        out.push_str("# TYPE gatehouse_sign_ins_refused_total counter\n");
        let refused = self.refused.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut reasons: Vec<_> = refused.iter().collect();
        reasons.sort_by_key(|(reason, _)| **reason);
        for (reason, counter) in reasons {
            let _ = writeln!(
                out,
                "gatehouse_sign_ins_refused_total{{reason=\"{}\"}} {}",
                escape(reason),
                counter.load(Relaxed)
            );
        }
        drop(refused);
        out.push_str("# HELP gatehouse_throttled_total Requests refused by throttling (429).\n");
        out.push_str("# TYPE gatehouse_throttled_total counter\n");
        let _ = writeln!(out, "gatehouse_throttled_total {}", self.throttled.load(Relaxed));
        out
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics` on the main address: the text format for a caller with the token; 401
/// without it; 404 when no token is configured.
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = &state.metrics.token else {
        return super::error::ApiError::new(super::wire::ErrorCode::NotFound, "No such endpoint.").into_response();
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(sent.as_bytes().ct_eq(token.as_bytes())) {
        return super::error::ApiError::new(
            super::wire::ErrorCode::Unauthorized,
            "Send `Authorization: Bearer <the --metrics-token>`.",
        )
        .into_response();
    }
    exposition(&state).await
}

/// `GET /metrics` on `--metrics-listen`'s address: no token (the address is private).
async fn serve_private(State(state): State<AppState>) -> Response {
    exposition(&state).await
}

/// The router of `--metrics-listen`: `/metrics` only, everything else 404.
pub fn private_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(serve_private))
        .fallback(|| async {
            super::error::ApiError::new(super::wire::ErrorCode::NotFound, "Only /metrics is served here.")
        })
        .with_state(state)
}

/// Everything: the web layer's series, the use cases' counters, the store's gauges.
async fn exposition(state: &AppState) -> Response {
    let mut text = state.metrics.render();
    render_counters(state.core.counters(), &mut text);
    let mut described = std::collections::HashSet::new();
    for (name, labels, help, value) in state.core.gauges().await {
        if described.insert(name) {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge");
        }
        let labels = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(text, "{name}{labels} {value}");
    }
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Sign-ins by method and outcome, and refreshes by outcome; refresh also appears among the
/// sign-ins (rotated and grace retries succeeded, reuse and rejections failed), so one family
/// shows every way a session is continued.
fn render_counters(counters: &Counters, out: &mut String) {
    out.push_str(
        "# HELP gatehouse_sign_ins_total Sign-in proofs checked, by method (oauth: and provider kind) and outcome.\n",
    );
    out.push_str("# TYPE gatehouse_sign_ins_total counter\n");
    for count in counters.sign_ins() {
        let provider = count.provider.map(|p| format!(",provider=\"{p}\"")).unwrap_or_default();
        let _ = writeln!(
            out,
            "gatehouse_sign_ins_total{{method=\"{}\"{provider},outcome=\"{}\"}} {}",
            count.method, count.outcome, count.value
        );
    }
    let refreshes = counters.refreshes();
    let sum = |labels: &[&str]| refreshes.iter().filter(|(l, _)| labels.contains(l)).map(|(_, n)| n).sum::<u64>();
    let _ = writeln!(
        out,
        "gatehouse_sign_ins_total{{method=\"refresh\",outcome=\"succeeded\"}} {}",
        sum(&["rotated", "grace_retry"])
    );
    let _ = writeln!(
        out,
        "gatehouse_sign_ins_total{{method=\"refresh\",outcome=\"failed\"}} {}",
        sum(&["reuse_detected", "rejected"])
    );
    out.push_str("# HELP gatehouse_refreshes_total Refresh tokens presented, by outcome.\n");
    out.push_str("# TYPE gatehouse_refreshes_total counter\n");
    for (outcome, n) in &refreshes {
        let _ = writeln!(out, "gatehouse_refreshes_total{{outcome=\"{outcome}\"}} {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets_and_counts() {
        let m = Metrics::new(Some("t".into()));
        m.record("/sso/jwks/{client_id}", 200, 0.002);
        m.record("/sso/jwks/{client_id}", 200, 0.2);
        m.refused("invalid_credentials");
        m.throttled();
        let text = m.render();
        let route = r#"route="/sso/jwks/{client_id}",status="200""#;
        assert!(text.contains(&format!("gatehouse_http_requests_total{{{route}}} 2")), "{text}");
        assert!(
            text.contains(&format!("gatehouse_http_request_duration_seconds_bucket{{{route},le=\"0.0025\"}} 1")),
            "{text}"
        );
        assert!(
            text.contains(&format!("gatehouse_http_request_duration_seconds_bucket{{{route},le=\"0.25\"}} 2")),
            "{text}"
        );
        assert!(
            text.contains(&format!("gatehouse_http_request_duration_seconds_bucket{{{route},le=\"+Inf\"}} 2")),
            "{text}"
        );
        assert!(text.contains("gatehouse_sign_ins_refused_total{reason=\"invalid_credentials\"} 1"), "{text}");
        assert!(text.contains("gatehouse_throttled_total 1"), "{text}");
    }
}
