//! Diagnoses that need more than one line of context: why no provider matched the token's
//! `iss` and `aud` (the closest provider, and what differs), and what a rejected JWKS or
//! discovery `Content-Type` means.

use std::borrow::Cow;

use crate::config::Provider;
use crate::error::{Check, Diagnosis};

use super::issuer_matches;

pub(super) fn content_type_hint(ct: Option<&str>) -> String {
    match ct.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase()) {
        None => "the server sent no Content-Type; Convex requires application/json or application/jwk-set+json on a JWKS".into(),
        Some(e) if e == "text/html" => "the JWKS answered text/html: is the URL right? (a login page, SPA fallback or proxy error page is answering)".into(),
        Some(e) if e.starts_with("text/") => format!("the JWKS answered {e}: serve it as application/json (many static hosts default to {e})"),
        Some(e) if e == "application/json" || e == "application/jwk-set+json" => {
            "the charset parameter must be utf-8 (or absent)".into()
        }
        Some(e) => format!("the JWKS answered {e}; Convex accepts only application/json or application/jwk-set+json"),
    }
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

fn env_hint(p: &Provider, field: &str) -> String {
    match p.env_vars(field) {
        [] => String::new(),
        vars => format!(" (from ${{{}}})", vars.join("}, ${")),
    }
}

pub(super) fn diagnose_no_provider(providers: &[Provider], iss: &str, aud: Option<&[Cow<'_, str>]>) -> Diagnosis {
    let auds = aud.unwrap_or(&[]);
    if let Some((i, p)) = providers.iter().enumerate().find(|(_, p)| issuer_matches(p.issuer(), iss)) {
        let app = p.application_id().unwrap_or_default();
        let env = env_hint(p, "applicationID");
        return match aud {
            None | Some([]) => Diagnosis::new(
                Check::Audience,
                format!("iss `{iss}` matches provider {i}, which requires applicationID `{app}`{env}, but the token has no `aud` claim"),
                format!("no `aud` claim: set the JWT template's aud to the client ID (`{app}`), or add a provider for this issuer without applicationID if the issuer is yours alone"),
            ),
            Some(list) => Diagnosis::new(
                Check::Audience,
                format!("iss `{iss}` matches provider {i}, but its applicationID `{app}`{env} is not in the token's aud {list:?}"),
                match env.is_empty() {
                    true => "set the provider's applicationID to the client ID the issuer puts in `aud`".to_string(),
                    false => format!("is {} the same client ID the issuer puts in `aud`?", p.env_vars("applicationID").join(", ")),
                },
            ),
        }
        .provider(i);
    }
    if providers.is_empty() {
        return Diagnosis::new(
            Check::ProviderMatch,
            "the config has no providers",
            "add a provider to auth.config.json",
        );
    }
    let norm = |s: &str| s.trim_end_matches('/').to_string();
    let tiss = norm(if iss.contains("://") { iss.to_string() } else { format!("https://{iss}") }.as_str());
    let (i, best) = providers
        .iter()
        .enumerate()
        .max_by_key(|(_, p)| common_prefix(&norm(p.issuer()), &tiss))
        .unwrap_or((0, &providers[0]));
    let expected = norm(best.issuer());
    let expected_list: Vec<String> = providers.iter().map(|p| format!("`{}`", p.issuer())).collect();
    let env_vars = best.env_vars("issuer");
    let (problem, fix) = if expected.eq_ignore_ascii_case(&tiss) {
        (
            format!("iss `{iss}` differs from provider {i}'s issuer `{}` only in letter case", best.issuer()),
            "Convex compares issuers exactly (case-sensitive): copy the token's iss into the config".to_string(),
        )
    } else if expected.split_once("://").map(|x| x.1) == tiss.split_once("://").map(|x| x.1) {
        (
            format!("iss `{iss}` and provider {i}'s issuer `{}` differ in the scheme (http vs https)", best.issuer()),
            "use the same scheme in both places; Convex does not normalise URLs".to_string(),
        )
    } else if expected.contains("/user_management/") && tiss.contains("/user_management/") {
        let their = tiss.rsplit('/').next().unwrap_or("");
        let ours = expected.rsplit('/').next().unwrap_or("");
        let var = env_vars.first().map(String::as_str).unwrap_or("WORKOS_CLIENT_ID");
        (
            format!(
                "iss is `{iss}` (client `{their}`) but your providers expect `{}` (client `{ours}`)",
                best.issuer()
            ),
            format!("is {var} the same in both places (the auth server/AuthKit client and this config)?"),
        )
    } else {
        let shared = common_prefix(&expected, &tiss);
        let var_note = if env_vars.is_empty() {
            String::new()
        } else {
            format!(" Check {} (used in provider {i}'s issuer).", env_vars.join(", "))
        };
        (
            format!(
                "iss is `{iss}` but your providers expect {}; the closest, provider {i}, differs from character {shared} on",
                expected_list.join(" or ")
            ),
            format!(
                "make the provider's issuer equal the token's iss (trailing slashes are ignored), or point the client at the right auth server.{var_note}"
            ),
        )
    };
    let _ = auds;
    Diagnosis::new(Check::ProviderMatch, problem, fix)
}
