//! Cookie-mode refresh for browser apps (authkit-js outside devMode): which attributes the
//! refresh cookie and the readable `workos-has-session` cookie get, derived from the public URL
//! and the operator's settings, and whether an app origin can receive them. Pure rules.

/// The `SameSite` attribute of the cookies browser apps use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// The app and Gatehouse share a site (e.g. `app.example.com` and `auth.example.com`).
    Lax,
    /// The app is on another site; needs https (`Secure`).
    None,
}

impl SameSite {
    pub fn parse(value: &str) -> Result<SameSite, String> {
        match value.to_ascii_lowercase().as_str() {
            "lax" => Ok(SameSite::Lax),
            "none" => Ok(SameSite::None),
            other => Err(format!("cookie SameSite must be `lax` or `none`, not `{other}`")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The attributes of the cookie-mode cookies, fixed at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookiePolicy {
    /// The public URL is https: cookies get `Secure`, the refresh cookie the `__Host-` prefix.
    pub https: bool,
    /// Gatehouse's host name (lower case, no port).
    pub host: String,
    /// `Domain` of `workos-has-session` (the app's site); `None`: host-only (localhost, IPs).
    pub has_session_domain: Option<String>,
    pub same_site: SameSite,
}

/// Whether an allowed CORS origin can use cookie-mode refresh, and why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginFit {
    /// Same site as Gatehouse: both cookies work.
    Ok,
    /// `localhost`/`127.0.0.1`: authkit-js runs in devMode there and keeps the refresh token
    /// itself; the cookies are not needed.
    DevMode,
    /// A problem an operator should hear about (the text says what to do).
    Warning(String),
}

fn is_ip(host: &str) -> bool {
    matches!(url::Host::parse(host), Ok(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || match url::Host::parse(host) {
            Ok(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Ok(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        }
}

/// The default `Domain` of `workos-has-session`: the parent domain of Gatehouse's host
/// (`auth.example.com` → `example.com`), the host itself when it has only two labels, and none
/// for `localhost`, IP addresses and single-label hosts.
pub fn default_cookie_domain(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let bracketed = host.starts_with('[');
    if bracketed || is_ip(&host) || is_loopback_host(&host) {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    match labels.len() {
        0 | 1 => None,
        2 => Some(host.clone()),
        _ => Some(labels[1..].join(".")),
    }
}

fn within(host: &str, domain: &str) -> bool {
    host == domain || host.ends_with(&format!(".{domain}"))
}

impl CookiePolicy {
    /// From the public URL, an optional `Domain` override and the `SameSite` setting.
    pub fn new(public_url: &str, domain: Option<&str>, same_site: SameSite) -> Result<CookiePolicy, String> {
        let url =
            url::Url::parse(public_url).map_err(|e| format!("the public URL `{public_url}` is not a URL: {e}"))?;
        let host = url.host_str().ok_or_else(|| format!("the public URL `{public_url}` has no host"))?;
        let host = host.to_ascii_lowercase();
        let https = url.scheme() == "https";
        if same_site == SameSite::None && !https {
            return Err("cookie SameSite=None needs an https public URL (browsers drop SameSite=None cookies \
                        without Secure)"
                .into());
        }
        let has_session_domain = match domain.map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase()) {
            Some(d) if d.is_empty() => None,
            Some(d) => {
                if !within(&host, &d) {
                    return Err(format!(
                        "the cookie domain `{d}` does not contain Gatehouse's host `{host}`; browsers refuse \
                         such cookies (use `{}` or a parent of it)",
                        default_cookie_domain(&host).unwrap_or_else(|| host.clone())
                    ));
                }
                Some(d)
            }
            None => default_cookie_domain(&host),
        };
        Ok(CookiePolicy { https, host, has_session_domain, same_site })
    }

    /// Whether an allowed CORS origin can receive the cookies; a warning says what to change.
    pub fn check_origin(&self, origin: &str) -> OriginFit {
        let Ok(url) = url::Url::parse(origin) else {
            return OriginFit::Warning(format!("`{origin}` is not an origin"));
        };
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if is_loopback_host(&host) {
            return OriginFit::DevMode;
        }
        let site = self.has_session_domain.as_deref().unwrap_or(&self.host);
        if !within(&host, site) {
            let reason = format!(
                "{origin} is not on Gatehouse's site ({site}): authkit-js there runs without devMode and \
                 cannot read the workos-has-session cookie, so its users are signed out on every reload"
            );
            return OriginFit::Warning(match (self.same_site, self.https) {
                (SameSite::None, true) => format!("{reason}. Serve Gatehouse from a subdomain of the app's site."),
                _ => format!(
                    "{reason}, and browsers do not send Gatehouse's SameSite=Lax refresh cookie from another \
                     site. Serve Gatehouse from a subdomain of the app's site (e.g. auth.<app's domain>); \
                     otherwise a cross-site app needs an https public URL and --cookie-same-site none"
                ),
            });
        }
        if self.https && url.scheme() == "http" {
            return OriginFit::Warning(format!(
                "{origin} is http while Gatehouse is https: the page cannot read the Secure \
                 workos-has-session cookie, so its users are signed out on every reload; serve the app over https"
            ));
        }
        if !self.https && url.scheme() == "http" {
            return OriginFit::Warning(format!(
                "{origin} and Gatehouse use http: the refresh cookie travels unencrypted. Fine for a test \
                 setup; use https (e.g. behind a TLS proxy) in production"
            ));
        }
        OriginFit::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_domains() {
        assert_eq!(default_cookie_domain("auth.example.com").as_deref(), Some("example.com"));
        assert_eq!(default_cookie_domain("a.b.example.com").as_deref(), Some("b.example.com"));
        assert_eq!(default_cookie_domain("example.com").as_deref(), Some("example.com"));
        assert_eq!(default_cookie_domain("localhost"), None);
        assert_eq!(default_cookie_domain("127.0.0.1"), None);
        assert_eq!(default_cookie_domain("[::1]"), None);
        assert_eq!(default_cookie_domain("intranet"), None);
    }

    #[test]
    fn policy_from_settings() {
        let p = CookiePolicy::new("https://Auth.Example.com", None, SameSite::Lax).unwrap();
        assert!(p.https);
        assert_eq!(p.has_session_domain.as_deref(), Some("example.com"));
        let p = CookiePolicy::new("http://localhost:8080", None, SameSite::Lax).unwrap();
        assert_eq!((p.https, p.has_session_domain), (false, None));
        let p = CookiePolicy::new("https://auth.example.com", Some(".Example.com"), SameSite::None).unwrap();
        assert_eq!(p.has_session_domain.as_deref(), Some("example.com"));
        let e = CookiePolicy::new("https://auth.example.com", Some("other.com"), SameSite::Lax).unwrap_err();
        assert!(e.contains("does not contain"), "{e}");
        let e = CookiePolicy::new("http://auth.example.com", None, SameSite::None).unwrap_err();
        assert!(e.contains("needs an https"), "{e}");
        assert_eq!(SameSite::parse("NONE"), Ok(SameSite::None));
        assert!(SameSite::parse("strict").is_err());
    }

    #[test]
    fn origins_that_can_and_cannot_receive_the_cookies() {
        let p = CookiePolicy::new("https://auth.example.com", None, SameSite::Lax).unwrap();
        assert_eq!(p.check_origin("https://app.example.com"), OriginFit::Ok);
        assert_eq!(p.check_origin("https://example.com"), OriginFit::Ok);
        assert_eq!(p.check_origin("http://localhost:5173"), OriginFit::DevMode);
        let OriginFit::Warning(w) = p.check_origin("https://app.other.com") else { panic!() };
        assert!(w.contains("not on Gatehouse's site (example.com)") && w.contains("--cookie-same-site none"), "{w}");
        let OriginFit::Warning(w) = p.check_origin("http://app.example.com") else { panic!() };
        assert!(w.contains("serve the app over https"), "{w}");
        let p = CookiePolicy::new("http://auth.example.test", None, SameSite::Lax).unwrap();
        let OriginFit::Warning(w) = p.check_origin("http://app.example.test") else { panic!() };
        assert!(w.contains("unencrypted"), "{w}");
    }
}
