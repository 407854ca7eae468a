//! The answer of `POST /user_management/authenticate` (`UserlandAuthenticateResponse`) and the
//! `{"user": …}` answers of the email endpoints.

use serde::Serialize;

use super::User;
use crate::service::auth::Authenticated;

#[derive(Serialize)]
pub struct AuthenticateResponse<'a> {
    user: User<'a>,
    /// Absent in a session without an organization (the schema allows a string or no field).
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<&'a str>,
    access_token: &'a str,
    refresh_token: &'a str,
    authentication_method: &'a str,
    /// Present when an operator is signed in as the user (WorkOS's `impersonator`).
    #[serde(skip_serializing_if = "Option::is_none")]
    impersonator: Option<&'a crate::domain::event::Impersonator>,
}

impl<'a> From<&'a Authenticated> for AuthenticateResponse<'a> {
    fn from(done: &'a Authenticated) -> AuthenticateResponse<'a> {
        AuthenticateResponse {
            user: User::from(&done.user),
            organization_id: done.organization_id.as_deref(),
            access_token: &done.access_token,
            refresh_token: &done.refresh_token,
            authentication_method: done.authentication_method.as_str(),
            impersonator: done.impersonator.as_ref(),
        }
    }
}

/// `{"user": …}`: email verification send/confirm and password reset confirm.
#[derive(Serialize)]
pub struct UserResponse<'a> {
    user: User<'a>,
}

impl<'a> From<&'a crate::domain::user::User> for UserResponse<'a> {
    fn from(user: &'a crate::domain::user::User) -> UserResponse<'a> {
        UserResponse { user: User::from(user) }
    }
}
