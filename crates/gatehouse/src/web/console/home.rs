//! The console's home page (`/dashboard`): where to start, per environment, then one
//! environment at a glance (`insights.rs`: the last 30 days and what needs attention; `?env=`
//! picks it, production first when there is one).

use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::context;

use super::page::{Console, PageError};
use crate::web::AppState;

#[derive(serde::Deserialize, Default)]
pub struct HomeQuery {
    env: Option<String>,
}

/// `GET /dashboard`.
pub async fn home(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<HomeQuery>,
) -> Result<Response, PageError> {
    let all = state.core.list_environments().await?;
    let shown = query
        .env
        .as_deref()
        .and_then(|name| all.iter().find(|e| e.name == name))
        .or_else(|| all.iter().find(|e| !e.is_development()))
        .or_else(|| all.first());
    let (insights, insights_env) = match shown {
        Some(e) => {
            let loaded = console.environment(&state, &e.name).await?;
            (Some(super::insights::panels(&state, &loaded).await?), Some(e.name.clone()))
        }
        None => (None, None),
    };
    let insights_envs: Vec<minijinja::Value> =
        all.iter().map(|e| context! { name => &e.name, production => !e.is_development() }).collect();
    let environments: Vec<minijinja::Value> = all
        .iter()
        .map(|e| context! { name => &e.name, client_id => &e.client_id, production => !e.is_development() })
        .collect();
    let ctx = context! { title => "Home", environments, insights, insights_env, insights_envs };
    console.render(&state, "console/home.html", None, "home", ctx).await
}
