//! Extractors every surface uses: the caller's address (decided once by `web::client`) and
//! user agent.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use crate::domain::client_address::ClientAddress;
use crate::service::auth::RequestInfo;

/// Largest request body accepted (API bodies, the passkey script's JSON).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Longest user agent kept on a session.
const MAX_USER_AGENT_CHARS: usize = 512;

/// The caller's address and user agent, for sessions and throttling.
pub struct ClientInfo(pub RequestInfo);

/// The client's address as `web::client` resolved it (the socket peer, or the client a trusted
/// proxy names). Everything that names the client (sessions, throttles, the request log) takes
/// it from here.
pub fn client_address(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ClientAddress>()
        .map(ClientAddress::ip)
        .or_else(|| extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let address = parts.extensions.get::<ClientAddress>().copied();
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        Ok(ClientInfo(RequestInfo { address, user_agent }))
    }
}
