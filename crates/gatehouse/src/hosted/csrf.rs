//! CSRF protection for the hosted forms: a random token in an HttpOnly cookie, repeated in a
//! hidden field, compared in constant time (double submit). `SameSite=Lax` adds a second layer.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::crypto::secrets::{random_token, secrets_equal};

fn cookie_name(https: bool) -> &'static str {
    if https { "__Host-gatehouse_csrf" } else { "gatehouse_csrf" }
}

/// The token in the request's cookie, if it has a plausible form.
pub fn from_cookie(headers: &HeaderMap, https: bool) -> Option<String> {
    let name = cookie_name(https);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// The token to put in a form: the cookie's, or a new one with the `Set-Cookie` to send.
pub fn token_for_form(headers: &HeaderMap, https: bool) -> (String, Option<HeaderValue>) {
    if let Some(existing) = from_cookie(headers, https) {
        return (existing, None);
    }
    let token = random_token(24);
    let secure = if https { "; Secure" } else { "" };
    let cookie = format!("{}={token}; Path=/; HttpOnly; SameSite=Lax{secure}", cookie_name(https));
    (token, HeaderValue::from_str(&cookie).ok())
}

/// Whether the submitted field matches the cookie.
pub fn is_valid(headers: &HeaderMap, https: bool, submitted: &str) -> bool {
    from_cookie(headers, https).is_some_and(|cookie| secrets_equal(&cookie, submitted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_submit() {
        let empty = HeaderMap::new();
        let (token, cookie) = token_for_form(&empty, false);
        let cookie = cookie.unwrap();
        assert!(cookie.to_str().unwrap().contains("HttpOnly; SameSite=Lax"));
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&format!("other=1; gatehouse_csrf={token}")).unwrap());
        assert!(is_valid(&headers, false, &token));
        assert!(!is_valid(&headers, false, "x"));
        assert!(!is_valid(&headers, true, &token), "https uses the __Host- cookie");
        assert!(!is_valid(&empty, false, &token));
        assert_eq!(token_for_form(&headers, false), (token, None));
    }
}
