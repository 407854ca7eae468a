//! The attack catalogue: each forged or broken token is rejected with Convex's exact code and message.

use aws_lc_rs::signature::KeyPair as _;
use gatehouse_verify::{Check, VerifierOptions};
use serde_json::json;

use crate::support::*;

#[test]
fn alg_none() {
    let t = mint(json!({"alg":"none","kid":"k1"}), claims(json!({})), &Signer::None);
    assert_eq!(
        rejects(&default_verifier(), &t, "InvalidAuthHeader", &kid_msg("k1")).diagnosis().check(),
        Check::Algorithm
    );
    let t = mint(json!({"alg":"none","kid":"k1"}), claims(json!({})), &Signer::None);
    let t = t.trim_end_matches('.').to_string();
    rejects(&default_verifier(), &t, "InvalidAuthHeader", &kid_msg("k1"));
}

#[test]
fn hs256_signed_with_the_rsa_public_key() {
    let jwk = rsa_jwk("k1");
    let jwk_text = jwks(std::slice::from_ref(&jwk));
    let c: aws_lc_rs::rsa::PublicKeyComponents<Vec<u8>> = rsa().public_key().into();
    let der = aws_lc_rs::signature::KeyPair::public_key(rsa()).as_ref().to_vec();
    for secret in [der, c.n.clone(), jwk_text.into_bytes(), jwk.to_string().into_bytes()] {
        let t = mint(json!({"alg":"HS256","kid":"k1"}), claims(json!({})), &Signer::Hmac(secret));
        let e = rejects(&default_verifier(), &t, "InvalidAuthHeader", &kid_msg("k1"));
        assert_eq!(e.diagnosis().check(), Check::Algorithm);
    }
    // Even a JWK without alg: the configured algorithm pins RS256.
    let v = verifier(custom_provider_config(&jwks(&[rsa_jwk_of(rsa(), "k1", None)]), "RS256", None));
    let t = mint(json!({"alg":"HS256","kid":"k1"}), claims(json!({})), &Signer::Hmac(c.n));
    rejects(&v, &t, "InvalidAuthHeader", &kid_msg("k1"));
}

#[test]
fn kid_pointing_elsewhere() {
    // A kid from another key set, a path, a URL: never fetched, never matched.
    for kid in ["../../../etc/passwd", "https://evil.example/jwks.json", "k1 ", "K1", ""] {
        let t = mint(json!({"alg":"RS256","kid":kid}), claims(json!({})), &Signer::Rsa(rsa()));
        rejects(&default_verifier(), &t, "InvalidAuthHeader", &kid_msg(kid));
    }
    // kid of a real key, but signed by the attacker's key, who also embeds jwk/jku.
    let t = mint(
        json!({"alg":"RS256","kid":"k1","jku":"https://evil.example/jwks","jwk":rsa_jwk_of(rsa2(),"k1",Some("RS256"))}),
        claims(json!({})),
        &Signer::Rsa(rsa2()),
    );
    assert_eq!(
        rejects(&default_verifier(), &t, "InvalidAuthHeader", &kid_msg("k1")).diagnosis().check(),
        Check::Signature
    );
    // kid matching a key of an ES256 set while the token is RS256.
    let v = verifier(custom_provider_config(&jwks(&[ec_jwk_of(ec(), "k1")]), "ES256", None));
    rejects(&v, &rs_token(json!({})), "InvalidAuthHeader", &kid_msg("k1"));
}

#[test]
fn tampered_payload_and_signature() {
    let t = rs_token(json!({}));
    let parts: Vec<&str> = t.split('.').collect();
    let forged_payload = b64(claims(json!({"sub":"admin"})).to_string().as_bytes());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(
        rejects(&default_verifier(), &tampered, "InvalidAuthHeader", &kid_msg("k1")).diagnosis().check(),
        Check::Signature
    );
    let mut sig = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[2]).unwrap();
    sig[10] ^= 1;
    let tampered = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
    rejects(&default_verifier(), &tampered, "InvalidAuthHeader", &kid_msg("k1"));
    let truncated = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..parts[2].len() - 4]);
    rejects(&default_verifier(), &truncated, "InvalidAuthHeader", &kid_msg("k1"));
    let garbage_sig = format!("{}.{}.***", parts[0], parts[1]);
    rejects(&default_verifier(), &garbage_sig, "InvalidAuthHeader", &kid_msg("k1"));
    let padded = format!("{}.{}.{}==", parts[0], parts[1], parts[2]);
    rejects(&default_verifier(), &padded, "InvalidAuthHeader", &kid_msg("k1"));
}

#[test]
fn wrong_or_missing_iss_aud_sub_exp() {
    let v = default_verifier();
    let no_provider = format!(
        "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers: [CustomJWT(issuer={ISS}, app_id=client_1)]"
    );
    rejects(&v, &rs_token(json!({"iss":"https://evil.example.com"})), "NoAuthProvider", &no_provider);
    rejects(&v, &rs_token(json!({"aud":"someone_else"})), "NoAuthProvider", &no_provider);
    rejects(&v, &rs_token(json!({"aud":null})), "NoAuthProvider", &no_provider);
    rejects(
        &v,
        &rs_token(json!({"iss":null})),
        "InvalidAuthHeader",
        "Missing issuer claim ('iss') in JWT payload. The JWT must include an 'iss' claim that matches one of your configured auth providers.",
    );
    rejects(&v, &rs_token(json!({"sub":null})), "InvalidAuthHeader", CLAIM_MSG);
    rejects(&v, &rs_token(json!({"exp":null})), "InvalidAuthHeader", CLAIM_MSG);
    rejects(
        &v,
        &rs_token(json!({"exp": NOW - 60})),
        "InvalidAuthHeader",
        "Could not validate token: Token expired 60 seconds ago",
    );
    rejects(
        &v,
        &rs_token(json!({"nbf": NOW + 3600})),
        "InvalidAuthHeader",
        "Could not validate token: Token will be valid in 3600 seconds",
    );
    rejects(
        &v,
        &rs_token(json!({"iat": NOW + 7})),
        "InvalidAuthHeader",
        "Could not validate token: Token will be valid in 7 seconds",
    );
}

#[test]
fn eddsa_key_in_the_set_and_eddsa_tokens() {
    let cfg = custom_provider_config(&jwks(&[rsa_jwk("k1"), ed_jwk("ed", Some("EdDSA"))]), "RS256", None);
    let e = verify(&verifier(cfg), &rs_token(json!({}))).unwrap_err();
    assert!(e.message().starts_with("Invalid JWKS response body from 'data:"), "{e}");
    // An EdDSA token against a customJwt provider: biscuit cannot parse its header, so the kid is "missing".
    let v = verifier(custom_provider_config(&jwks(&[rsa_jwk("k1"), ed_jwk("ed", None)]), "RS256", None));
    let t = mint(json!({"alg":"EdDSA","kid":"ed"}), claims(json!({})), &Signer::Ed(ed()));
    assert_eq!(rejects(&v, &t, "InvalidAuthHeader", NO_KID_MSG).diagnosis().check(), Check::HeaderFormat);
}

#[test]
fn oversized_tokens() {
    let big = "a".repeat(70 * 1024);
    let t = rs_token(json!({ "pad": big }));
    assert_eq!(rejects(&default_verifier(), &t, "InvalidAuthHeader", PARSE_MSG).diagnosis().check(), Check::TokenSize);
    let junk = "x.".repeat(1 << 20);
    rejects(&default_verifier(), &junk, "InvalidAuthHeader", PARSE_MSG);
    // The cap is configurable.
    let v = verifier_with(
        custom_provider_config(&jwks(&[rsa_jwk("k1")]), "RS256", Some("client_1")),
        VerifierOptions::default().max_token_bytes(128 * 1024),
    );
    verify(&v, &t).unwrap();
}

#[test]
fn non_json_garbage() {
    let v = default_verifier();
    let garbage = [
        "null".to_string(),
        "Bearer abc".to_string(),
        "\u{0}\u{1}\u{2}".to_string(),
        "😀.😀.😀".to_string(),
        format!("{}.{}.", b64(b"{\"alg\":\"RS256\"}"), b64(b"not json")),
        format!("{}.{}.", b64(b"{}"), b64(b"[1,2,3]")),
        format!("{}.{}.", b64(b"{}"), b64(b"\"str\"")),
        format!("{}.{}.", b64(b"{}"), b64(&[0xff, 0xfe, 0x7b, 0x7d])),
        format!("{}.{}.", b64(b"{}"), "eyJpc3MiOiJ4In0="),
    ];
    for g in &garbage {
        rejects(&v, g, "InvalidAuthHeader", PARSE_MSG);
    }
    // A garbage header with a good payload fails at decode with the "missing kid" message.
    let t = rs_token(json!({}));
    let p = t.split('.').nth(1).unwrap();
    for h in ["", "!!", &b64(b"[]"), &b64(b"{\"alg\":5,\"kid\":\"k1\"}"), &b64(b"{\"kid\":\"k1\"}")] {
        rejects(&v, &format!("{h}.{p}.sig"), "InvalidAuthHeader", NO_KID_MSG);
    }
}
