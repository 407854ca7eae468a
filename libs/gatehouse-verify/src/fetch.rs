//! HTTP fetching of JWKS and discovery documents with an in-memory HTTP cache
//! (Cache-Control / Expires freshness, ETag / Last-Modified revalidation), like Convex's
//! `http-cache-reqwest` client in `CacheMode::Default`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use crate::jwks::KeySet;

/// A response body and the things derived from it, shared until the cache entry is replaced.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Vec<u8>,
    pub(crate) strict_keys: OnceLock<Result<Arc<KeySet>, String>>,
    pub(crate) lenient_keys: OnceLock<Result<Arc<KeySet>, String>>,
    pub(crate) discovery: OnceLock<Result<Arc<crate::verify::Discovery>, String>>,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: Option<String>, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type,
            body,
            strict_keys: OnceLock::new(),
            lenient_keys: OnceLock::new(),
            discovery: OnceLock::new(),
        }
    }

    pub(crate) fn strict_keys(&self) -> Result<Arc<KeySet>, String> {
        self.strict_keys.get_or_init(|| crate::jwks::parse_strict(&self.body)).clone()
    }

    pub(crate) fn lenient_keys(&self) -> Result<Arc<KeySet>, String> {
        self.lenient_keys.get_or_init(|| crate::jwks::parse_lenient(&self.body)).clone()
    }
}

/// What a fetch returned, plus the cache state for diagnoses.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub(crate) response: Arc<Response>,
    /// `"fresh from cache"`, `"fetched"`, `"revalidated (304)"`, …
    pub(crate) cache_state: &'static str,
    pub(crate) fresh_for: Option<Duration>,
}

struct Slot {
    response: Arc<Response>,
    fresh_until: SystemTime,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// The raw answer of the transport.
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Freshness per RFC 9111 as a shared cache computes it (http-cache-semantics defaults).
struct Policy {
    storable: bool,
    lifetime: Duration,
}

fn policy(resp: &RawResponse) -> Policy {
    let cc = resp.header("cache-control").unwrap_or("").to_ascii_lowercase();
    let mut no_store = false;
    let mut no_cache = false;
    let mut private = false;
    let mut max_age = None;
    let mut s_maxage = None;
    for d in cc.split(',') {
        let d = d.trim();
        let (name, val) = match d.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (d, None),
        };
        match name {
            "no-store" => no_store = true,
            "no-cache" => no_cache = true,
            "private" => private = true,
            "max-age" => max_age = val.and_then(|v| v.parse::<u64>().ok()),
            "s-maxage" => s_maxage = val.and_then(|v| v.parse::<u64>().ok()),
            _ => {}
        }
    }
    let storable = resp.status == 200 && !no_store && !private;
    if !storable || no_cache {
        return Policy { storable, lifetime: Duration::ZERO };
    }
    let date = resp.header("date").and_then(|d| httpdate::parse_http_date(d).ok());
    let lifetime = if let Some(s) = s_maxage.or(max_age) {
        Duration::from_secs(s)
    } else if let Some(exp) = resp.header("expires") {
        match (httpdate::parse_http_date(exp).ok(), date) {
            (Some(e), Some(d)) => e.duration_since(d).unwrap_or(Duration::ZERO),
            (Some(e), None) => e.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO),
            _ => Duration::ZERO,
        }
    } else if let (Some(lm), Some(d)) =
        (resp.header("last-modified").and_then(|v| httpdate::parse_http_date(v).ok()), date)
    {
        // Heuristic freshness: 10 % of the time since the last modification.
        d.duration_since(lm).unwrap_or(Duration::ZERO) / 10
    } else {
        Duration::ZERO
    };
    let age = resp.header("age").and_then(|a| a.trim().parse::<u64>().ok()).unwrap_or(0);
    Policy { storable, lifetime: lifetime.saturating_sub(Duration::from_secs(age)) }
}

/// The process-wide cache of one [`crate::Verifier`].
pub(crate) struct HttpCache {
    slots: Mutex<HashMap<String, Slot>>,
    forced: Mutex<HashMap<String, SystemTime>>,
    transport: Transport,
}

impl HttpCache {
    pub(crate) fn new(timeout: Duration) -> HttpCache {
        HttpCache {
            slots: Mutex::new(HashMap::new()),
            forced: Mutex::new(HashMap::new()),
            transport: Transport::new(timeout),
        }
    }

    /// Records a forced refetch of `url` at `now` if the last one is at least `min_interval` old.
    pub(crate) fn may_force(&self, url: &str, now: SystemTime, min_interval: Duration) -> bool {
        let mut forced = self.forced.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = forced.get(url)
            && now.duration_since(*last).unwrap_or(Duration::ZERO) < min_interval
        {
            return false;
        }
        forced.insert(url.to_string(), now);
        true
    }

    /// The cached response if it is still fresh at `now` (no I/O).
    pub(crate) fn get_fresh(&self, url: &str, now: SystemTime) -> Option<Fetched> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get(url).filter(|slot| slot.fresh_until > now)?;
        Some(Fetched {
            response: slot.response.clone(),
            cache_state: "fresh from cache",
            fresh_for: slot.fresh_until.duration_since(now).ok(),
        })
    }

    /// GETs `url` through the cache. `force` revalidates even a fresh entry.
    pub(crate) async fn get(&self, url: &str, now: SystemTime, force: bool) -> Result<Fetched, String> {
        let (cached, etag, last_modified) = {
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            match slots.get(url) {
                Some(slot) if !force && slot.fresh_until > now => {
                    return Ok(Fetched {
                        response: slot.response.clone(),
                        cache_state: "fresh from cache",
                        fresh_for: slot.fresh_until.duration_since(now).ok(),
                    });
                }
                Some(slot) => (Some(slot.response.clone()), slot.etag.clone(), slot.last_modified.clone()),
                None => (None, None, None),
            }
        };
        let mut conditional = Vec::new();
        if cached.is_some() {
            if let Some(e) = &etag {
                conditional.push(("if-none-match", e.clone()));
            }
            if let Some(lm) = &last_modified {
                conditional.push(("if-modified-since", lm.clone()));
            }
        }
        let raw = self.transport.get(url, &conditional).await?;
        if raw.status == 304
            && let Some(old) = cached
        {
            let p = policy(&RawResponse { status: 200, headers: raw.headers.clone(), body: vec![] });
            let fresh_until = now + p.lifetime;
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(slot) = slots.get_mut(url) {
                slot.fresh_until = fresh_until;
                if let Some(e) = raw.header("etag") {
                    slot.etag = Some(e.to_string());
                }
            }
            return Ok(Fetched {
                response: old,
                cache_state: "revalidated (304 Not Modified)",
                fresh_for: Some(p.lifetime),
            });
        }
        let p = policy(&raw);
        let response =
            Arc::new(Response::new(raw.status, raw.header("content-type").map(str::to_owned), raw.body.clone()));
        if p.storable {
            let slot = Slot {
                response: response.clone(),
                fresh_until: now + p.lifetime,
                etag: raw.header("etag").map(str::to_owned),
                last_modified: raw.header("last-modified").map(str::to_owned),
            };
            self.slots.lock().unwrap_or_else(|e| e.into_inner()).insert(url.to_string(), slot);
        }
        Ok(Fetched {
            response,
            cache_state: if p.storable { "fetched" } else { "fetched (not cacheable)" },
            fresh_for: p.storable.then_some(p.lifetime),
        })
    }
}

#[cfg(feature = "remote")]
struct Transport {
    client: reqwest::Client,
}

#[cfg(feature = "remote")]
impl Transport {
    fn new(timeout: Duration) -> Transport {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("gatehouse-verify/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Transport { client }
    }

    async fn get(&self, url: &str, conditional: &[(&str, String)]) -> Result<RawResponse, String> {
        let mut req = self.client.get(url).header("accept", "application/json");
        for (k, v) in conditional {
            req = req.header(*k, v.as_str());
        }
        let resp = req.send().await.map_err(|e| error_chain(&e))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
            .collect();
        let body = resp.bytes().await.map_err(|e| error_chain(&e))?.to_vec();
        Ok(RawResponse { status, headers, body })
    }
}

#[cfg(feature = "remote")]
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(not(feature = "remote"))]
struct Transport;

#[cfg(not(feature = "remote"))]
impl Transport {
    fn new(_timeout: Duration) -> Transport {
        Transport
    }

    async fn get(&self, _url: &str, _conditional: &[(&str, String)]) -> Result<RawResponse, String> {
        Err("HTTP fetching is disabled (gatehouse-verify was built without the `remote` feature)".into())
    }
}

/// `Reason-Phrase` as `http::StatusCode`'s Display prints it: `404 Not Found`.
pub(crate) fn status_line(code: u16) -> String {
    let reason = match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "<unknown status code>",
    };
    format!("{code} {reason}")
}
