//! The one place a request's client address is decided (`--trusted-proxies`): a middleware
//! resolves it once from the socket peer and, only from a trusted proxy, the forwarding header,
//! and puts the `ClientAddress` in the request's extensions, where `extract::ClientInfo` (and
//! so throttles, sessions and `/dev/emails`) find it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::domain::client_address::{ClientAddress, TrustedProxies, parse_forwarded, parse_x_forwarded_for};
use crate::web::WebConfig;

/// Which forwarding header trusted proxies set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx, Caddy, HAProxy, Traefik, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`.
    Forwarded,
}

impl std::str::FromStr for ForwardedHeader {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            other => Err(format!("'{other}' is not x-forwarded-for or forwarded")),
        }
    }
}

/// How client addresses are found.
#[derive(Clone, Debug, Default)]
pub struct ClientAddressConfig {
    pub trusted_proxies: TrustedProxies,
    pub header: ForwardedHeader,
}

impl ClientAddressConfig {
    /// The client of a request from `peer` with these headers.
    pub fn resolve(&self, peer: std::net::IpAddr, headers: &HeaderMap) -> ClientAddress {
        if !self.trusted_proxies.contains(peer) {
            return ClientAddress::direct(peer);
        }
        let values = |name: &str| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
        let chain = match self.header {
            ForwardedHeader::XForwardedFor => parse_x_forwarded_for(values("x-forwarded-for").into_iter()),
            ForwardedHeader::Forwarded => parse_forwarded(values("forwarded").into_iter()),
        };
        self.trusted_proxies.resolve(peer, chain.as_deref())
    }
}

/// Whether a request carries any forwarding header, trusted or not (a proxy was on the way).
pub fn has_forwarding_headers(headers: &HeaderMap) -> bool {
    ["forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-host", "x-forwarded-proto"]
        .iter()
        .any(|h| headers.contains_key(*h))
}

/// Resolves the client address and stores it in the request's extensions.
pub(super) async fn resolve_client(
    State(web): State<std::sync::Arc<WebConfig>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let client = web.client_addresses.resolve(peer.ip(), req.headers());
        req.extensions_mut().insert(client);
    }
    next.run(req).await
}
