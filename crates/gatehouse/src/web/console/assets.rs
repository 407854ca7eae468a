//! The console's static files: one stylesheet and one small script (copy buttons, the JWT
//! template preview's user picker), served from the binary.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

/// `/dashboard/static/console.css`.
pub async fn stylesheet() -> Response {
    asset(include_str!("../../../templates/console/console.css"), "text/css; charset=utf-8")
}

/// `/dashboard/static/console.js`.
pub async fn script() -> Response {
    asset(include_str!("../../../templates/console/console.js"), "text/javascript; charset=utf-8")
}
