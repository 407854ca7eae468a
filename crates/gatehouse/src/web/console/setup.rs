//! The seed's setup path, per environment: Quick start (client ID, snippets), API keys,
//! redirect URIs, CORS origins, the JWT template, and the environments themselves
//! (development ↔ production, creating production). Every change goes through `Change` and the
//! same services as the API, so it is validated and worded the same.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};

use super::page::{self, Change, Confirm, Console, PageError};
use crate::clock::Millis;
use crate::domain::environment::PRODUCTION;
use crate::domain::snippets::{SnippetValues, snippets};
use crate::service::environments::LoadedEnvironment;
use crate::web::AppState;

/// A timestamp as people read it (UTC, to the minute).
pub fn when(ms: Millis) -> String {
    let iso = crate::clock::iso8601(ms);
    format!("{} UTC", iso.get(..16).unwrap_or(&iso).replace('T', " "))
}

fn env_base(env: &str) -> String {
    format!("/dashboard/env/{env}")
}

/// The values of the Quick start: IDs, URLs and snippets (with `api_key` when just created).
async fn connection(state: &AppState, env: &LoadedEnvironment, api_key: Option<&str>) -> Result<Value, PageError> {
    let public_url = &state.core.config().public_url;
    let uris = state.core.list_redirect_uris(env).await?;
    let redirect_uri = uris
        .iter()
        .find(|r| r.is_default)
        .or(uris.first())
        .map(|r| r.uri.clone())
        .unwrap_or_else(|| "https://your-app.example.com/callback".to_owned());
    let snippets =
        snippets(&SnippetValues { public_url, client_id: &env.client_id, redirect_uri: &redirect_uri, api_key });
    Ok(context! {
        client_id => &env.client_id,
        issuer => state.core.config().issuer(&env.client_id),
        jwks_url => state.core.config().jwks_url(&env.client_id),
        api_base_url => public_url,
        redirect_uri,
        snippets => snippets
            .iter()
            .map(|s| context! { id => s.id, title => s.title, file => s.file, body => &s.body })
            .collect::<Vec<Value>>(),
    })
}

/// `GET /dashboard/env/{env}`: the Quick start.
pub async fn quick_start(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    let keys = state.core.list_api_keys(&env).await?;
    let active_keys = keys.iter().filter(|k| k.revoked_at.is_none()).count();
    let steps = context! {
        redirects => env.redirect_uris.len(),
        cors => env.cors_origins.len(),
        localhost_origins => env.settings.allow_localhost_origins,
        template_has_aud => env.settings.jwt_template.contains("\"aud\""),
        active_keys,
    };
    let ctx = context! {
        title => "Quick start",
        production => !env.is_development(),
        connection => connection(&state, &env, None).await?,
        steps,
    };
    console.render(&state, "console/quick_start.html", Some(&env.name), "quick-start", ctx).await
}

async fn api_keys_page(
    state: &AppState,
    console: &Console,
    env: &LoadedEnvironment,
    new_key: Option<&str>,
) -> Result<Response, PageError> {
    let keys: Vec<Value> = state
        .core
        .list_api_keys(env)
        .await?
        .iter()
        .rev()
        .map(|k| {
            context! {
                id => &k.id, hint => &k.key_hint, created => when(k.created_at),
                revoked => k.revoked_at.map(when),
            }
        })
        .collect();
    let ctx = context! {
        title => "API keys",
        keys,
        new_key,
        prefix => env.api_key_prefix(),
        connection => match new_key {
            Some(k) => Some(connection(state, env, Some(k)).await?),
            None => None,
        },
    };
    console.render(state, "console/api_keys.html", Some(&env.name), "api-keys", ctx).await
}

/// `GET /dashboard/env/{env}/api-keys`.
pub async fn api_keys(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    api_keys_page(&state, &console, &env, None).await
}

/// `POST /dashboard/env/{env}/api-keys`: a new key, shown on this one page only.
pub async fn create_api_key(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let key = state.core.issue_api_key(&env).await?;
    tracing::info!(environment = %env.name, operator = %change.actor().email, "API key created in the console");
    api_keys_page(&state, &change.console, &env, Some(&key)).await
}

/// `POST /dashboard/env/{env}/api-keys/revoke` (confirmed).
pub async fn revoke_api_key(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let id = change.field("id");
    let back = format!("{}/api-keys", env_base(&env.name));
    let keys = state.core.list_api_keys(&env).await?;
    let Some(key) = keys.iter().find(|k| k.id == id && k.revoked_at.is_none()) else {
        return Err(PageError::NotFound(format!("There is no active API key {id} in {}.", env.name)));
    };
    if !change.confirmed() {
        let title = format!("Revoke the API key {}?", key.key_hint);
        let action = format!("{back}/revoke");
        return change
            .console
            .confirm(
                &state,
                Some(&env.name),
                Confirm {
                    title: &title,
                    consequence: "Every server using this key is refused from the next request on. This cannot be undone: a new key means updating those servers.",
                    action: &action,
                    fields: &[("id", &id)],
                    back: &back,
                    button: "Revoke key",
                },
            )
            .await;
    }
    state.core.revoke_api_key(&env, &id).await?;
    Ok(page::done(&state, &back, &format!("API key {} revoked.", key.key_hint)))
}

/// Which list of origins a page edits.
#[derive(Clone, Copy, PartialEq)]
enum Origins {
    Redirects,
    Cors,
}

impl Origins {
    fn section(self) -> &'static str {
        match self {
            Origins::Redirects => "redirects",
            Origins::Cors => "cors",
        }
    }
}

async fn origins_page(
    state: &AppState,
    console: &Console,
    env: &LoadedEnvironment,
    kind: Origins,
    status: StatusCode,
    error: Option<&str>,
    value: &str,
) -> Result<Response, PageError> {
    let items: Vec<Value> = match kind {
        Origins::Redirects => state
            .core
            .list_redirect_uris(env)
            .await?
            .iter()
            .map(|r| context! { id => &r.id, value => &r.uri, is_default => r.is_default, created => when(r.created_at) })
            .collect(),
        Origins::Cors => state
            .core
            .list_cors_origins(env)
            .await?
            .iter()
            .map(|c| context! { id => &c.id, value => &c.origin, created => when(c.created_at) })
            .collect(),
    };
    let (title, label, placeholder, explain) = match kind {
        Origins::Redirects => (
            "Redirect URIs",
            "Redirect URI",
            "http://localhost:5173/callback",
            "Where the hosted sign-in may send users back with a code. The first one is the default.",
        ),
        Origins::Cors => (
            "CORS origins",
            "Origin",
            "http://localhost:5173",
            "Browser apps on these origins may call the token endpoint directly (AuthKit for React does).",
        ),
    };
    let ctx = context! {
        title, label, placeholder, explain, items, error, value,
        kind => kind.section(),
        localhost_origins => env.settings.allow_localhost_origins,
        sign_out_uris => &env.settings.sign_out_redirect_uris,
    };
    console.render_status(state, status, "console/origins.html", Some(&env.name), kind.section(), ctx).await
}

/// `GET /dashboard/env/{env}/redirects`.
pub async fn redirects(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    origins_page(&state, &console, &env, Origins::Redirects, StatusCode::OK, None, "").await
}

/// `GET /dashboard/env/{env}/cors`.
pub async fn cors(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    origins_page(&state, &console, &env, Origins::Cors, StatusCode::OK, None, "").await
}

async fn add_origin(state: AppState, env: String, change: Change, kind: Origins) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let value = change.field("value");
    let result = match kind {
        Origins::Redirects => state.core.add_redirect_uri(&env, &value).await.map(|r| r.uri),
        Origins::Cors => state.core.add_cors_origin(&env, &value).await.map(|c| c.origin),
    };
    match result {
        Ok(added) => {
            let back = format!("{}/{}", env_base(&env.name), kind.section());
            Ok(page::done(&state, &back, &format!("Added {added}.")))
        }
        Err(e) => {
            let message = page::refusal(e)?;
            origins_page(&state, &change.console, &env, kind, StatusCode::UNPROCESSABLE_ENTITY, Some(&message), &value)
                .await
        }
    }
}

async fn remove_origin(state: AppState, env: String, change: Change, kind: Origins) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let value = change.field("value");
    let back = format!("{}/{}", env_base(&env.name), kind.section());
    if !change.confirmed() {
        let (title, consequence) = match kind {
            Origins::Redirects => (
                format!("Remove the redirect URI {value}?"),
                "Sign-ins that ask to come back to this address are refused from now on.",
            ),
            Origins::Cors => (
                format!("Remove the CORS origin {value}?"),
                "Browser apps on this origin can no longer call the token endpoint (their sessions stop refreshing).",
            ),
        };
        let action = format!("{back}/remove");
        return change
            .console
            .confirm(
                &state,
                Some(&env.name),
                Confirm {
                    title: &title,
                    consequence,
                    action: &action,
                    fields: &[("value", &value)],
                    back: &back,
                    button: "Remove",
                },
            )
            .await;
    }
    let result = match kind {
        Origins::Redirects => state.core.remove_redirect_uri(&env, &value).await,
        Origins::Cors => state.core.remove_cors_origin(&env, &value).await,
    };
    match result {
        Ok(()) => Ok(page::done(&state, &back, &format!("Removed {value}."))),
        Err(e) => {
            let message = page::refusal(e)?;
            origins_page(&state, &change.console, &env, kind, StatusCode::UNPROCESSABLE_ENTITY, Some(&message), "")
                .await
        }
    }
}

/// `POST /dashboard/env/{env}/redirects/add`.
pub async fn add_redirect(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    add_origin(state, env, change, Origins::Redirects).await
}

/// `POST /dashboard/env/{env}/redirects/remove` (confirmed).
pub async fn remove_redirect(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    remove_origin(state, env, change, Origins::Redirects).await
}

/// `POST /dashboard/env/{env}/cors/add`.
pub async fn add_cors(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    add_origin(state, env, change, Origins::Cors).await
}

/// `POST /dashboard/env/{env}/cors/remove` (confirmed).
pub async fn remove_cors(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    remove_origin(state, env, change, Origins::Cors).await
}

/// The variables a JWT template can use.
const TEMPLATE_VARIABLES: &[(&str, &str)] = &[
    ("user.id", "The user's ID (also the token's sub)."),
    ("user.email", "The email address."),
    ("user.email_verified", "Whether the address is verified."),
    ("user.first_name", "First name, or null."),
    ("user.last_name", "Last name, or null."),
    ("user.external_id", "Your own ID for the user, or null."),
    ("user.metadata.KEY", "A metadata value (strings)."),
    ("organization_id", "The session's organization, or null."),
    ("organization.name", "Its name."),
    ("organization_membership.role", "The member's role slug."),
    ("organization_membership.permissions", "The role's permissions."),
];

#[derive(serde::Deserialize)]
pub struct PreviewQuery {
    /// The user whose token to preview (email).
    preview: Option<String>,
}

/// The claims a user would get under `content`, as pretty JSON, or why there is no preview.
async fn preview(state: &AppState, env: &LoadedEnvironment, content: &str, email: &str) -> Result<String, PageError> {
    let Some(user) = state.core.find_user_by_email(env, email).await? else {
        return Ok(format!("No user with the address {email} in {}.", env.name));
    };
    match state.core.preview_claims(env, content, &user) {
        Ok(claims) => Ok(serde_json::to_string_pretty(&claims).unwrap_or_default()),
        Err(e) => page::refusal(e),
    }
}

async fn jwt_page(
    state: &AppState,
    console: &Console,
    env: &LoadedEnvironment,
    status: StatusCode,
    content: &str,
    error: Option<&str>,
    preview_email: Option<&str>,
) -> Result<Response, PageError> {
    let preview = match preview_email.filter(|e| !e.trim().is_empty()) {
        Some(email) => Some(preview(state, env, content, email.trim()).await?),
        None => None,
    };
    let variables: Vec<Value> = TEMPLATE_VARIABLES
        .iter()
        .map(|(name, about)| context! { name => format!("{{{{{name}}}}}"), about => *about })
        .collect();
    let ctx = context! {
        title => "JWT template",
        content,
        error,
        preview,
        preview_email,
        variables,
        client_id => &env.client_id,
        updated => (env.settings.jwt_template_updated_at > 0).then(|| when(env.settings.jwt_template_updated_at)),
    };
    console.render_status(state, status, "console/jwt_template.html", Some(&env.name), "jwt-template", ctx).await
}

/// `GET /dashboard/env/{env}/jwt-template`.
pub async fn jwt_template(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
    axum::extract::Query(q): axum::extract::Query<PreviewQuery>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    let content = env.settings.jwt_template.clone();
    jwt_page(&state, &console, &env, StatusCode::OK, &content, None, q.preview.as_deref()).await
}

/// `POST /dashboard/env/{env}/jwt-template`.
pub async fn save_jwt_template(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let content = change.raw("content");
    match state.core.set_jwt_template(&env, &content).await {
        Ok(_) => Ok(page::done(&state, &format!("{}/jwt-template", env_base(&env.name)), "JWT template saved.")),
        Err(e) => {
            let message = page::refusal(e)?;
            jwt_page(&state, &change.console, &env, StatusCode::UNPROCESSABLE_ENTITY, &content, Some(&message), None)
                .await
        }
    }
}

async fn environments_page(
    state: &AppState,
    console: &Console,
    issued: Option<&crate::service::environments::IssuedEnvironment>,
) -> Result<Response, PageError> {
    let list: Vec<Value> = state
        .core
        .list_environments()
        .await?
        .iter()
        .map(|e| {
            context! {
                name => &e.name, client_id => &e.client_id, production => !e.is_development(),
                created => when(e.created_at),
            }
        })
        .collect();
    let has_production = state.core.find_environment_named(PRODUCTION).await?.is_some();
    let ctx = context! {
        title => "Environments",
        list,
        has_production,
        issued => issued.map(|i| context! { name => &i.environment, client_id => &i.client_id, api_key => &i.api_key }),
    };
    console.render(state, "console/environments.html", None, "environments", ctx).await
}

/// `GET /dashboard/environments`.
pub async fn environments(State(state): State<AppState>, console: Console) -> Result<Response, PageError> {
    environments_page(&state, &console, None).await
}

/// `POST /dashboard/environments`: creates the production environment (and its first API key,
/// shown once).
pub async fn create_environment(State(state): State<AppState>, change: Change) -> Result<Response, PageError> {
    if state.core.find_environment_named(PRODUCTION).await?.is_some() {
        return Ok(page::done(&state, "/dashboard/environments", "The production environment already exists."));
    }
    let issued = state.core.ensure_environment(PRODUCTION).await?;
    tracing::info!(operator = %change.actor().email, "production environment created in the console");
    environments_page(&state, &change.console, Some(&issued)).await
}
