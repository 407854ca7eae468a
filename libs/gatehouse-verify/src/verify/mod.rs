//! The verification pipeline: Convex's `validate_id_token`, step by step (spec §2.2).
//!
//! This module holds the [`Verifier`], its options and the steps every token goes through:
//! the size cap, the unverified decode (step 1), `iss` (step 2) and the provider match (step 3).
//! The matched provider's steps follow in [`custom_jwt`] or [`oidc`]; [`diagnose`] explains a
//! failed provider match and a rejected `Content-Type`.

mod custom_jwt;
mod diagnose;
mod oidc;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{AuthConfig, Provider};
use crate::error::{Check, Diagnosis, ErrorCode, VerifyError};
use crate::fetch::HttpCache;
use crate::identity::{self, UserIdentity};
use crate::token::{self, ParseFailure, Unverified};

use self::custom_jwt::{DataJwks, decode_data_url};
use self::diagnose::diagnose_no_provider;
pub(crate) use self::oidc::Discovery;

const PARSE_MSG: &str = "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots.";
const MISSING_ISS_MSG: &str = "Missing issuer claim ('iss') in JWT payload. The JWT must include an 'iss' claim that matches one of your configured auth providers.";
const NO_PROVIDER_SHORT: &str = "No auth provider found matching the given token";

/// Convex's time leeway for customJwt `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 5;

/// Knobs. The defaults reproduce Convex; every deviation is opt-in except the token size cap.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifierOptions {
    /// Return Convex's redacted messages (cloud production style) for NoAuthProvider and the kid error.
    pub redact_errors: bool,
    /// **Deviation, off by default.** When a customJwt token's `kid` is not in the cached JWKS, revalidate
    /// the JWKS once, at most once per this interval per URL, before giving up. Convex never does this.
    pub refetch_on_unknown_kid: Option<Duration>,
    /// Tokens longer than this are rejected with the "Could not parse JWT payload" message before any
    /// decoding. Convex has no limit; the default (64 KiB) is far above any real token.
    pub max_token_bytes: usize,
    /// Timeout for each JWKS / discovery request (Convex sets none).
    pub http_timeout: Duration,
}

impl Default for VerifierOptions {
    fn default() -> VerifierOptions {
        VerifierOptions {
            redact_errors: false,
            refetch_on_unknown_kid: None,
            max_token_bytes: 64 * 1024,
            http_timeout: Duration::from_secs(10),
        }
    }
}

impl VerifierOptions {
    /// Sets [`VerifierOptions::redact_errors`].
    pub fn redact_errors(mut self, yes: bool) -> Self {
        self.redact_errors = yes;
        self
    }
    /// Enables the rate-limited refetch on unknown `kid` (see the field docs).
    pub fn refetch_on_unknown_kid(mut self, min_interval: Duration) -> Self {
        self.refetch_on_unknown_kid = Some(min_interval);
        self
    }
    /// Sets [`VerifierOptions::max_token_bytes`].
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }
    /// Sets [`VerifierOptions::http_timeout`].
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }
}

fn parse_error(failure: ParseFailure) -> VerifyError {
    let diagnosis = match failure {
        ParseFailure::Format(p) => Diagnosis::new(
            Check::TokenFormat,
            p,
            "pass the raw JWT (three base64url parts joined by `.`), without quotes or a `Bearer ` prefix",
        ),
        ParseFailure::ClaimType(p) => Diagnosis::new(
            Check::ClaimTypes,
            p,
            "fix the issuer's claim types: iss/sub/jti strings, aud a string or array of strings, exp/nbf/iat numbers",
        ),
    };
    VerifyError::invalid(PARSE_MSG, diagnosis)
}

struct Inner {
    config: AuthConfig,
    options: VerifierOptions,
    cache: HttpCache,
    data_jwks: Vec<Option<DataJwks>>,
}

/// Verifies tokens against an [`AuthConfig`]. Cheap to clone; clones share the JWKS cache.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("providers", &self.inner.config.providers().len()).finish()
    }
}

fn issuer_matches(provider_issuer: &str, token_iss: &str) -> bool {
    let with_scheme;
    let iss = if token_iss.starts_with("https://") || token_iss.starts_with("http://") {
        token_iss
    } else {
        with_scheme = format!("https://{token_iss}");
        &with_scheme
    };
    provider_issuer.trim_end_matches('/') == iss.trim_end_matches('/')
}

fn matches(p: &Provider, aud: &[Cow<'_, str>], iss: &str) -> bool {
    if let Some(app) = p.application_id()
        && !aud.iter().any(|a| a == app)
    {
        return false;
    }
    issuer_matches(p.issuer(), iss)
}

fn unix(now: SystemTime) -> i64 {
    now.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn content_type_ok(ct: &str, allowed: &[&str], check_charset: bool) -> bool {
    let mut it = ct.split(';');
    let essence = it.next().unwrap_or("").trim().to_ascii_lowercase();
    if !allowed.contains(&essence.as_str()) {
        return false;
    }
    if check_charset {
        for param in it {
            if let Some((k, v)) = param.split_once('=')
                && k.trim().eq_ignore_ascii_case("charset")
                && !v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            {
                return false;
            }
        }
    }
    true
}

struct Ctx<'a> {
    token: &'a str,
    tok: Unverified<'a>,
    iss: Cow<'a, str>,
    now: i64,
    idx: usize,
}

impl Verifier {
    /// Builds a verifier. `data:` JWKS are decoded and their keys parsed here, once.
    pub fn new(config: AuthConfig, options: VerifierOptions) -> Verifier {
        let data_jwks = config
            .providers()
            .iter()
            .map(|p| match p {
                Provider::CustomJwt(c) => decode_data_url(&c.jwks),
                Provider::Oidc(_) => None,
            })
            .collect();
        let cache = HttpCache::new(options.http_timeout);
        Verifier { inner: Arc::new(Inner { config, options, cache, data_jwks }) }
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The options.
    pub fn options(&self) -> &VerifierOptions {
        &self.inner.options
    }

    /// Verifies `token` (the raw JWT, no `Bearer ` prefix) at time `now`, as Convex would.
    pub async fn verify(&self, token: &str, now: SystemTime) -> Result<UserIdentity, VerifyError> {
        let opts = &self.inner.options;
        if token.len() > opts.max_token_bytes {
            return Err(VerifyError::invalid(
                PARSE_MSG,
                Diagnosis::new(
                    Check::TokenSize,
                    format!("the token is {} bytes, over the {}-byte limit", token.len(), opts.max_token_bytes),
                    "this is not a real token (or raise VerifierOptions::max_token_bytes)",
                ),
            ));
        }
        // Step 1: unverified payload decode.
        let (parts, payload_bytes) = token::split_and_decode(token).map_err(parse_error)?;
        // A payload that is not UTF-8 never parses; checking once lets the JSON parse skip it.
        let payload =
            String::from_utf8(payload_bytes).map_err(|e| parse_error(token::payload_failure(e.as_bytes())))?;
        let tok = Unverified::parse(parts, &payload).map_err(parse_error)?;
        // Step 2: iss.
        let mut tok = tok;
        let Some(iss) = tok.claims.iss.take() else {
            return Err(VerifyError::invalid(
                MISSING_ISS_MSG,
                Diagnosis::new(
                    Check::IssuerMissing,
                    "the payload has no `iss` claim",
                    "configure the issuer to set `iss` to the URL in your provider's issuer/domain",
                ),
            ));
        };
        // Step 3: provider.
        let providers = self.inner.config.providers();
        let Some(idx) = providers.iter().position(|p| matches(p, tok.audiences(), &iss)) else {
            let message = if opts.redact_errors {
                NO_PROVIDER_SHORT.to_string()
            } else if providers.is_empty() {
                format!("{NO_PROVIDER_SHORT} (no providers configured). Check convex/auth.config.ts.")
            } else {
                let list: Vec<String> = providers.iter().map(Provider::describe).collect();
                format!(
                    "{NO_PROVIDER_SHORT}. Check that your JWT's issuer and audience match one of your configured providers: [{}]",
                    list.join(", ")
                )
            };
            return Err(VerifyError::new(
                ErrorCode::NoAuthProvider,
                message,
                diagnose_no_provider(providers, &iss, tok.claims.aud.as_deref()),
            ));
        };
        let ctx = Ctx { token, tok, iss, now: unix(now), idx };
        match &providers[idx] {
            Provider::CustomJwt(p) => {
                let (iss, sub, exp) = self.verify_custom(p, ctx, now).await?;
                // The verified payload moves into the identity, which builds its JSON fields lazily;
                // iss and sub stay in it (no copies) unless they had escapes.
                let iss = identity::Text::new(&payload, iss);
                let sub = identity::Text::new(&payload, sub);
                Ok(identity::from_custom_jwt(iss, sub, Some(exp), payload, idx))
            }
            Provider::Oidc(p) => Box::pin(self.verify_oidc(p, ctx, now)).await,
        }
    }

    /// Parses an `Authorization` header as Convex's HTTP API does and verifies the bearer token.
    /// `None` (no header) gives `Ok(None)`: the request runs without an identity.
    pub async fn verify_authorization_header(
        &self,
        header: Option<&str>,
        now: SystemTime,
    ) -> Result<Option<UserIdentity>, VerifyError> {
        let Some(header) = header else { return Ok(None) };
        if header.len() < 7 {
            return Err(VerifyError::new(
                ErrorCode::InvalidHeaderFailure,
                "Invalid authentication header",
                Diagnosis::new(
                    Check::AuthorizationHeader,
                    "the Authorization header is shorter than 7 characters",
                    "send `Authorization: Bearer <jwt>`",
                ),
            ));
        }
        let prefix = header.get(..7).unwrap_or("");
        if header.len() <= 7 || !prefix.eq_ignore_ascii_case("bearer ") {
            let problem = if prefix.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("convex")) {
                "the Authorization header carries a Convex admin key, which this verifier does not accept".to_string()
            } else if prefix.eq_ignore_ascii_case("bearer ") {
                "the Authorization header is `Bearer ` with no token".to_string()
            } else {
                format!(
                    "the Authorization header starts with `{}`, not `Bearer `",
                    header.split(' ').next().unwrap_or("")
                )
            };
            return Err(VerifyError::new(
                ErrorCode::InvalidAdminKey,
                "Invalid admin key",
                Diagnosis::new(
                    Check::AuthorizationHeader,
                    problem,
                    "send `Authorization: Bearer <jwt>` (Convex reports any other scheme as an invalid admin key)",
                ),
            ));
        }
        let token = header.get(7..).unwrap_or("").trim();
        self.verify(token, now).await.map(Some)
    }

    /// Re-checks a held identity as Convex's sync worker does before re-running queries: once its `exp`
    /// has passed (no leeway), the client gets `TokenExpired` "Convex token identity expired".
    pub fn check_still_valid(&self, identity: &UserIdentity, now: SystemTime) -> Result<(), VerifyError> {
        match identity.expires_at() {
            Some(exp) if unix(now) >= exp => Err(VerifyError::new(
                ErrorCode::TokenExpired,
                "Convex token identity expired",
                Diagnosis::new(
                    Check::IdentityExpired,
                    format!("the token expired at {exp}"),
                    "the client must fetch a fresh token and authenticate again",
                ),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules() {
        assert!(issuer_matches("https://a.com", "a.com"));
        assert!(issuer_matches("https://a.com///", "https://a.com/"));
        assert!(!issuer_matches("https://a.com", "http://a.com"));
        assert!(!issuer_matches("https://A.com", "https://a.com"));
        assert!(!issuer_matches("https://a.com:443", "https://a.com"));
    }

    #[test]
    fn content_types() {
        let j = &["application/json", "application/jwk-set+json"];
        assert!(content_type_ok("application/json", j, true));
        assert!(content_type_ok("Application/JSON; charset=UTF-8", j, true));
        assert!(content_type_ok("application/jwk-set+json", j, true));
        assert!(!content_type_ok("application/json; charset=latin1", j, true));
        assert!(!content_type_ok("text/html", j, true));
    }
}
