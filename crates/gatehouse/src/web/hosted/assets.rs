//! The hosted pages' static assets: the passkey script, the stylesheet, and each
//! environment's brand colour as CSS.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::domain::environment::Branding;
use crate::web::AppState;

#[derive(serde::Deserialize)]
pub struct BrandQuery {
    color: Option<String>,
}

/// `/authkit/static/passkeys.js`: passkey sign-in (with autofill) and registration.
pub async fn passkeys_script() -> Response {
    let mut response = include_str!("../../../templates/passkeys.js").into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

pub async fn stylesheet() -> Response {
    let mut response = include_str!("../../../templates/gatehouse.css").into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

/// `/authkit/brand/{client_id}.css`: the environment's colour as a CSS variable, so pages need
/// no inline styles (the CSP forbids them). `?color=#rrggbb` gives that colour instead (the
/// console's branding preview of unsaved values; a colour is public and harmless).
pub async fn brand_stylesheet(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<BrandQuery>,
) -> Response {
    let client_id = file.strip_suffix(".css").unwrap_or(&file);
    let color = match (query.color, state.core.load_environment(client_id).await) {
        (Some(color), _) => color,
        (None, Ok(Some(env))) => env.settings.branding.primary_color.clone(),
        (None, _) => Branding::default().primary_color,
    };
    // Validated as #rrggbb when set; checked again because it lands in CSS.
    let color = if color.len() == 7 && color[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
        color
    } else {
        Branding::default().primary_color
    };
    let mut response = format!(":root {{ --brand: {color}; }}\n").into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}
