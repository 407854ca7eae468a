//! Second factors: TOTP factors and their challenges, and passkeys.

use crate::clock::Millis;

/// A TOTP factor. `secret_sealed` is the encrypted secret (see `crypto::sealing`).
#[derive(Clone, sqlx::FromRow)]
pub struct AuthFactor {
    pub id: String,
    pub environment_id: String,
    /// `None` for a factor of the older MFA API, enrolled without a user (`POST
    /// /auth/factors/enroll`): the app challenges and verifies it, and no sign-in uses it.
    pub user_id: Option<String>,
    pub factor_type: String,
    pub secret_sealed: String,
    pub issuer: String,
    pub account: String,
    pub verified_at: Option<Millis>,
    pub last_used_step: Option<i64>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl std::fmt::Debug for AuthFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthFactor").field("id", &self.id).field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuthChallenge {
    pub id: String,
    pub environment_id: String,
    pub factor_id: String,
    pub expires_at: Millis,
    pub verified_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A registered passkey; `credential` is webauthn-rs's `Passkey` as JSON.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredPasskey {
    pub id: String,
    pub environment_id: String,
    pub user_id: String,
    pub credential_id: String,
    pub name: String,
    pub credential: String,
    pub last_used_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}
