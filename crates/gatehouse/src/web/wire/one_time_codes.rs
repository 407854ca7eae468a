//! `magic_auth`, `email_verification` and `password_reset`: a one-time code or link token with
//! its plaintext, which the API shows so an app can send its own email.

use serde::Serialize;

use super::time;
use crate::domain::one_time_code::OneTimeCode;

#[derive(Serialize)]
pub struct MagicAuth<'a> {
    object: &'static str,
    #[serde(flatten)]
    code: CodeFields<'a>,
}

#[derive(Serialize)]
pub struct EmailVerification<'a> {
    object: &'static str,
    #[serde(flatten)]
    code: CodeFields<'a>,
}

#[derive(Serialize)]
struct CodeFields<'a> {
    id: &'a str,
    user_id: &'a str,
    email: &'a str,
    expires_at: String,
    /// The plaintext; absent only if it can no longer be unsealed (the server key changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    created_at: String,
    updated_at: String,
}

impl<'a> CodeFields<'a> {
    fn new(c: &'a OneTimeCode, plaintext: Option<String>) -> CodeFields<'a> {
        CodeFields {
            id: &c.id,
            user_id: &c.user_id,
            email: &c.email,
            expires_at: time(c.expires_at),
            code: plaintext,
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

impl<'a> MagicAuth<'a> {
    pub fn new(c: &'a OneTimeCode, plaintext: Option<String>) -> MagicAuth<'a> {
        MagicAuth { object: "magic_auth", code: CodeFields::new(c, plaintext) }
    }
}

impl<'a> EmailVerification<'a> {
    pub fn new(c: &'a OneTimeCode, plaintext: Option<String>) -> EmailVerification<'a> {
        EmailVerification { object: "email_verification", code: CodeFields::new(c, plaintext) }
    }
}

#[derive(Serialize)]
pub struct PasswordReset<'a> {
    object: &'static str,
    id: &'a str,
    user_id: &'a str,
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_reset_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_reset_url: Option<String>,
    expires_at: String,
    created_at: String,
}

impl<'a> PasswordReset<'a> {
    /// `token` and `url` are the plaintext link token and the page it opens.
    pub fn new(c: &'a OneTimeCode, token: Option<String>, url: Option<String>) -> PasswordReset<'a> {
        PasswordReset {
            object: "password_reset",
            id: &c.id,
            user_id: &c.user_id,
            email: &c.email,
            password_reset_token: token,
            password_reset_url: url,
            expires_at: time(c.expires_at),
            created_at: time(c.created_at),
        }
    }
}
