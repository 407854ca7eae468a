//! Social providers, per environment: the configured upstream providers with the callback URL
//! to register at each (copy button), adding and editing them (the client secret is write-only:
//! never shown, and an empty field keeps the stored one), enabling, disabling and removing
//! (confirmed). The same service calls as `gatehouse providers`, so the same checks, messages
//! and audit events, with the operator as the actor.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};

use super::page::{self, Change, Confirm, Console, FormError, PageError};
use super::setup::when;
use crate::domain::provider::{Kind, StoredProvider};
use crate::service::Error;
use crate::service::environments::LoadedEnvironment;
use crate::service::social::{NewProvider, ProviderPatch, provider_label};
use crate::web::AppState;

/// The built-in providers offered in the add form, then "custom".
const CHOICES: &[(&str, &str)] = &[
    ("GoogleOAuth", "Google"),
    ("MicrosoftOAuth", "Microsoft"),
    ("GitHubOAuth", "GitHub"),
    ("AppleOAuth", "Apple"),
    ("GitLabOAuth", "GitLab"),
    ("custom", "Custom OpenID Connect provider"),
];

/// The optional endpoint fields, with their labels and hints (the CLI's options).
const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("authorize_url", "Authorization endpoint", "Instead of discovery, or to override it."),
    ("token_url", "Token endpoint", "Instead of discovery."),
    ("userinfo_url", "Userinfo endpoint", "Instead of discovery."),
    ("jwks_url", "JWKS URL", "Verifies the provider's ID tokens (instead of discovery)."),
    ("emails_url", "Emails endpoint", "A GitHub-style list of the user's emails."),
];

/// A refused provider form: a name already taken is about the name.
fn refused(e: Error) -> Result<FormError, PageError> {
    let field = if matches!(e, Error::Conflict { .. }) { "name" } else { "" };
    FormError::refused(e, field)
}

fn provider_view(state: &AppState, p: &StoredProvider) -> Value {
    let kind = Kind::parse(&p.kind).unwrap_or(Kind::Oidc);
    context! {
        name => &p.name, kind => &p.kind, label => provider_label(p), client_id => &p.client_id,
        scopes => &p.scopes, enabled => p.is_enabled, display_name => &p.display_name, icon_url => &p.icon_url,
        issuer => &p.issuer, authorize_url => &p.authorize_url, token_url => &p.token_url,
        userinfo_url => &p.userinfo_url, emails_url => &p.emails_url, jwks_url => &p.jwks_url,
        custom => kind == Kind::Oidc, oidc => kind.is_oidc(),
        callback_url => state.core.social_callback_url(&p.name),
        id => p.name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect::<String>(),
        updated => when(p.updated_at),
    }
}

/// The form's values: what was posted, else the provider's, else empty.
fn form_values(change: Option<&Change>, p: Option<&StoredProvider>) -> Value {
    let get = |key: &str, stored: Option<String>| match change {
        Some(c) => c.field(key),
        None => stored.unwrap_or_default(),
    };
    let endpoints: Vec<Value> = ENDPOINTS
        .iter()
        .map(|(key, label, hint)| {
            let stored = p.and_then(|p| match *key {
                "authorize_url" => p.authorize_url.clone(),
                "token_url" => p.token_url.clone(),
                "userinfo_url" => p.userinfo_url.clone(),
                "jwks_url" => p.jwks_url.clone(),
                "emails_url" => p.emails_url.clone(),
                _ => None,
            });
            context! { key => *key, label => *label, hint => *hint, value => get(key, stored) }
        })
        .collect();
    context! {
        provider => get("provider", None),
        custom_name => get("custom_name", None),
        client_id => get("client_id", p.map(|p| p.client_id.clone())),
        scopes => get("scopes", p.map(|p| p.scopes.clone())),
        display_name => get("display_name", p.and_then(|p| p.display_name.clone())),
        icon_url => get("icon_url", p.and_then(|p| p.icon_url.clone())),
        issuer => get("issuer", p.and_then(|p| p.issuer.clone())),
        endpoints,
        any_endpoint => ENDPOINTS.iter().any(|(key, _, _)| change.is_some_and(|c| !c.field(key).is_empty()))
            || p.is_some_and(|p| p.authorize_url.is_some() || p.token_url.is_some() || p.userinfo_url.is_some()
                || p.jwks_url.is_some() || p.emails_url.is_some()),
    }
}

async fn list_page(
    state: &AppState,
    console: &Console,
    env: &LoadedEnvironment,
    status: StatusCode,
    posted: Option<&Change>,
    error: Option<FormError>,
) -> Result<Response, PageError> {
    let providers: Vec<Value> = state.core.list_providers(env).await?.iter().map(|p| provider_view(state, p)).collect();
    let choices: Vec<Value> =
        CHOICES.iter().map(|(value, label)| context! { value => *value, label => *label }).collect();
    let ctx = context! {
        title => "Social providers", providers, choices,
        form => form_values(posted, None),
        callback_base => state.core.social_callback_url(""),
        open_form => posted.is_some(),
        ..FormError::context(error.as_ref())
    };
    console.render_status(state, status, "console/providers.html", Some(&env.name), "providers", ctx).await
}

/// `GET /dashboard/env/{env}/providers`.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    list_page(&state, &console, &env, StatusCode::OK, None, None).await
}

/// `POST /dashboard/env/{env}/providers`: add one.
pub async fn add(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let choice = change.field("provider");
    let name = if choice.is_empty() || choice == "custom" { change.field("custom_name") } else { choice };
    if name.is_empty() {
        let error = FormError::new("custom_name", "Choose a provider, or name your own.");
        return list_page(&state, &change.console, &env, StatusCode::UNPROCESSABLE_ENTITY, Some(&change), Some(error))
            .await;
    }
    let new = NewProvider {
        name: name.clone(),
        client_id: change.field("client_id"),
        client_secret: change.raw("client_secret"),
        scopes: change.optional("scopes").map(|s| vec![s]),
        display_name: change.optional("display_name"),
        icon_url: change.optional("icon_url"),
        issuer: change.optional("issuer"),
        authorize_url: change.optional("authorize_url"),
        token_url: change.optional("token_url"),
        userinfo_url: change.optional("userinfo_url"),
        emails_url: change.optional("emails_url"),
        jwks_url: change.optional("jwks_url"),
        is_enabled: Some(true),
    };
    match state.core.add_provider(&env, new, &change.actor()).await {
        Ok(p) => {
            let notice = format!(
                "{} added. Register {} as the callback (redirect) URL at the provider.",
                provider_label(&p),
                state.core.social_callback_url(&p.name)
            );
            Ok(page::done(&state, &format!("/dashboard/env/{}/providers", env.name), &notice))
        }
        Err(e) => {
            let error = refused(e)?;
            list_page(&state, &change.console, &env, StatusCode::UNPROCESSABLE_ENTITY, Some(&change), Some(error)).await
        }
    }
}

async fn edit_page(
    state: &AppState,
    console: &Console,
    env: &LoadedEnvironment,
    p: &StoredProvider,
    status: StatusCode,
    posted: Option<&Change>,
    error: Option<FormError>,
) -> Result<Response, PageError> {
    let ctx = context! {
        title => provider_label(p), provider => provider_view(state, p), form => form_values(posted, Some(p)),
        ..FormError::context(error.as_ref())
    };
    console.render_status(state, status, "console/provider.html", Some(&env.name), "providers", ctx).await
}

/// `GET /dashboard/env/{env}/providers/{name}`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path((env, name)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    let p = state.core.get_provider(&env, &name).await?;
    edit_page(&state, &console, &env, &p, StatusCode::OK, None, None).await
}

/// `POST /dashboard/env/{env}/providers/{name}/edit`: every field; an empty secret keeps it.
pub async fn edit(
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let clearable = |key: &str| Some(change.optional(key));
    let patch = ProviderPatch {
        client_id: Some(change.field("client_id")),
        client_secret: change.optional("client_secret"),
        scopes: Some(vec![change.field("scopes")]),
        display_name: clearable("display_name"),
        icon_url: clearable("icon_url"),
        issuer: clearable("issuer"),
        authorize_url: clearable("authorize_url"),
        token_url: clearable("token_url"),
        userinfo_url: clearable("userinfo_url"),
        emails_url: clearable("emails_url"),
        jwks_url: clearable("jwks_url"),
        is_enabled: None,
    };
    match state.core.update_provider(&env, &name, patch, &change.actor()).await {
        Ok(p) => Ok(page::done(
            &state,
            &format!("/dashboard/env/{}/providers", env.name),
            &format!("{} saved.", provider_label(&p)),
        )),
        Err(Error::NotFound { kind, id }) => Err(PageError::Service(Error::NotFound { kind, id })),
        Err(e) => {
            let error = refused(e)?;
            let p = state.core.get_provider(&env, &name).await?;
            edit_page(&state, &change.console, &env, &p, StatusCode::UNPROCESSABLE_ENTITY, Some(&change), Some(error))
                .await
        }
    }
}

/// `POST /dashboard/env/{env}/providers/{name}/enable` and `…/disable`.
async fn toggle(
    state: AppState,
    env: String,
    name: String,
    change: Change,
    enabled: bool,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let patch = ProviderPatch { is_enabled: Some(enabled), ..ProviderPatch::default() };
    let p = state.core.update_provider(&env, &name, patch, &change.actor()).await?;
    let notice = if enabled {
        format!("{} enabled: its button is on the sign-in page.", provider_label(&p))
    } else {
        format!("{} disabled: its button is gone and provider={} is refused.", provider_label(&p), p.name)
    };
    Ok(page::done(&state, &format!("/dashboard/env/{}/providers", env.name), &notice))
}

pub async fn enable(
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    toggle(state, env, name, change, true).await
}

pub async fn disable(
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    toggle(state, env, name, change, false).await
}

/// `POST /dashboard/env/{env}/providers/{name}/remove` (confirmed).
pub async fn remove(
    State(state): State<AppState>,
    Path((env, name)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let p = state.core.get_provider(&env, &name).await?;
    let back = format!("/dashboard/env/{}/providers", env.name);
    let label = provider_label(&p);
    if !change.confirmed() {
        let action = format!("{back}/{}/remove", p.name);
        let title = format!("Remove {label}?");
        let consequence = format!(
            "The “Continue with {label}” button leaves the sign-in page of {} and apps asking for provider={} are \
             refused. Its client ID and secret are deleted. People who signed in with {label} keep their accounts \
             and linked identities: they sign in another way, or with {label} again if you add it back.",
            env.name, p.name
        );
        return change
            .console
            .confirm(
                &state,
                Some(&env.name),
                Confirm {
                    title: &title,
                    consequence: &consequence,
                    action: &action,
                    fields: &[],
                    back: &back,
                    button: "Remove provider",
                },
            )
            .await;
    }
    state.core.remove_provider(&env, &p.name, &change.actor()).await?;
    Ok(page::done(&state, &back, &format!("{label} removed.")))
}
