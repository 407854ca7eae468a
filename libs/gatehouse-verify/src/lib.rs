//! Verify JWTs exactly as Convex's `customJwt` and OIDC auth providers do, with diagnoses.
//!
//! The rules are Convex's (see `spec/convex-auth.md`): providers are tried in order and the first
//! whose issuer (after adding `https://` to a scheme-less `iss` and trimming trailing `/`) and
//! applicationID (one of the `aud` values) match is used, with no fallback; customJwt needs a `kid`,
//! the configured algorithm (RS256 or ES256), a JWKS that parses as a whole, `sub`, `iss` and `exp`,
//! and applies a 5 s leeway to `exp`, `nbf` and `iat`; OIDC uses discovery from the token's `iss`,
//! RS256 or EdDSA, exactly one audience, and no leeway on `exp`.
//!
//! Every rejection is a [`VerifyError`] whose [`code`](VerifyError::code) and
//! [`message`](VerifyError::message) are Convex's, byte for byte, and whose
//! [`diagnosis`](VerifyError::diagnosis) says which check failed and how to fix it.
//! A success is a [`UserIdentity`], the object `ctx.auth.getUserIdentity()` would return.
//!
//! Features: `remote` (fetch JWKS and discovery over HTTP(S) with reqwest + rustls; without it only
//! `data:` JWKS work) and `axum` (the `axum::Authenticated` / `axum::MaybeAuthenticated` extractors).
//! Neither is on by default.
//!
//! ```
//! use std::time::SystemTime;
//! use gatehouse_verify::{AuthConfig, ErrorCode, Verifier, VerifierOptions};
//!
//! let config = AuthConfig::from_json_with_env(
//!     r#"{"providers":[{"type":"customJwt","issuer":"https://auth.example.com",
//!         "applicationID":"${CLIENT_ID}","algorithm":"RS256",
//!         "jwks":"data:text/plain;charset=utf-8;base64,eyJrZXlzIjpbXX0="}]}"#,
//!     |name| (name == "CLIENT_ID").then(|| "client_123".to_string()),
//! )?;
//! let verifier = Verifier::new(config, VerifierOptions::default());
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let err = verifier.verify("not-a-jwt", SystemTime::now()).await.unwrap_err();
//! assert_eq!(err.code(), ErrorCode::InvalidAuthHeader);
//! assert_eq!(
//!     err.message(),
//!     "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots."
//! );
//! println!("{}", err.diagnosis()); // [token_format] the token has no `.` … Fix: …
//! # });
//! # Ok::<(), gatehouse_verify::ConfigError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
pub mod axum;
pub mod cli;
mod config;
mod error;
mod fetch;
mod identity;
mod jwks;
mod token;
mod verify;

pub use config::{AuthConfig, CustomJwtProvider, OidcProvider, Provider, SignatureAlgorithm};
pub use error::{Check, ConfigError, Diagnosis, ErrorCode, VerifyError};
pub use identity::UserIdentity;
pub use verify::{LEEWAY_SECS, Verifier, VerifierOptions};
