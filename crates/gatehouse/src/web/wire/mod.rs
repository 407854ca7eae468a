//! The wire contract: every JSON object and error the WorkOS-compatible API answers, as typed
//! `Serialize` structs checked against WorkOS's OpenAPI document (`@workos/openapi-spec`).
//!
//! * One file per family of objects; each struct borrows the domain value it shows and has a
//!   `From`/`new` from it, so handlers write `Json(wire::User::from(&user))`.
//! * Optional fields WorkOS omits are `Option` with `skip_serializing_if = "Option::is_none"`;
//!   a field the schema types as `string | null` is a plain `Option` (sent as `null`).
//! * `errors.rs` is the one registry of error codes: each code's string, status and shape.
//! * `tests.rs` renders one sample of every object and error into `snapshots/*.json`, so the whole
//!   contract is readable in one folder. Adding an object: a struct here, a sample in `tests.rs`,
//!   then `GATEHOUSE_UPDATE_SNAPSHOTS=1 cargo test -p gatehouse --lib wire` and review the new file.

mod auth;
mod config;
mod errors;
mod event;
mod factors;
mod keys;
mod list;
mod one_time_codes;
mod organizations;
mod resources;
mod session;
mod social;
mod user;
mod webhook;

#[cfg(test)]
mod tests;

pub use auth::{AuthenticateResponse, UserResponse};
pub use config::{CorsOrigin, JwtTemplate, RedirectUri};
pub use errors::{ErrorCode, Shape};
pub use event::Event;
pub use factors::{Challenge, ChallengeVerification, Enrolment, Factor};
pub use keys::{Discovery, Jwks};
pub use list::{List, Page};
pub use one_time_codes::{EmailVerification, MagicAuth, PasswordReset};
pub use organizations::{
    Invitation, Organization, OrganizationDomain, OrganizationMembership, Permission, Role, RoleList,
};
pub use resources::{AuthorizationCheck, AuthorizationResource, RoleAssignment};
pub use session::Session;
pub use social::{Identity, OAuthProvider};
pub use user::User;
pub use webhook::{WebhookDelivery, WebhookEndpoint};

use crate::clock::{Millis, iso8601};

/// A WorkOS timestamp: ISO 8601 in UTC with milliseconds.
fn time(ms: Millis) -> String {
    iso8601(ms)
}
