//! HTTP integration tests: a real server on 127.0.0.1:0 with a temporary SQLite file (or the
//! PostgreSQL in `GATEHOUSE_TEST_DATABASE_URL`), a fake clock and cheap argon2 parameters.

mod binary;
mod dns_server;
mod smtp_sink;
mod support;

mod api;
mod audit;
mod authorization_resources;
mod connections;
mod console;
mod console_operators;
mod console_orgs;
mod console_settings;
mod console_users;
mod console_webhooks;
mod cookies;
mod delivery_processes;
mod downgrade;
mod durability;
mod email;
mod environments;
mod events;
mod expiry;
mod first_run;
mod hardening;
mod hosted;
mod hosted_email;
mod housekeeping;
mod impersonation;
mod key_rotation;
mod metrics;
mod mfa;
mod organization_domains;
mod organizations;
mod postgres_tls;
mod readiness;
mod rotations;
mod security;
mod social;
mod store_copy;
mod throttle_processes;
mod throttling;
mod tokens;
mod webhooks;
mod wire;
