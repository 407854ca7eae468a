//! Resource types, on the Roles page (`/dashboard/env/{env}/roles#resource-types`): the kinds of
//! authorization resource the app may create (WorkOS sets them up in its dashboard; its API has
//! none). An admin adds one (slug and name) and removes one that no resource is of (confirmed).
//! The same service calls as `gatehouse resource-types`, so the same checks and messages, and
//! the audit events `gatehouse.resource_type.created|deleted` with the operator as actor.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::page::{self, Change, Confirm, FormError, PageError};
use super::roles::{base, list_page};
use crate::web::AppState;

/// `POST /dashboard/env/{env}/resource-types`: a new type (slug; name, the slug when empty).
pub async fn add(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    match state.core.add_resource_type(&env, &change.field("slug"), change.optional("name"), &change.actor()).await {
        Ok(t) => Ok(page::done(
            &state,
            &format!("{}#resource-types", base(&env)),
            &format!("Resource type {} added. The app can now create resources of it.", t.slug),
        )),
        Err(e) => {
            let error = FormError::refused(e, "slug")?.in_form("resource-type");
            list_page(&state, &change.console, &env, StatusCode::UNPROCESSABLE_ENTITY, Some(&change), Some(error)).await
        }
    }
}

/// `POST /dashboard/env/{env}/resource-types/remove` with `resource_type` (confirmed); refused,
/// on the page, while resources are of it.
pub async fn remove(
    State(state): State<AppState>,
    Path(env): Path<String>,
    change: Change,
) -> Result<Response, PageError> {
    let env = change.console.environment(&state, &env).await?;
    let slug = change.field("resource_type");
    let types = state.core.list_resource_types(&env).await?;
    let Some(t) = types.into_iter().find(|t| t.slug == slug) else {
        return Err(PageError::NotFound(format!("No resource type {slug} in {}.", env.name)));
    };
    let back = format!("{}#resource-types", base(&env));
    if !change.confirmed() {
        let title = format!("Remove the resource type {}?", t.slug);
        let action = format!("/dashboard/env/{}/resource-types/remove", env.name);
        return change
            .console
            .confirm(
                &state,
                Some(&env.name),
                Confirm {
                    title: &title,
                    consequence: "The app can no longer create resources of this type. Gatehouse refuses while \
                                  any resource is of it.",
                    action: &action,
                    fields: &[("resource_type", &t.slug)],
                    back: &back,
                    button: "Remove resource type",
                },
            )
            .await;
    }
    match state.core.remove_resource_type(&env, &t.slug, &change.actor()).await {
        Ok(()) => Ok(page::done(&state, &back, &format!("Resource type {} removed.", t.slug))),
        Err(e) => {
            let error = FormError::refused(e, "")?.in_form("resource-types");
            list_page(&state, &change.console, &env, StatusCode::UNPROCESSABLE_ENTITY, None, Some(error)).await
        }
    }
}
