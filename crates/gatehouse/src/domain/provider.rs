//! Upstream sign-in providers (social login): the built-in kinds with their endpoints and
//! default scopes, and the rules for names, scopes and URLs an operator may configure.

use crate::clock::Millis;

/// A provider as stored. The client secret stays sealed (`crypto::sealing`); `service::social` opens it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProvider {
    pub id: String,
    pub environment_id: String,
    pub name: String,
    pub kind: String,
    pub client_id: String,
    pub client_secret_sealed: String,
    /// Space-separated.
    pub scopes: String,
    pub display_name: Option<String>,
    pub icon_url: Option<String>,
    pub issuer: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub emails_url: Option<String>,
    pub jwks_url: Option<String>,
    pub is_enabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// How Gatehouse talks to a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Google,
    Microsoft,
    GitHub,
    Apple,
    GitLab,
    /// Any OpenID Connect provider, found through its issuer's discovery document.
    Oidc,
}

/// What a kind starts with; every URL can be overridden per provider.
#[derive(Clone, Copy, Debug)]
pub struct Preset {
    /// The WorkOS provider name (`provider=` and `authentication_method`); `None` for custom OIDC.
    pub name: Option<&'static str>,
    pub label: &'static str,
    pub scopes: &'static str,
    pub issuer: Option<&'static str>,
    pub authorize_url: Option<&'static str>,
    pub token_url: Option<&'static str>,
    pub userinfo_url: Option<&'static str>,
    pub emails_url: Option<&'static str>,
}

impl Kind {
    pub const BUILT_IN: [Kind; 5] = [Kind::Google, Kind::Microsoft, Kind::GitHub, Kind::Apple, Kind::GitLab];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Google => "google",
            Kind::Microsoft => "microsoft",
            Kind::GitHub => "github",
            Kind::Apple => "apple",
            Kind::GitLab => "gitlab",
            Kind::Oidc => "oidc",
        }
    }

    pub fn parse(kind: &str) -> Option<Kind> {
        [Kind::Google, Kind::Microsoft, Kind::GitHub, Kind::Apple, Kind::GitLab, Kind::Oidc]
            .into_iter()
            .find(|k| k.as_str() == kind)
    }

    /// The built-in kind a WorkOS provider name stands for (`GoogleOAuth` → Google).
    pub fn for_name(name: &str) -> Option<Kind> {
        Kind::BUILT_IN.into_iter().find(|k| k.preset().name == Some(name))
    }

    /// Whether sign-in uses OpenID Connect (an ID token verified against the JWKS) rather
    /// than plain OAuth 2.0 plus API calls (GitHub).
    pub fn is_oidc(self) -> bool {
        self != Kind::GitHub
    }

    pub fn preset(self) -> Preset {
        match self {
            Kind::Google => Preset {
                name: Some("GoogleOAuth"),
                label: "Google",
                scopes: "openid email profile",
                issuer: Some("https://accounts.google.com"),
                authorize_url: None,
                token_url: None,
                userinfo_url: None,
                emails_url: None,
            },
            // The multi-tenant endpoint; set the issuer to `…/{tenant}/v2.0` for one tenant.
            Kind::Microsoft => Preset {
                name: Some("MicrosoftOAuth"),
                label: "Microsoft",
                scopes: "openid email profile",
                issuer: Some("https://login.microsoftonline.com/common/v2.0"),
                authorize_url: None,
                token_url: None,
                userinfo_url: None,
                emails_url: None,
            },
            Kind::GitHub => Preset {
                name: Some("GitHubOAuth"),
                label: "GitHub",
                scopes: "read:user user:email",
                issuer: None,
                authorize_url: Some("https://github.com/login/oauth/authorize"),
                token_url: Some("https://github.com/login/oauth/access_token"),
                userinfo_url: Some("https://api.github.com/user"),
                emails_url: Some("https://api.github.com/user/emails"),
            },
            Kind::Apple => Preset {
                name: Some("AppleOAuth"),
                label: "Apple",
                scopes: "openid email name",
                issuer: Some("https://appleid.apple.com"),
                authorize_url: None,
                token_url: None,
                userinfo_url: None,
                emails_url: None,
            },
            Kind::GitLab => Preset {
                name: Some("GitLabOAuth"),
                label: "GitLab",
                scopes: "openid email profile",
                issuer: Some("https://gitlab.com"),
                authorize_url: None,
                token_url: None,
                userinfo_url: None,
                emails_url: None,
            },
            Kind::Oidc => Preset {
                name: None,
                label: "",
                scopes: "openid email profile",
                issuer: None,
                authorize_url: None,
                token_url: None,
                userinfo_url: None,
                emails_url: None,
            },
        }
    }
}

/// Checks the name of a custom provider: 1–64 letters, digits, `-` and `_`, starting with a
/// letter, and not a name WorkOS gives another meaning (`authkit`, `…OAuth`, another sign-in
/// method such as `Passkey`).
pub fn check_custom_name(name: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(format!(
            "'{name}' is not a valid provider name: use 1-64 letters, digits, '-' or '_', starting with a letter"
        ));
    }
    // A provider's name is stored as the sign-in's `authentication_method` and read back as an
    // `AuthMethod`: the names of other methods are never providers, so a stored `OAuth` sign-in
    // can never read back as, say, a `Passkey` one (which owes no second factor).
    const METHODS: &[&str] = &[
        "authkit",
        "password",
        "passkey",
        "magicauth",
        "sso",
        "impersonation",
        "migratedsession",
        "crossappauth",
        "externalauth",
    ];
    if METHODS.iter().any(|m| name.eq_ignore_ascii_case(m)) {
        return Err(format!("'{name}' is reserved: it names a sign-in method; choose another provider name"));
    }
    if name.ends_with("OAuth") {
        return Err(format!(
            "'{name}' is reserved; built-in providers are GoogleOAuth, MicrosoftOAuth, GitHubOAuth, AppleOAuth and GitLabOAuth"
        ));
    }
    Ok(())
}

/// Splits scopes given as repeated values, comma- or space-separated, keeping the first of
/// each and dropping empties. Scope tokens are printable ASCII without `"` or `\` (RFC 6749 §3.3).
pub fn parse_scopes<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for value in values {
        for scope in value.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()) {
            if scope.len() > 256 || !scope.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\') {
                return Err(format!("'{scope}' is not a valid scope"));
            }
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
    }
    Ok(scopes)
}

/// Checks an endpoint URL: absolute http(s) without a fragment. Plain http is allowed so tests
/// and private deployments can point providers anywhere.
pub fn check_endpoint(field: &str, value: &str) -> Result<(), String> {
    let url = url::Url::parse(value).map_err(|_| format!("{field} '{value}' is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || url.fragment().is_some() {
        return Err(format!("{field} '{value}' must be an http(s) URL without a fragment"));
    }
    Ok(())
}

/// Checks an icon URL for the hosted pages: https (their CSP loads images from https only) or
/// a `data:image/…` URL.
pub fn check_icon_url(value: &str) -> Result<(), String> {
    if value.starts_with("data:image/") && value.len() <= 16 * 1024 {
        return Ok(());
    }
    match url::Url::parse(value) {
        Ok(url) if url.scheme() == "https" && url.host_str().is_some() => Ok(()),
        _ => Err(format!("icon_url '{value}' must be an https URL or a data:image/ URL (at most 16 KiB)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(values: &[&str], expect: Result<&[&str], ()>) {
        let got = parse_scopes(values.iter().copied());
        match expect {
            Ok(want) => assert_eq!(got.unwrap(), want.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            Err(()) => assert!(got.is_err(), "{got:?}"),
        }
    }

    #[test]
    fn scopes_in_repeated_and_comma_forms() {
        check(&["openid", "email"], Ok(&["openid", "email"]));
        check(&["openid,email", "profile"], Ok(&["openid", "email", "profile"]));
        check(&["openid email,openid"], Ok(&["openid", "email"]));
        check(&["", " , "], Ok(&[]));
        check(&["a\"b"], Err(()));
    }

    #[test]
    fn names_and_urls() {
        assert_eq!(Kind::for_name("GitHubOAuth"), Some(Kind::GitHub));
        assert_eq!(Kind::for_name("LinkedInOAuth"), None);
        assert!(check_custom_name("acme-sso").is_ok());
        assert!(check_custom_name("authkit").is_err());
        for method in ["Passkey", "password", "MagicAuth", "SSO"] {
            assert!(check_custom_name(method).is_err(), "{method} names a sign-in method");
        }
        assert!(check_custom_name("LinkedInOAuth").is_err());
        assert!(check_custom_name("1x").is_err());
        assert!(check_custom_name("a b").is_err());
        assert!(check_endpoint("issuer", "http://127.0.0.1:9/x").is_ok());
        assert!(check_endpoint("issuer", "ftp://x").is_err());
        assert!(check_icon_url("http://x.test/i.png").is_err());
        assert!(check_icon_url("https://x.test/i.png").is_ok());
    }
}
