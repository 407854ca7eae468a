//! Random tokens, their stored hashes, constant-time comparison and PKCE.

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;

/// A URL-safe random string carrying `bytes` bytes of entropy (at least 16).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes.max(16)];
    fill_random(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A random string with a recognisable prefix, e.g. `sk_test_…`.
pub fn prefixed_token(prefix: &str, bytes: usize) -> String {
    format!("{prefix}{}", random_token(bytes))
}

/// `n` random decimal digits (one-time codes).
pub fn random_digits(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut b = [0u8; 1];
        fill_random(&mut b);
        // Rejection sampling keeps the digits uniform.
        if b[0] < 250 {
            out.push(char::from(b'0' + b[0] % 10));
        }
    }
    out
}

pub fn fill_random(buf: &mut [u8]) {
    // The OS generator failing is not recoverable; aws-lc aborts in that case anyway.
    if aws_lc_rs::rand::fill(buf).is_err() {
        std::process::abort();
    }
}

/// The hash under which a bearer secret (token, code, API key) is stored: hex SHA-256.
/// Secrets carry at least 128 bits of entropy, so a fast hash is the right tool.
pub fn hash_secret(secret: &str) -> String {
    hex(digest::digest(&digest::SHA256, secret.as_bytes()).as_ref())
}

/// Constant-time string equality for secrets.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Checks an RFC 7636 S256 verifier against its challenge, in constant time.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    secrets_equal(&pkce_s256(verifier), challenge)
}

/// `BASE64URL(SHA256(verifier))`.
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

/// Whether a PKCE verifier has the RFC 7636 form: 43–128 unreserved characters.
pub fn is_valid_pkce_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Derives a new token from `input` with a server key: HMAC-SHA256, base64url.
/// Used to make a rotated refresh token reproducible from its parent during the grace window.
pub fn derive_token(server_key: &[u8], purpose: &str, input: &str) -> String {
    derive_chain(server_key, purpose, input, 1)
}

/// `derive_token` applied `steps` times (the token `steps` rotations after `input`), with the
/// HMAC key prepared once.
pub fn derive_chain(server_key: &[u8], purpose: &str, input: &str, steps: u32) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, server_key);
    let mut token = input.to_owned();
    for _ in 0..steps {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(purpose.as_bytes());
        ctx.update(&[0]);
        ctx.update(token.as_bytes());
        token = URL_SAFE_NO_PAD.encode(ctx.sign().as_ref());
    }
    token
}

/// The `WorkOS-Signature` header of a webhook delivery: `t=<ms>, v1=<hex HMAC-SHA256 of
/// "<ms>.<body>" keyed with the endpoint's secret>`, as `workos.webhooks.verifyHeader` checks.
pub fn webhook_signature(secret: &str, timestamp_ms: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp_ms.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    format!("t={timestamp_ms}, v1={}", hex(ctx.sign().as_ref()))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signatures_are_hmac_sha256_of_timestamp_dot_body() {
        // echo -n '1700000000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            webhook_signature("whsec_test", 1_700_000_000_000, r#"{"a":1}"#),
            "t=1700000000000, v1=33284ebef248a1f463f81384bfb39351b857cb4897c654b820611536fa084f1e"
        );
    }

    #[test]
    fn pkce_matches_rfc7636_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(pkce_s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(pkce_s256_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_s256_matches("x", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(is_valid_pkce_verifier(verifier));
        assert!(is_valid_pkce_verifier(&"a".repeat(128)));
        assert!(!is_valid_pkce_verifier(&"a".repeat(129)));
        assert!(!is_valid_pkce_verifier("short"));
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        assert_ne!(random_token(32), random_token(32));
        assert_eq!(random_token(32).len(), 43);
        assert_eq!(hash_secret("a"), hash_secret("a"));
        assert_eq!(hash_secret("abc").len(), 64);
        let digits = random_digits(6);
        assert!(digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(derive_token(b"k", "p", "x"), derive_token(b"k", "p", "x"));
        assert_ne!(derive_token(b"k", "p", "x"), derive_token(b"k2", "p", "x"));
        let twice = derive_token(b"k", "p", &derive_token(b"k", "p", "x"));
        assert_eq!(derive_chain(b"k", "p", "x", 2), twice);
        assert_eq!(derive_chain(b"k", "p", "x", 0), "x");
    }
}
