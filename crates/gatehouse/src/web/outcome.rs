//! What a response refused, for operators: a handler (or `ApiError`) tags a refused sign-in on
//! the response, and the request log (`middleware::log_requests`) writes it at info with the
//! client address. Every 429 is logged as a throttling refusal whether tagged or not.

use axum::response::Response;

/// A refused attempt to authenticate: a wrong password, code, token or passkey. `reason` is
/// the error code the client got (never the email, which may be a password typed into the
/// wrong field, nor any token).
#[derive(Clone, Copy, Debug)]
pub struct Refused {
    pub reason: &'static str,
}

/// Tags `response` as a refused sign-in.
pub fn refused(mut response: Response, reason: &'static str) -> Response {
    response.extensions_mut().insert(Refused { reason });
    response
}
