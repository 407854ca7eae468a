//! Password hashing with argon2id (OWASP parameters) on dedicated threads, one per core.
//!
//! Hashing is deliberately slow, so it never runs on the async runtime's threads. Requests
//! queue their hashes for a fixed set of hashing threads, so a burst of sign-ins waits in line
//! instead of running hundreds of 19 MiB hashes at once (which would starve every other request
//! of memory bandwidth and CPU). Each thread keeps its own 19 MiB working memory, and under load
//! takes the next hash as soon as it finishes one: it never parks between hashes, so the
//! scheduler keeps it on its core. (With `spawn_blocking` and a semaphore, each hash started on
//! a freshly woken pool thread, and with two hashes in flight a core still sat idle ~10 % of the
//! time, most likely because the scheduler put the woken thread next to the other hash.)

use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;
use tokio::sync::{OnceCell, mpsc, oneshot};

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
    /// The hashing threads' queue; they stop when the last clone of this sender is dropped.
    jobs: mpsc::Sender<Job>,
    dummy: Arc<OnceCell<String>>,
}

/// One hash to compute, given the thread's working memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// Hashes waiting beyond this make callers wait to queue (backpressure, not an error).
const QUEUE: usize = 1024;

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("params", &self.params).finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Starts one hashing thread per core.
    pub fn new(params: ArgonParams) -> PasswordHasher {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..cores {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("gatehouse-hash-{i}")).spawn(move || {
                yield_to_requests();
                // The working memory is allocated by the first hash and kept: allocating 19 MiB
                // per hash faults pages in every time and leaves glibc's arenas holding hundreds
                // of MiB.
                let mut blocks = Vec::new();
                loop {
                    // Holding the lock while waiting is fine: whoever holds it takes the next job.
                    let job = match queue.lock() {
                        Ok(mut queue) => queue.blocking_recv(),
                        Err(_) => None,
                    };
                    let Some(job) = job else { break };
                    // A panic drops the job's reply (its caller gets an error); the thread lives on.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut blocks)));
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        PasswordHasher { params, jobs, dummy: Arc::new(OnceCell::new()) }
    }

    pub fn params(&self) -> ArgonParams {
        self.params
    }

    /// Hashes a new password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.to_owned();
        let params = self.params;
        self.run(move |blocks| hash_blocking(&password, params, blocks)).await?
    }

    /// Verifies `password` against a stored hash (argon2 PHC or imported bcrypt).
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verdict, PasswordError> {
        let password = password.to_owned();
        let stored = stored.to_owned();
        let params = self.params;
        self.run(move |blocks| verify_blocking(&password, &stored, params, blocks)).await?
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

    /// Runs `work` on a hashing thread with that thread's working memory.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let (reply, answer) = oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |blocks| {
            let _ = reply.send(span.in_scope(|| work(blocks)));
        });
        self.jobs.send(job).await.map_err(|_| PasswordError::Join)?;
        answer.await.map_err(|_| PasswordError::Join)
    }
}

/// Lowers this thread's scheduling priority (Linux `nice` +5 applies to the calling thread
/// only), so a request that wakes up takes a core from a hash at once: hashing gets every idle
/// cycle, and cheap requests (token refreshes, the JWKS) are not queued behind it.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::nice(5) {
        tracing::debug!(error = %e, "cannot lower the hashing threads' priority");
    }
}

/// Hashes into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) using `blocks` as the
/// working memory.
fn hash_blocking(password: &str, params: ArgonParams, blocks: &mut Vec<Block>) -> Result<String, PasswordError> {
    let error = |e: &dyn std::fmt::Display| PasswordError::Hash(e.to_string());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(|e| error(&e))?;
    let argon_params =
        Params::new(params.memory_kib, params.iterations, params.parallelism, None).map_err(|e| error(&e))?;
    if blocks.len() < argon_params.block_count() {
        blocks.resize(argon_params.block_count(), Block::default());
    }
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, &mut blocks[..])
        .map_err(|e| error(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(&argon_params).map_err(|e| error(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&out).map_err(|e| error(&e))?),
    };
    Ok(phc.to_string())
}

fn verify_blocking(
    password: &str,
    stored: &str,
    params: ArgonParams,
    blocks: &mut Vec<Block>,
) -> Result<Verdict, PasswordError> {
    if stored.starts_with("$2") {
        // Imported bcrypt hash: verify, then upgrade to argon2id.
        return match bcrypt::verify(password, stored) {
            Ok(true) => Ok(Verdict::MatchRehash { new_hash: hash_blocking(password, params, blocks)? }),
            Ok(false) | Err(_) => Ok(Verdict::Mismatch),
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Ok(Verdict::Mismatch);
    };
    // Verification uses the parameters recorded in the hash itself.
    if !argon2_matches(password.as_bytes(), &parsed, blocks) {
        return Ok(Verdict::Mismatch);
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && parsed.params.get_decimal("m") == Some(params.memory_kib)
        && parsed.params.get_decimal("t") == Some(params.iterations)
        && parsed.params.get_decimal("p") == Some(params.parallelism);
    if current {
        Ok(Verdict::Match)
    } else {
        Ok(Verdict::MatchRehash { new_hash: hash_blocking(password, params, blocks)? })
    }
}

/// Recomputes an argon2 PHC hash in `blocks` (grown when too small, otherwise reused) and
/// compares it in constant time. Malformed hashes never match.
fn argon2_matches(password: &[u8], hash: &PasswordHash<'_>, blocks: &mut Vec<Block>) -> bool {
    let (Ok(algorithm), Ok(params), Some(expected), Some(salt)) =
        (Algorithm::try_from(hash.algorithm), Params::try_from(hash), hash.hash, hash.salt)
    else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    if argon2.hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..]).is_err() {
        return false;
    }
    out.ct_eq(expected.as_bytes()).into()
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

    #[test]
    fn reused_buffers_verify_like_the_reference_implementation() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let mut blocks = Vec::new();
        for (memory_kib, algorithm) in [(64, Algorithm::Argon2id), (128, Algorithm::Argon2i), (32, Algorithm::Argon2d)]
        {
            let argon = Argon2::new(algorithm, Version::V0x13, Params::new(memory_kib, 2, 1, None).unwrap());
            let phc = argon.hash_password(b"pw", &SaltString::generate(&mut OsRng)).unwrap().to_string();
            let parsed = PasswordHash::new(&phc).unwrap();
            assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
            assert!(argon2_matches(b"pw", &parsed, &mut blocks), "{phc}");
            assert!(!argon2_matches(b"pW", &parsed, &mut blocks));
        }
        assert_eq!(blocks.len(), 128, "the buffer grows to the largest need and is kept");
        // Our own hashes are standard PHC strings the reference implementation accepts.
        let ours = hash_blocking("pw", CHEAP, &mut blocks).unwrap();
        assert!(Argon2::default().verify_password(b"pw", &PasswordHash::new(&ours).unwrap()).is_ok(), "{ours}");
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
