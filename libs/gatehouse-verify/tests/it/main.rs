//! Integration tests for gatehouse-verify: one binary, modules by topic.

mod attacks;
mod axum_extractor;
mod cli;
mod config;
mod custom_jwt;
mod fetch;
mod identity;
mod oidc;
mod support;
