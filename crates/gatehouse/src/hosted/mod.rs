//! The hosted sign-in UI: `/user_management/authorize` and the pages it leads to.
//! Server-rendered HTML that works without JavaScript, branded per environment.

mod authorize;
pub mod complete;
mod csrf;
mod email_pages;
mod forms;
mod pages;
mod pending_cookie;
mod social;

use axum::Router;
use axum::routing::{get, post};

pub use authorize::found;
pub use pages::{Pages, brand};

use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
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
        .route("/authkit/static/gatehouse.css", get(pages::stylesheet))
        .route("/authkit/brand/{file}", get(pages::brand_stylesheet))
}
