//! The console (`/dashboard`): the web dashboard where operators set environments up and look
//! after users. A third surface beside `api` and `hosted`, calling the same services, with no
//! SQL and no store access in its handlers. Server-rendered (minijinja), no build step, one
//! stylesheet and one small script; every page works without the script.
//!
//! Operators sign in with Gatehouse itself (`service::operators`): `/dashboard/sign-in` starts
//! the hosted sign-in of the hidden operator realm, `/dashboard/callback` redeems the code, and a
//! sealed, browser-bound, short-lived cookie carries the console session.
//!
//! # README: adding a page
//!
//! 1. Write the handler in a module of this folder. Take `console: Console` (the guard: the
//!    signed-in operator; a GET without a session goes to sign-in) for pages, and
//!    `change: Change` (admin only, CSRF checked, else 403) for every POST that changes
//!    anything; `change.console` is the `Console` again. Never both in one handler.
//! 2. Per-environment pages live under `/dashboard/env/{env}/…` (the environment in the URL):
//!    `console.environment(&state, &env).await?` resolves the name (404 page if unknown).
//!    Server-wide pages live under `/dashboard/…`.
//! 3. Render with `console.render(&state, "console/x.html", Some(&env.name), "section", ctx)`:
//!    the template `{% extends "console/layout.html" %}` and fills `{% block content %}`; the
//!    layout has `operator`, `can_change` (hide change buttons when false), `csrf_token` (put
//!    `<input type="hidden" name="csrf_token" value="{{ csrf_token }}">` in every form), `env`,
//!    `environments`, `nav` and `flash`. Add the template to `TEMPLATES`.
//! 4. After a successful POST answer `page::done(&state, "/dashboard/…", "What happened.")` (303
//!    with a notice shown once); show a refused form again with `render_status(422, …)` and the
//!    service's own message (`page::refusal(e)?`).
//! 5. Destructive actions confirm first: when `!change.confirmed()`, return
//!    `console.confirm(&state, env, Confirm { title, consequence, action, fields, back, button })`;
//!    the page re-posts the fields with `confirm=yes`.
//! 6. Add the route to `router()` and, for a nav entry, a line to `NAV`. Call services only
//!    through `state.core`, and pass `change.actor()` where a service asks who made a change.

mod activity;
mod assets;
mod email;
mod home;
mod insights;
mod operators;
mod organization_changes;
mod organizations;
mod page;
mod providers;
mod resource_types;
mod resources;
mod roles;
mod session;
mod sessions;
mod settings;
mod setup;
mod users;
mod webhooks;

use axum::Router;
use axum::routing::{get, post};

use crate::web::AppState;

pub use page::warm_up;

/// One entry of the navigation.
pub struct NavItem {
    pub label: &'static str,
    /// The `section` a page passes to `render` to highlight this entry.
    pub section: &'static str,
    /// After `/dashboard/env/{env}/` (per environment) or `/dashboard/`; "" for the root.
    pub path: &'static str,
    pub per_environment: bool,
}

const fn nav(label: &'static str, section: &'static str, path: &'static str, per_environment: bool) -> NavItem {
    NavItem { label, section, path, per_environment }
}

/// The navigation, in order. Users, Sessions, Organizations and Activity are the pages of the
/// users part of the console.
pub const NAV: &[NavItem] = &[
    nav("Home", "home", "", false),
    nav("Quick start", "quick-start", "", true),
    nav("Users", "users", "users", true),
    nav("Sessions", "sessions", "sessions", true),
    nav("Organizations", "organizations", "organizations", true),
    nav("Roles", "roles", "roles", true),
    nav("API keys", "api-keys", "api-keys", true),
    nav("Redirects", "redirects", "redirects", true),
    nav("CORS", "cors", "cors", true),
    nav("JWT template", "jwt-template", "jwt-template", true),
    nav("Settings", "settings", "settings", true),
    nav("Social providers", "providers", "providers", true),
    nav("Signing keys", "signing-keys", "signing-keys", true),
    nav("Email", "email", "email", true),
    nav("Webhooks", "webhooks", "webhooks", true),
    nav("Environments", "environments", "environments", false),
    nav("Operators", "operators", "operators", false),
    nav("Activity", "activity", "activity", false),
];

/// The console's templates (names end in `.html`: values are escaped).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("console/layout.html", include_str!("../../../templates/console/layout.html")),
    ("console/message.html", include_str!("../../../templates/console/message.html")),
    ("console/confirm.html", include_str!("../../../templates/console/confirm.html")),
    ("console/setup.html", include_str!("../../../templates/console/setup.html")),
    ("console/continue.html", include_str!("../../../templates/console/continue.html")),
    ("console/home.html", include_str!("../../../templates/console/home.html")),
    ("console/quick_start.html", include_str!("../../../templates/console/quick_start.html")),
    ("console/api_keys.html", include_str!("../../../templates/console/api_keys.html")),
    ("console/origins.html", include_str!("../../../templates/console/origins.html")),
    ("console/jwt_template.html", include_str!("../../../templates/console/jwt_template.html")),
    ("console/environments.html", include_str!("../../../templates/console/environments.html")),
    ("console/settings.html", include_str!("../../../templates/console/settings.html")),
    ("console/signing_keys.html", include_str!("../../../templates/console/signing_keys.html")),
    ("console/email.html", include_str!("../../../templates/console/email.html")),
    ("console/home_insights.html", include_str!("../../../templates/console/home_insights.html")),
    ("console/users.html", include_str!("../../../templates/console/users.html")),
    ("console/user.html", include_str!("../../../templates/console/user.html")),
    ("console/sessions.html", include_str!("../../../templates/console/sessions.html")),
    ("console/organizations.html", include_str!("../../../templates/console/organizations.html")),
    ("console/organization.html", include_str!("../../../templates/console/organization.html")),
    ("console/activity.html", include_str!("../../../templates/console/activity.html")),
    ("console/providers.html", include_str!("../../../templates/console/providers.html")),
    ("console/provider.html", include_str!("../../../templates/console/provider.html")),
    ("console/webhooks.html", include_str!("../../../templates/console/webhooks.html")),
    ("console/roles.html", include_str!("../../../templates/console/roles.html")),
    ("console/role.html", include_str!("../../../templates/console/role.html")),
    ("console/resource.html", include_str!("../../../templates/console/resource.html")),
    ("console/operators.html", include_str!("../../../templates/console/operators.html")),
    ("console/webhook.html", include_str!("../../../templates/console/webhook.html")),
    ("console/webhook_events.html", include_str!("../../../templates/console/webhook_events.html")),
    ("console/provider_fields.html", include_str!("../../../templates/console/provider_fields.html")),
];

/// The console's routes, all under `/dashboard`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(home::home))
        .route("/dashboard/sign-in", get(session::sign_in))
        .route("/dashboard/callback", get(session::callback))
        .route("/dashboard/sign-out", post(session::sign_out))
        .route("/dashboard/setup", get(session::setup_page).post(session::setup))
        .route("/dashboard/static/console.css", get(assets::stylesheet))
        .route("/dashboard/static/console.js", get(assets::script))
        .route("/dashboard/environments", get(setup::environments).post(setup::create_environment))
        .route("/dashboard/env/{env}", get(setup::quick_start))
        .route("/dashboard/env/{env}/api-keys", get(setup::api_keys).post(setup::create_api_key))
        .route("/dashboard/env/{env}/api-keys/revoke", post(setup::revoke_api_key))
        .route("/dashboard/env/{env}/redirects", get(setup::redirects))
        .route("/dashboard/env/{env}/redirects/add", post(setup::add_redirect))
        .route("/dashboard/env/{env}/redirects/remove", post(setup::remove_redirect))
        .route("/dashboard/env/{env}/cors", get(setup::cors))
        .route("/dashboard/env/{env}/cors/add", post(setup::add_cors))
        .route("/dashboard/env/{env}/cors/remove", post(setup::remove_cors))
        .route("/dashboard/env/{env}/jwt-template", get(setup::jwt_template).post(setup::save_jwt_template))
        .route("/dashboard/env/{env}/settings", get(settings::settings).post(settings::save_settings))
        .route("/dashboard/env/{env}/signing-keys", get(settings::signing_keys))
        .route("/dashboard/env/{env}/signing-keys/rotate", post(settings::rotate_signing_key))
        .route("/dashboard/env/{env}/settings/preview", get(settings::preview))
        .route("/dashboard/env/{env}/email", get(email::email))
        .route("/dashboard/env/{env}/email/smtp", post(email::save_smtp))
        .route("/dashboard/env/{env}/email/test", post(email::send_test))
        .route("/dashboard/env/{env}/providers", get(providers::list).post(providers::add))
        .route("/dashboard/env/{env}/providers/{name}", get(providers::show))
        .route("/dashboard/env/{env}/providers/{name}/edit", post(providers::edit))
        .route("/dashboard/env/{env}/providers/{name}/enable", post(providers::enable))
        .route("/dashboard/env/{env}/providers/{name}/disable", post(providers::disable))
        .route("/dashboard/env/{env}/providers/{name}/remove", post(providers::remove))
        // Users, sessions, organizations and activity.
        .route("/dashboard/env/{env}/users", get(users::list).post(users::create))
        .route("/dashboard/env/{env}/users/{id}", get(users::show))
        .route("/dashboard/env/{env}/users/{id}/edit", post(users::edit))
        .route("/dashboard/env/{env}/users/{id}/delete", post(users::delete))
        .route("/dashboard/env/{env}/users/{id}/sessions/revoke", post(users::revoke_session))
        .route("/dashboard/env/{env}/users/{id}/sessions/revoke-all", post(users::revoke_all_sessions))
        .route("/dashboard/env/{env}/users/{id}/factors/remove", post(users::remove_factor))
        .route("/dashboard/env/{env}/users/{id}/passkeys/remove", post(users::remove_passkey))
        .route("/dashboard/env/{env}/users/{id}/send-reset", post(users::send_reset))
        .route("/dashboard/env/{env}/users/{id}/send-verification", post(users::send_verification))
        .route("/dashboard/env/{env}/sessions", get(sessions::list))
        .route("/dashboard/env/{env}/sessions/revoke", post(sessions::revoke))
        .route("/dashboard/env/{env}/organizations", get(organizations::list).post(organization_changes::create))
        .route("/dashboard/env/{env}/organizations/{id}", get(organizations::show))
        .route("/dashboard/env/{env}/organizations/{id}/rename", post(organization_changes::rename))
        .route("/dashboard/env/{env}/organizations/{id}/delete", post(organization_changes::delete))
        .route("/dashboard/env/{env}/organizations/{id}/domains/add", post(organization_changes::add_domain))
        .route("/dashboard/env/{env}/organizations/{id}/domains/verify", post(organization_changes::verify_domain))
        .route("/dashboard/env/{env}/organizations/{id}/domains/remove", post(organization_changes::remove_domain))
        .route("/dashboard/env/{env}/organizations/{id}/members/role", post(organization_changes::member_role))
        .route(
            "/dashboard/env/{env}/organizations/{id}/members/deactivate",
            post(organization_changes::deactivate_member),
        )
        .route(
            "/dashboard/env/{env}/organizations/{id}/members/reactivate",
            post(organization_changes::reactivate_member),
        )
        .route("/dashboard/env/{env}/organizations/{id}/members/remove", post(organization_changes::remove_member))
        .route("/dashboard/env/{env}/organizations/{id}/invitations/send", post(organization_changes::send_invitation))
        .route(
            "/dashboard/env/{env}/organizations/{id}/invitations/revoke",
            post(organization_changes::revoke_invitation),
        )
        .route("/dashboard/env/{env}/roles", get(roles::list).post(roles::add_role))
        .route("/dashboard/env/{env}/roles/{role}", get(roles::show))
        .route("/dashboard/env/{env}/roles/{role}/edit", post(roles::edit))
        .route("/dashboard/env/{env}/roles/{role}/permissions", post(roles::set_permissions))
        .route("/dashboard/env/{env}/roles/{role}/remove", post(roles::remove))
        .route("/dashboard/env/{env}/organizations/{id}/roles", post(organization_changes::add_role))
        .route("/dashboard/env/{env}/organizations/{id}/roles/{role}", get(roles::show))
        .route("/dashboard/env/{env}/organizations/{id}/roles/{role}/edit", post(roles::edit))
        .route("/dashboard/env/{env}/organizations/{id}/roles/{role}/permissions", post(roles::set_permissions))
        .route("/dashboard/env/{env}/organizations/{id}/roles/{role}/remove", post(roles::remove))
        .route("/dashboard/env/{env}/organizations/{id}/resources/{resource}", get(resources::show))
        .route("/dashboard/env/{env}/organizations/{id}/resources/{resource}/edit", post(resources::edit))
        .route("/dashboard/env/{env}/organizations/{id}/resources/{resource}/assign", post(resources::assign))
        .route("/dashboard/env/{env}/organizations/{id}/resources/{resource}/unassign", post(resources::unassign))
        .route("/dashboard/env/{env}/organizations/{id}/resources/{resource}/delete", post(resources::delete))
        .route("/dashboard/env/{env}/permissions", post(roles::add_permission))
        .route("/dashboard/env/{env}/permissions/edit", post(roles::edit_permission))
        .route("/dashboard/env/{env}/permissions/remove", post(roles::remove_permission))
        .route("/dashboard/env/{env}/resource-types", post(resource_types::add))
        .route("/dashboard/env/{env}/resource-types/remove", post(resource_types::remove))
        .route("/dashboard/env/{env}/webhooks", get(webhooks::list).post(webhooks::add))
        .route("/dashboard/env/{env}/webhooks/{id}", get(webhooks::show))
        .route("/dashboard/env/{env}/webhooks/{id}/edit", post(webhooks::edit))
        .route("/dashboard/env/{env}/webhooks/{id}/enable", post(webhooks::enable))
        .route("/dashboard/env/{env}/webhooks/{id}/disable", post(webhooks::disable))
        .route("/dashboard/env/{env}/webhooks/{id}/replay", post(webhooks::replay))
        .route("/dashboard/env/{env}/webhooks/{id}/remove", post(webhooks::remove))
        .route("/dashboard/operators", get(operators::list))
        .route("/dashboard/operators/invite", post(operators::invite))
        .route("/dashboard/operators/role", post(operators::set_role))
        .route("/dashboard/operators/remove", post(operators::remove))
        .route("/dashboard/operators/two-factor", post(operators::two_factor))
        .route("/dashboard/activity", get(activity::activity))
}
