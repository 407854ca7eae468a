//! Gatehouse: a self-hosted authentication server that speaks WorkOS AuthKit's wire API.
//!
//! The crate is layered; each layer only calls the ones below it:
//! `cli` → `server` → `web` (its surfaces `api`, `hosted` and `console`) → `service` → `store` →
//! `domain` → `crypto`, with `clock` and `ids` under everything (see ARCHITECTURE.md).

pub mod cli;
pub mod clock;
pub mod crypto;
pub mod domain;
pub mod ids;
pub mod server;
pub mod service;
pub mod store;
pub mod web;
