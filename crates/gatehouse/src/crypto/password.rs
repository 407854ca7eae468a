//! Password hashing with argon2id (OWASP parameters) on a bounded pool of blocking threads.
//!
//! Hashing is deliberately slow, so it never runs on the async runtime's threads: each call goes
//! through `spawn_blocking`, and a semaphore sized to the number of cores keeps a burst of
//! sign-ins from queueing hundreds of 19 MiB hashes at once (which would starve every other
//! request of memory bandwidth and CPU).

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

/// OWASP's argon2id recommendation: m = 19 MiB, t = 2, p = 1.
pub const OWASP_PARAMS: ArgonParams = ArgonParams { memory_kib: 19_456, iterations: 2, parallelism: 1 };

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgonParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// What a stored password hash says about a presented password.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Mismatch,
    Match,
    /// Correct, but the hash is an imported or outdated format: store `new_hash` instead.
    MatchRehash {
        new_hash: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the password hashing worker stopped")]
    Join,
}

/// The password hasher shared by the whole server.
#[derive(Clone)]
pub struct PasswordHasher {
    params: ArgonParams,
    permits: Arc<Semaphore>,
    dummy: Arc<OnceCell<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("params", &self.params).finish_non_exhaustive()
    }
}

impl PasswordHasher {
    pub fn new(params: ArgonParams) -> PasswordHasher {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordHasher { params, permits: Arc::new(Semaphore::new(cores)), dummy: Arc::new(OnceCell::new()) }
    }

    pub fn params(&self) -> ArgonParams {
        self.params
    }

    /// Hashes a new password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.to_owned();
        let params = self.params;
        self.run(move || hash_blocking(&password, params)).await?
    }

    /// Verifies `password` against a stored hash (argon2 PHC or imported bcrypt).
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verdict, PasswordError> {
        let password = password.to_owned();
        let stored = stored.to_owned();
        let params = self.params;
        self.run(move || verify_blocking(&password, &stored, params)).await?
    }

    /// Spends the same time as a real verification, for unknown accounts, so response time
    /// does not reveal whether an email is registered.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), PasswordError> {
        let dummy = self
            .dummy
            .get_or_try_init(|| async {
                let random = crate::crypto::secrets::random_token(16);
                self.hash(&random).await
            })
            .await?
            .clone();
        self.verify(password, &dummy).await.map(|_| ())
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, PasswordError> {
        let _permit = self.permits.acquire().await.map_err(|_| PasswordError::Join)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(work)).await.map_err(|_| PasswordError::Join)
    }
}

fn argon2(params: ArgonParams) -> Result<Argon2<'static>, PasswordError> {
    let p = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
}

fn hash_blocking(password: &str, params: ArgonParams) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2(params)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

fn verify_blocking(password: &str, stored: &str, params: ArgonParams) -> Result<Verdict, PasswordError> {
    if stored.starts_with("$2") {
        // Imported bcrypt hash: verify, then upgrade to argon2id.
        return match bcrypt::verify(password, stored) {
            Ok(true) => Ok(Verdict::MatchRehash { new_hash: hash_blocking(password, params)? }),
            Ok(false) | Err(_) => Ok(Verdict::Mismatch),
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Ok(Verdict::Mismatch);
    };
    // Verification uses the parameters recorded in the hash itself.
    if Argon2::default().verify_password(password.as_bytes(), &parsed).is_err() {
        return Ok(Verdict::Mismatch);
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && parsed.params.get_decimal("m") == Some(params.memory_kib)
        && parsed.params.get_decimal("t") == Some(params.iterations)
        && parsed.params.get_decimal("p") == Some(params.parallelism);
    if current { Ok(Verdict::Match) } else { Ok(Verdict::MatchRehash { new_hash: hash_blocking(password, params)? }) }
}

/// Whether `hash` is a password hash we can verify, for `password_hash` imports.
pub fn is_importable_hash(hash: &str, kind: &str) -> bool {
    match kind {
        "bcrypt" => hash.starts_with("$2") && hash.parse::<bcrypt::HashParts>().is_ok(),
        "argon2" => PasswordHash::new(hash).is_ok_and(|h| h.algorithm.as_str().starts_with("argon2")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: ArgonParams = ArgonParams { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[tokio::test]
    async fn hashes_and_verifies() {
        let hasher = PasswordHasher::new(CHEAP);
        let hash = hasher.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert_eq!(hasher.verify("correct horse", &hash).await.unwrap(), Verdict::Match);
        assert_eq!(hasher.verify("wrong horse", &hash).await.unwrap(), Verdict::Mismatch);
        assert_eq!(hasher.verify("x", "not a hash").await.unwrap(), Verdict::Mismatch);
        hasher.verify_dummy("anything").await.unwrap();
    }

    #[tokio::test]
    async fn imported_hashes_are_upgraded() {
        let hasher = PasswordHasher::new(CHEAP);
        let bcrypt_hash = bcrypt::hash("hunter22", 4).unwrap();
        assert!(is_importable_hash(&bcrypt_hash, "bcrypt"));
        assert!(!is_importable_hash("$1$nope", "bcrypt"));
        match hasher.verify("hunter22", &bcrypt_hash).await.unwrap() {
            Verdict::MatchRehash { new_hash } => assert!(new_hash.starts_with("$argon2id$")),
            other => panic!("expected a rehash, got {other:?}"),
        }
        let old = PasswordHasher::new(ArgonParams { memory_kib: 32, ..CHEAP }).hash("pw").await.unwrap();
        assert!(is_importable_hash(&old, "argon2"));
        assert!(matches!(hasher.verify("pw", &old).await.unwrap(), Verdict::MatchRehash { .. }));
    }
}
