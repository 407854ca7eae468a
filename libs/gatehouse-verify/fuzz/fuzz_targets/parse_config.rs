//! Feeds arbitrary bytes as an auth config (JSON parse, env interpolation, Convex's checks, issuer URL
//! parsing, data: JWKS decoding). Must never panic.
#![no_main]

use gatehouse_verify::{AuthConfig, Verifier, VerifierOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(config) = AuthConfig::from_json_with_env(text, |name| (name.len() < 8).then(|| name.to_lowercase())) {
        let _ = Verifier::new(config, VerifierOptions::default());
    }
});
