//! The accept loop: HTTP/1.1 connections with limits an attacker without an account cannot
//! exhaust (issue 17.2). A cap on open connections overall and per client address (an IPv6
//! address counts by its /64, as the throttles count it; trusted proxies are exempt, since every
//! client behind them shares their address), with the last few slots of the overall cap kept
//! for connections from this machine (loopback: a health check, a local proxy), a deadline for each
//! request's headers that also ends idle keep-alive connections (hyper's header-read timeout
//! runs whenever a connection waits for a request), a deadline for the whole request including
//! its body (408 in the API's error shape), and a graceful shutdown that stops waiting after a
//! bound.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt as _;

use crate::domain::client_address::{ClientAddress, TrustedProxies};

/// Slots of `max_connections` that only loopback peers may take (at most a quarter of it), so
/// a local health check still gets in when remote clients hold everything else.
const LOOPBACK_RESERVE: usize = 8;

/// The server's connection limits (`gatehouse serve --help` lists the settings).
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Open connections at once; more are closed as soon as they are accepted. Peers other than
    /// loopback stop `LOOPBACK_RESERVE` short of it.
    pub max_connections: usize,
    /// Open connections from one client address, an IPv6 client by its /64 (trusted proxies
    /// are exempt).
    pub max_connections_per_address: usize,
    /// Time for a request's headers to arrive, and for an idle keep-alive connection to send
    /// its next request.
    pub header_read_timeout: Duration,
    /// Time for a whole request, its body included, to be read and answered.
    pub request_timeout: Duration,
    /// How long a shutdown waits for requests in flight.
    pub shutdown_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1000,
            max_connections_per_address: 100,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Open connections, overall and per address bucket (`ClientAddress::bucket`: an IPv4
/// address, an IPv6 /64); a slot is given back when its guard drops.
#[derive(Default)]
struct Open {
    per_address: HashMap<String, usize>,
    total: usize,
}

struct Slot {
    open: Arc<Mutex<Open>>,
    bucket: String,
    idle: Arc<Notify>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock() {
            open.total = open.total.saturating_sub(1);
            if let Some(n) = open.per_address.get_mut(&self.bucket) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.per_address.remove(&self.bucket);
                }
            }
            if open.total == 0 {
                self.idle.notify_waiters();
            }
        }
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes; then stops accepting,
/// lets requests in flight finish for at most `shutdown_timeout`, and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    trusted_proxies: TrustedProxies,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let open = Arc::new(Mutex::new(Open::default()));
    let idle = Arc::new(Notify::new());
    let (closing_tx, closing_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = take_slot(&open, &idle, &limits, &trusted_proxies, peer.ip()) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, peer, app.clone(), limits.clone(), closing_rx.clone(), slot));
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = async {
        loop {
            let waiting = idle.notified();
            if open.lock().map(|o| o.total == 0).unwrap_or(true) {
                return;
            }
            waiting.await;
        }
    };
    if tokio::time::timeout(limits.shutdown_timeout, drained).await.is_err() {
        let left = open.lock().map(|o| o.total).unwrap_or(0);
        tracing::warn!(connections = left, "shutdown did not wait longer for open connections");
    }
}

fn take_slot(
    open: &Arc<Mutex<Open>>,
    idle: &Arc<Notify>,
    limits: &ConnectionLimits,
    trusted_proxies: &TrustedProxies,
    ip: IpAddr,
) -> Option<Slot> {
    let address = ClientAddress::direct(ip);
    let cap = if address.is_direct_loopback() {
        limits.max_connections
    } else {
        limits.max_connections - LOOPBACK_RESERVE.min(limits.max_connections / 4)
    };
    let mut state = open.lock().ok()?;
    if state.total >= cap {
        tracing::debug!(%ip, "connection refused: the server is at its connection cap");
        return None;
    }
    let bucket = address.bucket();
    let from_bucket = state.per_address.get(&bucket).copied().unwrap_or(0);
    if from_bucket >= limits.max_connections_per_address && !trusted_proxies.contains(ip) {
        tracing::debug!(%ip, "connection refused: this address is at its connection cap");
        return None;
    }
    state.total += 1;
    *state.per_address.entry(bucket.clone()).or_insert(0) += 1;
    Some(Slot { open: open.clone(), bucket, idle: idle.clone() })
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut closing: watch::Receiver<bool>,
    slot: Slot,
) {
    let request_timeout = limits.request_timeout;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let app = app.clone();
        async move {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            match tokio::time::timeout(request_timeout, app.oneshot(req)).await {
                Ok(Ok(response)) => Ok::<Response, Infallible>(response),
                Ok(Err(never)) => match never {},
                Err(_) => Ok(request_timed_out()),
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // One flat write buffer, so hyper's own answer to an unreadable request reaches
    // `ProtocolErrors` in one piece.
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).writev(false);
    let conn = builder.serve_connection(TokioIo::new(ProtocolErrors::new(stream)), service).with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = wait_closing(&mut closing) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.as_mut().await;
        }
    }
    drop(slot);
}

/// Completes once shutdown starts (or the server is gone).
async fn wait_closing(closing: &mut watch::Receiver<bool>) {
    while !*closing.borrow_and_update() {
        if closing.changed().await.is_err() {
            return;
        }
    }
}

/// 408 in the API's error shape (the registry's `request_timeout`), closing the connection.
fn request_timed_out() -> Response {
    let mut response = crate::web::protocol_error(StatusCode::REQUEST_TIMEOUT, "The request was not received in time.");
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The connection's socket, with one change to what hyper writes: hyper answers a request it
/// cannot read (a malformed head: 400; a request line over its limit: 414; headers over its
/// buffer: 431) on its own, with an empty body and before any service sees the request. That
/// answer is recognisable (a head alone, with `content-length: 0` and no `content-type`, which
/// every answer of ours has) and is replaced here by the same status in the API's error shape.
/// Everything else passes through untouched.
struct ProtocolErrors<S> {
    inner: S,
    /// A replacement being written: its bytes, how many are written, and the length of the
    /// write it stands for (reported to hyper once the replacement is out).
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<S> ProtocolErrors<S> {
    fn new(inner: S) -> Self {
        ProtocolErrors { inner, replacing: None }
    }
}

/// The replacement for hyper's own answer to an unreadable request, if `buf` is one.
fn replace_protocol_error(buf: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(buf).ok()?;
    let status = match head.strip_prefix("HTTP/1.1 ")?.get(..4)? {
        "400 " => StatusCode::BAD_REQUEST,
        "414 " => StatusCode::URI_TOO_LONG,
        "431 " => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => return None,
    };
    let lower = head.to_ascii_lowercase();
    if !lower.ends_with("\r\n\r\n")
        || !lower.contains("\r\ncontent-length: 0\r\n")
        || lower.contains("\r\ncontent-type:")
    {
        return None;
    }
    let message = match status {
        StatusCode::URI_TOO_LONG => "The request line is too long.",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "The request headers are too large.",
        _ => "The request is not valid HTTP/1.1.",
    };
    let body = crate::web::protocol_error_json(status, message);
    let reason = status.canonical_reason().unwrap_or("");
    Some(
        format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             cache-control: no-store\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n{body}",
            status.as_u16(),
            body.len()
        )
        .into_bytes(),
    )
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for ProtocolErrors<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for ProtocolErrors<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        if self.replacing.is_none() {
            match replace_protocol_error(buf) {
                Some(bytes) => self.replacing = Some((bytes, 0, buf.len())),
                None => return std::pin::Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        let this = &mut *self;
        while let Some((bytes, written, _)) = this.replacing.as_mut()
            && *written < bytes.len()
        {
            match std::pin::Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                other => return other,
            }
        }
        let stands_for = this.replacing.take().map_or(0, |(_, _, len)| len);
        Poll::Ready(Ok(stands_for))
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(max_connections: usize, max_connections_per_address: usize) -> ConnectionLimits {
        ConnectionLimits { max_connections, max_connections_per_address, ..ConnectionLimits::default() }
    }

    fn take(open: &Arc<Mutex<Open>>, limits: &ConnectionLimits, proxies: &TrustedProxies, ip: &str) -> Option<Slot> {
        take_slot(open, &Arc::new(Notify::new()), limits, proxies, ip.parse().unwrap())
    }

    #[test]
    fn one_ipv6_64_shares_one_per_address_budget() {
        let (open, limits, none) = (Arc::new(Mutex::new(Open::default())), caps(100, 2), TrustedProxies::default());
        let held =
            [take(&open, &limits, &none, "2001:db8::1").unwrap(), take(&open, &limits, &none, "2001:db8::2").unwrap()];
        assert!(take(&open, &limits, &none, "2001:db8::1").is_none(), "the /64 is full");
        assert!(take(&open, &limits, &none, "2001:db8::ffff:3").is_none(), "any address in it");
        let other_64 = take(&open, &limits, &none, "2001:db8:0:1::1");
        assert!(other_64.is_some(), "the next /64 is another client");
        drop(held);
        let again = take(&open, &limits, &none, "2001:db8::1");
        assert!(again.is_some(), "slots come back");
        assert_eq!(open.lock().unwrap().total, 2);
        // IPv4 counts per address, and a trusted proxy is exempt.
        let proxies = TrustedProxies::parse("2001:db8::/64").unwrap();
        let _a = take(&open, &limits, &none, "192.0.2.1").unwrap();
        let _b = take(&open, &limits, &none, "192.0.2.1").unwrap();
        assert!(take(&open, &limits, &none, "192.0.2.1").is_none());
        assert!(take(&open, &limits, &none, "192.0.2.2").is_some());
        assert!(take(&open, &limits, &proxies, "2001:db8::1").is_some());
    }

    #[test]
    fn the_last_slots_are_kept_for_loopback() {
        let (open, limits, none) = (Arc::new(Mutex::new(Open::default())), caps(40, 100), TrustedProxies::default());
        let remote: Vec<_> = (0..40).filter_map(|i| take(&open, &limits, &none, &format!("203.0.113.{i}"))).collect();
        assert_eq!(remote.len(), 40 - LOOPBACK_RESERVE, "remote clients stop short of the cap");
        let local: Vec<_> = (0..20).filter_map(|_| take(&open, &limits, &none, "127.0.0.1")).collect();
        assert_eq!(local.len(), LOOPBACK_RESERVE, "loopback gets the rest, up to the cap");
        assert!(take(&open, &limits, &none, "::1").is_none(), "the cap itself holds");
        // A small cap keeps at most a quarter.
        let (open, limits) = (Arc::new(Mutex::new(Open::default())), caps(4, 100));
        let remote: Vec<_> = (0..4).filter_map(|i| take(&open, &limits, &none, &format!("203.0.113.{i}"))).collect();
        assert_eq!(remote.len(), 3);
    }

    #[test]
    fn only_hypers_own_empty_answers_are_replaced() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let replaced = String::from_utf8(replace_protocol_error(hyper_431).unwrap()).unwrap();
        assert!(replaced.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{replaced}");
        let body = replaced.split("\r\n\r\n").nth(1).unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["code"], "request_header_fields_too_large");
        assert!(replaced.contains(&format!("content-length: {}\r\n", body.len())));
        // Ours carry a content type; other statuses pass.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert!(replace_protocol_error(ours).is_none());
        assert!(replace_protocol_error(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
