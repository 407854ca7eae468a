//! Steps 4 to 9 for a `customJwt` provider: the JWKS (a `data:` URL decoded once, or fetched
//! through the HTTP cache, optionally refetched once on an unknown `kid`), the header, key and
//! algorithm checks, the signature, then issuer, audience, times with Convex's 5 s leeway, and the
//! required claims.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::{CustomJwtProvider, SignatureAlgorithm};
use crate::error::{Check, Diagnosis, VerifyError};
use crate::fetch::{Response, status_line};
use crate::jwks::{BISCUIT_SIGNATURE_ALGS, KeyMaterial, KeySet};
use crate::token;

use super::diagnose::content_type_hint;
use super::{Ctx, LEEWAY_SECS, Verifier, content_type_ok, issuer_matches};

const DATA_URL_MSG: &str =
    "Invalid JWKS data URL. Check that the data URL is properly formatted and contains valid base64-encoded JSON.";
const MISSING_AUD_MSG: &str = "Missing audience claim ('aud') in JWT payload. The JWT must include an 'aud' claim that matches your configured application ID.";
const CLAIM_MSG: &str = "Could not verify token claim. Check that the JWT contains valid claims and matches your auth provider configuration.";

/// A `data:` URL JWKS, decoded when the verifier is built.
pub(super) enum DataJwks {
    Keys(Arc<KeySet>),
    BadUrl(String),
    BadBody(String),
}

/// `None` if `s` is not a `data:` URL (the JWKS is then fetched).
pub(super) fn decode_data_url(s: &str) -> Option<DataJwks> {
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

impl Verifier {
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

    pub(super) async fn verify_custom<'a>(
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
}
