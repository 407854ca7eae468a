//! Gatehouse: a self-hosted authentication server that speaks WorkOS AuthKit's wire API.
//!
//! The crate is layered; each layer only calls the ones below it:
//! `cli` / `server` → `http` + `hosted` → `service` → `store` + `crypto` + `domain`.

pub mod cli;
pub mod clock;
pub mod crypto;
pub mod domain;
pub mod hosted;
pub mod http;
pub mod ids;
pub mod server;
pub mod service;
pub mod store;
