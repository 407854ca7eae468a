//! `convex-numbers`: a Rust backend that speaks enough of Convex's client protocol for Convex's
//! AuthKit seed app (`myFunctions:listNumbers` and `myFunctions:addNumber`), with tokens checked by
//! `gatehouse-verify` exactly as Convex checks them.
//!
//! Modules: [`protocol`] (sync messages), [`values`] (Convex JSON), [`functions`] (the seed's
//! functions), [`storage`] (SQLite and the write feed), [`sync`] (one WebSocket session) and
//! [`http`] (the HTTP API and the router).

pub mod functions;
pub mod http;
pub mod protocol;
pub mod storage;
pub mod sync;
pub mod values;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gatehouse_verify::{AuthConfig, ConfigError, Verifier, VerifierOptions};
use serde::Serialize;

use crate::storage::Storage;

/// The seed's `convex/auth.config.ts`, with `https://api.workos.com` replaced by Gatehouse's URL:
/// two `customJwt` providers, the first checking `aud` against the client ID.
pub const SEED_AUTH_CONFIG: &str = r#"{
  "providers": [
    { "type": "customJwt", "issuer": "${GATEHOUSE_URL}/", "algorithm": "RS256",
      "jwks": "${GATEHOUSE_URL}/sso/jwks/${WORKOS_CLIENT_ID}", "applicationID": "${WORKOS_CLIENT_ID}" },
    { "type": "customJwt", "issuer": "${GATEHOUSE_URL}/user_management/${WORKOS_CLIENT_ID}", "algorithm": "RS256",
      "jwks": "${GATEHOUSE_URL}/sso/jwks/${WORKOS_CLIENT_ID}" }
  ]
}"#;

/// Builds [`SEED_AUTH_CONFIG`] for a Gatehouse base URL (a trailing `/` is ignored) and client ID.
pub fn seed_auth_config(gatehouse_url: &str, client_id: &str) -> Result<AuthConfig, ConfigError> {
    let base = gatehouse_url.trim_end_matches('/').to_owned();
    let client_id = client_id.to_owned();
    AuthConfig::from_json_with_env(SEED_AUTH_CONFIG, move |name| match name {
        "GATEHOUSE_URL" => Some(base.clone()),
        "WORKOS_CLIENT_ID" => Some(client_id.clone()),
        _ => None,
    })
}

/// Counters, served at `GET /debug/stats` (tests use them to spot reconnect storms).
#[derive(Debug, Default)]
pub struct Stats {
    /// WebSocket sessions opened.
    pub connections: AtomicU64,
    /// `Authenticate` messages with `tokenType: "User"`.
    pub authenticate_user: AtomicU64,
    /// `Authenticate` messages with `tokenType: "None"`.
    pub authenticate_none: AtomicU64,
    /// `AuthError` messages sent (each closes its socket).
    pub auth_errors: AtomicU64,
    /// `Mutation` messages run (one rejected for an expired identity and replayed counts once).
    pub mutations: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Serialize)]
pub struct StatsSnapshot {
    /// See [`Stats::connections`].
    pub connections: u64,
    /// See [`Stats::authenticate_user`].
    pub authenticate_user: u64,
    /// See [`Stats::authenticate_none`].
    pub authenticate_none: u64,
    /// See [`Stats::auth_errors`].
    pub auth_errors: u64,
    /// See [`Stats::mutations`].
    pub mutations: u64,
}

impl Stats {
    /// The current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            connections: self.connections.load(Ordering::Relaxed),
            authenticate_user: self.authenticate_user.load(Ordering::Relaxed),
            authenticate_none: self.authenticate_none.load(Ordering::Relaxed),
            auth_errors: self.auth_errors.load(Ordering::Relaxed),
            mutations: self.mutations.load(Ordering::Relaxed),
        }
    }
}

/// Shared state: storage, the token verifier and the counters. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Storage,
    verifier: Verifier,
    stats: Stats,
}

impl AppState {
    /// Builds the state from an auth config and an opened storage.
    pub fn new(auth: AuthConfig, storage: Storage) -> AppState {
        let verifier = Verifier::new(auth, VerifierOptions::default());
        AppState { inner: Arc::new(Inner { storage, verifier, stats: Stats::default() }) }
    }

    /// The database.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// The token verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }
}

impl axum::extract::FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Verifier {
        state.inner.verifier.clone()
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_verify::Provider;

    use super::*;

    #[test]
    fn seed_config_points_at_gatehouse() {
        let config = seed_auth_config("http://127.0.0.1:8080/", "client_01ABC").unwrap();
        let providers = config.providers();
        assert_eq!(providers.len(), 2);
        let Provider::CustomJwt(first) = &providers[0] else { panic!("customJwt expected") };
        assert_eq!(first.issuer(), "http://127.0.0.1:8080/");
        assert_eq!(first.application_id(), Some("client_01ABC"));
        assert_eq!(first.jwks(), "http://127.0.0.1:8080/sso/jwks/client_01ABC");
        let Provider::CustomJwt(second) = &providers[1] else { panic!("customJwt expected") };
        assert_eq!(second.issuer(), "http://127.0.0.1:8080/user_management/client_01ABC");
        assert_eq!(second.application_id(), None);
    }
}
