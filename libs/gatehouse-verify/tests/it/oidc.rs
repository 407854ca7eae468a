//! OIDC providers: discovery from the token's iss, RS256/EdDSA, one audience, no leeway (spec §2.2 OIDC).

use gatehouse_verify::{Check, Verifier};
use serde_json::{Value, json};

use crate::support::*;

const VERIFY_MSG: &str =
    "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired.";
const PARSE_OIDC: &str = "Could not parse as OIDC ID token. Token might not be an OIDC-compliant JWT.";

fn discovery(issuer: &str, jwks_uri: &str) -> String {
    json!({
        "issuer": issuer, "authorization_endpoint": format!("{issuer}/auth"), "jwks_uri": jwks_uri,
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"]
    })
    .to_string()
}

fn setup(keys: &[Value]) -> (Server, Verifier) {
    let s = Server::start();
    s.set("/.well-known/openid-configuration", Route::json(&discovery(&s.base, &s.url("/keys"))));
    s.set("/keys", Route::json(&jwks(keys)));
    let v = verifier(json!({"providers":[{"domain": s.base, "applicationID":"cid"}]}));
    (s, v)
}

fn id_claims(s: &Server, extra: Value) -> Value {
    let mut c = json!({"iss": s.base, "sub":"u1", "aud":"cid", "iat": NOW, "exp": NOW + 60});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn id_token(s: &Server, extra: Value) -> String {
    mint(json!({"alg":"RS256","kid":"k1","typ":"JWT"}), id_claims(s, extra), &Signer::Rsa(rsa()))
}

#[test]
fn happy_path_and_claim_mapping() {
    let (s, v) = setup(&[rsa_jwk("k1")]);
    let t = id_token(
        &s,
        json!({
            "name":"Ada L","given_name":"Ada","family_name":"L","nickname":"ada","preferred_username":"ada1",
            "profile":"https://p","picture":"https://pic","website":"https://w","email":"a@b.c","email_verified":true,
            "gender":"f","birthdate":"1815-12-10","zoneinfo":"Europe/London","locale":"en","phone_number":"+1",
            "phone_number_verified":false,"address":{"formatted":"1 Road","country":"UK"},"updated_at":1700000000,
            "org":{"id":"o1"},"jti":"j","nbf":NOW,"fva":[1,2],"azp":"x","nonce":"n","auth_time":NOW,"name#fr":"Ada",
            "middle_name":"M"
        }),
    );
    let id = verify(&v, &t).unwrap();
    let iss = &s.base;
    assert_eq!(
        id.to_json_string(),
        format!(
            r#"{{"tokenIdentifier":"{iss}|u1","issuer":"{iss}","subject":"u1","name":"Ada L","givenName":"Ada","familyName":"L","nickname":"ada","preferredUsername":"ada1","profileUrl":"https://p","pictureUrl":"https://pic","websiteUrl":"https://w","email":"a@b.c","emailVerified":true,"gender":"f","birthday":"1815-12-10","timezone":"Europe/London","language":"en","phoneNumber":"+1","phoneNumberVerified":false,"address":"1 Road","updatedAt":"2023-11-14T22:13:20+00:00","middle_name":"M","org":{{"id":"o1"}}}}"#
        )
    );
    // Cached discovery + keys: a second verification makes no request.
    let before = s.hits("/keys");
    verify(&v, &t).unwrap();
    assert!(s.hits("/keys") >= before);
}

#[test]
fn eddsa_and_kidless_single_key() {
    let (s, v) = setup(&[ed_jwk("e1", Some("EdDSA"))]);
    let t = mint(json!({"alg":"EdDSA"}), id_claims(&s, json!({})), &Signer::Ed(ed()));
    verify(&v, &t).unwrap();
}

#[test]
fn kidless_token_with_two_keys_is_ambiguous() {
    let (s, v) = setup(&[rsa_jwk("k1"), rsa_jwk_of(rsa2(), "k2", Some("RS256"))]);
    let t = mint(json!({"alg":"RS256"}), id_claims(&s, json!({})), &Signer::Rsa(rsa()));
    assert_eq!(rejects(&v, &t, "Unauthenticated", VERIFY_MSG).diagnosis().check(), Check::KeyNotFound);
}

#[test]
fn verification_failures_are_unauthenticated() {
    let (s, v) = setup(&[rsa_jwk("k1"), ec_jwk_of(ec(), "e1")]);
    let cases: Vec<(String, Check)> = vec![
        (id_token(&s, json!({"aud":["cid","other"]})), Check::Audience),
        (id_token(&s, json!({"exp": NOW})), Check::Expired),
        (
            mint(json!({"alg":"RS256","kid":"k1","typ":"at+jwt"}), id_claims(&s, json!({})), &Signer::Rsa(rsa())),
            Check::OidcHeader,
        ),
        (
            mint(json!({"alg":"RS256","kid":"k1","cty":"JWT"}), id_claims(&s, json!({})), &Signer::Rsa(rsa())),
            Check::OidcHeader,
        ),
        (mint(json!({"alg":"ES256","kid":"e1"}), id_claims(&s, json!({})), &Signer::Ec(ec())), Check::Algorithm),
        (mint(json!({"alg":"RS256","kid":"k1"}), id_claims(&s, json!({})), &Signer::Rsa(rsa2())), Check::Signature),
        (mint(json!({"alg":"RS256","kid":"zz"}), id_claims(&s, json!({})), &Signer::Rsa(rsa())), Check::KeyNotFound),
    ];
    for (t, check) in cases {
        let e = rejects(&v, &t, "Unauthenticated", VERIFY_MSG);
        assert_eq!(e.diagnosis().check(), check, "{}", e.diagnosis());
        assert_eq!(e.http_status(), 401);
    }
    // exp one second ahead is fine; nbf is not checked; typ JWT in any case is fine.
    verify(&v, &id_token(&s, json!({"exp": NOW + 1, "nbf": NOW + 3600}))).unwrap();
    verify(&v, &mint(json!({"alg":"RS256","kid":"k1","typ":"jwt"}), id_claims(&s, json!({})), &Signer::Rsa(rsa())))
        .unwrap();
}

#[test]
fn parse_failures() {
    let (s, v) = setup(&[rsa_jwk("k1")]);
    for t in [
        id_token(&s, json!({"iat": null})),
        id_token(&s, json!({"sub": null})),
        id_token(&s, json!({"email": 5})),
        id_token(&s, json!({"email_verified": "yes"})),
        mint(json!({"alg":"XX256","kid":"k1"}), id_claims(&s, json!({})), &Signer::Rsa(rsa())),
    ] {
        let e = rejects(&v, &t, "InvalidAuthHeader", PARSE_OIDC);
        assert_eq!(e.diagnosis().check(), Check::OidcFormat);
    }
}

#[test]
fn discovery_failures() {
    let (s, v) = setup(&[rsa_jwk("k1")]);
    let t = id_token(&s, json!({}));
    let failed = format!("Auth provider discovery of {} failed", s.base);
    // issuer mismatch (trailing slash).
    s.set("/.well-known/openid-configuration", Route::json(&discovery(&format!("{}/", s.base), &s.url("/keys"))));
    assert_eq!(rejects(&v, &t, "AuthProviderDiscoveryFailed", &failed).diagnosis().check(), Check::Discovery);
    // wrong content type.
    s.set(
        "/.well-known/openid-configuration",
        Route::json(&discovery(&s.base, &s.url("/keys"))).with("content-type", "text/html"),
    );
    rejects(&v, &t, "AuthProviderDiscoveryFailed", &failed);
    // missing content type is fine for OIDC (discovery and JWKS).
    s.set(
        "/.well-known/openid-configuration",
        Route::json(&discovery(&s.base, &s.url("/keys"))).without("content-type"),
    );
    s.set("/keys", Route::json(&jwks(&[rsa_jwk("k1")])).without("content-type"));
    verify(&v, &t).unwrap();
    // missing metadata field.
    s.set(
        "/.well-known/openid-configuration",
        Route::json(&json!({"issuer": s.base, "jwks_uri": s.url("/keys")}).to_string()),
    );
    rejects(&v, &t, "AuthProviderDiscoveryFailed", &failed);
    // HTTP error: status and body in the message.
    s.set("/.well-known/openid-configuration", Route::json("nope").status(404));
    let e = rejects(&v, &t, "AuthProviderDiscoveryFailed", &format!("{failed}: 404 Not Found nope"));
    assert_eq!(e.http_status(), 404);
    s.set("/.well-known/openid-configuration", Route::json("boom").status(500));
    assert_eq!(
        rejects(&v, &t, "AuthProviderDiscoveryFailed", &format!("{failed}: 500 Internal Server Error boom"))
            .http_status(),
        400
    );
    // JWKS with a bad body.
    s.set("/.well-known/openid-configuration", Route::json(&discovery(&s.base, &s.url("/keys"))));
    s.set("/keys", Route::json("not json"));
    rejects(&v, &t, "AuthProviderDiscoveryFailed", &failed);
}

#[test]
fn lenient_jwks_skips_unparseable_keys() {
    let (s, v) = setup(&[rsa_jwk("k1"), json!({"kty":"weird","kid":"w"}), ed_jwk("ed", Some("EdDSA"))]);
    verify(&v, &id_token(&s, json!({}))).unwrap();
}

#[test]
fn scheme_less_iss_matches_but_fails_discovery() {
    let v = verifier(json!({"providers":[{"domain":"idp.example.com","applicationID":"cid"}]}));
    let t = mint(
        json!({"alg":"RS256","kid":"k1"}),
        json!({"iss":"idp.example.com","sub":"u","aud":"cid","exp":NOW+60,"iat":NOW}),
        &Signer::Rsa(rsa()),
    );
    rejects(&v, &t, "AuthProviderDiscoveryFailed", "Auth provider discovery of idp.example.com failed");
}
