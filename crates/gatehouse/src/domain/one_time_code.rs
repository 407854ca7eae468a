//! One-time codes and tokens sent by email: Magic Auth codes, email-verification codes and
//! password-reset tokens. Kept as a hash, plus a sealed copy for the API's GET endpoints.

use crate::clock::Millis;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OneTimeCode {
    pub id: String,
    /// `magic_auth`, `email_verification` or `password_reset`.
    pub kind: String,
    pub environment_id: String,
    pub user_id: String,
    pub email: String,
    pub code_hash: String,
    pub sealed_code: String,
    pub attempts: i64,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}
