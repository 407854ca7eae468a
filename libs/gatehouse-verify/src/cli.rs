//! `gatehouse verify-token --config auth.config.json [TOKEN|-]`, as a library function.

use std::io::Read as _;
use std::path::Path;
use std::time::SystemTime;

use crate::{AuthConfig, Verifier, VerifierOptions};

/// Exit code: the token is valid.
pub const EXIT_OK: u8 = 0;
/// Exit code: the token was rejected.
pub const EXIT_REJECTED: u8 = 1;
/// Exit code: the config could not be read or is invalid, or the token could not be read.
pub const EXIT_CONFIG: u8 = 2;

/// Verifies one token against a config file and returns `(exit code, text for stdout)`.
///
/// * `config_path`: a JSON file shaped like the default export of `convex/auth.config.ts`,
///   with `${VAR}` interpolated from the process environment.
/// * `token_arg`: the JWT, or `-` to read it from stdin. Surrounding whitespace and a leading
///   `Bearer ` are ignored.
///
/// On success the text is the identity JSON (pretty-printed, Convex's key order) and the code
/// is [`EXIT_OK`]. On rejection it is `error: <code>: <message>`, the HTTP body, and the
/// diagnosis, with [`EXIT_REJECTED`]. Config problems give [`EXIT_CONFIG`].
/// Fetching `https://` JWKS needs the `remote` feature.
pub async fn verify_token_main(config_path: &Path, token_arg: &str) -> (u8, String) {
    let text = match std::fs::read_to_string(config_path) {
        Ok(t) => t,
        Err(e) => return (EXIT_CONFIG, format!("error: cannot read {}: {e}\n", config_path.display())),
    };
    let config = match AuthConfig::from_json(&text) {
        Ok(c) => c,
        Err(e) => {
            let mut out = format!("error: {}: {}\n", e.code(), e.message());
            if let Some(h) = e.hint_text() {
                out.push_str(&format!("hint: {h}\n"));
            }
            return (EXIT_CONFIG, out);
        }
    };
    let token = if token_arg == "-" {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            return (EXIT_CONFIG, format!("error: cannot read the token from stdin: {e}\n"));
        }
        s
    } else {
        token_arg.to_string()
    };
    let token = token.trim();
    let token = match token.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => token[7..].trim(),
        _ => token,
    };
    let verifier = Verifier::new(config, VerifierOptions::default());
    match verifier.verify(token, SystemTime::now()).await {
        Ok(identity) => (EXIT_OK, format!("{}\n", identity.to_json_pretty())),
        Err(e) => {
            let d = e.diagnosis();
            let mut out = format!("error: {}: {}\n", e.code(), e.message());
            out.push_str(&format!("http: {} {}\n", e.http_status(), e.to_json()));
            out.push_str(&format!("check: {}\n", d.check()));
            if let Some(i) = d.provider_index() {
                out.push_str(&format!("provider: {i}\n"));
            }
            out.push_str(&format!("problem: {}\n", d.problem()));
            out.push_str(&format!("fix: {}\n", d.fix()));
            (EXIT_REJECTED, out)
        }
    }
}
