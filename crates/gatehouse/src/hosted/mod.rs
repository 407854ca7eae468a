//! The hosted sign-in UI: `/user_management/authorize` and the pages it leads to.
//! Server-rendered HTML that works without JavaScript, branded per environment.

mod authorize;
pub mod complete;
mod csrf;
mod forms;
mod pages;
mod social;

use axum::Router;
use axum::routing::get;

pub use authorize::found;
pub use pages::Pages;

use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/authorize", get(authorize::authorize))
        .route("/authkit/sign-in", get(forms::sign_in_page).post(forms::sign_in))
        .route("/authkit/sign-up", get(forms::sign_up_page).post(forms::sign_up))
        .route("/authkit/social/{provider}", get(social::button))
        .route("/authkit/callback/{provider}", get(social::callback).post(social::callback_form_post))
        .route("/authkit/static/gatehouse.css", get(pages::stylesheet))
        .route("/authkit/brand/{file}", get(pages::brand_stylesheet))
}
