//! Steps 4 to 6 for an OIDC provider: discovery from the token's `iss`, the provider's JWKS, the
//! ID-token parse, then the header, audience (exactly one), key, signature and `exp` (no leeway).

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use crate::config::OidcProvider;
use crate::error::{Check, Diagnosis, ErrorCode, VerifyError};
use crate::fetch::{Response, status_line};
use crate::identity::{self, UserIdentity};
use crate::jwks::KeyMaterial;
use crate::token;

use super::diagnose::content_type_hint;
use super::{Ctx, Verifier, content_type_ok};

const OIDC_PARSE_MSG: &str = "Could not parse as OIDC ID token. Token might not be an OIDC-compliant JWT.";
const OIDC_VERIFY_MSG: &str =
    "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired.";
const OIDC_ALGS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
    "EdDSA", "none",
];

/// OIDC discovery metadata (the parts used).
#[derive(Debug)]
pub(crate) struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Verifier {
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

    pub(super) async fn verify_oidc(
        &self,
        p: &OidcProvider,
        ctx: Ctx<'_>,
        now: SystemTime,
    ) -> Result<UserIdentity, VerifyError> {
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
