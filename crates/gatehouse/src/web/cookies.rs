//! The web layer's cookies: HttpOnly, `SameSite=Lax`, `Path=/`, and `__Host-` plus `Secure`
//! when the public URL is https. One place builds and reads them all.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::crypto::secrets::random_token;

/// A new random cookie value (256 bits), e.g. to bind a flow to this browser.
pub fn random_value() -> String {
    random_token(32)
}

/// The half-finished sign-in (a pending-authentication token) between step-up pages.
pub const PENDING: &str = "gatehouse_pending";

fn full_name(name: &str, https: bool) -> String {
    if https { format!("__Host-{name}") } else { name.to_owned() }
}

/// `Set-Cookie` for `name=value`; `max_age_secs` of `None` makes a session cookie, `Some(0)`
/// deletes it.
pub fn set(name: &str, value: &str, https: bool, max_age_secs: Option<i64>) -> Option<HeaderValue> {
    let secure = if https { "; Secure" } else { "" };
    let max_age = max_age_secs.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax{max_age}{secure}",
        full_name(name, https)
    ))
    .ok()
}

/// The value of a cookie of the hosted flow, if present, non-empty and of a sane length.
pub fn read(headers: &HeaderMap, name: &str, https: bool) -> Option<String> {
    let full = full_name(name, https);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == full)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_attributes() {
        let c = set("x", "v", true, Some(60)).unwrap();
        assert_eq!(c, "__Host-x=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
        assert_eq!(set("x", "v", false, None).unwrap(), "x=v; Path=/; HttpOnly; SameSite=Lax");
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; __Host-x=tok"));
        assert_eq!(read(&headers, "x", true).as_deref(), Some("tok"));
        assert_eq!(read(&headers, "x", false), None);
    }
}
