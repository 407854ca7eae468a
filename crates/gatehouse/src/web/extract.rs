//! Extractors every surface uses: the caller's address and user agent.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use crate::service::auth::RequestInfo;

/// Largest request body accepted (API bodies, the passkey script's JSON).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The caller's address and user agent, for sessions and throttling.
pub struct ClientInfo(pub RequestInfo);

/// The client's address: today the socket peer. Everything that names the client (sessions,
/// throttles, the request log) takes it from here, so trusting a proxy is one change.
pub fn client_address(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip_address = client_address(&parts.extensions).map(|ip| ip.to_string());
        let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(ClientInfo(RequestInfo { ip_address, user_agent }))
    }
}
