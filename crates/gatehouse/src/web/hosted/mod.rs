//! The hosted sign-in UI: `/user_management/authorize` and the pages it leads to, the
//! browser's sign-out, and the development outbox. Server-rendered HTML that works without
//! JavaScript, branded per environment.

mod assets;
mod authorize;
mod complete;
mod dev_outbox;
mod email_pages;
mod error;
mod form;
mod forms;
mod landing;
mod organization;
mod passkeys;
mod security;
mod sign_out;
mod social;
mod two_factor;

use axum::Router;
use axum::routing::{get, post};

use crate::web::AppState;

/// The hosted pages' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(landing::landing))
        .route("/user_management/authorize", get(authorize::authorize))
        .route("/authkit/sign-in", get(forms::sign_in_page).post(forms::sign_in))
        .route("/authkit/sign-up", get(forms::sign_up_page).post(forms::sign_up))
        .route("/authkit/magic-auth", get(email_pages::magic_auth_page).post(email_pages::magic_auth_send))
        .route("/authkit/magic-auth/verify", post(email_pages::magic_auth_verify))
        .route("/authkit/verify-email", get(email_pages::verify_email_page).post(email_pages::verify_email))
        .route("/authkit/verify-email/resend", post(email_pages::verify_email_resend))
        .route("/authkit/forgot-password", get(email_pages::forgot_password_page).post(email_pages::forgot_password))
        .route("/authkit/reset-password", get(email_pages::reset_password_page).post(email_pages::reset_password))
        .route("/authkit/social/{provider}", get(social::button))
        .route("/authkit/callback/{provider}", get(social::callback).post(social::callback_form_post))
        .route("/authkit/two-factor", get(two_factor::challenge_page).post(two_factor::challenge))
        .route("/authkit/two-factor/setup", get(two_factor::setup_page).post(two_factor::setup))
        .route("/authkit/invitation", get(authorize::invitation))
        .route("/authkit/impersonate", get(authorize::impersonate))
        .route("/authkit/organization", get(organization::picker_page).post(organization::choose))
        .route("/authkit/security", get(security::show))
        .route("/authkit/security/start", get(security::start))
        .route("/authkit/security/continue", post(security::proceed))
        .route("/authkit/security/authenticator", get(security::authenticator_page).post(security::authenticator))
        .route("/authkit/security/authenticator/remove", post(security::remove_authenticator))
        .route("/authkit/security/recovery-codes", post(security::renew_recovery_codes))
        .route("/authkit/security/passkeys", post(passkeys::register))
        .route("/authkit/security/passkeys/options", post(passkeys::registration_options))
        .route("/authkit/security/passkeys/remove", post(security::remove_passkey))
        .route("/authkit/passkey/options", post(passkeys::sign_in_options))
        .route("/authkit/passkey/sign-in", post(passkeys::sign_in))
        .route("/authkit/static/passkeys.js", get(assets::passkeys_script))
        .merge(stylesheets())
        .route("/user_management/sessions/logout", get(sign_out::logout))
        .route("/dev/emails", get(dev_outbox::outbox))
}

/// The hosted pages' stylesheets, also served beside a console on its own address
/// (`--dashboard-listen`), whose branding preview is the hosted sign-in page.
pub fn stylesheets() -> Router<AppState> {
    Router::new()
        .route("/authkit/static/gatehouse.css", get(assets::stylesheet))
        .route("/authkit/brand/{file}", get(assets::brand_stylesheet))
}
