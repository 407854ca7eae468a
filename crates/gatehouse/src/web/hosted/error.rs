//! What ends a hosted page early. Handlers return `Result<Response, PageError>` and use `?`:
//! an expired step becomes the page that says so, a service failure no page can explain
//! becomes the API's error shape (`web::error`, which logs it once).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::domain::environment::Branding;
use crate::service::Error;
use crate::web::error::ApiError;
use crate::web::pages::pages;

pub enum PageError {
    /// What a page stood on is gone or never existed.
    Expired(Expired),
    /// A failure no page explains.
    Service(Error),
    /// A response decided on the spot (a framework rejection, a form shown again).
    Response(Box<Response>),
}

/// Which expired thing, each with its own explanation.
#[derive(Clone, Copy, Debug)]
pub enum Expired {
    /// The saved `/authorize` request behind a sign-in page (an hour).
    SignInLink,
    /// A pending two-factor step (ten minutes).
    SignInStep,
    /// The account-security page (ten minutes after a sign-in).
    SecurityPage,
    /// A password-reset link (once, for an hour).
    ResetLink,
}

impl From<Error> for PageError {
    fn from(e: Error) -> PageError {
        PageError::Service(e)
    }
}

impl From<Expired> for PageError {
    fn from(e: Expired) -> PageError {
        PageError::Expired(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Expired(expired) => expired.into_response(),
            PageError::Service(e) => ApiError::from(e).into_response(),
            PageError::Response(response) => *response,
        }
    }
}

impl IntoResponse for Expired {
    fn into_response(self) -> Response {
        let (title, detail) = match self {
            Expired::SignInLink => ("This sign-in link has expired", "Go back to the app and choose Sign in again."),
            Expired::SignInStep => (
                "This sign-in has expired",
                "For your security, sign-in steps time out after ten minutes. Go back to the app and choose Sign in again.",
            ),
            Expired::SecurityPage => (
                "This page has expired",
                "For your security, account settings stay open for ten minutes after you sign in. Go back to the app and sign in again.",
            ),
            Expired::ResetLink => (
                "This link has expired",
                "Password reset links work once, for one hour. Ask for a new one from the sign-in page.",
            ),
        };
        pages().message(StatusCode::BAD_REQUEST, &Branding::default(), title, detail)
    }
}
