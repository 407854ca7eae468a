//! Middleware around every surface: one log line per request, JSON for framework rejections,
//! the security headers every response carries, and the slot where a handler names who the
//! request acts for.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::service::events::RequestActor;

/// One line per request: method, path (never the query, which can hold tokens), status, time.
/// Refused sign-ins (tagged with `outcome::Refused`) and throttling refusals (429) are logged
/// at info with the client address, for operators and tools like fail2ban.
pub(super) async fn log_requests(
    State(metrics): State<Arc<super::metrics::Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    // Measuring how long a request took is not "now" for any rule, so it uses the monotonic
    // clock directly rather than the injected one.
    let started = std::time::Instant::now();
    let method = req.method().clone();
    // The URI and the matched route are shared buffers: cloning them allocates nothing.
    let uri = req.uri().clone();
    let client = super::extract::client_address(req.extensions());
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    let duration_ms = seconds * 1000.0;
    metrics.record(route.as_ref().map_or("unmatched", MatchedPath::as_str), status, seconds);
    let path = uri.path();
    // Formatted only when a line is written.
    let client_address = Shown(client);
    let refused = response.extensions().get::<super::outcome::Refused>();
    if status >= 500 {
        tracing::warn!(%method, %path, status, duration_ms, "request failed");
    } else if status == 429 {
        metrics.throttled();
        let reason = refused.map_or("rate_limit_exceeded", |r| r.reason);
        tracing::info!(%client_address, %method, %path, status, reason, "throttled");
    } else if let Some(refused) = refused {
        metrics.refused(refused.reason);
        tracing::info!(%client_address, %method, %path, status, reason = refused.reason, "sign-in refused");
    } else {
        tracing::debug!(%method, %path, status, duration_ms, "request");
    }
    response
}

/// An optional client address in a log line: the address, or `-`.
struct Shown(Option<std::net::IpAddr>);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// Gives the request an empty `RequestActor` (an extension) and runs it inside it, so that once
/// the console's `Change` or the API's `ApiCaller` names the operator or key, every event the
/// request writes records them.
pub(super) async fn request_actor(mut req: Request, next: Next) -> Response {
    let actor = RequestActor::default();
    req.extensions_mut().insert(actor.clone());
    actor.scope(next.run(req)).await
}

/// Framework rejections (a malformed path or query, a wrong method) come as plain text; the
/// SDKs need JSON for every error, so those are rewritten into the coded shape.
pub(super) async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_typed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_typed {
        return response;
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "This endpoint does not support that HTTP method.".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.".to_owned(),
        _ => {
            let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&body).trim().to_owned();
            if text.is_empty() { "The request is not valid.".to_owned() } else { text }
        }
    };
    // The status stays the framework's (a 415 stays a 415); the code and shape are the registry's.
    crate::web::error::protocol_error(status, message)
}

/// Headers every response carries: no sniffing, no framing, no referrer leaking codes; HSTS
/// when the public URL is https; and `Cache-Control: no-store` unless the handler chose a
/// caching policy (only public material does: the JWKS, assets, brand styles), so no answer
/// carrying a code, token, reset link or TOTP secret is ever kept by a cache.
pub(super) async fn security_headers(State(https): State<bool>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Only the console's branding preview (framed by the console itself) sets its own.
    if !headers.contains_key(header::X_FRAME_OPTIONS) {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        );
    }
    response
}
