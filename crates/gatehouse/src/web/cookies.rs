//! The web layer's cookies: HttpOnly, `SameSite=Lax`, `Path=/`, and `__Host-` plus `Secure`
//! when the public URL is https. One place builds and reads them all, including cookie-mode
//! refresh for browser apps outside authkit-js's devMode: the refresh token in an HttpOnly cookie
//! on Gatehouse's host (one per client ID) and the readable `workos-has-session` cookie on the
//! app's site (a `.`-separated list of client IDs, as authkit-js parses it).

use axum::http::{HeaderMap, HeaderValue, header};

use crate::crypto::secrets::random_token;
use crate::domain::cookie_policy::CookiePolicy;

/// A new random cookie value (256 bits), e.g. to bind a flow to this browser.
pub fn random_value() -> String {
    random_token(32)
}

/// The half-finished sign-in (a pending-authentication token) between step-up pages.
pub const PENDING: &str = "gatehouse_pending";

/// This browser signed in to an account before (OWASP device cookies; `service::throttle`).
pub const DEVICE: &str = "gatehouse_device";

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

/// `Set-Cookie` for `name=value` with `SameSite=Strict` (the console's session: never sent on a
/// request another site starts); `max_age_secs` as in `set`.
pub fn set_strict(name: &str, value: &str, https: bool, max_age_secs: Option<i64>) -> Option<HeaderValue> {
    let secure = if https { "; Secure" } else { "" };
    let max_age = max_age_secs.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict{max_age}{secure}",
        full_name(name, https)
    ))
    .ok()
}

/// The value of a cookie holding a sealed value (longer than `read` allows), up to `max_len`.
pub fn read_sealed(headers: &HeaderMap, name: &str, https: bool, max_len: usize) -> Option<String> {
    let full = full_name(name, https);
    pairs(headers).find(|(k, _)| *k == full).map(|(_, v)| v.to_owned()).filter(|v| !v.is_empty() && v.len() <= max_len)
}

/// Every `name=value` pair of the request's `Cookie` headers.
fn pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// The value of a cookie of the hosted flow, if present, non-empty and of a sane length.
pub fn read(headers: &HeaderMap, name: &str, https: bool) -> Option<String> {
    let full = full_name(name, https);
    pairs(headers).find(|(k, _)| *k == full).map(|(_, v)| v.to_owned()).filter(|v| !v.is_empty() && v.len() <= 64)
}

/// The readable cookie authkit-js checks on page load before it tries a cookie refresh.
pub const HAS_SESSION: &str = "workos-has-session";
/// The refresh cookie's name before the client ID (and after `__Host-` over https).
const REFRESH: &str = "gatehouse_refresh_";

/// Client IDs go into cookie names and the `workos-has-session` list: only `[A-Za-z0-9_-]`.
fn is_client_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn refresh_name(client_id: &str, https: bool) -> String {
    full_name(&format!("{REFRESH}{client_id}"), https)
}

/// Whether the request's body is JSON: only such requests (which browsers preflight when they
/// come from another origin) may use the refresh cookie. A form post or a simple request cannot.
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The refresh token this browser holds for `client_id`, if any. Never log it.
pub fn refresh_token(headers: &HeaderMap, policy: &CookiePolicy, client_id: &str) -> Option<String> {
    if !is_client_id(client_id) {
        return None;
    }
    let name = refresh_name(client_id, policy.https);
    pairs(headers).find(|(k, _)| *k == name).map(|(_, v)| v.to_owned()).filter(|v| !v.is_empty() && v.len() <= 512)
}

fn attributes(policy: &CookiePolicy, max_age_secs: i64) -> String {
    let secure = if policy.https { "; Secure" } else { "" };
    format!("; Path=/; SameSite={}; Max-Age={}{secure}", policy.same_site.as_str(), max_age_secs.max(0))
}

fn refresh_cookie(policy: &CookiePolicy, client_id: &str, value: &str, max_age_secs: i64) -> Option<HeaderValue> {
    let name = refresh_name(client_id, policy.https);
    HeaderValue::from_str(&format!("{name}={value}; HttpOnly{}", attributes(policy, max_age_secs))).ok()
}

/// The client IDs the request's `workos-has-session` cookies list (`1`, the old format, names none).
fn has_session_ids(headers: &HeaderMap) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (_, value) in pairs(headers).filter(|(k, _)| *k == HAS_SESSION) {
        for id in value.split('.').filter(|id| is_client_id(id) && *id != "1") {
            if !ids.iter().any(|known| known == id) {
                ids.push(id.to_owned());
            }
        }
    }
    ids
}

/// `workos-has-session` listing `ids`, on the app's site; deleted when the list is empty.
fn has_session_cookie(policy: &CookiePolicy, ids: &[String], max_age_secs: i64) -> Option<HeaderValue> {
    let domain = policy.has_session_domain.as_deref().map(|d| format!("; Domain={d}")).unwrap_or_default();
    let max_age = if ids.is_empty() { 0 } else { max_age_secs };
    HeaderValue::from_str(&format!("{HAS_SESSION}={}{domain}{}", ids.join("."), attributes(policy, max_age))).ok()
}

/// The `Set-Cookie`s after a browser client authenticated in cookie mode: its refresh token
/// (replacing the previous one) and its client ID added to `workos-has-session`, both living
/// as long as the session.
pub fn start_session(
    headers: &HeaderMap,
    policy: &CookiePolicy,
    client_id: &str,
    refresh_token: &str,
    max_age_secs: i64,
) -> Vec<HeaderValue> {
    if !is_client_id(client_id) {
        return Vec::new();
    }
    let mut ids = has_session_ids(headers);
    if !ids.iter().any(|id| id == client_id) {
        ids.push(client_id.to_owned());
    }
    [refresh_cookie(policy, client_id, refresh_token, max_age_secs), has_session_cookie(policy, &ids, max_age_secs)]
        .into_iter()
        .flatten()
        .collect()
}

/// The `Set-Cookie`s that forget `client_ids`' sessions in this browser: their refresh cookies
/// deleted, and their IDs taken out of `workos-has-session` (deleted when none is left).
fn end_clients(headers: &HeaderMap, policy: &CookiePolicy, client_ids: &[String]) -> Vec<HeaderValue> {
    if client_ids.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<HeaderValue> = client_ids.iter().filter_map(|c| refresh_cookie(policy, c, "", 0)).collect();
    let before = has_session_ids(headers);
    let ids: Vec<String> = before.iter().filter(|id| !client_ids.contains(id)).cloned().collect();
    // Max-Age of the remaining IDs is unknown here; a day keeps the hint without outliving
    // typical sessions by much (a stale hint costs one failed refresh).
    out.extend(has_session_cookie(policy, &ids, 86_400));
    out
}

/// After a cookie refresh failed for good: forget this client's session in this browser.
pub fn end_client(headers: &HeaderMap, policy: &CookiePolicy, client_id: &str) -> Vec<HeaderValue> {
    if !is_client_id(client_id) {
        return Vec::new();
    }
    end_clients(headers, policy, &[client_id.to_owned()])
}

/// At sign-out of `session_id`: forget every client whose refresh cookie belongs to that
/// session (a refresh token starts with its session's ID). Other sessions' cookies stay.
pub fn end_session(headers: &HeaderMap, policy: &CookiePolicy, session_id: &str) -> Vec<HeaderValue> {
    let prefix = full_name(REFRESH, policy.https);
    let clients: Vec<String> = pairs(headers)
        .filter(|(_, v)| v.split('.').next() == Some(session_id))
        .filter_map(|(k, _)| k.strip_prefix(prefix.as_str()))
        .filter(|c| is_client_id(c))
        .map(str::to_owned)
        .collect();
    end_clients(headers, policy, &clients)
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

    fn policy(url: &str) -> CookiePolicy {
        CookiePolicy::new(url, None, crate::domain::cookie_policy::SameSite::Lax).unwrap()
    }

    fn cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn cookie_mode_sessions_over_https() {
        let p = policy("https://auth.example.com");
        let set = start_session(&cookie("workos-has-session=client_A"), &p, "client_B", "session_1.0.s", 3600);
        assert_eq!(
            set,
            [
                "__Host-gatehouse_refresh_client_B=session_1.0.s; HttpOnly; Path=/; SameSite=Lax; Max-Age=3600; Secure",
                "workos-has-session=client_A.client_B; Domain=example.com; Path=/; SameSite=Lax; Max-Age=3600; Secure",
            ]
        );
        let h = cookie("__Host-gatehouse_refresh_client_B=session_1.3.x; gatehouse_refresh_client_C=session_1.0.y");
        assert_eq!(refresh_token(&h, &p, "client_B").as_deref(), Some("session_1.3.x"));
        // Over https only the __Host- cookie counts (a sibling host cannot plant one).
        assert_eq!(refresh_token(&h, &p, "client_C"), None);
        assert_eq!(refresh_token(&h, &p, "client_B; x"), None);
    }

    #[test]
    fn sign_out_forgets_only_that_session() {
        let p = policy("http://auth.example.test");
        let h = cookie(
            "gatehouse_refresh_client_A=session_1.2.x; gatehouse_refresh_client_B=session_2.0.y; \
             workos-has-session=client_A.client_B",
        );
        assert_eq!(
            end_session(&h, &p, "session_1"),
            [
                "gatehouse_refresh_client_A=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0",
                "workos-has-session=client_B; Domain=example.test; Path=/; SameSite=Lax; Max-Age=86400",
            ]
        );
        assert!(end_session(&h, &p, "session_9").is_empty());
        let h = cookie("gatehouse_refresh_client_A=session_1.2.x; workos-has-session=client_A");
        assert_eq!(
            end_client(&h, &p, "client_A")[1],
            "workos-has-session=; Domain=example.test; Path=/; SameSite=Lax; Max-Age=0"
        );
        let local = policy("http://localhost:8080");
        assert_eq!(
            start_session(&HeaderMap::new(), &local, "client_A", "t", 5)[1],
            "workos-has-session=client_A; Path=/; SameSite=Lax; Max-Age=5"
        );
    }

    #[test]
    fn only_json_bodies_count_as_json() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("Application/JSON; charset=utf-8"));
        assert!(is_json(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!is_json(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        assert!(!is_json(&h));
    }
}
