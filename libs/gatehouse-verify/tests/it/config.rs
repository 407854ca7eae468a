//! Config loading: env interpolation and Convex's push-time checks (spec §1.1–§1.2).

use gatehouse_verify::{AuthConfig, Provider};

fn load(json: &str) -> Result<AuthConfig, gatehouse_verify::ConfigError> {
    AuthConfig::from_json_with_env(json, |name| match name {
        "WORKOS_CLIENT_ID" => Some("client_01ABC".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    })
}

#[track_caller]
fn check_err(json: &str, code: &str, message: &str) {
    let err = load(json).expect_err("config must be rejected");
    assert_eq!((err.code(), err.message()), (code, message));
}

const SCHEMA: &str = "AuthConfigNotMatchingSchemaError";

#[test]
fn workos_recommended_config_with_env() {
    let c = load(
        r#"{"providers":[
          {"type":"customJwt","issuer":"https://api.workos.com/","algorithm":"RS256",
           "jwks":"https://api.workos.com/sso/jwks/${WORKOS_CLIENT_ID}","applicationID":"${WORKOS_CLIENT_ID}"},
          {"type":"customJwt","issuer":"https://api.workos.com/user_management/${WORKOS_CLIENT_ID}",
           "algorithm":"RS256","jwks":"https://api.workos.com/sso/jwks/${WORKOS_CLIENT_ID}"}]}"#,
    )
    .unwrap();
    let ps = c.providers();
    assert_eq!(ps.len(), 2);
    assert_eq!(ps[0].application_id(), Some("client_01ABC"));
    assert_eq!(ps[1].issuer(), "https://api.workos.com/user_management/client_01ABC");
    assert_eq!(ps[1].application_id(), None);
    assert_eq!(ps[1].env_vars("issuer"), ["WORKOS_CLIENT_ID".to_string()]);
    let Provider::CustomJwt(p) = &ps[0] else { panic!() };
    assert_eq!(p.jwks(), "https://api.workos.com/sso/jwks/client_01ABC");
}

#[test]
fn missing_env_var() {
    check_err(
        r#"{"providers":[{"domain":"https://a.com","applicationID":"${NOPE}"}]}"#,
        "AuthConfigMissingEnvironmentVariable",
        "Environment variable NOPE is used in auth config file but its value was not set",
    );
}

#[test]
fn env_escape_and_non_vars_stay_literal() {
    let c =
        load(r#"{"providers":[{"domain":"https://a.com","applicationID":"$${X}-$5-${EMPTY}-${not valid}"}]}"#).unwrap();
    assert_eq!(c.providers()[0].application_id(), Some("${X}-$5--${not valid}"));
}

#[test]
fn misspelt_application_id() {
    for key in ["applicationId", "applicationid"] {
        check_err(
            &format!(r#"{{"providers":[{{"domain":"https://a.com","{key}":"x"}}]}}"#),
            SCHEMA,
            "auth config file must include a list of provider credentials: Provider at index 0 must have applicationID property spelled lowercase 'application', capital I, capital D.",
        );
    }
}

#[test]
fn unexpected_type() {
    check_err(
        r#"{"providers":[{"domain":"https://a.com","applicationID":"x"},{"type":"jwt","issuer":"https://a.com"}]}"#,
        SCHEMA,
        "auth config file must include a list of provider credentials: Provider at index 1 has unexpected 'type' value 'jwt'",
    );
}

#[test]
fn custom_jwt_with_domain() {
    check_err(
        r#"{"providers":[{"type":"customJwt","domain":"https://a.com","issuer":"https://a.com","jwks":"x","algorithm":"RS256"}]}"#,
        SCHEMA,
        "auth config file must include a list of provider credentials: Provider at index 0 is a customJwt so cannot have a 'domain' specified",
    );
}

#[test]
fn oidc_with_issuer() {
    for t in [r#""type":"oidc","#, ""] {
        check_err(
            &format!(
                r#"{{"providers":[{{{t}"issuer":"https://a.com","applicationID":"x","domain":"https://a.com"}}]}}"#
            ),
            SCHEMA,
            "auth config file must include a list of provider credentials: Provider at index 0 is oidc so cannot have an 'issuer' specified.",
        );
    }
}

#[test]
fn insecure_shared_workos_issuer() {
    for iss in ["https://api.workos.com/", "https://api.workos.com"] {
        check_err(
            &format!(
                r#"{{"providers":[{{"type":"customJwt","issuer":"{iss}","jwks":"https://api.workos.com/sso/jwks/c","algorithm":"RS256"}}]}}"#
            ),
            "InsecureConfiguration",
            "This auth configuration appears potentially insecure: Provider at index 0 has an issuer that is shared among many applications, so must to specify an ApplicationID to check against an `aud` field of a JWT.",
        );
    }
    // With an applicationID it is fine; a user_management issuer needs none.
    load(r#"{"providers":[{"type":"customJwt","issuer":"https://api.workos.com/","applicationID":"c","jwks":"https://x.com/j","algorithm":"RS256"}]}"#).unwrap();
}

#[test]
fn schema_errors_keep_serde_wording() {
    check_err(
        r#"{"providers":[{"type":"customJwt","issuer":"https://a.com","algorithm":"RS256"}]}"#,
        SCHEMA,
        // Convex's serde shape (tagged enum with an untagged OIDC fallback) reports this, not "missing field".
        "auth config file must include a list of provider credentials: data did not match any variant of untagged enum SerializedAuthInfo ",
    );
    check_err(
        r#"{"providers":[{"type":"customJwt","issuer":"https://a.com","jwks":"x","algorithm":"HS256"}]}"#,
        SCHEMA,
        "auth config file must include a list of provider credentials: data did not match any variant of untagged enum SerializedAuthInfo ",
    );
    check_err(
        r#"{"providers":[{"type":"customJwt","issuer":"https://a.com","jwks":"x","algorithm":"rs256"}]}"#,
        SCHEMA,
        "auth config file must include a list of provider credentials: data did not match any variant of untagged enum SerializedAuthInfo ",
    );
    // Our hint names the real problem.
    let err = load(r#"{"providers":[{"type":"customJwt","issuer":"https://a.com","jwks":"x","algorithm":"HS256"}]}"#)
        .unwrap_err();
    assert_eq!(
        err.hint_text(),
        Some("provider at index 0: `algorithm` must be \"RS256\" or \"ES256\" (case-sensitive)")
    );
    let err = load(r#"{"providers":[{"domain":"https://a.com"}]}"#).unwrap_err();
    assert_eq!(err.hint_text(), Some("provider at index 0: missing `applicationID`"));
    check_err(
        r#"{"provider":[]}"#,
        SCHEMA,
        "auth config file must include a list of provider credentials: missing field `providers` ",
    );
    let err = load(r#"{"providers":[{"domain":"https://a.com"}]}"#).unwrap_err();
    assert_eq!(err.code(), SCHEMA);
    assert!(err.message().starts_with("auth config file must include a list of provider credentials: "), "{err}");
}

#[test]
fn missing_default_export() {
    for text in ["", "  ", "null"] {
        check_err(
            text,
            "AuthConfigMissingExportError",
            "auth config file is missing default export. To learn more, see the auth documentation at https://docs.convex.dev/auth.",
        );
    }
}

#[test]
fn issuer_url_normalisation() {
    let one = |d: &str| load(&format!(r#"{{"providers":[{{"domain":"{d}","applicationID":"x"}}]}}"#));
    assert_eq!(one("example.com").unwrap().providers()[0].issuer(), "https://example.com");
    assert_eq!(one("localhost").unwrap().providers()[0].issuer(), "https://localhost");
    assert_eq!(one("http://localhost:3211").unwrap().providers()[0].issuer(), "http://localhost:3211");
    assert_eq!(one("http://127.0.0.1:3211").unwrap().providers()[0].issuer(), "http://127.0.0.1:3211");
    assert_eq!(one("https://auth.example.com/").unwrap().providers()[0].issuer(), "https://auth.example.com/");
    for (bad, msg) in [
        (
            "foobar123",
            "Invalid provider domain URL \"foobar123\": Does not look like a URL (must have a scheme or end with a top-level domain)",
        ),
        (
            "idont.looklikeadomain",
            "Invalid provider domain URL \"idont.looklikeadomain\": Does not look like a URL (must have a scheme or end with a top-level domain)",
        ),
        ("file://example.com", "Invalid provider domain URL \"file://example.com\": must use HTTPS"),
    ] {
        let err = one(bad).unwrap_err();
        assert_eq!((err.code(), err.message()), ("InvalidProviderDomainUrl", msg));
    }
    assert_eq!(one("\\\"https://a.com\\\"").unwrap_err().code(), "InvalidProviderDomainUrl");
}

#[test]
fn explicit_oidc_type_extra_properties_and_null_application_id() {
    let c = load(
        r#"{"providers":[{"type":"oidc","domain":"https://a.com","applicationID":"x","note":"extra"},
                         {"type":"customJwt","issuer":"https://b.com","jwks":"x","algorithm":"ES256","applicationID":null}]}"#,
    )
    .unwrap();
    assert!(matches!(c.providers()[0], Provider::Oidc(_)));
    assert_eq!(c.providers()[1].application_id(), None);
}
