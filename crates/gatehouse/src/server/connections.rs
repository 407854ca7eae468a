//! The accept loop: HTTP/1.1 connections with limits an attacker without an account cannot
//! exhaust (issue 17.2). A cap on open connections overall and per client address (trusted
//! proxies exempt, since every client behind them shares their address), a deadline for each
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
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt as _;

use crate::domain::client_address::TrustedProxies;

/// The server's connection limits (`gatehouse serve --help` lists the settings).
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Open connections at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Open connections from one client address (trusted proxies are exempt).
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

/// Open connections, overall and per address; a slot is given back when its guard drops.
#[derive(Default)]
struct Open {
    per_address: HashMap<IpAddr, usize>,
    total: usize,
}

struct Slot {
    open: Arc<Mutex<Open>>,
    ip: IpAddr,
    idle: Arc<Notify>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock() {
            open.total = open.total.saturating_sub(1);
            if let Some(n) = open.per_address.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.per_address.remove(&self.ip);
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
    let mut state = open.lock().ok()?;
    if state.total >= limits.max_connections {
        tracing::debug!(%ip, "connection refused: the server is at its connection cap");
        return None;
    }
    let from_ip = state.per_address.get(&ip).copied().unwrap_or(0);
    if from_ip >= limits.max_connections_per_address && !trusted_proxies.contains(ip) {
        tracing::debug!(%ip, "connection refused: this address is at its connection cap");
        return None;
    }
    state.total += 1;
    *state.per_address.entry(ip).or_insert(0) += 1;
    Some(Slot { open: open.clone(), ip, idle: idle.clone() })
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
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
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

/// 408 in the API's error shape, closing the connection.
fn request_timed_out() -> Response {
    let body = serde_json::json!({
        "code": "request_timeout",
        "message": "The request was not received in time.",
    });
    let mut response = (StatusCode::REQUEST_TIMEOUT, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
