//! Redirect and origin rules: exact redirect-URI matching, allowed sign-out targets, CORS origins.

use url::Url;

/// Parses an absolute http(s) URL without a fragment, as redirect URIs must be (RFC 6749 §3.1.2).
pub fn parse_absolute(uri: &str) -> Result<Url, String> {
    let url = Url::parse(uri).map_err(|_| format!("`{uri}` is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{uri}` must use http or https"));
    }
    if url.fragment().is_some() {
        return Err(format!("`{uri}` must not contain a fragment"));
    }
    if url.host_str().is_none() {
        return Err(format!("`{uri}` has no host"));
    }
    Ok(url)
}

/// The `scheme://host[:port]` origin of a URL, as a browser would send it in `Origin`.
pub fn origin_of(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// Parses an origin for the CORS list: `scheme://host[:port]` and nothing else.
pub fn parse_origin(origin: &str) -> Result<String, String> {
    let url = parse_absolute(origin)?;
    let normalised = url.origin().ascii_serialization();
    if normalised != origin.trim_end_matches('/') {
        return Err(format!("`{origin}` is not a bare origin; use `{normalised}`"));
    }
    Ok(normalised)
}

/// Whether an origin is a loopback development origin (`http://localhost:*`, `http://127.0.0.1:*`).
pub fn is_localhost_origin(origin: &str) -> bool {
    Url::parse(origin)
        .is_ok_and(|u| u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")))
}

/// Whether `return_to` may be a sign-out destination: listed exactly, or on the origin of a
/// registered redirect URI.
pub fn is_allowed_return_to(return_to: &str, sign_out_uris: &[String], redirect_uris: &[String]) -> bool {
    // A control character (`%0d%0a` decoded) or space could never be a `Location` header.
    if return_to.chars().any(|c| c.is_control() || c.is_whitespace()) || parse_absolute(return_to).is_err() {
        return false;
    }
    if sign_out_uris.iter().any(|u| u == return_to) {
        return true;
    }
    let Some(origin) = origin_of(return_to) else {
        return false;
    };
    redirect_uris.iter().any(|r| origin_of(r).as_deref() == Some(origin.as_str()))
}

/// Appends `params` to a redirect URI, keeping any query it already has.
pub fn with_query(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in params {
                    pairs.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_with_line_breaks_is_refused() {
        let uris = vec!["http://localhost:3000/callback".to_owned()];
        assert!(!is_allowed_return_to("http://localhost:3000/\r\nSet-Cookie: x=1", &[], &uris));
        assert!(!is_allowed_return_to("http://localhost:3000/ x", &[], &uris));
        assert!(is_allowed_return_to("http://localhost:3000/bye", &[], &uris));
    }

    #[test]
    fn return_to_rules() {
        let redirects = vec!["http://localhost:5173/callback".to_owned()];
        let sign_out = vec!["https://app.example.com/bye".to_owned()];
        let check = |url: &str| is_allowed_return_to(url, &sign_out, &redirects);
        assert!(check("http://localhost:5173/"));
        assert!(check("http://localhost:5173/anything?x=1"));
        assert!(check("https://app.example.com/bye"));
        assert!(!check("https://app.example.com/other"));
        assert!(!check("http://localhost:5174/"));
        assert!(!check("javascript:alert(1)"));
        assert!(!check("//evil.example"));
    }

    #[test]
    fn origins() {
        assert_eq!(parse_origin("http://localhost:5173").unwrap(), "http://localhost:5173");
        assert_eq!(parse_origin("http://localhost:5173/").unwrap(), "http://localhost:5173");
        assert!(parse_origin("http://localhost:5173/app").is_err());
        assert!(parse_origin("*").is_err());
        assert!(is_localhost_origin("http://127.0.0.1:9999"));
        assert!(!is_localhost_origin("https://localhost.evil.com"));
    }

    #[test]
    fn query_is_appended() {
        assert_eq!(
            with_query("http://a.test/cb?x=1", &[("code", "c"), ("state", "{\"a\":1} +")]),
            "http://a.test/cb?x=1&code=c&state=%7B%22a%22%3A1%7D+%2B"
        );
        assert!(parse_absolute("http://a.test/cb#frag").is_err());
    }
}
