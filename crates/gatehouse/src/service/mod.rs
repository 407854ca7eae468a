//! Use cases: one method is one unit of work, in domain terms. HTTP handlers and the CLI call
//! these; these call the store. Nothing here knows about HTTP.

pub mod auth;
pub mod environments;
pub mod error;
pub mod keys;
pub mod mfa;
pub mod passkeys;
pub mod pending;
pub mod sessions;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use crate::clock::{Clock, Millis};
use crate::crypto::password::PasswordHasher;
use crate::store::Store;

pub use error::{Error, Result};

/// Server-wide settings the services need (from the command line / environment variables).
#[derive(Clone, Debug)]
pub struct CoreConfig {
    /// The public base URL without a trailing slash, e.g. `http://localhost:8080`.
    pub public_url: String,
    /// `Cache-Control: max-age` of the JWKS; a new signing key is published this long before use.
    pub jwks_max_age_secs: i64,
}

impl CoreConfig {
    pub fn issuer(&self, client_id: &str) -> String {
        format!("{}/user_management/{client_id}", self.public_url)
    }

    pub fn jwks_url(&self, client_id: &str) -> String {
        format!("{}/sso/jwks/{client_id}", self.public_url)
    }

    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Everything the use cases share. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub passwords: PasswordHasher,
    pub config: Arc<CoreConfig>,
    pub keys: keys::KeyRing,
    pub environments: environments::EnvironmentCache,
    /// Derives the successor of a refresh token (see `auth::refresh`).
    refresh_key: Arc<[u8]>,
    /// Two-factor keys: the TOTP secret encryption key and the WebAuthn relying party.
    pub mfa: Arc<mfa::MfaKeys>,
}

impl Core {
    pub async fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        passwords: PasswordHasher,
        config: CoreConfig,
    ) -> anyhow::Result<Core> {
        let refresh_key = store.server_secret("refresh_rotation_key").await?;
        let mfa = mfa::MfaKeys::new(&store.server_secret("mfa_encryption_key").await?, &config.public_url);
        Ok(Core {
            store,
            clock,
            passwords,
            config: Arc::new(config),
            keys: keys::KeyRing::default(),
            environments: environments::EnvironmentCache::default(),
            refresh_key: Arc::from(refresh_key.into_bytes()),
            mfa: Arc::new(mfa),
        })
    }

    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }
}
