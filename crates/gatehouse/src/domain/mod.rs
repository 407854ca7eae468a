//! Domain types and pure rules: no IO, no HTTP, no SQL.

pub mod environment;
pub mod jwt_template;
pub mod password_policy;
pub mod provider;
pub mod redirect;
pub mod refresh_token;
pub mod totp;
pub mod user;
