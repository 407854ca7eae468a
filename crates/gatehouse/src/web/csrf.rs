//! CSRF protection for forms: a random token in an HttpOnly cookie, repeated in a
//! hidden field, compared in constant time (double submit). `SameSite=Lax` adds a second layer.

use axum::http::{HeaderMap, HeaderValue};

use crate::crypto::secrets::{random_token, secrets_equal};

const COOKIE: &str = "gatehouse_csrf";

/// The token in the request's cookie, if it has a plausible form.
pub fn from_cookie(headers: &HeaderMap, https: bool) -> Option<String> {
    super::cookies::read(headers, COOKIE, https)
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// The token to put in a form: the cookie's, or a new one with the `Set-Cookie` to send.
pub fn token_for_form(headers: &HeaderMap, https: bool) -> (String, Option<HeaderValue>) {
    if let Some(existing) = from_cookie(headers, https) {
        return (existing, None);
    }
    let token = random_token(24);
    let cookie = super::cookies::set(COOKIE, &token, https, None);
    (token, cookie)
}

/// Whether the submitted field matches the cookie.
pub fn is_valid(headers: &HeaderMap, https: bool, submitted: &str) -> bool {
    matches(from_cookie(headers, https).as_deref(), submitted)
}

/// Whether a submitted token matches the cookie's (`from_cookie`), in constant time.
pub fn matches(cookie: Option<&str>, submitted: &str) -> bool {
    cookie.is_some_and(|cookie| secrets_equal(cookie, submitted))
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
        headers.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_str(&format!("other=1; gatehouse_csrf={token}")).unwrap(),
        );
        assert!(is_valid(&headers, false, &token));
        assert!(!is_valid(&headers, false, "x"));
        assert!(!is_valid(&headers, true, &token), "https uses the __Host- cookie");
        assert!(!is_valid(&empty, false, &token));
        assert_eq!(token_for_form(&headers, false), (token, None));
    }
}
