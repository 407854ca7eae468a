//! Per-environment settings: sessions (lifetimes, grace window), authentication methods,
//! password length, branding and sign-out redirect URIs (one form, applied as `gatehouse env
//! set` applies them, so the same checks and messages), and the signing keys (list, rotate now).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use super::page::{self, Change, Confirm, Console, PageError};
use super::setup::when;
use crate::service::environments::LoadedEnvironment;
use crate::service::keys::KeyState;
use crate::web::AppState;

/// The number fields of the form, with their labels and hints.
const NUMBERS: &[(&str, &str, &str)] = &[
    ("access_token_ttl_secs", "Access token lifetime (seconds)", "40 to 86400; 300 is WorkOS's default."),
    ("session_ttl_secs", "Session lifetime (seconds)", "Refresh tokens stop working after this; 2592000 is 30 days."),
    (
        "refresh_grace_secs",
        "Refresh grace window (seconds)",
        "How long a just-rotated refresh token may be retried (two tabs racing): 0 to 60.",
    ),
    ("password_policy.min_length", "Shortest password", "At least 8."),
];

/// The switches of the form.
const SWITCHES: &[(&str, &str, &str)] = &[
    ("sign_up_enabled", "Sign-up", "People can create accounts on the hosted pages."),
    ("magic_auth_enabled", "Email codes", "Offer “Email me a code” on the sign-in page."),
    ("email_verification_required", "Email verification required", "No session until the address is verified."),
    ("mfa_required", "Two-factor required", "Every sign-in needs an authenticator app or a passkey."),
    (
        "uniform_sign_up",
        "Uniform sign-up",
        "Sign-up answers the same whether or not an account exists (codes by email first).",
    ),
    ("allow_localhost_origins", "Any localhost origin", "Accept every http://localhost origin for CORS (development)."),
];

/// The text fields of the form.
const TEXTS: &[(&str, &str, &str)] = &[
    ("branding.app_name", "App name", "Shown on the hosted pages and in emails."),
    ("branding.primary_color", "Brand colour", "Buttons and links, like #4f46e5."),
    ("branding.logo_url", "Logo URL", "An https image; empty for the initial."),
    (
        "sign_out_redirect_uris",
        "Sign-out redirect URIs",
        "Comma-separated; the first is where sign-out goes by default.",
    ),
];

fn current(env: &LoadedEnvironment, key: &str) -> String {
    let s = &env.settings;
    match key {
        "access_token_ttl_secs" => s.access_token_ttl_secs.to_string(),
        "session_ttl_secs" => s.session_ttl_secs.to_string(),
        "refresh_grace_secs" => s.refresh_grace_secs.to_string(),
        "password_policy.min_length" => s.password_policy.min_length.to_string(),
        "sign_up_enabled" => s.sign_up_enabled.to_string(),
        "magic_auth_enabled" => s.magic_auth_enabled.to_string(),
        "email_verification_required" => s.email_verification_required.to_string(),
        "mfa_required" => s.mfa_required.to_string(),
        "uniform_sign_up" => s.uniform_sign_up.to_string(),
        "allow_localhost_origins" => s.allow_localhost_origins.to_string(),
        "branding.app_name" => s.branding.app_name.clone(),
        "branding.primary_color" => s.branding.primary_color.clone(),
        "branding.logo_url" => s.branding.logo_url.clone().unwrap_or_default(),
        "sign_out_redirect_uris" => s.sign_out_redirect_uris.join(", "),
        _ => String::new(),
    }
}

async fn settings_page(
    state: &AppState,
    console: &Console,
    env: &LoadedEnvironment,
    status: StatusCode,
    posted: Option<&Change>,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let value = |key: &str| match posted {
        Some(change) if SWITCHES.iter().any(|(k, _, _)| *k == key) => (!change.field(key).is_empty()).to_string(),
        Some(change) => change.field(key),
        None => current(env, key),
    };
    let field = |(key, label, hint): &(&str, &str, &str)| {
        context! {
            key => *key, id => key.replace('.', "-"), label => *label, hint => *hint, value => value(key),
            preview => key.strip_prefix("branding."),
        }
    };
    let numbers: Vec<Value> = NUMBERS.iter().map(field).collect();
    let switches: Vec<Value> = SWITCHES.iter().map(field).collect();
    let texts: Vec<Value> = TEXTS.iter().map(field).collect();
    let ctx = context! {
        title => "Settings", numbers, switches, texts, error,
        preview => format!("/dashboard/env/{}/settings/preview", env.name),
    };
    console.render_status(state, status, "console/settings.html", Some(&env.name), "settings", ctx).await
}

/// `GET /dashboard/env/{env}/settings`.
pub async fn settings(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    settings_page(&state, &console, &env, StatusCode::OK, None, None).await
}

/// The branding preview's query: unsaved values as typed (an invalid one keeps the saved value).
#[derive(Deserialize)]
pub struct PreviewQuery {
    app_name: Option<String>,
    primary_color: Option<String>,
    logo_url: Option<String>,
}

/// `GET /dashboard/env/{env}/settings/preview?app_name=…&primary_color=…&logo_url=…`: the
/// real hosted sign-in page with these branding values, framed by the settings page. It
/// writes nothing and starts no sign-in; its form cannot be sent.
pub async fn preview(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
    Query(query): Query<PreviewQuery>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    let mut settings = env.settings.clone();
    for (key, value) in [
        ("branding.app_name", query.app_name),
        ("branding.primary_color", query.primary_color),
        ("branding.logo_url", query.logo_url),
    ] {
        if let Some(value) = value {
            // A value still being typed (an incomplete colour) leaves the saved one.
            settings.set(key, value.trim()).unwrap_or_default();
        }
    }
    let providers = state.core.provider_buttons(&env).await?;
    let email_ok = state.core.check_email_available(&env).is_ok();
    Ok(crate::web::pages::sign_in_preview(&settings.branding, &env.client_id, &settings, email_ok, &providers))
}

/// `POST /dashboard/env/{env}/settings`: every field, checked together.
pub async fn save_settings(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let mut settings = env.settings.clone();
    let mut problem = None;
    for (key, _, _) in NUMBERS.iter().chain(TEXTS) {
        if let Err(e) = settings.set(key, &change.field(key)) {
            problem = Some(e);
            break;
        }
    }
    if problem.is_none() {
        for (key, _, _) in SWITCHES {
            let on = if change.field(key).is_empty() { "false" } else { "true" };
            if let Err(e) = settings.set(key, on) {
                problem = Some(e);
                break;
            }
        }
    }
    let result = match problem {
        Some(message) => Err(message),
        None => {
            state.core.update_settings(&env, settings, &change.actor()).await.map(|_| ()).map_err(|e| e.to_string())
        }
    };
    match result {
        Ok(()) => Ok(page::done(&state, &format!("/dashboard/env/{}/settings", env.name), "Settings saved.")),
        Err(message) => {
            settings_page(
                &state,
                &change.console,
                &env,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&change),
                Some(&message),
            )
            .await
        }
    }
}

/// `GET /dashboard/env/{env}/signing-keys`.
pub async fn signing_keys(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    let keys: Vec<Value> = state
        .core
        .key_schedule(&env)
        .iter()
        .rev()
        .map(|k| {
            let state = match k.state {
                KeyState::Next => "next",
                KeyState::Active => "active",
                KeyState::Retired => "retired",
                KeyState::Expired => "expired",
            };
            context! {
                kid => &k.kid, state, signs_from => when(k.signs_from),
                signs_until => k.signs_until.map(when), published_until => k.published_until.map(when),
            }
        })
        .collect();
    let ctx = context! {
        title => "Signing keys", keys,
        jwks_url => state.core.config().jwks_url(&env.client_id),
        max_age => state.core.config().jwks_max_age_secs,
    };
    console.render(&state, "console/signing_keys.html", Some(&env.name), "signing-keys", ctx).await
}

/// `POST /dashboard/env/{env}/signing-keys/rotate` (confirmed).
pub async fn rotate_signing_key(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let back = format!("/dashboard/env/{}/signing-keys", env.name);
    if !change.confirmed() {
        let action = format!("{back}/rotate");
        let consequence = format!(
            "A new key is published in the JWKS now and starts signing once caches have seen it ({} s). Tokens signed \
             by the current key stay valid until they expire; nobody is signed out.",
            state.core.config().jwks_max_age_secs
        );
        return change
            .console
            .confirm(
                &state,
                Some(&env.name),
                Confirm {
                    title: "Rotate the signing key?",
                    consequence: &consequence,
                    action: &action,
                    fields: &[],
                    back: &back,
                    button: "Rotate now",
                },
            )
            .await;
    }
    let next = state.core.rotate_signing_key(&env, &change.actor()).await?;
    Ok(page::done(&state, &back, &format!("New key {} published; it signs from {}.", next.kid, when(next.signs_from))))
}
