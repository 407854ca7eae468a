//! The verification pipeline: Convex's `validate_id_token`, step by step (spec §2.2).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::config::{AuthConfig, CustomJwtProvider, OidcProvider, Provider, SignatureAlgorithm};
use crate::error::{Check, Diagnosis, ErrorCode, VerifyError};
use crate::fetch::{HttpCache, Response, status_line};
use crate::identity::{self, UserIdentity};
use crate::jwks::{BISCUIT_SIGNATURE_ALGS, KeyMaterial, KeySet};
use crate::token::{self, ParseFailure, Unverified};

const PARSE_MSG: &str = "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots.";
const MISSING_ISS_MSG: &str = "Missing issuer claim ('iss') in JWT payload. The JWT must include an 'iss' claim that matches one of your configured auth providers.";
const MISSING_AUD_MSG: &str = "Missing audience claim ('aud') in JWT payload. The JWT must include an 'aud' claim that matches your configured application ID.";
const CLAIM_MSG: &str = "Could not verify token claim. Check that the JWT contains valid claims and matches your auth provider configuration.";
const OIDC_PARSE_MSG: &str = "Could not parse as OIDC ID token. Token might not be an OIDC-compliant JWT.";
const OIDC_VERIFY_MSG: &str =
    "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired.";
const NO_PROVIDER_SHORT: &str = "No auth provider found matching the given token";
const DATA_URL_MSG: &str =
    "Invalid JWKS data URL. Check that the data URL is properly formatted and contains valid base64-encoded JSON.";
const OIDC_ALGS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
    "EdDSA", "none",
];

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

/// OIDC discovery metadata (the parts used).
#[derive(Debug)]
pub(crate) struct Discovery {
    issuer: String,
    jwks_uri: String,
}

enum DataJwks {
    Keys(Arc<KeySet>),
    BadUrl(String),
    BadBody(String),
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

fn decode_data_url(s: &str) -> Option<DataJwks> {
    if !s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("data:")) {
        return None;
    }
    let Ok(url) = data_url::DataUrl::process(s) else {
        return Some(DataJwks::BadUrl("the data: URL has no comma or a malformed MIME type".into()));
    };
    let Ok((body, _)) = url.decode_to_vec() else {
        return Some(DataJwks::BadUrl("the base64 payload of the data: URL does not decode".into()));
    };
    Some(match crate::jwks::parse_strict(&body) {
        Ok(keys) => DataJwks::Keys(keys),
        Err(e) => DataJwks::BadBody(e),
    })
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

fn content_type_hint(ct: Option<&str>) -> String {
    match ct.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase()) {
        None => "the server sent no Content-Type; Convex requires application/json or application/jwk-set+json on a JWKS".into(),
        Some(e) if e == "text/html" => "the JWKS answered text/html: is the URL right? (a login page, SPA fallback or proxy error page is answering)".into(),
        Some(e) if e.starts_with("text/") => format!("the JWKS answered {e}: serve it as application/json (many static hosts default to {e})"),
        Some(e) if e == "application/json" || e == "application/jwk-set+json" => {
            "the charset parameter must be utf-8 (or absent)".into()
        }
        Some(e) => format!("the JWKS answered {e}; Convex accepts only application/json or application/jwk-set+json"),
    }
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

fn env_hint(p: &Provider, field: &str) -> String {
    match p.env_vars(field) {
        [] => String::new(),
        vars => format!(" (from ${{{}}})", vars.join("}, ${")),
    }
}

fn diagnose_no_provider(providers: &[Provider], iss: &str, aud: Option<&[Cow<'_, str>]>) -> Diagnosis {
    let auds = aud.unwrap_or(&[]);
    if let Some((i, p)) = providers.iter().enumerate().find(|(_, p)| issuer_matches(p.issuer(), iss)) {
        let app = p.application_id().unwrap_or_default();
        let env = env_hint(p, "applicationID");
        return match aud {
            None | Some([]) => Diagnosis::new(
                Check::Audience,
                format!("iss `{iss}` matches provider {i}, which requires applicationID `{app}`{env}, but the token has no `aud` claim"),
                format!("no `aud` claim: set the JWT template's aud to the client ID (`{app}`), or add a provider for this issuer without applicationID if the issuer is yours alone"),
            ),
            Some(list) => Diagnosis::new(
                Check::Audience,
                format!("iss `{iss}` matches provider {i}, but its applicationID `{app}`{env} is not in the token's aud {list:?}"),
                match env.is_empty() {
                    true => "set the provider's applicationID to the client ID the issuer puts in `aud`".to_string(),
                    false => format!("is {} the same client ID the issuer puts in `aud`?", p.env_vars("applicationID").join(", ")),
                },
            ),
        }
        .provider(i);
    }
    if providers.is_empty() {
        return Diagnosis::new(
            Check::ProviderMatch,
            "the config has no providers",
            "add a provider to auth.config.json",
        );
    }
    let norm = |s: &str| s.trim_end_matches('/').to_string();
    let tiss = norm(if iss.contains("://") { iss.to_string() } else { format!("https://{iss}") }.as_str());
    let (i, best) = providers
        .iter()
        .enumerate()
        .max_by_key(|(_, p)| common_prefix(&norm(p.issuer()), &tiss))
        .unwrap_or((0, &providers[0]));
    let expected = norm(best.issuer());
    let expected_list: Vec<String> = providers.iter().map(|p| format!("`{}`", p.issuer())).collect();
    let env_vars = best.env_vars("issuer");
    let (problem, fix) = if expected.eq_ignore_ascii_case(&tiss) {
        (
            format!("iss `{iss}` differs from provider {i}'s issuer `{}` only in letter case", best.issuer()),
            "Convex compares issuers exactly (case-sensitive): copy the token's iss into the config".to_string(),
        )
    } else if expected.split_once("://").map(|x| x.1) == tiss.split_once("://").map(|x| x.1) {
        (
            format!("iss `{iss}` and provider {i}'s issuer `{}` differ in the scheme (http vs https)", best.issuer()),
            "use the same scheme in both places; Convex does not normalise URLs".to_string(),
        )
    } else if expected.contains("/user_management/") && tiss.contains("/user_management/") {
        let their = tiss.rsplit('/').next().unwrap_or("");
        let ours = expected.rsplit('/').next().unwrap_or("");
        let var = env_vars.first().map(String::as_str).unwrap_or("WORKOS_CLIENT_ID");
        (
            format!(
                "iss is `{iss}` (client `{their}`) but your providers expect `{}` (client `{ours}`)",
                best.issuer()
            ),
            format!("is {var} the same in both places (the auth server/AuthKit client and this config)?"),
        )
    } else {
        let shared = common_prefix(&expected, &tiss);
        let var_note = if env_vars.is_empty() {
            String::new()
        } else {
            format!(" Check {} (used in provider {i}'s issuer).", env_vars.join(", "))
        };
        (
            format!(
                "iss is `{iss}` but your providers expect {}; the closest, provider {i}, differs from character {shared} on",
                expected_list.join(" or ")
            ),
            format!(
                "make the provider's issuer equal the token's iss (trailing slashes are ignored), or point the client at the right auth server.{var_note}"
            ),
        )
    };
    let _ = auds;
    Diagnosis::new(Check::ProviderMatch, problem, fix)
}

/// A step-5 failure; an unknown kid may be retried after a refetch.
enum Decode {
    UnknownKid(VerifyError),
    Other(VerifyError),
}

impl Decode {
    fn into_error(self) -> VerifyError {
        match self {
            Decode::UnknownKid(e) | Decode::Other(e) => e,
        }
    }
}

/// Where a key set came from, rendered only for diagnoses.
#[derive(Default)]
struct KeySource {
    url: Option<String>,
    cache_state: &'static str,
    fresh_for: Option<Duration>,
    refetched: bool,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(url) = &self.url else { return f.write_str("the data: URL JWKS") };
        write!(f, "the JWKS at {url} ({}", self.cache_state)?;
        match self.fresh_for {
            Some(d) if d > Duration::ZERO => write!(f, ", fresh for {} s", d.as_secs())?,
            _ => f.write_str(", revalidated on every use")?,
        }
        if self.refetched {
            f.write_str(", refetched because the kid was unknown")?;
        }
        f.write_str(")")
    }
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

    async fn custom_keys(
        &self,
        p: &CustomJwtProvider,
        idx: usize,
        now: SystemTime,
        force: bool,
    ) -> Result<(Arc<KeySet>, KeySource), VerifyError> {
        let url = &p.jwks;
        let diag = |check, problem: String, fix: &str| Diagnosis::new(check, problem, fix).provider(idx);
        match self.inner.data_jwks.get(idx).and_then(Option::as_ref) {
            Some(DataJwks::Keys(k)) => return Ok((k.clone(), KeySource::default())),
            Some(DataJwks::BadUrl(e)) => {
                return Err(VerifyError::invalid(
                    DATA_URL_MSG,
                    diag(
                        Check::JwksDataUrl,
                        e.clone(),
                        "write the JWKS as data:text/plain;charset=utf-8;base64,<base64 of the JSON>",
                    ),
                ));
            }
            Some(DataJwks::BadBody(e)) => {
                return Err(VerifyError::invalid(
                    format!(
                        "Invalid JWKS response body from '{url}'. The response is not valid JSON or doesn't match the expected JWKS format."
                    ),
                    diag(
                        Check::JwksFormat,
                        format!("the data: URL decodes, but {e}"),
                        "every key must parse: remove keys with an alg Convex does not know (e.g. EdDSA)",
                    ),
                ));
            }
            None => {}
        }
        // The network path is boxed so that the common path's future stays small.
        let fetched = match (!force).then(|| self.inner.cache.get_fresh(url, now)).flatten() {
            Some(f) => f,
            None => Box::pin(self.inner.cache.get(url, now, force)).await.map_err(|e| {
                VerifyError::invalid(
                    format!(
                        "Could not fetch JWKS from URL '{url}': {e}. Check that the URL is correct and accessible."
                    ),
                    diag(
                        Check::JwksFetch,
                        format!("GET {url} failed: {e}"),
                        "check the URL, DNS, TLS and that the server is up",
                    ),
                )
            })?,
        };
        let resp: &Response = &fetched.response;
        if resp.status != 200 {
            let fix = if resp.status == 404 {
                "the URL is wrong (for WorkOS: https://api.workos.com/sso/jwks/<client id>)"
            } else {
                "check the JWKS server"
            };
            return Err(VerifyError::invalid(
                format!(
                    "Could not fetch JWKS from URL '{url}': HTTP {}. Check that the URL is correct and accessible.",
                    status_line(resp.status)
                ),
                diag(Check::JwksFetch, format!("GET {url} answered {}", status_line(resp.status)), fix),
            ));
        }
        let ct = resp.content_type.as_deref();
        if !ct.is_some_and(|c| content_type_ok(c, &["application/json", "application/jwk-set+json"], true)) {
            return Err(VerifyError::invalid(
                format!(
                    "Invalid Content-Type '{}' when fetching JWKS from '{url}'. Expected 'application/json' or 'application/jwk-set+json'.",
                    ct.unwrap_or("unknown")
                ),
                diag(
                    Check::JwksContentType,
                    format!("GET {url} answered Content-Type {}", ct.unwrap_or("(none)")),
                    &content_type_hint(ct),
                ),
            ));
        }
        let keys = resp.strict_keys().map_err(|e| {
            VerifyError::invalid(
                format!("Invalid JWKS response body from '{url}'. The response is not valid JSON or doesn't match the expected JWKS format."),
                diag(Check::JwksFormat, format!("the JWKS at {url}: {e}"), "every key must parse (Convex rejects the whole set if one key has e.g. alg EdDSA); serve {\"keys\":[…]}"),
            )
        })?;
        Ok((
            keys,
            KeySource {
                url: Some(url.clone()),
                cache_state: fetched.cache_state,
                fresh_for: fetched.fresh_for,
                refetched: false,
            },
        ))
    }

    /// Step 5 for customJwt, synchronous so that its buffers stay out of the future.
    fn decode_custom(
        &self,
        p: &CustomJwtProvider,
        ctx: &Ctx<'_>,
        keys: &KeySet,
        source: &KeySource,
    ) -> Result<(), Decode> {
        let idx = ctx.idx;
        let parts = &ctx.tok.parts;
        // biscuit's header parse; Convex's message only needs its kid.
        let mut header_buf = [0u8; 512];
        let header_res = token::parse_header(parts[0], BISCUIT_SIGNATURE_ALGS, &mut header_buf);
        let kid_for_message = header_res.as_ref().ok().and_then(|h| h.kid.as_deref());
        let redact = self.inner.options.redact_errors;
        let fail = |check: Check, problem: String, fix: String| {
            let message = match (kid_for_message, redact) {
                (Some(_), true) => "Could not decode token. The JWT's 'kid' (key ID) header doesn't match any key in the provider's JWKS, or the JWT signature is invalid.".to_string(),
                (Some(kid), false) => format!("Could not decode token. The JWT's 'kid' (key ID) header is '{kid}', does this key match any key in the provider's JWKS?"),
                (None, _) => "Could not decode token. JWT may be missing a 'kid' (key ID) header.".to_string(),
            };
            VerifyError::invalid(message, Diagnosis::new(check, problem, fix).provider(idx))
        };
        // Step 5: decode with the JWKS and the configured algorithm.
        if parts.len() != 3 {
            return Err(Decode::Other(fail(
                Check::TokenFormat,
                format!("the token has {} parts; a signed JWT has exactly 3", parts.len()),
                "pass the complete JWT, including the signature".into(),
            )));
        }
        let header = match &header_res {
            Ok(h) => h,
            Err(e) => {
                return Err(Decode::Other(fail(
                    Check::HeaderFormat,
                    e.clone(),
                    "the issuer must produce a JOSE header with alg RS256/ES256 and a kid".into(),
                )));
            }
        };
        let Some(kid) = header.kid.as_deref() else {
            return Err(Decode::Other(fail(
                Check::KidMissing,
                "the token header has no `kid`".into(),
                "Convex requires a kid even when the JWKS holds one key: make the issuer set `kid`".into(),
            )));
        };
        let key = keys.keys.iter().position(|k| k.kid.as_deref() == Some(kid));
        let Some(key) = key.and_then(|i| keys.keys.get(i)) else {
            let kids = keys.kids();
            return Err(Decode::UnknownKid(fail(
                Check::KeyNotFound,
                format!("no key in {source} has kid `{kid}`; kids present: {kids:?}"),
                "if keys were rotated, the JWKS cache may be stale: publish new keys at least one Cache-Control max-age before signing with them (Convex does not refetch on an unknown kid); otherwise the token comes from another issuer or environment".into(),
            )));
        };
        let configured = p.algorithm.as_str();
        if let Some(ka) = key.alg.as_deref() {
            if !BISCUIT_SIGNATURE_ALGS.contains(&ka) {
                return Err(Decode::Other(fail(
                    Check::Algorithm,
                    format!("the JWK `{kid}` has alg `{ka}`, which is not a signature algorithm"),
                    "publish the signing key with alg RS256/ES256 (or no alg)".into(),
                )));
            }
            if header.alg != ka || configured != ka {
                return Err(Decode::Other(fail(
                    Check::Algorithm,
                    format!(
                        "algorithms disagree: token alg `{}`, JWK alg `{ka}`, configured `{configured}`",
                        header.alg
                    ),
                    "all three must be equal; set the provider's algorithm to the one the issuer signs with".into(),
                )));
            }
        } else if header.alg != configured {
            return Err(Decode::Other(fail(
                Check::Algorithm,
                format!("the token's alg is `{}` but the provider is configured for `{configured}`", header.alg),
                "set the provider's algorithm to the one the issuer signs with (never accept a token-chosen alg)"
                    .into(),
            )));
        }
        let verifier = match (p.algorithm, &key.material) {
            (SignatureAlgorithm::RS256, KeyMaterial::Rsa { verifier: Some(v), .. }) => v,
            (SignatureAlgorithm::ES256, KeyMaterial::Ec { verifier: Some(v), .. }) => v,
            (SignatureAlgorithm::RS256, KeyMaterial::Rsa { bits, verifier: None }) => {
                return Err(Decode::Other(fail(
                    Check::KeyUnusable,
                    format!("the RSA key `{kid}` has {bits} bits; RS256 needs 2048–8192"),
                    "publish a 2048-bit or larger RSA key".into(),
                )));
            }
            (SignatureAlgorithm::ES256, KeyMaterial::Ec { crv, .. }) => {
                return Err(Decode::Other(fail(
                    Check::KeyUnusable,
                    format!("the EC key `{kid}` is {crv} (or malformed); ES256 needs P-256"),
                    "publish a P-256 key with 32-byte x and y".into(),
                )));
            }
            (alg, m) => {
                return Err(Decode::Other(fail(
                    Check::KeyUnusable,
                    format!("the key `{kid}` is kty {}, which cannot verify {}", m.kty(), alg.as_str()),
                    "publish a key of the right type under this kid".into(),
                )));
            }
        };
        let mut sig_buf = [0u8; 1024];
        let Some(sig) = token::decode_segment_into(parts[2], &mut sig_buf) else {
            return Err(Decode::Other(fail(
                Check::Signature,
                "the signature part is not valid base64url".into(),
                "pass the token unmodified".into(),
            )));
        };
        let signing_input = &ctx.token[..parts[0].len() + 1 + parts[1].len()];
        if verifier.verify_sig(signing_input.as_bytes(), sig).is_err() {
            return Err(Decode::Other(fail(
                Check::Signature,
                format!("the signature does not verify with key `{kid}` from {source}"),
                "the token was altered, or signed by a different key that reuses this kid".into(),
            )));
        }
        Ok(())
    }

    async fn verify_custom<'a>(
        &self,
        p: &CustomJwtProvider,
        mut ctx: Ctx<'a>,
        now: SystemTime,
    ) -> Result<(Cow<'a, str>, Cow<'a, str>, i64), VerifyError> {
        let idx = ctx.idx;
        // `data:` keys are used in place (no reference-count traffic); the rest come from the cache.
        let decoded = match self.inner.data_jwks.get(idx).and_then(Option::as_ref) {
            Some(DataJwks::Keys(keys)) => self.decode_custom(p, &ctx, keys, &KeySource::default()),
            _ => {
                let (keys, source) = self.custom_keys(p, idx, now, false).await?;
                self.decode_custom(p, &ctx, &keys, &source)
            }
        };
        match decoded {
            Ok(()) => {}
            Err(Decode::UnknownKid(e)) => {
                let may_refetch = self.inner.data_jwks.get(idx).is_none_or(Option::is_none)
                    && self
                        .inner
                        .options
                        .refetch_on_unknown_kid
                        .is_some_and(|i| self.inner.cache.may_force(&p.jwks, now, i));
                if !may_refetch {
                    return Err(e);
                }
                let (keys, source) = Box::pin(self.custom_keys(p, idx, now, true)).await?;
                let source = KeySource { refetched: true, ..source };
                self.decode_custom(p, &ctx, &keys, &source).map_err(Decode::into_error)?;
            }
            Err(Decode::Other(e)) => return Err(e),
        }
        let claims = &ctx.tok.claims;
        let iss = &ctx.iss;
        // Step 6: issuer re-check (cannot fail after matching).
        if !issuer_matches(&p.issuer, iss) {
            return Err(VerifyError::invalid(
                format!("Invalid issuer: {iss} != {}", p.issuer),
                Diagnosis::new(Check::Issuer, "issuer re-check failed", "report this as a bug").provider(idx),
            ));
        }
        // Step 7: audience (cannot fail after matching).
        if let Some(app) = &p.application_id {
            match &claims.aud {
                None => {
                    return Err(VerifyError::invalid(
                        MISSING_AUD_MSG,
                        Diagnosis::new(
                            Check::Audience,
                            "no `aud` claim",
                            format!("set the JWT template's aud to the client ID `{app}`"),
                        )
                        .provider(idx),
                    ));
                }
                Some(auds) if !auds.iter().any(|a| a == app) => {
                    return Err(VerifyError::invalid(
                        format!("Invalid audience: {app} not in [{}]", auds.join(", ")),
                        Diagnosis::new(
                            Check::Audience,
                            format!("aud {auds:?} lacks `{app}`"),
                            "set aud to the applicationID",
                        )
                        .provider(idx),
                    ));
                }
                _ => {}
            }
        }
        // Step 8: times, 5 s leeway.
        let now_s = ctx.now;
        if let Some(exp) = claims.exp
            && now_s - exp > LEEWAY_SECS
        {
            return Err(VerifyError::invalid(
                format!("Could not validate token: Token expired {} seconds ago", now_s - exp),
                Diagnosis::new(
                    Check::Expired,
                    format!("exp is {exp}, {} s before now ({now_s}); the leeway is {LEEWAY_SECS} s", now_s - exp),
                    "fetch a fresh token (the client should refresh before exp); if tokens are fresh, check the clocks",
                )
                .provider(idx),
            ));
        }
        if let Some(nbf) = claims.nbf
            && nbf - now_s > LEEWAY_SECS
        {
            return Err(VerifyError::invalid(
                format!("Could not validate token: Token will be valid in {} seconds", nbf - now_s),
                Diagnosis::new(
                    Check::NotYetValid,
                    format!("nbf is {nbf}, {} s after now ({now_s}); the leeway is {LEEWAY_SECS} s", nbf - now_s),
                    "the issuer's clock is ahead of this server's: sync both with NTP",
                )
                .provider(idx),
            ));
        }
        if let Some(iat) = claims.iat
            && iat - now_s > LEEWAY_SECS
        {
            return Err(VerifyError::invalid(
                format!("Could not validate token: Token will be valid in {} seconds", iat - now_s),
                Diagnosis::new(
                    Check::IssuedInFuture,
                    format!("iat is {iat}, {} s after now ({now_s}); the leeway is {LEEWAY_SECS} s", iat - now_s),
                    "the issuer's clock is ahead of this server's: sync both with NTP",
                )
                .provider(idx),
            ));
        }
        // Step 9: identity; sub, iss and exp are required.
        let missing: Vec<&str> = [("sub", claims.sub.is_none()), ("exp", claims.exp.is_none())]
            .into_iter()
            .filter_map(|(n, m)| m.then_some(n))
            .collect();
        let (Some(_), Some(exp)) = (&claims.sub, claims.exp) else {
            return Err(VerifyError::invalid(
                CLAIM_MSG,
                Diagnosis::new(
                    Check::RequiredClaims,
                    format!("missing required claim(s): {}", missing.join(", ")),
                    "customJwt tokens must carry sub, iss and exp (and iat for client refresh)",
                )
                .provider(idx),
            ));
        };
        let sub = ctx.tok.claims.sub.take().unwrap_or_default();
        Ok((ctx.iss, sub, exp))
    }

    async fn fetch_json_doc(
        &self,
        url: &str,
        now: SystemTime,
        allowed: &[&str],
        disc_err: &(dyn Fn(String, &str) -> VerifyError + Sync),
        iss: &str,
        idx: usize,
    ) -> Result<Arc<Response>, VerifyError> {
        let fetched = self.inner.cache.get(url, now, false).await.map_err(|e| {
            disc_err(format!("GET {url} failed: {e}"), "check that the issuer URL is reachable from this server")
        })?;
        let resp = fetched.response;
        if resp.status != 200 {
            let status = match resp.status {
                401 | 403 | 404 | 429 => resp.status,
                _ => 400,
            };
            return Err(VerifyError::new(
                ErrorCode::AuthProviderDiscoveryFailed,
                format!(
                    "Auth provider discovery of {iss} failed: {} {}",
                    status_line(resp.status),
                    String::from_utf8_lossy(&resp.body)
                ),
                Diagnosis::new(
                    Check::Discovery,
                    format!("GET {url} answered {}", status_line(resp.status)),
                    "the token's iss must be an OIDC issuer serving /.well-known/openid-configuration",
                )
                .provider(idx),
            )
            .with_status(status));
        }
        if let Some(ct) = resp.content_type.as_deref()
            && !content_type_ok(ct, allowed, false)
        {
            return Err(disc_err(format!("GET {url} answered Content-Type {ct}"), &content_type_hint(Some(ct))));
        }
        Ok(resp)
    }

    async fn verify_oidc(&self, p: &OidcProvider, ctx: Ctx<'_>, now: SystemTime) -> Result<UserIdentity, VerifyError> {
        let idx = ctx.idx;
        let iss: &str = &ctx.iss;
        let disc_err = |problem: String, fix: &str| {
            VerifyError::new(
                ErrorCode::AuthProviderDiscoveryFailed,
                format!("Auth provider discovery of {iss} failed"),
                Diagnosis::new(Check::Discovery, problem, fix).provider(idx),
            )
        };
        // Step 4: discovery from the token's iss.
        let iss_ok = url::Url::parse(iss).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http");
        if !iss_ok {
            return Err(disc_err(
                format!("the token's iss `{iss}` is not an http(s) URL"),
                "OIDC discovery starts from the token's iss, which must be a full URL",
            ));
        }
        let disc_url = if iss.ends_with('/') {
            format!("{iss}.well-known/openid-configuration")
        } else {
            format!("{iss}/.well-known/openid-configuration")
        };
        let resp = self.fetch_json_doc(&disc_url, now, &["application/json"], &disc_err, iss, idx).await?;
        let disc = resp
            .discovery
            .get_or_init(|| parse_discovery(&resp.body))
            .clone()
            .map_err(|e| disc_err(format!("{disc_url}: {e}"), "serve valid OpenID provider metadata"))?;
        if disc.issuer != iss {
            return Err(disc_err(
                format!("discovery says issuer `{}` but the token's iss is `{iss}`", disc.issuer),
                "they must be equal byte for byte (including any trailing slash)",
            ));
        }
        let jresp = self
            .fetch_json_doc(&disc.jwks_uri, now, &["application/json", "application/jwk-set+json"], &disc_err, iss, idx)
            .await?;
        let keys = jresp
            .lenient_keys()
            .map_err(|e| disc_err(format!("{}: {e}", disc.jwks_uri), "serve {\"keys\":[…]} at jwks_uri"))?;

        // Step 5: parse as an ID token.
        let parse_fail = |problem: String| {
            VerifyError::invalid(
                OIDC_PARSE_MSG,
                Diagnosis::new(
                    Check::OidcFormat,
                    problem,
                    "OIDC providers need a signed ID token with iss, sub, aud, exp and iat",
                )
                .provider(idx),
            )
        };
        let parts = &ctx.tok.parts;
        if parts.len() != 3 {
            return Err(parse_fail(format!("the token has {} parts, not 3", parts.len())));
        }
        let mut header_buf = [0u8; 512];
        let header = token::parse_header(parts[0], OIDC_ALGS, &mut header_buf).map_err(parse_fail)?;
        let claims = &ctx.tok.claims;
        let missing: Vec<&str> = [
            ("sub", claims.sub.is_none()),
            ("aud", claims.aud.is_none()),
            ("exp", claims.exp.is_none()),
            ("iat", claims.iat.is_none()),
        ]
        .into_iter()
        .filter_map(|(n, m)| m.then_some(n))
        .collect();
        if !missing.is_empty() {
            return Err(parse_fail(format!("missing required ID-token claim(s): {}", missing.join(", "))));
        }
        let payload = token::to_map(&ctx.tok.raw_claims());
        identity::check_oidc_claim_types(&payload).map_err(parse_fail)?;
        let Some(sig) = token::decode_segment(parts[2]) else {
            return Err(parse_fail("the signature part is not valid base64url".into()));
        };

        // Step 6: verification.
        let vfail = |check: Check, problem: String, fix: &str| {
            VerifyError::new(
                ErrorCode::Unauthenticated,
                OIDC_VERIFY_MSG,
                Diagnosis::new(check, problem, fix).provider(idx),
            )
        };
        if header.alg != "RS256" && header.alg != "EdDSA" {
            return Err(vfail(
                Check::Algorithm,
                format!("alg `{}`; Convex's OIDC path accepts only RS256 and EdDSA", header.alg),
                "sign ID tokens with RS256",
            ));
        }
        if let Some(typ) = &header.bad_typ {
            return Err(vfail(
                Check::OidcHeader,
                format!("header typ `{typ}`; only JWT (or none) is accepted"),
                "issue ID tokens with typ JWT (access tokens with typ at+jwt are rejected)",
            ));
        }
        if header.has_cty || header.has_crit {
            return Err(vfail(
                Check::OidcHeader,
                "the header has a `cty` or `crit` member".into(),
                "remove cty/crit from ID-token headers",
            ));
        }
        if disc.issuer != iss {
            return Err(vfail(Check::Issuer, "iss differs from the discovery issuer".into(), "make them equal"));
        }
        let auds = ctx.tok.audiences();
        if !auds.iter().any(|a| a == &p.application_id) || auds.iter().any(|a| a != &p.application_id) {
            return Err(vfail(
                Check::Audience,
                format!("aud is {auds:?}; Convex's OIDC path requires exactly [`{}`]", p.application_id),
                "issue the ID token for this client only (no extra audiences)",
            ));
        }
        let kty_ok = |m: &KeyMaterial| match (header.alg, m) {
            ("RS256", KeyMaterial::Rsa { .. }) => true,
            ("EdDSA", KeyMaterial::Okp { crv, .. }) => crv == "Ed25519",
            _ => false,
        };
        let candidates: Vec<_> = keys
            .keys
            .iter()
            .filter(|k| header.kid.is_none() || k.kid.as_deref() == header.kid.as_deref())
            .filter(|k| kty_ok(&k.material))
            .filter(|k| k.key_use.as_deref().is_none_or(|u| u == "sig"))
            .collect();
        let key = match candidates.as_slice() {
            [k] => *k,
            [] => {
                return Err(vfail(
                    Check::KeyNotFound,
                    format!(
                        "no {} key in {} matches kid {:?} (kids present: {:?})",
                        header.alg,
                        disc.jwks_uri,
                        header.kid,
                        keys.kids()
                    ),
                    "publish the signing key in the provider's JWKS before using it",
                ));
            }
            many => {
                return Err(vfail(
                    Check::KeyNotFound,
                    format!("{} keys match (kid {:?}); exactly one must", many.len(), header.kid),
                    "give every key a distinct kid and set kid in the token header",
                ));
            }
        };
        if let Some(ka) = &key.alg
            && ka != header.alg
        {
            return Err(vfail(
                Check::Algorithm,
                format!("the JWK alg `{ka}` differs from the token alg `{}`", header.alg),
                "make them agree",
            ));
        }
        let verifier = match &key.material {
            KeyMaterial::Rsa { verifier: Some(v), .. } | KeyMaterial::Okp { verifier: Some(v), .. } => v,
            _ => {
                return Err(vfail(
                    Check::KeyUnusable,
                    "the key cannot be used (RSA below 2048 bits or malformed)".into(),
                    "publish a usable key",
                ));
            }
        };
        let signing_input = &ctx.token[..parts[0].len() + 1 + parts[1].len()];
        if verifier.verify_sig(signing_input.as_bytes(), &sig).is_err() {
            return Err(vfail(
                Check::Signature,
                format!("the signature does not verify with key {:?}", key.kid),
                "the token was altered or signed by another key",
            ));
        }
        let exp = claims.exp.unwrap_or(i64::MIN);
        if ctx.now >= exp {
            return Err(vfail(
                Check::Expired,
                format!("exp {exp} is not after now ({}); OIDC has no leeway", ctx.now),
                "fetch a fresh ID token",
            ));
        }
        let sub = claims.sub.as_deref().unwrap_or_default().to_string();
        Ok(identity::from_oidc(iss.to_string(), sub, claims.exp, &payload, idx))
    }
}

fn parse_discovery(body: &[u8]) -> Result<Arc<Discovery>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    for field in [
        "issuer",
        "authorization_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        if !obj.contains_key(field) {
            return Err(format!("missing required metadata field `{field}`"));
        }
    }
    let s = |n: &str| obj.get(n).and_then(Value::as_str).map(str::to_owned).ok_or(format!("`{n}` is not a string"));
    let issuer = s("issuer")?;
    let jwks_uri = s("jwks_uri")?;
    url::Url::parse(&jwks_uri).map_err(|e| format!("jwks_uri: {e}"))?;
    Ok(Arc::new(Discovery { issuer, jwks_uri }))
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
