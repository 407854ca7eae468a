//! Environments (`development`, `production`): each one is a separate tenant with its own
//! client ID, API keys, signing keys, users and settings.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::domain::password_policy::PasswordPolicy;

/// The environment names the CLI and banner know about.
pub const DEVELOPMENT: &str = "development";
pub const PRODUCTION: &str = "production";

#[derive(Clone, Debug)]
pub struct Environment {
    pub id: String,
    pub name: String,
    pub client_id: String,
    pub settings: Settings,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Environment {
    pub fn is_development(&self) -> bool {
        self.name != PRODUCTION
    }

    /// API key prefix: `sk_test_` outside production, `sk_live_` in production.
    pub fn api_key_prefix(&self) -> &'static str {
        if self.is_development() { "sk_test_" } else { "sk_live_" }
    }
}

/// A signing key as kept: the PEM private key (`crypto::signing` parses it once per process).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredSigningKey {
    pub kid: String,
    pub private_key: String,
    /// When the key first appeared in the JWKS; it signs only once caches have seen it.
    pub published_at: Millis,
    pub created_at: Millis,
    /// The key's self-signed certificate (DER, standard base64), published as `x5c`.
    pub certificate: Option<String>,
}

/// An API key as kept: its hash is in the store, never the key.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApiKeyRecord {
    pub id: String,
    pub environment_id: String,
    /// The first characters of the key, for recognising it in lists.
    pub key_hint: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

#[derive(Clone, Debug)]
pub struct RedirectUri {
    pub id: String,
    pub uri: String,
    pub is_default: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CorsOrigin {
    pub id: String,
    pub origin: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Everything an operator can tune per environment. Stored as one JSON document; unknown or
/// missing fields take their defaults so older rows keep loading as fields are added.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    /// Access-token lifetime (`exp - iat`).
    pub access_token_ttl_secs: i64,
    /// Absolute session lifetime; refresh tokens stop working after it.
    pub session_ttl_secs: i64,
    /// How long the immediately previous refresh token may be retried after a rotation and
    /// get the same new pair (two tabs racing), instead of counting as theft.
    pub refresh_grace_secs: i64,
    /// The Liquid JWT template (WorkOS syntax). Empty means no custom claims.
    pub jwt_template: String,
    pub jwt_template_updated_at: Millis,
    pub password_policy: PasswordPolicy,
    pub branding: Branding,
    /// Where `sessions/logout` may send the browser, besides the origins of redirect URIs.
    pub sign_out_redirect_uris: Vec<String>,
    /// Accept any `http://localhost:*` / `http://127.0.0.1:*` origin for CORS (development only).
    pub allow_localhost_origins: bool,
    pub sign_up_enabled: bool,
    /// Hosted sign-up answers the same whether or not the address has an account: every new
    /// account proves its address with an emailed code first, and the owner of an existing one
    /// is emailed instead (issue 17.5). Off: sign-up finishes at once and says "sign in instead".
    pub uniform_sign_up: bool,
    /// Offer "Email me a code" (Magic Auth) on the sign-in page.
    pub magic_auth_enabled: bool,
    /// Users must verify their email before a session starts (403 `email_verification_required`).
    pub email_verification_required: bool,
    /// Where password-reset emails link to (`?token=` is appended); the hosted page when unset.
    pub password_reset_url: Option<String>,
    /// Every sign-in needs a second factor (an authenticator app), or a passkey.
    pub mfa_required: bool,
    /// Operators may sign in as a user (`gatehouse impersonate`). On in new non-production
    /// environments, off in production and in environments stored before the setting existed.
    pub allow_impersonation: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            access_token_ttl_secs: 300,
            session_ttl_secs: 30 * 24 * 3600,
            refresh_grace_secs: 5,
            jwt_template: String::new(),
            jwt_template_updated_at: 0,
            password_policy: PasswordPolicy::default(),
            branding: Branding::default(),
            sign_out_redirect_uris: Vec::new(),
            allow_localhost_origins: false,
            sign_up_enabled: true,
            uniform_sign_up: true,
            magic_auth_enabled: true,
            email_verification_required: false,
            password_reset_url: None,
            mfa_required: false,
            allow_impersonation: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Branding {
    pub app_name: String,
    /// A CSS hex colour for buttons and links, `#rrggbb`.
    pub primary_color: String,
    pub logo_url: Option<String>,
}

impl Default for Branding {
    fn default() -> Branding {
        Branding { app_name: "Gatehouse".into(), primary_color: "#4f46e5".into(), logo_url: None }
    }
}

/// The shortest access-token lifetime Gatehouse accepts, in seconds. The SDKs refresh a token
/// that has less than a buffer left: authkit-nextjs (its middleware and its client token store)
/// 30 s for lifetimes up to 5 minutes, 60 s above; Convex's client 10 s. A lifetime at or under
/// the 30 s buffer is "expiring" the moment it is issued, so every request refreshes and an open
/// page refreshes in a loop (about 1,500 refresh grants in 50 s measured at 20 s). 40 s is the
/// buffer plus Convex's 10 s, which leaves one refresh per lifetime.
pub const MIN_ACCESS_TOKEN_TTL_SECS: i64 = 40;

/// Why lifetimes below [`MIN_ACCESS_TOKEN_TTL_SECS`] are refused (shown by the CLI and the API).
pub fn short_lifetime_reason(secs: i64) -> String {
    format!(
        "access_token_ttl_secs={secs} is shorter than {MIN_ACCESS_TOKEN_TTL_SECS} s: the WorkOS SDKs refresh a token \
         with less than 30 s left (authkit-nextjs; 60 s above 5 minutes), so a lifetime this short is refreshed on \
         every request and in a loop on an open page. Use at least {MIN_ACCESS_TOKEN_TTL_SECS} s; 300 s (the default, \
         as on WorkOS) suits real use."
    )
}

impl Settings {
    /// Defaults for a new environment. The JWT template sets `aud` to the client ID so that
    /// Convex providers with `applicationID` work out of the box.
    pub fn new_for(name: &str, client_id: &str, now: Millis) -> Settings {
        Settings {
            jwt_template: format!("{{\"aud\": \"{client_id}\"}}"),
            jwt_template_updated_at: now,
            allow_localhost_origins: name != PRODUCTION,
            allow_impersonation: name != PRODUCTION,
            ..Settings::default()
        }
    }

    /// Checks values an operator set; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.access_token_ttl_secs < MIN_ACCESS_TOKEN_TTL_SECS {
            return Err(short_lifetime_reason(self.access_token_ttl_secs));
        }
        if self.access_token_ttl_secs > 24 * 3600 {
            return Err("access_token_ttl_secs must be at most 86400 (a day)".into());
        }
        if !(60..=400 * 24 * 3600).contains(&self.session_ttl_secs) {
            return Err("session_ttl_secs must be between 60 and 34560000 (400 days)".into());
        }
        if !(0..=60).contains(&self.refresh_grace_secs) {
            return Err("refresh_grace_secs must be between 0 and 60".into());
        }
        if self.password_policy.min_length < 8 || self.password_policy.max_length < 64 {
            return Err("password_policy needs min_length >= 8 and max_length >= 64 (NIST SP 800-63B)".into());
        }
        if self.password_policy.min_length > self.password_policy.max_length {
            return Err("password_policy.min_length must not exceed max_length".into());
        }
        let color = &self.branding.primary_color;
        if !(color.len() == 7 && color.starts_with('#') && color[1..].bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err("branding.primary_color must look like #4f46e5".into());
        }
        if let Some(logo) = &self.branding.logo_url
            && !(logo.starts_with("https://") || logo.starts_with("http://"))
        {
            return Err("branding.logo_url must be an http(s) URL".into());
        }
        if let Some(url) = &self.password_reset_url {
            crate::domain::redirect::parse_absolute(url).map_err(|e| format!("password_reset_url: {e}"))?;
        }
        for uri in &self.sign_out_redirect_uris {
            crate::domain::redirect::parse_absolute(uri).map_err(|e| format!("sign_out_redirect_uris: {e}"))?;
        }
        Ok(())
    }

    /// Applies `key=value` from the CLI (`gatehouse env set`), keeping the old value if the
    /// new one is invalid. Keys use dotted paths.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let mut next = self.clone();
        next.apply(key, value)?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    fn apply(&mut self, key: &str, value: &str) -> Result<(), String> {
        let int = || value.parse::<i64>().map_err(|_| format!("{key} takes a whole number"));
        let boolean = || match value {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(format!("{key} takes true or false")),
        };
        let size = || value.parse::<usize>().map_err(|_| format!("{key} takes a whole number"));
        match key {
            "access_token_ttl_secs" => self.access_token_ttl_secs = int()?,
            "session_ttl_secs" => self.session_ttl_secs = int()?,
            "refresh_grace_secs" => self.refresh_grace_secs = int()?,
            "password_policy.min_length" => self.password_policy.min_length = size()?,
            "password_policy.max_length" => self.password_policy.max_length = size()?,
            "password_policy.min_strength" => {
                self.password_policy.min_strength =
                    value.parse::<u8>().ok().filter(|s| *s <= 4).ok_or("min_strength takes 0 to 4")?;
            }
            "branding.app_name" => self.branding.app_name = value.to_owned(),
            "branding.primary_color" => self.branding.primary_color = value.to_owned(),
            "branding.logo_url" => {
                self.branding.logo_url = (!value.is_empty()).then(|| value.to_owned());
            }
            "sign_out_redirect_uris" => {
                self.sign_out_redirect_uris =
                    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
            }
            "allow_localhost_origins" => self.allow_localhost_origins = boolean()?,
            "sign_up_enabled" => self.sign_up_enabled = boolean()?,
            "uniform_sign_up" => self.uniform_sign_up = boolean()?,
            "magic_auth_enabled" => self.magic_auth_enabled = boolean()?,
            "email_verification_required" => self.email_verification_required = boolean()?,
            "password_reset_url" => self.password_reset_url = (!value.is_empty()).then(|| value.to_owned()),
            "mfa_required" => self.mfa_required = boolean()?,
            "allow_impersonation" => self.allow_impersonation = boolean()?,
            _ => {
                return Err(format!("unknown setting `{key}`; see `gatehouse env show` for the names"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_environments_set_aud_to_the_client_id() {
        let s = Settings::new_for(DEVELOPMENT, "client_01ABC", 0);
        assert_eq!(s.jwt_template, r#"{"aud": "client_01ABC"}"#);
        assert!(s.allow_localhost_origins);
        assert!(!Settings::new_for(PRODUCTION, "client_01ABC", 0).allow_localhost_origins);
        s.validate().unwrap();
    }

    #[test]
    fn set_validates() {
        let mut s = Settings::default();
        s.set("access_token_ttl_secs", "60").unwrap();
        assert_eq!(s.access_token_ttl_secs, 60);
        assert!(s.set("access_token_ttl_secs", "1").is_err());
        // Below the SDKs' refresh buffer plus a margin: refused with the reason.
        let err = s.set("access_token_ttl_secs", "30").unwrap_err();
        assert!(err.contains("refreshed on every request"), "{err}");
        s.set("access_token_ttl_secs", "40").unwrap();
        assert!(s.set("access_token_ttl_secs", "86401").is_err());
        assert!(s.set("nope", "1").unwrap_err().contains("unknown setting"));
        assert!(s.set("branding.primary_color", "red").is_err());
        s.set("branding.primary_color", "#112233").unwrap();
        s.set("sign_out_redirect_uris", "http://localhost:3000/, https://app.example.com/bye").unwrap();
        assert_eq!(s.sign_out_redirect_uris.len(), 2);
        s.set("mfa_required", "true").unwrap();
        assert!(s.mfa_required);
    }
}
