//! Operators (server-wide): who can use the console and with which role; a one-time link that
//! creates another operator (shown once, with a copy button: the console never sees their
//! password), changing a role, removing an operator (confirmed), and whether operators must use
//! a second factor or a passkey. The same service calls as `gatehouse operators`, so the same
//! checks and audit events, with the operator as the actor. An operator cannot change or remove
//! themselves here, so the console is never left without the admin using it; the CLI can.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};

use super::page::{self, Change, Confirm, Console, PageError};
use super::setup::when;
use crate::service::operators::OperatorRole;
use crate::web::AppState;

const BACK: &str = "/dashboard/operators";

/// The operators page; `link` is a one-time link just made (shown once), `error` a refused
/// form's message.
async fn operators_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    link: Option<(&str, &str)>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let operators: Vec<Value> = state
        .core
        .list_operators()
        .await?
        .iter()
        .map(|o| {
            context! {
                email => &o.user.email, role => o.role.as_str(), added => when(o.user.created_at),
                is_you => o.user.id == console.operator.user_id,
            }
        })
        .collect();
    let ctx = context! {
        title => "Operators", operators,
        link => link.map(|(link, email)| context! { url => link, email }),
        two_factor_required => state.core.operator_two_factor_required().await?,
        error,
    };
    console.render_status(state, status, "console/operators.html", None, "operators", ctx).await
}

/// `GET /dashboard/operators`.
pub async fn list(State(state): State<AppState>, console: Console) -> Result<Response, PageError> {
    operators_page(&state, &console, StatusCode::OK, None, None).await
}

/// `POST /dashboard/operators/invite`: a one-time link (a day) for `email` (optional: the new
/// operator types one) with `role`, shown on the page once.
pub async fn invite(State(state): State<AppState>, change: Change) -> Result<Response, PageError> {
    let Some(role) = OperatorRole::parse(&change.field("role")) else {
        let error = Some("Choose admin or viewer.".to_owned());
        return operators_page(&state, &change.console, StatusCode::UNPROCESSABLE_ENTITY, None, error).await;
    };
    let email = change.field("email");
    let email = Some(email.as_str()).filter(|e| !e.is_empty());
    match state.core.invite_operator(email, role, &change.actor()).await {
        Ok(token) => {
            let link = format!("{}/dashboard/setup?token={token}", super::session::console_origin(&state));
            let to = email.unwrap_or("the new operator");
            operators_page(&state, &change.console, StatusCode::OK, Some((&link, to)), None).await
        }
        Err(e) => {
            let error = Some(page::refusal(e)?);
            operators_page(&state, &change.console, StatusCode::UNPROCESSABLE_ENTITY, None, error).await
        }
    }
}

/// The refusal of a change to the operator making it (they could lock themselves out).
fn yourself(change: &Change, email: &str) -> Option<Response> {
    email.eq_ignore_ascii_case(&change.console.operator.email).then(|| {
        page::message(
            StatusCode::FORBIDDEN,
            "Not your own account",
            "You cannot change or remove yourself here: ask another admin, or use `gatehouse operators` on the server.",
        )
    })
}

/// `POST /dashboard/operators/role` with `email` and `role`.
pub async fn set_role(State(state): State<AppState>, change: Change) -> Result<Response, PageError> {
    let email = change.field("email");
    if let Some(refused) = yourself(&change, &email) {
        return Ok(refused);
    }
    let Some(role) = OperatorRole::parse(&change.field("role")) else {
        let error = Some("Choose admin or viewer.".to_owned());
        return operators_page(&state, &change.console, StatusCode::UNPROCESSABLE_ENTITY, None, error).await;
    };
    state.core.set_operator_role(&email, role, &change.actor()).await?;
    let notice = format!("{email} is now {}; it applies from their next page.", role.as_str());
    Ok(page::done(&state, BACK, &notice))
}

/// `POST /dashboard/operators/remove` with `email` (confirmed).
pub async fn remove(State(state): State<AppState>, change: Change) -> Result<Response, PageError> {
    let email = change.field("email");
    if let Some(refused) = yourself(&change, &email) {
        return Ok(refused);
    }
    if !change.confirmed() {
        let title = format!("Remove the operator {email}?");
        return change
            .console
            .confirm(
                &state,
                None,
                Confirm {
                    title: &title,
                    consequence: "Their account is deleted and their console sessions end at once. \
                                  What they changed stays, and the activity log keeps their name.",
                    action: "/dashboard/operators/remove",
                    fields: &[("email", &email)],
                    back: BACK,
                    button: "Remove operator",
                },
            )
            .await;
    }
    state.core.remove_operator(&email, &change.actor()).await?;
    Ok(page::done(&state, BACK, &format!("{email} removed.")))
}

/// `POST /dashboard/operators/two-factor` with `required` (a checkbox).
pub async fn two_factor(State(state): State<AppState>, change: Change) -> Result<Response, PageError> {
    let required = !change.field("required").is_empty();
    state.core.set_operator_two_factor_required(required, &change.actor()).await?;
    let notice = if required {
        "Operators now need an authenticator app or a passkey: those without one set it up at their next sign-in."
    } else {
        "Operators sign in with a password alone (a second factor they set up is still asked for)."
    };
    Ok(page::done(&state, BACK, notice))
}
