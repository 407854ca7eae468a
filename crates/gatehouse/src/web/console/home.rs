//! The console's home page (`/dashboard`): where to start, per environment.

use axum::extract::State;
use axum::response::Response;
use minijinja::context;

use super::page::{Console, PageError};
use crate::web::AppState;

/// `GET /dashboard`.
pub async fn home(State(state): State<AppState>, console: Console) -> Result<Response, PageError> {
    let environments: Vec<minijinja::Value> = state
        .core
        .list_environments()
        .await?
        .iter()
        .map(|e| context! { name => &e.name, client_id => &e.client_id, production => !e.is_development() })
        .collect();
    let ctx = context! { title => "Home", environments };
    console.render(&state, "console/home.html", None, "home", ctx).await
}
