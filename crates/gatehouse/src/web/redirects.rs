//! Redirect responses: 302 for navigations Gatehouse starts, 303 after a form POST.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// 302 Found to `location`; a location that cannot be a header (validated before, so never
/// expected) is a 400 in the API's error shape rather than a redirect without `Location`.
pub fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => {
            crate::web::error::ApiError::bad_request("The redirect destination is not a valid URL.").into_response()
        }
    }
}

/// 303 See Other: after a form POST the browser follows with a GET.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}
