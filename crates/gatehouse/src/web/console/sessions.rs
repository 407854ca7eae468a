//! The console's Sessions page (`/dashboard/env/{env}/sessions`): the environment's live
//! sessions, newest first, with the user each belongs to, and ending one (confirmed).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::page::{self, Change, Confirm, Console, PageError};
use super::users::session_row;
use crate::domain::listing::{Cursor, ListOrder};
use crate::web::AppState;

const PAGE_SIZE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct PageQuery {
    after: Option<String>,
    before: Option<String>,
}

fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `GET /dashboard/env/{env}/sessions`.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(env): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let env = console.environment(&state, &env).await?;
    let before = query.before.filter(|c| is_id(c));
    let after = query.after.filter(|c| is_id(c)).filter(|_| before.is_none());
    let moved = before.is_some() || after.is_some();
    let backward = before.is_some();
    let cursor = Cursor { limit: PAGE_SIZE, before, after, order: ListOrder::Desc };
    let page = state.core.list_live_sessions(&env, cursor).await?;
    // The users of the page, each read once.
    let mut emails: HashMap<String, String> = HashMap::new();
    for s in &page.items {
        if !emails.contains_key(&s.user_id)
            && let Ok(u) = state.core.get_user(&env, &s.user_id).await
        {
            emails.insert(s.user_id.clone(), u.email);
        }
    }
    let now = state.core.now();
    let sessions: Vec<minijinja::Value> =
        page.items.iter().map(|s| context! { email => emails.get(&s.user_id), ..session_row(s, now) }).collect();
    let base = format!("/dashboard/env/{}/sessions", env.name);
    let (more_after, more_before) = if backward { (true, page.has_more) } else { (page.has_more, moved) };
    let ctx = context! {
        title => "Sessions",
        sessions,
        next => page.items.last().filter(|_| more_after).map(|s| format!("{base}?after={}", s.id)),
        previous => page.items.first().filter(|_| more_before).map(|s| format!("{base}?before={}", s.id)),
        first => more_before.then(|| base.clone()),
    };
    console.render(&state, "console/sessions.html", Some(&env.name), "sessions", ctx).await
}

/// `POST /dashboard/env/{env}/sessions/revoke` (confirmed).
pub async fn revoke(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let session_id = change.field("session_id");
    let back = format!("/dashboard/env/{}/sessions", env.name);
    if !change.confirmed() {
        let action = format!("{back}/revoke");
        return change
            .console
            .confirm(&state, Some(&env.name), Confirm {
                title: "End this session?",
                consequence: "The app that holds this session is signed out at its next refresh (its current access token stays valid until it expires, a few minutes at most). The user can sign in again.",
                action: &action,
                fields: &[("session_id", &session_id)],
                back: &back,
                button: "End session",
            })
            .await;
    }
    state.core.revoke_session(&env, &session_id).await?;
    Ok(page::done(&state, &back, "Session ended."))
}
