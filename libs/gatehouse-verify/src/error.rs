//! Rejections: Convex's error code and message, byte for byte, plus our structured diagnosis.

use std::fmt;

/// The short error code Convex sends (`ErrorMetadata::short_msg`), e.g. `InvalidAuthHeader`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The token is malformed, cannot be verified, or fails a claim check (customJwt and OIDC parsing).
    InvalidAuthHeader,
    /// No configured provider matches the token's `iss` and `aud`.
    NoAuthProvider,
    /// OIDC discovery (or the OIDC JWKS fetch) failed.
    AuthProviderDiscoveryFailed,
    /// OIDC verification failed; also used by the axum extractor when a required token is absent.
    Unauthenticated,
    /// The `Authorization` header is shorter than 7 characters (HTTP 400).
    InvalidHeaderFailure,
    /// The `Authorization` header is neither `Bearer <token>` nor usable (HTTP 400). Convex's wording.
    InvalidAdminKey,
    /// A previously accepted identity has expired (WebSocket re-check).
    TokenExpired,
}

impl ErrorCode {
    /// The code as Convex spells it on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidAuthHeader => "InvalidAuthHeader",
            ErrorCode::NoAuthProvider => "NoAuthProvider",
            ErrorCode::AuthProviderDiscoveryFailed => "AuthProviderDiscoveryFailed",
            ErrorCode::Unauthenticated => "Unauthenticated",
            ErrorCode::InvalidHeaderFailure => "InvalidHeaderFailure",
            ErrorCode::InvalidAdminKey => "InvalidAdminKey",
            ErrorCode::TokenExpired => "TokenExpired",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which check rejected the token. Stable snake_case names via [`Check::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// The `Authorization` header is not `Bearer <token>`.
    AuthorizationHeader,
    /// The token exceeds [`crate::VerifierOptions::max_token_bytes`] (our limit; Convex has none).
    TokenSize,
    /// The token is not `header.payload[.signature]` with a base64url JSON-object payload.
    TokenFormat,
    /// A registered claim (`iss`, `sub`, `jti`, `aud`, `exp`, `nbf`, `iat`) has the wrong JSON type.
    ClaimTypes,
    /// The payload has no `iss`.
    IssuerMissing,
    /// No provider matches `iss` (and `aud` where an applicationID is configured).
    ProviderMatch,
    /// The JWKS could not be fetched (network error or non-200 status).
    JwksFetch,
    /// The JWKS response had a missing or wrong `Content-Type`.
    JwksContentType,
    /// The JWKS body is not a JWK set Convex can parse.
    JwksFormat,
    /// The `data:` URL of the JWKS is malformed.
    JwksDataUrl,
    /// The JOSE header could not be parsed (bad base64/JSON or an `alg` Convex does not know).
    HeaderFormat,
    /// The JOSE header has no `kid`.
    KidMissing,
    /// No key in the JWKS has the token's `kid`.
    KeyNotFound,
    /// The token's `alg`, the key's `alg` and the configured algorithm disagree.
    Algorithm,
    /// The selected key cannot verify this algorithm (wrong type, curve or RSA size).
    KeyUnusable,
    /// The signature does not verify.
    Signature,
    /// `exp` is too far in the past.
    Expired,
    /// `nbf` is too far in the future.
    NotYetValid,
    /// `iat` is too far in the future.
    IssuedInFuture,
    /// `iss` does not match the chosen provider.
    Issuer,
    /// `aud` does not contain the applicationID (or, for OIDC, has other audiences).
    Audience,
    /// A claim Convex requires (`sub`, `exp`, `iss`; `iat` for OIDC) is missing.
    RequiredClaims,
    /// OIDC discovery failed.
    Discovery,
    /// The token does not parse as an OIDC ID token.
    OidcFormat,
    /// An OIDC header rule failed (`typ`, `cty`, `crit`).
    OidcHeader,
    /// The identity has expired since it was accepted.
    IdentityExpired,
}

impl Check {
    /// A stable snake_case name, e.g. `key_not_found`.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::AuthorizationHeader => "authorization_header",
            Check::TokenSize => "token_size",
            Check::TokenFormat => "token_format",
            Check::ClaimTypes => "claim_types",
            Check::IssuerMissing => "issuer_missing",
            Check::ProviderMatch => "provider_match",
            Check::JwksFetch => "jwks_fetch",
            Check::JwksContentType => "jwks_content_type",
            Check::JwksFormat => "jwks_format",
            Check::JwksDataUrl => "jwks_data_url",
            Check::HeaderFormat => "header_format",
            Check::KidMissing => "kid_missing",
            Check::KeyNotFound => "key_not_found",
            Check::Algorithm => "algorithm",
            Check::KeyUnusable => "key_unusable",
            Check::Signature => "signature",
            Check::Expired => "expired",
            Check::NotYetValid => "not_yet_valid",
            Check::IssuedInFuture => "issued_in_future",
            Check::Issuer => "issuer",
            Check::Audience => "audience",
            Check::RequiredClaims => "required_claims",
            Check::Discovery => "discovery",
            Check::OidcFormat => "oidc_format",
            Check::OidcHeader => "oidc_header",
            Check::IdentityExpired => "identity_expired",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What exactly went wrong and how to fix it. Never sent to clients by this crate; meant for logs and the CLI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    check: Check,
    problem: String,
    fix: String,
    provider_index: Option<usize>,
}

impl Diagnosis {
    pub(crate) fn new(check: Check, problem: impl Into<String>, fix: impl Into<String>) -> Diagnosis {
        Diagnosis { check, problem: problem.into(), fix: fix.into(), provider_index: None }
    }

    pub(crate) fn provider(mut self, index: usize) -> Diagnosis {
        self.provider_index = Some(index);
        self
    }

    /// The check that failed.
    pub fn check(&self) -> Check {
        self.check
    }

    /// What was found, e.g. "iss is `…/client_A` but your providers expect `…/client_B`".
    pub fn problem(&self) -> &str {
        &self.problem
    }

    /// How to fix it.
    pub fn fix(&self) -> &str {
        &self.fix
    }

    /// The index (in `providers`) of the provider the token was matched to, if any.
    pub fn provider_index(&self) -> Option<usize> {
        self.provider_index
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.check, self.problem)?;
        if let Some(i) = self.provider_index {
            write!(f, " (provider at index {i})")?;
        }
        write!(f, ". Fix: {}", self.fix)
    }
}

/// A token rejection.
///
/// [`code`](VerifyError::code) and [`message`](VerifyError::message) are what Convex would send,
/// byte for byte; `Display` prints only the message, like Convex's `ErrorMetadata`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    code: ErrorCode,
    message: String,
    http_status: u16,
    diagnosis: Diagnosis,
}

impl VerifyError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>, diagnosis: Diagnosis) -> VerifyError {
        let http_status = match code {
            ErrorCode::InvalidHeaderFailure | ErrorCode::InvalidAdminKey => 400,
            ErrorCode::AuthProviderDiscoveryFailed => 400,
            _ => 401,
        };
        VerifyError { code, message: message.into(), http_status, diagnosis }
    }

    pub(crate) fn with_status(mut self, status: u16) -> VerifyError {
        self.http_status = status;
        self
    }

    pub(crate) fn invalid(message: impl Into<String>, diagnosis: Diagnosis) -> VerifyError {
        VerifyError::new(ErrorCode::InvalidAuthHeader, message, diagnosis)
    }

    /// Convex's short error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Convex's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status Convex's HTTP API answers with (401, or 400 for header-format and most discovery errors).
    pub fn http_status(&self) -> u16 {
        self.http_status
    }

    /// Which check failed and how to fix it.
    pub fn diagnosis(&self) -> &Diagnosis {
        &self.diagnosis
    }

    /// The HTTP API error body, `{"code":"…","message":"…"}`.
    pub fn to_json(&self) -> String {
        let mut map = serde_json::Map::new();
        map.insert("code".into(), self.code.as_str().into());
        map.insert("message".into(), self.message.clone().into());
        serde_json::Value::Object(map).to_string()
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for VerifyError {}

/// A configuration rejected at load time, with Convex's push-time code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    code: &'static str,
    message: String,
    hint: Option<String>,
}

impl ConfigError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError { code, message: message.into(), hint: None }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> ConfigError {
        self.hint = Some(hint.into());
        self
    }

    /// Convex's code, e.g. `AuthConfigNotMatchingSchemaError`, `InsecureConfiguration`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Convex's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Our extra advice, if any.
    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
