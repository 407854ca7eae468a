//! `GET /user_management/sessions/logout` (wire spec §3.8): the browser's sign-out.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::web::AppState;
use crate::web::cookies;
use crate::web::error::ApiError;
use crate::web::pages::pages;
use crate::web::redirects::found;

#[derive(Deserialize)]
pub struct LogoutQuery {
    session_id: Option<String>,
    return_to: Option<String>,
}

/// Ends the session, then sends the browser to `return_to` if it is allowed, or shows the
/// signed-out page. Never redirects anywhere not configured. The session's cookie-mode cookies
/// are cleared too (authkit-js also calls this with a `no-cors` fetch; the cookies still go).
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LogoutQuery>) -> Response {
    let mut response = match state.core.sign_out(q.session_id.as_deref(), q.return_to.as_deref()).await {
        Ok(Some(url)) => found(&url),
        Ok(None) => pages().signed_out(q.return_to.is_some()),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Some(session_id) = q.session_id.as_deref().filter(|s| !s.is_empty()) {
        for cookie in cookies::end_session(&headers, &state.core.config().cookies, session_id) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}
