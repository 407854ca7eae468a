//! The console's Users pages (`/dashboard/env/{env}/users…`): search by the start of an email
//! address or name with pages that stay fast at a million users, one user's whole picture,
//! and what an admin may do to it (create, edit, delete, end sessions, remove factors and
//! passkeys, send a reset or verification email). Every handler calls one service; the
//! destructive ones confirm first and say what will happen.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use super::page::{self, Change, Confirm, Console, PageError};
use super::setup::when;
use crate::domain::session::{Session, SessionStatus};
use crate::domain::user::User;
use crate::service::user_admin::{SearchRequest, UserOverview};
use crate::service::users::{NewUser, UserPatch};
use crate::web::AppState;

const PAGE_SIZE: u32 = 50;

fn users_base(env: &str) -> String {
    format!("/dashboard/env/{env}/users")
}

fn user_base(env: &str, id: &str) -> String {
    format!("/dashboard/env/{env}/users/{id}")
}

/// A console path with a query string (`/dashboard/…?q=…&after=…`), empty values left out.
pub fn href(path: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(k, v);
    }
    let query = query.finish();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
}

/// A user as a row of a list.
pub fn user_row(u: &User) -> Value {
    context! {
        id => &u.id,
        email => &u.email,
        name => u.display_name(),
        verified => u.email_verified,
        created => when(u.created_at),
        last_sign_in => u.last_sign_in_at.map(when),
    }
}

/// A session as a row: how it started, from where, and its state now.
pub fn session_row(s: &Session, now: i64) -> Value {
    let status = match s.status(now) {
        SessionStatus::Active => "active",
        SessionStatus::Expired => "expired",
        SessionStatus::Revoked => "ended",
    };
    context! {
        id => &s.id,
        user_id => &s.user_id,
        method => method_label(s.auth_method.as_str()),
        ip => &s.ip_address,
        agent => s.user_agent.as_deref().map(short_agent),
        agent_full => &s.user_agent,
        started => when(s.created_at),
        expires => when(s.expires_at),
        ended => s.ended_at.map(when),
        organization_id => &s.organization_id,
        status,
        active => status == "active",
    }
}

/// What a refused `authentication.<kind>_failed` tried, as the sign-in table names methods.
fn refused_kind(event: &str) -> String {
    match event.trim_start_matches("authentication.").trim_end_matches("_failed") {
        "password" => "Password".into(),
        "magic_auth" => "Email code".into(),
        "email_verification" => "Email verification".into(),
        "mfa" => "Two-factor code".into(),
        "oauth" => "Social".into(),
        "passkey" => "Passkey".into(),
        other => other.replace('_', " "),
    }
}

/// A sign-in method as people say it.
pub fn method_label(stored: &str) -> String {
    match stored {
        "Password" => "Password".into(),
        "MagicAuth" => "Email code".into(),
        "Passkey" => "Passkey".into(),
        provider => provider.strip_suffix("OAuth").map_or_else(|| provider.to_owned(), str::to_owned),
    }
}

/// The browser and system of a user agent, in a few words ("Chrome on macOS").
pub fn short_agent(agent: &str) -> String {
    let browser = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
        .iter()
        .find(|(token, _)| agent.contains(token))
        .map(|(_, name)| *name);
    let system = [
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("Mac OS X", "macOS"),
        ("Windows", "Windows"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(token, _)| agent.contains(token))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => s.to_owned(),
        (None, None) => agent.chars().take(40).collect(),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    after: Option<String>,
    before: Option<String>,
}

/// `GET /dashboard/env/{env}/users`: the search box and one page of users.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    let q = query.q.trim().chars().take(200).collect::<String>();
    let req = SearchRequest { query: q.clone(), after: query.after, before: query.before, limit: PAGE_SIZE };
    let (page, error) = match state.core.search_users(&env, req).await {
        Ok(page) => (Some(page), None),
        Err(e) => (None, Some(page::refusal(e)?)),
    };
    let base = users_base(&env.name);
    let link = |key: &str, cursor: &str| href(&base, &[("q", q.as_str()), (key, cursor)]);
    let ctx = context! {
        title => "Users",
        q => &q,
        error,
        users => page.as_ref().map(|p| p.users.iter().map(user_row).collect::<Vec<_>>()).unwrap_or_default(),
        next => page.as_ref().and_then(|p| p.next.as_deref()).map(|c| link("after", c)),
        previous => page.as_ref().and_then(|p| p.previous.as_deref()).map(|c| link("before", c)),
        first => page.as_ref().is_some_and(|p| p.previous.is_some())
            .then(|| href(&base, &[("q", q.as_str())])),
        searching => crate::service::user_admin::is_search(&q),
        form => context! {},
    };
    console.render(&state, "console/users.html", Some(&env.name), "users", ctx).await
}

/// `POST /dashboard/env/{env}/users`: creates a user (admin).
pub async fn create(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let password = change.raw("password");
    let new = NewUser {
        email: change.field("email"),
        first_name: Some(change.field("first_name")).filter(|s| !s.is_empty()),
        last_name: Some(change.field("last_name")).filter(|s| !s.is_empty()),
        password: (!password.is_empty()).then_some(password),
        email_verified: change.field("email_verified") == "on",
        ..Default::default()
    };
    match state.core.create_user(&env, new).await {
        Ok(user) => Ok(page::done(&state, &user_base(&env.name, &user.id), &format!("User {} created.", user.email))),
        Err(e) => {
            let error = page::refusal(e)?;
            let ctx = context! {
                title => "Users", q => "", users => Vec::<Value>::new(), create_error => error, open_create => true,
                form => context! {
                    email => change.field("email"), first_name => change.field("first_name"),
                    last_name => change.field("last_name"),
                },
            };
            change
                .console
                .render_status(
                    &state,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "console/users.html",
                    Some(&env.name),
                    "users",
                    ctx,
                )
                .await
        }
    }
}

async fn user_page(
    state: &AppState,
    console: &Console,
    env: &str,
    id: &str,
    status: StatusCode,
    extra: Value,
) -> Result<Response, PageError> {
    let env = console.environment(state, env).await?;
    let UserOverview { user, identities, factors, passkeys, active_sessions, recent_sign_ins, refused_sign_ins } =
        state.core.user_overview(&env, id).await?;
    let now = state.core.now();
    let refused: Vec<Value> = refused_sign_ins
        .iter()
        .map(|e| {
            let data: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
            context! {
                at => when(e.created_at),
                kind => refused_kind(&e.event),
                reason => data["error"]["code"].as_str().map(str::to_owned),
                ip => data["ip_address"].as_str().map(str::to_owned),
            }
        })
        .collect();
    let ctx = context! {
        title => user.display_name().unwrap_or_else(|| user.email.clone()),
        user => context! {
            id => &user.id, email => &user.email, first_name => &user.first_name, last_name => &user.last_name,
            name => user.display_name(), verified => user.email_verified, external_id => &user.external_id,
            has_password => user.password_hash.is_some(), created => when(user.created_at),
            updated => when(user.updated_at), last_sign_in => user.last_sign_in_at.map(when),
            metadata => (!user.metadata.is_empty()).then(|| serde_json::to_string_pretty(&user.metadata).unwrap_or_default()),
        },
        identities => identities.iter().map(|i| context! {
            provider => method_label(&i.provider), email => &i.email, linked => when(i.created_at),
        }).collect::<Vec<_>>(),
        factors => factors.iter().map(|f| context! {
            id => &f.id, issuer => &f.issuer, account => &f.account, added => when(f.created_at),
        }).collect::<Vec<_>>(),
        passkeys => passkeys.iter().map(|p| context! {
            id => &p.id, name => &p.name, added => when(p.created_at), last_used => p.last_used_at.map(when),
        }).collect::<Vec<_>>(),
        sessions => active_sessions.iter().map(|s| session_row(s, now)).collect::<Vec<_>>(),
        sign_ins => recent_sign_ins.iter().map(|s| session_row(s, now)).collect::<Vec<_>>(),
        refused,
        base => user_base(&env.name, &user.id),
        users => users_base(&env.name),
        email_available => state.core.check_email_available(&env).is_ok(),
        ..extra
    };
    console.render_status(state, status, "console/user.html", Some(&env.name), "users", ctx).await
}

/// `GET /dashboard/env/{env}/users/{id}`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path((env, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    user_page(&state, &console, &env, &id, StatusCode::OK, context! {}).await
}

/// `POST …/users/{id}/edit`: names, address and its verification (admin).
pub async fn edit(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    let patch = UserPatch {
        email: Some(change.field("email")),
        first_name: Some(Some(change.field("first_name"))),
        last_name: Some(Some(change.field("last_name"))),
        email_verified: Some(change.field("email_verified") == "on"),
        ..Default::default()
    };
    match state.core.update_user(&env, &id, patch).await {
        Ok(user) => Ok(page::done(&state, &user_base(&env.name, &user.id), "Profile saved.")),
        Err(e) => {
            let edit_error = page::refusal(e)?;
            let extra = context! { edit_error, open_edit => true };
            user_page(&state, &change.console, &env_name, &id, StatusCode::UNPROCESSABLE_ENTITY, extra).await
        }
    }
}

/// `POST …/users/{id}/delete` (confirmed).
pub async fn delete(
    State(state): State<AppState>,
    Path((env, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let user = state.core.get_user(&env, &id).await?;
    let base = user_base(&env.name, &user.id);
    if !change.confirmed() {
        let title = format!("Delete the user {}?", user.email);
        let action = format!("{base}/delete");
        return change
            .console
            .confirm(&state, Some(&env.name), Confirm {
                title: &title,
                consequence: "The account, its sessions, sign-in methods, passkeys, authenticator apps and memberships are deleted at once, and every app signed in as this user is signed out at its next refresh. This cannot be undone.",
                action: &action,
                fields: &[],
                back: &base,
                button: "Delete user",
            })
            .await;
    }
    state.core.delete_user(&env, &user.id).await?;
    Ok(page::done(&state, &users_base(&env.name), &format!("User {} deleted.", user.email)))
}

/// `POST …/users/{id}/sessions/revoke` (confirmed): ends one session.
pub async fn revoke_session(
    State(state): State<AppState>,
    Path((env, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let user = state.core.get_user(&env, &id).await?;
    let session_id = change.field("session_id");
    let base = user_base(&env.name, &user.id);
    if !change.confirmed() {
        let title = format!("End this session of {}?", user.email);
        let action = format!("{base}/sessions/revoke");
        return change
            .console
            .confirm(&state, Some(&env.name), Confirm {
                title: &title,
                consequence: "The app that holds this session is signed out at its next refresh (its current access token stays valid until it expires, a few minutes at most). The user can sign in again.",
                action: &action,
                fields: &[("session_id", &session_id)],
                back: &base,
                button: "End session",
            })
            .await;
    }
    state.core.revoke_user_session(&env, &user.id, &session_id).await?;
    Ok(page::done(&state, &base, "Session ended."))
}

/// `POST …/users/{id}/sessions/revoke-all` (confirmed).
pub async fn revoke_all_sessions(
    State(state): State<AppState>,
    Path((env, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let user = state.core.get_user(&env, &id).await?;
    let base = user_base(&env.name, &user.id);
    if !change.confirmed() {
        let title = format!("End every session of {}?", user.email);
        let action = format!("{base}/sessions/revoke-all");
        return change
            .console
            .confirm(&state, Some(&env.name), Confirm {
                title: &title,
                consequence: "Every app and browser signed in as this user is signed out at its next refresh. The user can sign in again.",
                action: &action,
                fields: &[],
                back: &base,
                button: "End all sessions",
            })
            .await;
    }
    let ended = state.core.revoke_user_sessions(&env, &user.id).await?;
    let notice = match ended {
        1 => "1 session ended.".to_owned(),
        n => format!("{n} sessions ended."),
    };
    Ok(page::done(&state, &base, &notice))
}

/// `POST …/users/{id}/factors/remove` (confirmed): removes an authenticator app.
pub async fn remove_factor(
    State(state): State<AppState>,
    Path((env, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let user = state.core.get_user(&env, &id).await?;
    let factor_id = change.field("factor_id");
    let base = user_base(&env.name, &user.id);
    if !change.confirmed() {
        let title = format!("Remove this authenticator app from {}?", user.email);
        let action = format!("{base}/factors/remove");
        return change
            .console
            .confirm(&state, Some(&env.name), Confirm {
                title: &title,
                consequence: "Its codes stop working at once; with their last app the user's recovery codes go too. If two-factor is required, the user sets up a new app at their next sign-in.",
                action: &action,
                fields: &[("factor_id", &factor_id)],
                back: &base,
                button: "Remove app",
            })
            .await;
    }
    state.core.remove_user_factor(&env, &user.id, &factor_id).await?;
    Ok(page::done(&state, &base, "Authenticator app removed."))
}

/// `POST …/users/{id}/passkeys/remove` (confirmed).
pub async fn remove_passkey(
    State(state): State<AppState>,
    Path((env, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let user = state.core.get_user(&env, &id).await?;
    let passkey_id = change.field("passkey_id");
    let base = user_base(&env.name, &user.id);
    if !change.confirmed() {
        let title = format!("Remove this passkey from {}?", user.email);
        let action = format!("{base}/passkeys/remove");
        return change
            .console
            .confirm(&state, Some(&env.name), Confirm {
                title: &title,
                consequence: "The passkey no longer signs in to this account. Sessions it started stay until they end.",
                action: &action,
                fields: &[("passkey_id", &passkey_id)],
                back: &base,
                button: "Remove passkey",
            })
            .await;
    }
    state.core.remove_user_passkey(&env, &user.id, &passkey_id).await?;
    Ok(page::done(&state, &base, "Passkey removed."))
}

/// `POST …/users/{id}/send-reset`: emails a password-reset link.
pub async fn send_reset(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    match state.core.send_user_password_reset(&env, &id).await {
        Ok(()) => Ok(page::done(&state, &user_base(&env.name, &id), "Password-reset email sent.")),
        Err(e) => {
            let mail_error = page::refusal(e)?;
            user_page(
                &state,
                &change.console,
                &env_name,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                context! { mail_error },
            )
            .await
        }
    }
}

/// `POST …/users/{id}/send-verification`: emails a verification code.
pub async fn send_verification(
    State(state): State<AppState>,
    Path((env_name, id)): Path<(String, String)>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env_name).await?;
    match state.core.send_user_verification(&env, &id).await {
        Ok(()) => Ok(page::done(&state, &user_base(&env.name, &id), "Verification email sent.")),
        Err(e) => {
            let mail_error = page::refusal(e)?;
            user_page(
                &state,
                &change.console,
                &env_name,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                context! { mail_error },
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_and_methods_read_plainly() {
        let mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
        assert_eq!(short_agent(mac), "Chrome on macOS");
        assert_eq!(
            short_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            "Firefox on Linux"
        );
        assert_eq!(short_agent("node-fetch"), "node-fetch");
        assert_eq!(method_label("GoogleOAuth"), "Google");
        assert_eq!(method_label("MagicAuth"), "Email code");
        assert_eq!(method_label("okta"), "okta");
        assert_eq!(href("/dashboard/x", &[("q", "a b&c"), ("after", ""), ("n", "1")]), "/dashboard/x?q=a+b%26c&n=1");
        assert_eq!(href("/dashboard/x", &[("q", "")]), "/dashboard/x");
    }
}
