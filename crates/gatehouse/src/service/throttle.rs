//! The throttling policy (README "Throttling"): failures count per (account, client address)
//! pair, per client address and per account, each in one atomic statement
//! (`Store::record_attempt`), so parallel requests on any number of processes never get more
//! evaluations than the limits allow. An account under attack from many addresses does not
//! lock its owner out: past a threshold a correct password must be confirmed with an emailed
//! code, and a browser that signed in before (a device cookie, OWASP's "device cookies") is
//! counted on its own and never shares the account's or an address's lockout. Guesses at
//! emailed codes follow the same shape with their own numbers. Without a client address (a
//! backend with the API key that states none speaks for all its users) nothing counts per
//! address: only the account's own counters do.
use super::codes::CodeKind;
use super::environments::{LoadedEnvironment, SEC};
use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::crypto::secrets::{derive_token, random_token, secrets_equal};
use crate::domain::client_address::ClientAddress;

/// A counter's ceiling: at most `max` failures in a fixed window of `window_ms`.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub max: i64,
    pub window_ms: Millis,
}

/// Failures one client address may make against one account.
pub const PER_PAIR: Limit = Limit { max: 10, window_ms: 15 * 60 * SEC };
/// Failures one client address (an IPv6 client's /64) may make against all accounts.
pub const PER_ADDRESS: Limit = Limit { max: 100, window_ms: 15 * 60 * SEC };
/// Failures against one account from all addresses without a device cookie (NIST SP 800-63B-4's
/// ceiling of 100).
pub const PER_ACCOUNT: Limit = Limit { max: 100, window_ms: 60 * 60 * SEC };
/// Past this many failures in `PER_ACCOUNT`'s window (more than one address may make), a
/// correct password from a browser or backend without a device cookie must be confirmed with a
/// code emailed to the account.
pub const ACCOUNT_STEP_UP_AFTER: i64 = 2 * PER_PAIR.max;
/// Failures one known device (a valid device cookie) may make against its account.
pub const PER_DEVICE: Limit = Limit { max: 10, window_ms: 15 * 60 * SEC };
/// How long a device cookie is honoured.
pub const DEVICE_COOKIE_TTL_MS: Millis = 365 * 24 * 3600 * SEC;

/// Wrong guesses at emailed codes (Magic Auth, email verification; per kind of code, across the
/// codes sent) one client address may make against one account.
pub const CODE_GUESSES_PER_PAIR: Limit = Limit { max: 10, window_ms: 60 * 60 * SEC };
/// Wrong guesses at emailed codes one client address may make against all accounts.
pub const CODE_GUESSES_PER_ADDRESS: Limit = Limit { max: 100, window_ms: 60 * 60 * SEC };
/// Wrong guesses at emailed codes against one account from all addresses without a device
/// cookie (each code also dies after `codes::MAX_CODE_ATTEMPTS`).
pub const CODE_GUESSES_PER_ACCOUNT: Limit = Limit { max: 100, window_ms: 60 * 60 * SEC };
/// Wrong guesses at emailed codes one known device may make against its account.
pub const CODE_GUESSES_PER_DEVICE: Limit = Limit { max: 10, window_ms: 60 * 60 * SEC };

/// Codes sent to one address (magic auth, reset, verification) in a window: per (recipient,
/// client address) pair (per recipient alone without an address), per recipient, and per
/// client address (only with an address).
pub const SENDS_PER_PAIR: Limit = Limit { max: 5, window_ms: 15 * 60 * SEC };
pub const SENDS_PER_ACCOUNT: Limit = Limit { max: 20, window_ms: 15 * 60 * SEC };
pub const SENDS_PER_ADDRESS: Limit = Limit { max: 30, window_ms: 15 * 60 * SEC };

/// Hosted sign-ups from one client address in a window (each one answered, so each one is a
/// probe of which addresses have accounts).
pub const SIGN_UPS_PER_ADDRESS: Limit = Limit { max: 20, window_ms: 15 * 60 * SEC };

/// Server-side state an unauthenticated client may create from one address in a window: saved
/// `/authorize` requests (with their social-login state) and passkey ceremonies.
pub const PENDING_STATE_PER_ADDRESS: Limit = Limit { max: 1000, window_ms: 15 * 60 * SEC };

const DEVICE_PURPOSE: &str = "device-cookie";

/// A password attempt or code guess admitted by the throttles, with the counters to settle
/// afterwards.
#[derive(Debug)]
pub struct Admitted {
    keys: Vec<(String, Settle)>,
    /// The account is under attack and this client is not a known device: a correct password
    /// must be confirmed with an emailed code.
    pub email_proof_owed: bool,
}

#[derive(Debug, Clone, Copy)]
enum Settle {
    /// A success clears the counter (the pair or device has proved itself).
    Clear,
    /// A success gives back its count (it was not a guess).
    Refund,
}

/// The counters of one kind of guess (passwords, or one kind of emailed code).
struct Policy {
    /// The prefix of the counters' keys.
    prefix: &'static str,
    pair: Limit,
    address: Limit,
    account: Limit,
    device: Limit,
}

const PASSWORDS: Policy =
    Policy { prefix: "signin", pair: PER_PAIR, address: PER_ADDRESS, account: PER_ACCOUNT, device: PER_DEVICE };

/// The policy of guesses at one kind of emailed code (each kind counts apart).
fn code_policy(kind: CodeKind) -> Policy {
    Policy {
        prefix: match kind {
            CodeKind::MagicAuth => "code-guess:magic_auth",
            CodeKind::EmailVerification => "code-guess:email_verification",
            CodeKind::PasswordReset => "code-guess:password_reset",
        },
        pair: CODE_GUESSES_PER_PAIR,
        address: CODE_GUESSES_PER_ADDRESS,
        account: CODE_GUESSES_PER_ACCOUNT,
        device: CODE_GUESSES_PER_DEVICE,
    }
}

/// Who is trying: the account (normalised email), the client address, and the device cookie.
pub struct Attempt<'a> {
    pub env: &'a LoadedEnvironment,
    pub account: &'a str,
    pub address: Option<&'a ClientAddress>,
    pub device_cookie: Option<&'a str>,
}

impl Core {
    /// Counts one password attempt under the policy, before the password is checked; refuses
    /// with `RateLimited` when a limit is reached (refunding the counters already taken).
    pub async fn admit_password_attempt(&self, attempt: &Attempt<'_>) -> Result<Admitted> {
        let (keys, account_count) = self.admit(attempt, &PASSWORDS).await?;
        Ok(Admitted { keys, email_proof_owed: account_count > ACCOUNT_STEP_UP_AFTER })
    }

    /// Counts one guess at an emailed code under its policy, before the code is compared;
    /// refuses with `RateLimited` when a limit is reached. `settle_success` after a right code.
    pub async fn admit_code_guess(&self, attempt: &Attempt<'_>, kind: CodeKind) -> Result<Admitted> {
        let (keys, _) = self.admit(attempt, &code_policy(kind)).await?;
        Ok(Admitted { keys, email_proof_owed: false })
    }

    /// Counts one attempt against `policy`'s counters: the device's alone for a known device,
    /// otherwise the pair's and the address's (when there is an address) and the account's.
    /// Returns the counters taken and the account's count.
    async fn admit(&self, attempt: &Attempt<'_>, policy: &Policy) -> Result<(Vec<(String, Settle)>, i64)> {
        let now = self.now();
        let prefix = policy.prefix;
        let scope = format!("{}:{}", attempt.env.id, attempt.account);
        if let Some(nonce) = attempt.device_cookie.and_then(|c| self.known_device(attempt.env, attempt.account, c)) {
            let key = format!("{prefix}:device:{scope}:{nonce}");
            let count = self.store.record_attempt(&key, policy.device.window_ms, now).await?;
            if count.count > policy.device.max {
                self.note_throttled(&attempt.env.id);
                return Err(retry_after(count.window_start, policy.device, now));
            }
            return Ok((vec![(key, Settle::Clear)], 0));
        }
        let mut counters = Vec::with_capacity(3);
        if let Some(address) = attempt.address {
            let bucket = address.bucket();
            counters.push((format!("{prefix}:pair:{scope}:{bucket}"), policy.pair, Settle::Clear));
            counters.push((format!("{prefix}:ip:{bucket}"), policy.address, Settle::Refund));
        }
        counters.push((format!("{prefix}:account:{scope}"), policy.account, Settle::Refund));
        let mut taken: Vec<(String, Settle)> = Vec::new();
        let mut account_count = 0;
        for (key, limit, settle) in counters {
            let count = self.store.record_attempt(&key, limit.window_ms, now).await?;
            if count.count > limit.max {
                // Not evaluated, so not a failure against the other counters.
                self.store.refund_attempt(&key).await?;
                for (taken_key, _) in &taken {
                    self.store.refund_attempt(taken_key).await?;
                }
                self.note_throttled(&attempt.env.id);
                return Err(retry_after(count.window_start, limit, now));
            }
            account_count = count.count;
            taken.push((key, settle));
        }
        Ok((taken, account_count))
    }

    /// After a correct password or code: the pair and device counters clear, the others get their
    /// count back.
    pub async fn settle_success(&self, admitted: &Admitted) -> Result<()> {
        for (key, settle) in &admitted.keys {
            match settle {
                Settle::Clear => self.store.clear_attempts(key).await?,
                Settle::Refund => self.store.refund_attempt(key).await?,
            }
        }
        Ok(())
    }

    /// A new device cookie for a browser that just signed in to `account` (a normalised email):
    /// a random nonce and its HMAC under the server's derivation key, so nothing is stored.
    pub fn issue_device_cookie(&self, env: &LoadedEnvironment, account: &str) -> String {
        let nonce = random_token(12);
        format!("{nonce}.{}", self.device_mac(env, account, &nonce))
    }

    /// The nonce of a device cookie issued for this account, if it is one.
    fn known_device<'c>(&self, env: &LoadedEnvironment, account: &str, cookie: &'c str) -> Option<&'c str> {
        let (nonce, mac) = cookie.split_once('.')?;
        secrets_equal(mac, &self.device_mac(env, account, nonce)).then_some(nonce)
    }

    /// The HMAC of a device cookie, cut to 192 bits so the cookie stays short.
    fn device_mac(&self, env: &LoadedEnvironment, account: &str, nonce: &str) -> String {
        let input = format!("{}\u{0}{account}\u{0}{nonce}", env.id);
        derive_token(&self.refresh_key, DEVICE_PURPOSE, &input).chars().take(32).collect()
    }

    /// Counts one piece of unauthenticated server-side state (a saved `/authorize` request, a
    /// passkey ceremony) created from `address`; refuses past `PENDING_STATE_PER_ADDRESS`.
    pub async fn admit_pending_state(&self, address: Option<&ClientAddress>) -> Result<()> {
        let now = self.now();
        let bucket = address.map_or_else(|| "unknown".to_owned(), ClientAddress::bucket);
        let key = format!("pending:ip:{bucket}");
        let count = self.store.record_attempt(&key, PENDING_STATE_PER_ADDRESS.window_ms, now).await?;
        if count.count > PENDING_STATE_PER_ADDRESS.max {
            return Err(retry_after(count.window_start, PENDING_STATE_PER_ADDRESS, now));
        }
        Ok(())
    }

    /// Counts one hosted sign-up attempt to `environment_id` from `address`; refuses past
    /// `SIGN_UPS_PER_ADDRESS` (the counter is per address, across environments).
    pub async fn admit_sign_up(&self, environment_id: &str, address: Option<&ClientAddress>) -> Result<()> {
        let now = self.now();
        let bucket = address.map_or_else(|| "unknown".to_owned(), ClientAddress::bucket);
        let count =
            self.store.record_attempt(&format!("signup:ip:{bucket}"), SIGN_UPS_PER_ADDRESS.window_ms, now).await?;
        if count.count > SIGN_UPS_PER_ADDRESS.max {
            self.note_throttled(environment_id);
            return Err(retry_after(count.window_start, SIGN_UPS_PER_ADDRESS, now));
        }
        Ok(())
    }

    /// Counts one code sent to `email` (magic auth, reset, verification) per (recipient, client
    /// address) pair, per recipient and per client address; without a client address (a
    /// server-initiated send, a backend with the API key that states none) only the recipient's
    /// two counters (the pair's with no address) count.
    /// A refusal counts in the throttled history of `environment_id`.
    pub async fn throttle_sends(
        &self,
        environment_id: &str,
        scope: &str,
        email: &str,
        address: Option<&ClientAddress>,
    ) -> Result<()> {
        let bucket = address.map_or_else(|| "-".to_owned(), ClientAddress::bucket);
        let mut counters = vec![
            (format!("send:{scope}:{email}:{bucket}"), SENDS_PER_PAIR),
            (format!("send:{scope}:{email}"), SENDS_PER_ACCOUNT),
        ];
        if address.is_some() {
            counters.push((format!("send:ip:{bucket}"), SENDS_PER_ADDRESS));
        }
        self.count_sends(environment_id, counters).await
    }

    /// Counts one step-up code sent to `email` after a correct first factor from `address`:
    /// per (recipient, client address) pair and per recipient, not per client address. The
    /// client has just proved a first factor for this account and the code goes to the
    /// account's own address, so many accounts signing in from one address (an office, a
    /// proxy, an app's backend) never share a budget.
    pub async fn throttle_step_up_send(
        &self,
        environment_id: &str,
        email: &str,
        address: Option<&ClientAddress>,
    ) -> Result<()> {
        let bucket = address.map_or_else(|| "-".to_owned(), ClientAddress::bucket);
        let counters = vec![
            (format!("send:email_verification:{email}:{bucket}"), SENDS_PER_PAIR),
            (format!("send:email_verification:{email}"), SENDS_PER_ACCOUNT),
        ];
        self.count_sends(environment_id, counters).await
    }

    async fn count_sends(&self, environment_id: &str, counters: Vec<(String, Limit)>) -> Result<()> {
        let now = self.now();
        for (key, limit) in counters {
            let count = self.store.record_attempt(&key, limit.window_ms, now).await?;
            if count.count > limit.max {
                self.note_throttled(environment_id);
                return Err(retry_after(count.window_start, limit, now));
            }
        }
        Ok(())
    }
}

/// `RateLimited` until the window of `limit` that started at `window_start` ends.
pub fn retry_after(window_start: Millis, limit: Limit, now: Millis) -> Error {
    let remaining = (window_start + limit.window_ms - now).max(1000);
    Error::RateLimited { retry_after_secs: (remaining + 999) / 1000 }
}
