//! A user's linked accounts at upstream providers (social login).

use crate::clock::Millis;

/// A user's account at an upstream provider.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Identity {
    pub id: String,
    pub environment_id: String,
    pub user_id: String,
    /// The provider's name (`GoogleOAuth`, …).
    pub provider: String,
    /// The provider's stable subject for the account.
    pub idp_id: String,
    pub email: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}
