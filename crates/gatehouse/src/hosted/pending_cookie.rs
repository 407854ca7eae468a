//! The cookie that carries a half-finished hosted sign-in (a pending-authentication token)
//! from one step-up page to the next. HttpOnly, `SameSite=Lax`, ten minutes.

use axum::http::{HeaderMap, HeaderValue, header};

fn name(https: bool) -> &'static str {
    if https { "__Host-gatehouse_pending" } else { "gatehouse_pending" }
}

pub fn read(headers: &HeaderMap, https: bool) -> Option<String> {
    let name = name(https);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

pub fn set(token: &str, https: bool) -> Option<HeaderValue> {
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=600{secure}", name(https))).ok()
}

pub fn clear(https: bool) -> Option<HeaderValue> {
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}", name(https))).ok()
}
