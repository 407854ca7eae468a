//! customJwt rules (spec §1.3, §2.2) with data: JWKS.

use gatehouse_verify::{Check, VerifierOptions};
use serde_json::json;

use crate::support::*;

#[test]
fn happy_path_rs256() {
    let id = verify(&default_verifier(), &rs_token(json!({}))).unwrap();
    assert_eq!(id.token_identifier(), "https://auth.example.com|user_1");
    assert_eq!(
        id.to_json_string(),
        r#"{"tokenIdentifier":"https://auth.example.com|user_1","issuer":"https://auth.example.com","subject":"user_1"}"#
    );
}

#[test]
fn happy_path_es256() {
    let v = verifier(custom_provider_config(&jwks(&[ec_jwk_of(ec(), "e1")]), "ES256", None));
    let t = mint(json!({"alg":"ES256","kid":"e1"}), claims(json!({})), &Signer::Ec(ec()));
    verify(&v, &t).unwrap();
}

#[test]
fn es256_requires_raw_signature() {
    let v = verifier(custom_provider_config(&jwks(&[ec_jwk_of(ec_der(), "e1")]), "ES256", None));
    let t = mint(json!({"alg":"ES256","kid":"e1"}), claims(json!({})), &Signer::EcDer(ec_der()));
    let e = rejects(&v, &t, "InvalidAuthHeader", &kid_msg("e1"));
    assert_eq!(e.diagnosis().check(), Check::Signature);
}

#[test]
fn configured_algorithm_must_match_key_type() {
    // Provider says ES256 but the key is RSA without alg, token alg ES256 signed by... nothing usable.
    let v = verifier(custom_provider_config(&jwks(&[rsa_jwk_of(rsa(), "k1", None)]), "ES256", None));
    let t = mint(json!({"alg":"ES256","kid":"k1"}), claims(json!({})), &Signer::Ec(ec()));
    let e = rejects(&v, &t, "InvalidAuthHeader", &kid_msg("k1"));
    assert_eq!(e.diagnosis().check(), Check::KeyUnusable);
}

#[test]
fn not_a_jwt() {
    let v = default_verifier();
    for t in ["", "abc", "a.b.c", "....", "e30", "!!.!!.!!", "eyJhbGciOiJSUzI1NiJ9.W10.sig", "eyJ.IjEi.x"] {
        let e = rejects(&v, t, "InvalidAuthHeader", PARSE_MSG);
        assert!(matches!(e.diagnosis().check(), Check::TokenFormat), "{t}: {}", e.diagnosis());
    }
}

#[test]
fn registered_claim_types() {
    let v = default_verifier();
    for extra in [
        json!({"exp":"1800000300"}),
        json!({"iat":true}),
        json!({"nbf":{}}),
        json!({"aud":5}),
        json!({"aud":["a",1]}),
        json!({"sub":5}),
        json!({"iss":["x"]}),
        json!({"jti":1}),
    ] {
        let e = rejects(&v, &rs_token(extra.clone()), "InvalidAuthHeader", PARSE_MSG);
        assert_eq!(e.diagnosis().check(), Check::ClaimTypes, "{extra}");
    }
}

#[test]
fn fractional_times_are_rounded() {
    let v = default_verifier();
    // exp = now - 5.5 rounds to now - 5: accepted (truncation would give now - 6: rejected).
    let t = rs_token(json!({"exp": NOW as f64 - 5.5}));
    verify(&v, &t).unwrap();
    let t = rs_token(json!({"exp": NOW as f64 - 6.4}));
    rejects(&v, &t, "InvalidAuthHeader", "Could not validate token: Token expired 6 seconds ago");
}

#[test]
fn missing_iss() {
    let e = rejects(
        &default_verifier(),
        &rs_token(json!({"iss":null})),
        "InvalidAuthHeader",
        "Missing issuer claim ('iss') in JWT payload. The JWT must include an 'iss' claim that matches one of your configured auth providers.",
    );
    assert_eq!(e.diagnosis().check(), Check::IssuerMissing);
}

#[test]
fn no_provider_message_lists_providers() {
    let v = verifier(json!({"providers":[
        {"type":"customJwt","issuer":"https://a.example.com","jwks":data_url("{}"),"algorithm":"RS256"},
        {"type":"customJwt","issuer":"b.example.com","jwks":data_url("{}"),"algorithm":"RS256","applicationID":"app"},
        {"domain":"https://c.example.com/","applicationID":"cid"}
    ]}));
    let e = rejects(
        &v,
        &rs_token(json!({"iss":"https://other.example.com"})),
        "NoAuthProvider",
        "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers: [CustomJWT(issuer=https://a.example.com, app_id=none), CustomJWT(issuer=https://b.example.com, app_id=app), OIDC(domain=https://c.example.com/, app_id=cid)]",
    );
    assert_eq!(e.http_status(), 401);
    assert_eq!(e.diagnosis().check(), Check::ProviderMatch);
}

#[test]
fn no_providers_configured() {
    rejects(
        &verifier(json!({"providers":[]})),
        &rs_token(json!({})),
        "NoAuthProvider",
        "No auth provider found matching the given token (no providers configured). Check convex/auth.config.ts.",
    );
}

#[test]
fn redacted_messages() {
    let cfg = custom_provider_config(&jwks(&[rsa_jwk("k1")]), "RS256", Some("client_1"));
    let v = verifier_with(cfg, VerifierOptions::default().redact_errors(true));
    rejects(
        &v,
        &rs_token(json!({"iss":"https://x.com"})),
        "NoAuthProvider",
        "No auth provider found matching the given token",
    );
    let t = mint(json!({"alg":"RS256","kid":"nope"}), claims(json!({})), &Signer::Rsa(rsa()));
    rejects(
        &v,
        &t,
        "InvalidAuthHeader",
        "Could not decode token. The JWT's 'kid' (key ID) header doesn't match any key in the provider's JWKS, or the JWT signature is invalid.",
    );
    // The missing-kid message is never redacted (Convex's dead branch).
    let t = mint(json!({"alg":"RS256"}), claims(json!({})), &Signer::Rsa(rsa()));
    rejects(&v, &t, "InvalidAuthHeader", NO_KID_MSG);
}

#[test]
fn issuer_matching_rules() {
    let v = verifier(custom_provider_config(&jwks(&[rsa_jwk("k1")]), "RS256", None));
    // Scheme-less iss gets https://, trailing slashes are trimmed on both sides.
    for iss in ["auth.example.com", "https://auth.example.com/", "https://auth.example.com//", "auth.example.com/"] {
        let id = verify(&v, &rs_token(json!({"iss":iss}))).unwrap();
        assert_eq!(id.issuer(), iss, "raw iss is kept");
        assert_eq!(id.token_identifier(), format!("{iss}|user_1"));
    }
    // Exact otherwise: case, scheme, default port all mismatch.
    for iss in [
        "https://Auth.example.com",
        "http://auth.example.com",
        "https://auth.example.com:443",
        "https://auth.example.com/x",
    ] {
        rejects(
            &v,
            &rs_token(json!({"iss":iss})),
            "NoAuthProvider",
            &format!(
                "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers: [CustomJWT(issuer={ISS}, app_id=none)]"
            ),
        );
    }
}

#[test]
fn audience_matching() {
    let v = default_verifier();
    verify(&v, &rs_token(json!({"aud":["other","client_1"]}))).unwrap();
    let e = verify(&v, &rs_token(json!({"aud":null}))).unwrap_err();
    assert_eq!(e.code().as_str(), "NoAuthProvider");
    assert_eq!(e.diagnosis().check(), Check::Audience);
    assert!(
        e.diagnosis().fix().starts_with("no `aud` claim: set the JWT template's aud to the client ID"),
        "{}",
        e.diagnosis()
    );
    let e = verify(&v, &rs_token(json!({"aud":"client_2"}))).unwrap_err();
    assert_eq!(e.code().as_str(), "NoAuthProvider");
    assert_eq!(e.diagnosis().check(), Check::Audience);
    // Without applicationID, aud is ignored entirely.
    let v = verifier(custom_provider_config(&jwks(&[rsa_jwk("k1")]), "RS256", None));
    for aud in [json!(null), json!("x"), json!(["a", "b"]), json!([])] {
        verify(&v, &rs_token(json!({ "aud": aud }))).unwrap();
    }
}

#[test]
fn first_matching_provider_wins_without_fallback() {
    let cfg = json!({"providers":[
        {"type":"customJwt","issuer":ISS,"jwks":data_url(&jwks(&[rsa_jwk_of(rsa2(),"k1",Some("RS256"))])),"algorithm":"RS256"},
        {"type":"customJwt","issuer":ISS,"jwks":data_url(&jwks(&[rsa_jwk("k1")])),"algorithm":"RS256"}
    ]});
    let e = rejects(&verifier(cfg), &rs_token(json!({})), "InvalidAuthHeader", &kid_msg("k1"));
    assert_eq!(e.diagnosis().provider_index(), Some(0));
    assert_eq!(e.diagnosis().check(), Check::Signature);
}

#[test]
fn kid_required_and_selected() {
    let v = default_verifier();
    let t = mint(json!({"alg":"RS256"}), claims(json!({})), &Signer::Rsa(rsa()));
    assert_eq!(rejects(&v, &t, "InvalidAuthHeader", NO_KID_MSG).diagnosis().check(), Check::KidMissing);
    let t = mint(json!({"alg":"RS256","kid":"k2"}), claims(json!({})), &Signer::Rsa(rsa()));
    assert_eq!(rejects(&v, &t, "InvalidAuthHeader", &kid_msg("k2")).diagnosis().check(), Check::KeyNotFound);
    // Keys without a kid are never selected, even when alone.
    let v = verifier(custom_provider_config(
        &jwks(&[json!({"kty":"RSA","n":rsa_jwk("x")["n"],"e":"AQAB"})]),
        "RS256",
        None,
    ));
    let t = mint(json!({"alg":"RS256","kid":"k1"}), claims(json!({})), &Signer::Rsa(rsa()));
    rejects(&v, &t, "InvalidAuthHeader", &kid_msg("k1"));
    // The first key with the kid is used.
    let v = verifier(custom_provider_config(&jwks(&[rsa_jwk_of(rsa2(), "k1", None), rsa_jwk("k1")]), "RS256", None));
    rejects(&v, &rs_token(json!({})), "InvalidAuthHeader", &kid_msg("k1"));
}

#[test]
fn algorithm_consistency() {
    // Header alg differs from the configured algorithm (JWK without alg).
    let v = verifier(custom_provider_config(&jwks(&[rsa_jwk_of(rsa(), "k1", None)]), "RS256", None));
    verify(&v, &rs_token(json!({}))).unwrap();
    let t = mint(json!({"alg":"RS384","kid":"k1"}), claims(json!({})), &Signer::Rsa(rsa()));
    assert_eq!(rejects(&v, &t, "InvalidAuthHeader", &kid_msg("k1")).diagnosis().check(), Check::Algorithm);
    // JWK alg differs from header/configured.
    let v = verifier(custom_provider_config(&jwks(&[rsa_jwk_of(rsa(), "k1", Some("RS512"))]), "RS256", None));
    assert_eq!(
        rejects(&v, &rs_token(json!({})), "InvalidAuthHeader", &kid_msg("k1")).diagnosis().check(),
        Check::Algorithm
    );
    // JWK alg that is not a signature algorithm.
    let v = verifier(custom_provider_config(&jwks(&[rsa_jwk_of(rsa(), "k1", Some("RSA-OAEP"))]), "RS256", None));
    assert_eq!(
        rejects(&v, &rs_token(json!({})), "InvalidAuthHeader", &kid_msg("k1")).diagnosis().check(),
        Check::Algorithm
    );
}

#[test]
fn typ_use_and_extra_members_are_not_checked() {
    let mut k = rsa_jwk("k1");
    k["use"] = json!("enc");
    k["key_ops"] = json!(["encrypt"]);
    k["x5c"] = json!(["MIIB"]);
    k["x5t"] = json!("abc");
    k["whatever"] = json!({"nested":1});
    let okp_no_alg = ed_jwk("ed", None);
    let v = verifier(custom_provider_config(&jwks(&[k, okp_no_alg]), "RS256", None));
    let t = mint(json!({"alg":"RS256","kid":"k1","typ":"at+jwt"}), claims(json!({})), &Signer::Rsa(rsa()));
    verify(&v, &t).unwrap();
}

#[test]
fn unknown_jwk_alg_poisons_the_whole_set() {
    let cfg = custom_provider_config(&jwks(&[rsa_jwk("k1"), ed_jwk("ed", Some("EdDSA"))]), "RS256", None);
    let url = cfg["providers"][0]["jwks"].as_str().unwrap().to_string();
    let e = rejects(
        &verifier(cfg),
        &rs_token(json!({})),
        "InvalidAuthHeader",
        &format!(
            "Invalid JWKS response body from '{url}'. The response is not valid JSON or doesn't match the expected JWKS format."
        ),
    );
    assert_eq!(e.diagnosis().check(), Check::JwksFormat);
}

#[test]
fn bad_data_url() {
    let cfg = json!({"providers":[{"type":"customJwt","issuer":ISS,"jwks":"data:text/plain;base64,!!!notbase64","algorithm":"RS256"}]});
    let e = rejects(
        &verifier(cfg),
        &rs_token(json!({})),
        "InvalidAuthHeader",
        "Invalid JWKS data URL. Check that the data URL is properly formatted and contains valid base64-encoded JSON.",
    );
    assert_eq!(e.diagnosis().check(), Check::JwksDataUrl);
    // Percent-encoded data URLs work too, and the data: MIME type is not checked.
    let body = jwks(&[rsa_jwk("k1")]);
    let pct: String = body.bytes().map(|b| format!("%{b:02X}")).collect();
    let cfg = json!({"providers":[{"type":"customJwt","issuer":ISS,"jwks":format!("data:image/png,{pct}"),"algorithm":"RS256"}]});
    verify(&verifier(cfg), &rs_token(json!({}))).unwrap();
}

#[test]
fn small_rsa_key_is_rejected() {
    let mut n = vec![0xC3u8; 128];
    n[127] |= 1;
    let k = json!({"kty":"RSA","kid":"k1","n":b64(&n),"e":"AQAB"});
    let v = verifier(custom_provider_config(&jwks(&[k]), "RS256", None));
    let e = rejects(&v, &rs_token(json!({})), "InvalidAuthHeader", &kid_msg("k1"));
    assert_eq!(e.diagnosis().check(), Check::KeyUnusable);
}

#[test]
fn time_checks_with_five_second_leeway() {
    let v = default_verifier();
    verify(&v, &rs_token(json!({"exp": NOW - 5}))).unwrap();
    let e = rejects(
        &v,
        &rs_token(json!({"exp": NOW - 6})),
        "InvalidAuthHeader",
        "Could not validate token: Token expired 6 seconds ago",
    );
    assert_eq!(e.diagnosis().check(), Check::Expired);
    rejects(
        &v,
        &rs_token(json!({"exp": NOW - 3600})),
        "InvalidAuthHeader",
        "Could not validate token: Token expired 3600 seconds ago",
    );
    verify(&v, &rs_token(json!({"nbf": NOW + 5}))).unwrap();
    let e = rejects(
        &v,
        &rs_token(json!({"nbf": NOW + 6})),
        "InvalidAuthHeader",
        "Could not validate token: Token will be valid in 6 seconds",
    );
    assert_eq!(e.diagnosis().check(), Check::NotYetValid);
    verify(&v, &rs_token(json!({"iat": NOW + 5}))).unwrap();
    let e = rejects(
        &v,
        &rs_token(json!({"iat": NOW + 60})),
        "InvalidAuthHeader",
        "Could not validate token: Token will be valid in 60 seconds",
    );
    assert_eq!(e.diagnosis().check(), Check::IssuedInFuture);
    // No maximum age; iat optional.
    verify(&v, &rs_token(json!({"iat": NOW - 400 * 86400}))).unwrap();
    verify(&v, &rs_token(json!({"iat": null}))).unwrap();
    // Time is whole seconds of the injected clock.
    let t = rs_token(json!({"exp": NOW - 5}));
    assert!(run(v.verify(&t, at(0) + std::time::Duration::from_millis(999))).is_ok());
}

#[test]
fn required_claims() {
    let v = default_verifier();
    for missing in ["sub", "exp"] {
        let e = rejects(&v, &rs_token(json!({ missing: null })), "InvalidAuthHeader", CLAIM_MSG);
        assert_eq!(e.diagnosis().check(), Check::RequiredClaims);
    }
}

#[test]
fn two_part_token_passes_payload_decode_then_fails_decode() {
    let t = rs_token(json!({}));
    let two = t.rsplit_once('.').unwrap().0;
    rejects(&default_verifier(), two, "InvalidAuthHeader", &kid_msg("k1"));
}

#[test]
fn authorization_header_parsing() {
    let v = default_verifier();
    let t = rs_token(json!({}));
    assert!(run(v.verify_authorization_header(None, now())).unwrap().is_none());
    for h in [format!("Bearer {t}"), format!("bearer   {t}  "), format!("BEARER {t}")] {
        assert!(run(v.verify_authorization_header(Some(&h), now())).unwrap().is_some());
    }
    let e = run(v.verify_authorization_header(Some("Bear"), now())).unwrap_err();
    assert_eq!(
        (e.code().as_str(), e.message(), e.http_status()),
        ("InvalidHeaderFailure", "Invalid authentication header", 400)
    );
    for h in ["Bearer ", "Basic dXNlcjpwYXNz", "Convex prod:abc"] {
        let e = run(v.verify_authorization_header(Some(h), now())).unwrap_err();
        assert_eq!((e.code().as_str(), e.message(), e.http_status()), ("InvalidAdminKey", "Invalid admin key", 400));
    }
    let e = run(v.verify_authorization_header(Some("Bearer x"), now())).unwrap_err();
    assert_eq!(e.message(), PARSE_MSG);
}

#[test]
fn held_identity_expiry() {
    let v = default_verifier();
    let id = verify(&v, &rs_token(json!({}))).unwrap();
    assert_eq!(id.expires_at(), Some(NOW as i64 + 300));
    v.check_still_valid(&id, at(299)).unwrap();
    let e = v.check_still_valid(&id, at(300)).unwrap_err();
    assert_eq!((e.code().as_str(), e.message()), ("TokenExpired", "Convex token identity expired"));
}

#[test]
fn verify_future_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let v = default_verifier();
    assert_send(v.verify("x", now()));
}

#[test]
fn diagnosis_names_the_workos_client_mismatch() {
    let cfg = r#"{"providers":[
      {"type":"customJwt","issuer":"https://api.workos.com/","algorithm":"RS256",
       "jwks":"https://api.workos.com/sso/jwks/${WORKOS_CLIENT_ID}","applicationID":"${WORKOS_CLIENT_ID}"},
      {"type":"customJwt","issuer":"https://api.workos.com/user_management/${WORKOS_CLIENT_ID}",
       "algorithm":"RS256","jwks":"https://api.workos.com/sso/jwks/${WORKOS_CLIENT_ID}"}]}"#;
    let config = gatehouse_verify::AuthConfig::from_json_with_env(cfg, |_| Some("client_B".into())).unwrap();
    let v = gatehouse_verify::Verifier::new(config, VerifierOptions::default());
    let t = rs_token(json!({"iss":"https://api.workos.com/user_management/client_A","aud":null}));
    let e = verify(&v, &t).unwrap_err();
    assert_eq!(e.code().as_str(), "NoAuthProvider");
    let d = e.diagnosis();
    assert_eq!(d.check(), Check::ProviderMatch);
    assert_eq!(
        d.problem(),
        "iss is `https://api.workos.com/user_management/client_A` (client `client_A`) but your providers expect `https://api.workos.com/user_management/client_B` (client `client_B`)"
    );
    assert_eq!(
        d.fix(),
        "is WORKOS_CLIENT_ID the same in both places (the auth server/AuthKit client and this config)?"
    );
    // Same issuer as provider 0 but no aud.
    let t = rs_token(json!({"iss":"https://api.workos.com/","aud":null}));
    let d = verify(&v, &t).unwrap_err().diagnosis().clone();
    assert_eq!(d.check(), Check::Audience);
    assert_eq!(d.provider_index(), Some(0));
    assert!(d.problem().contains("(from ${WORKOS_CLIENT_ID})"), "{d}");
}
