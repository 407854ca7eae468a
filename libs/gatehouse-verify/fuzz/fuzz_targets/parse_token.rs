//! Feeds arbitrary bytes as a token through the whole customJwt pipeline (payload decode, header
//! decode, key selection, signature check) against a data: JWKS. Must never panic.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, UNIX_EPOCH};

use gatehouse_verify::{AuthConfig, Verifier, VerifierOptions};
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        // A JWKS with an RSA key (RFC 7517 example modulus), an EC key and an oct key.
        let jwks = r#"{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},{"kty":"EC","crv":"P-256","kid":"e1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},{"kty":"oct","kid":"s","k":"AAAA"}]}"#;
        let pct: String = jwks.bytes().map(|b| format!("%{b:02X}")).collect();
        let config = format!(
            r#"{{"providers":[{{"type":"customJwt","issuer":"https://a.example.com","jwks":"data:,{pct}","algorithm":"RS256"}},
                              {{"type":"customJwt","issuer":"b.example.com","applicationID":"app","jwks":"data:,{pct}","algorithm":"ES256"}}]}}"#
        );
        Verifier::new(AuthConfig::from_json_with_env(&config, |_| None).expect("config"), VerifierOptions::default())
    })
}

fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    // data: JWKS never await I/O, so one poll completes.
    if let Some(Err(e)) = poll_once(verifier().verify(token, now)) {
        assert!(!e.message().is_empty());
        let _ = e.to_json();
    }
    let _ = poll_once(verifier().verify_authorization_header(Some(token), now));
});
