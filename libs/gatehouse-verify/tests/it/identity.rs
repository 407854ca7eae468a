//! The identity JSON (spec §3).

use serde_json::json;

use crate::support::*;

#[test]
fn workos_style_custom_jwt_identity() {
    let iss = "https://api.workos.com/user_management/client_X";
    let v = verifier(
        json!({"providers":[{"type":"customJwt","issuer":iss,"jwks":data_url(&jwks(&[rsa_jwk("k1")])),"algorithm":"RS256"}]}),
    );
    let t = rs_token(
        json!({"iss":iss,"sub":"user_Y","sid":"session_1","org_id":"org_1","role":"member","permissions":["read"],"jti":"j1","aud":null}),
    );
    let id = verify(&v, &t).unwrap();
    assert_eq!(
        id.to_json_string(),
        r#"{"tokenIdentifier":"https://api.workos.com/user_management/client_X|user_Y","issuer":"https://api.workos.com/user_management/client_X","subject":"user_Y","org_id":"org_1","permissions":["read"],"role":"member","sid":"session_1"}"#
    );
}

#[test]
fn custom_claims_flatten_and_exclusions() {
    let v = default_verifier();
    let mut payload = claims(json!({
        "org": {"id":"o1","deep":{"x":1}},
        "arr": [1, {"a": 1}],
        "empty": {},
        "f": 1.5, "b": true,
        "fva": [1, 2], "nbf": NOW - 10, "jti": "j",
        "email": "a@b.c", "email_verified": true, "picture": "https://p", "given_name": "Ada"
    }));
    payload["n"] = serde_json::Value::Null;
    let t = mint(json!({"alg":"RS256","kid":"k1"}), payload, &Signer::Rsa(rsa()));
    let id = verify(&v, &t).unwrap();
    assert_eq!(
        id.to_json_string(),
        r#"{"tokenIdentifier":"https://auth.example.com|user_1","issuer":"https://auth.example.com","subject":"user_1","arr":[1,{"a":1}],"b":true,"email":"a@b.c","email_verified":true,"f":1.5,"given_name":"Ada","n":null,"org.deep.x":1,"org.id":"o1","picture":"https://p"}"#
    );
    assert_eq!(id.get("org.id"), Some(&json!("o1")));
    assert!(id.get("pictureUrl").is_none(), "customJwt does not map OIDC claims");
}

#[test]
fn custom_claim_shadows_typed_key_in_place() {
    let v = default_verifier();
    let id = verify(&v, &rs_token(json!({"issuer":"spoofed","tokenIdentifier":"x|y","a":1}))).unwrap();
    assert_eq!(id.to_json_string(), r#"{"tokenIdentifier":"x|y","issuer":"spoofed","subject":"user_1","a":1}"#);
    assert_eq!(id.token_identifier(), "https://auth.example.com|user_1", "the real identifier is kept");
    assert_eq!(id.shadowed_keys(), ["issuer".to_string(), "tokenIdentifier".to_string()]);
}

#[test]
fn flattened_keys_sort_with_their_siblings() {
    let id = verify(&default_verifier(), &rs_token(json!({"org":{"z":1},"org-a":2,"orb":3}))).unwrap();
    let keys: Vec<&str> = id.fields().map(|(k, _)| k).collect();
    assert_eq!(keys, ["tokenIdentifier", "issuer", "subject", "orb", "org-a", "org.z"]);
}
