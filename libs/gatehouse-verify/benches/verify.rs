//! Verifications per second through the full Convex-compatible pipeline, against the raw RS256
//! signature check (aws-lc-rs, key parsed once) measured in the same run.
//!
//! `cargo bench -p gatehouse-verify --bench verify`

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, KeyPair, ParsedPublicKey, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gatehouse_verify::{AuthConfig, Verifier, VerifierOptions};
use serde_json::json;

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn rate(mut f: impl FnMut(), min: Duration) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < min {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let kp = RsaKeyPair::generate(KeySize::Rsa2048).expect("keygen");
    let c: PublicKeyComponents<Vec<u8>> = kp.public_key().into();
    let jwk = json!({"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":b64(&c.n),"e":b64(&c.e)});
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).expect("clock").as_secs();
    // A WorkOS-AuthKit-sized access token.
    let claims = json!({
        "iss":"https://api.workos.com/user_management/client_01HXYZ","sub":"user_01HABCDEFGHJKMNPQRSTVWXYZ",
        "sid":"session_01HABCDEFGHJKMNPQRSTVWXYZ","jti":"01HABCDEFGHJKMNPQRSTVWXYZ","org_id":"org_01HABCDEFG",
        "role":"member","permissions":["posts:read","posts:write"],"iat":secs,"exp":secs + 300
    });
    let input = format!(
        "{}.{}",
        b64(json!({"alg":"RS256","kid":"k1","typ":"JWT"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut sig = vec![0; kp.public_modulus_len()];
    kp.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig).expect("sign");
    let token = format!("{input}.{}", b64(&sig));

    let jwks = json!({"keys":[jwk]}).to_string();
    let config = json!({"providers":[{"type":"customJwt","issuer":"https://api.workos.com/user_management/client_01HXYZ",
        "algorithm":"RS256","jwks":format!("data:text/plain;charset=utf-8;base64,{}", STANDARD.encode(&jwks))}]});
    let verifier =
        Verifier::new(AuthConfig::from_json(&config.to_string()).expect("config"), VerifierOptions::default());
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    rt.block_on(verifier.verify(&token, now)).expect("token verifies");

    let raw_key = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, kp.public_key().as_ref()).expect("key");
    let msg = input.as_bytes();

    // The machine is shared, so interleave short windows and compare within each round.
    let window = Duration::from_millis(25);
    let rounds = 200;
    let (mut best_raw, mut best_full) = (0f64, 0f64);
    let mut ratios = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let raw = rate(|| raw_key.verify_sig(msg, &sig).expect("raw verify"), window);
        let full = rt.block_on(async {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < window {
                for _ in 0..100 {
                    verifier.verify(&token, now).await.expect("verify");
                }
                n += 100;
            }
            n as f64 / start.elapsed().as_secs_f64()
        });
        best_raw = best_raw.max(raw);
        best_full = best_full.max(full);
        ratios.push(full / raw);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[rounds / 2];
    println!(
        "token: {} bytes, RSA-2048 / RS256; Verifier::verify future: {} bytes",
        token.len(),
        std::mem::size_of_val(&verifier.verify(&token, now))
    );
    println!(
        "raw RS256 signature check (aws-lc-rs, parsed key): {best_raw:>9.0} verifications/s ({:.2} µs each)",
        1e6 / best_raw
    );
    println!(
        "gatehouse-verify Verifier::verify (full pipeline):  {best_full:>9.0} verifications/s ({:.2} µs each)",
        1e6 / best_full
    );
    // For transparency: verification plus reading a custom claim (materialises the identity's JSON fields).
    let with_fields = rt.block_on(async {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_secs(1) {
            for _ in 0..100 {
                let id = verifier.verify(&token, now).await.expect("verify");
                std::hint::black_box(id.get("sid"));
            }
            n += 100;
        }
        n as f64 / start.elapsed().as_secs_f64()
    });
    println!(
        "  verify + read a custom claim (identity JSON built): {with_fields:>7.0} verifications/s ({:.2} µs each)",
        1e6 / with_fields
    );
    // Breakdown: what the unavoidable payload decode alone costs.
    let payload_b64 = token.split('.').nth(1).expect("payload");
    let decode = rate(
        || {
            let bytes = URL_SAFE_NO_PAD.decode(payload_b64).expect("b64");
            let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).expect("json");
            std::hint::black_box(v);
        },
        Duration::from_secs(1),
    );
    let segs: Vec<&str> = token.split('.').collect();
    let b64_all = rate(
        || {
            for seg in &segs {
                std::hint::black_box(URL_SAFE_NO_PAD.decode(seg).expect("b64"));
            }
        },
        Duration::from_secs(1),
    );
    println!("  base64url decode of all three segments alone:     {b64_all:>9.0} /s ({:.2} µs each)", 1e6 / b64_all);
    println!("  of which payload base64 + JSON decode alone:     {decode:>9.0} /s ({:.2} µs each)", 1e6 / decode);
    println!("ratio full / raw, best rates: {:.1} %", 100.0 * best_full / best_raw);
    println!("ratio full / raw, median of {rounds} interleaved 25 ms rounds: {:.1} %", 100.0 * median);
}
