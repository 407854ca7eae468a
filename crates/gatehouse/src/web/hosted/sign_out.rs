//! `GET /user_management/sessions/logout` (wire spec §3.8): the browser's sign-out.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::pages::pages;
use crate::web::redirects::found;

#[derive(Deserialize)]
pub struct LogoutQuery {
    session_id: Option<String>,
    return_to: Option<String>,
}

/// Ends the session, then sends the browser to `return_to` if it is allowed, or shows the
/// signed-out page. Never redirects anywhere not configured.
pub async fn logout(State(state): State<AppState>, Query(q): Query<LogoutQuery>) -> Response {
    match state.core.sign_out(q.session_id.as_deref(), q.return_to.as_deref()).await {
        Ok(Some(url)) => found(&url),
        Ok(None) => pages().signed_out(q.return_to.is_some()),
        Err(e) => ApiError::from(e).into_response(),
    }
}
