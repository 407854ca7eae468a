//! The hosted organization picker: a user who is an active member of several organizations,
//! and whose app named none, chooses the one the session starts in. The pending sign-in (one
//! issued for this choice only) travels in the HttpOnly pending cookie, as for two-factor.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::complete::return_to_app;
use super::error::{Expired, PageError};
use super::form::{FORM_EXPIRED, Form, page};
use crate::domain::session::PURPOSE_ORGANIZATION_SELECTION;
use crate::domain::user::User;
use crate::service::Error;
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::web::{AppState, cookies};

pub const PICKER_PAGE: &str = "/authkit/organization";

#[derive(Deserialize)]
pub struct PageQuery {
    request: Option<String>,
}

/// A hosted sign-in waiting for the choice of an organization.
struct Flow {
    env: Arc<LoadedEnvironment>,
    params: AuthorizeParams,
    request: String,
    user: User,
    token: String,
}

impl Flow {
    async fn load(state: &AppState, headers: &HeaderMap, request: &str) -> Result<Flow, PageError> {
        let (env, params) = state.core.find_authorization_request(request).await?.ok_or(Expired::SignInStep)?;
        let token = cookies::read(headers, cookies::PENDING, state.https()).ok_or(Expired::SignInStep)?;
        match state.core.peek_pending_authentication(&env, &token).await {
            Ok((pending, user)) if pending.purpose.as_deref() == Some(PURPOSE_ORGANIZATION_SELECTION) => {
                Ok(Flow { env, params, request: request.to_owned(), user, token })
            }
            Ok(_) | Err(Error::InvalidPendingToken) => Err(Expired::SignInStep.into()),
            Err(e) => Err(e.into()),
        }
    }
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    flow: &Flow,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let organizations: Vec<minijinja::Value> = state
        .core
        .active_organizations(&flow.env.id, &flow.user)
        .await?
        .into_iter()
        .map(|(id, name)| context! { id, name })
        .collect();
    let settings = &flow.env.settings;
    let ctx = context! {
        title => "Choose an organization",
        subtitle => format!("Which organization do you want to use {} with?", settings.branding.app_name),
        request => &flow.request, error, action => PICKER_PAGE,
        organizations, email => &flow.user.email,
    };
    Ok(page(state, headers, "organization_picker.html", status, &flow.env, Some(&flow.params.redirect_uri), ctx))
}

pub async fn picker_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let flow = Flow::load(&state, &headers, q.request.as_deref().unwrap_or_default()).await?;
    render(&state, &headers, &flow, StatusCode::OK, None).await
}

pub async fn choose(State(state): State<AppState>, headers: HeaderMap, form: Form) -> Result<Response, PageError> {
    let flow = Flow::load(&state, &headers, &form.field("request")).await?;
    if !form.csrf_ok() {
        return render(&state, &headers, &flow, StatusCode::BAD_REQUEST, Some(FORM_EXPIRED)).await;
    }
    let chosen = form.field("organization_id");
    match state.core.sign_in_access(&flow.env.id, &chosen, &flow.user).await {
        Ok(_) => {}
        Err(Error::Rejected { .. }) => {
            let error = "You are not a member of that organization. Choose one of these.";
            return render(&state, &headers, &flow, StatusCode::BAD_REQUEST, Some(error)).await;
        }
        Err(e) => return Err(e.into()),
    }
    let (pending, user) = match state.core.consume_pending_authentication(&flow.env, &flow.token).await {
        Ok(found) => found,
        Err(Error::InvalidPendingToken) => return Err(Expired::SignInStep.into()),
        Err(e) => return Err(e.into()),
    };
    let params = AuthorizeParams { organization_id: Some(chosen), ..flow.params.clone() };
    let mut response = return_to_app(&state, &flow.env, &params, &user, &pending.auth_method).await?.into_response();
    super::complete::clear_pending(&state, &mut response);
    Ok(response)
}
