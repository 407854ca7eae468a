//! Domain types and pure rules: no IO, no HTTP, no SQL.

pub mod audit;
pub mod chart;
pub mod client_address;
pub mod cookie_policy;
pub mod environment;
pub mod event;
pub mod factor;
pub mod identity;
pub mod jwt_template;
pub mod listing;
pub mod one_time_code;
pub mod organization;
pub mod outbox;
pub mod password_policy;
pub mod provider;
pub mod public_key;
pub mod redirect;
pub mod refresh_token;
pub mod resource;
pub mod session;
pub mod snippets;
pub mod totp;
pub mod user;
pub mod user_search;
pub mod webhook;
