//! The CLI entry point `gatehouse_verify::cli::verify_token_main`.

use gatehouse_verify::cli::{EXIT_CONFIG, EXIT_OK, EXIT_REJECTED, verify_token_main};
use serde_json::json;

use crate::support::*;

fn config_file(name: &str, body: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gatehouse-verify-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn prints_identity_or_error_and_diagnosis() {
    let path =
        config_file("ok.json", &custom_provider_config(&jwks(&[rsa_jwk("k1")]), "RS256", Some("client_1")).to_string());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let t = rs_token(json!({"iat": now, "exp": now + 300, "role": "admin"}));
    let (code, out) = run(verify_token_main(&path, &format!("  Bearer {t}\n")));
    assert_eq!(code, EXIT_OK, "{out}");
    assert_eq!(
        out,
        "{\n  \"tokenIdentifier\": \"https://auth.example.com|user_1\",\n  \"issuer\": \"https://auth.example.com\",\n  \"subject\": \"user_1\",\n  \"role\": \"admin\"\n}\n"
    );
    let (code, out) = run(verify_token_main(&path, &rs_token(json!({"aud":"client_2","iat":now,"exp":now+300}))));
    assert_eq!(code, EXIT_REJECTED);
    assert!(out.starts_with("error: NoAuthProvider: No auth provider found matching the given token. "), "{out}");
    assert!(out.contains("\ncheck: audience\n"), "{out}");
    assert!(out.contains("\nfix: "), "{out}");
}

#[test]
fn config_errors_exit_2() {
    let path = config_file("bad.json", r#"{"providers":[{"domain":"https://a.com","applicationId":"x"}]}"#);
    let (code, out) = run(verify_token_main(&path, "x"));
    assert_eq!(code, EXIT_CONFIG);
    assert_eq!(
        out,
        "error: AuthConfigNotMatchingSchemaError: auth config file must include a list of provider credentials: Provider at index 0 must have applicationID property spelled lowercase 'application', capital I, capital D.\n"
    );
    let (code, _) = run(verify_token_main(std::path::Path::new("/nonexistent/auth.config.json"), "x"));
    assert_eq!(code, EXIT_CONFIG);
}
