//! What the use cases count for `/metrics`: sign-in proofs by method and outcome, refreshes by
//! outcome. A fixed table of relaxed atomic counters, so recording is one atomic addition with
//! no lock and no allocation; `web::metrics` reads them when scraped. The service layer records,
//! the web layer renders: nothing here knows about Prometheus beyond the label values.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::{Error, Result};
use crate::domain::provider::Kind;

/// How a sign-in step proved who someone is. Each proof is counted once, where it is checked
/// (a password that then owes a second factor counts as a succeeded password, and the second
/// factor as `Mfa`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    /// An emailed one-time code as the first factor (magic auth).
    MagicAuth,
    /// The emailed code that verifies the address (the `email_verification_required` step).
    EmailVerification,
    Passkey,
    /// A second factor (TOTP code or recovery code).
    Mfa,
    /// A provider's callback, by the provider's kind (custom OpenID Connect providers share `Oidc`).
    OAuth(Kind),
}

/// The methods in their table order, with their label values (`method`, and `provider` for OAuth).
const METHODS: [(SignInMethod, &str, Option<&str>); 11] = [
    (SignInMethod::Password, "password", None),
    (SignInMethod::MagicAuth, "magic_auth", None),
    (SignInMethod::EmailVerification, "email_verification", None),
    (SignInMethod::Passkey, "passkey", None),
    (SignInMethod::Mfa, "mfa", None),
    (SignInMethod::OAuth(Kind::Google), "oauth", Some("google")),
    (SignInMethod::OAuth(Kind::Microsoft), "oauth", Some("microsoft")),
    (SignInMethod::OAuth(Kind::GitHub), "oauth", Some("github")),
    (SignInMethod::OAuth(Kind::Apple), "oauth", Some("apple")),
    (SignInMethod::OAuth(Kind::GitLab), "oauth", Some("gitlab")),
    (SignInMethod::OAuth(Kind::Oidc), "oauth", Some("oidc")),
];

impl SignInMethod {
    fn index(self) -> usize {
        match self {
            SignInMethod::Password => 0,
            SignInMethod::MagicAuth => 1,
            SignInMethod::EmailVerification => 2,
            SignInMethod::Passkey => 3,
            SignInMethod::Mfa => 4,
            SignInMethod::OAuth(Kind::Google) => 5,
            SignInMethod::OAuth(Kind::Microsoft) => 6,
            SignInMethod::OAuth(Kind::GitHub) => 7,
            SignInMethod::OAuth(Kind::Apple) => 8,
            SignInMethod::OAuth(Kind::GitLab) => 9,
            SignInMethod::OAuth(Kind::Oidc) => 10,
        }
    }
}

/// What happened to a presented refresh token (`service::auth::refresh`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The current token: the next generation was issued.
    Rotated,
    /// The previous token again within the grace window: the current pair was sent again.
    GraceRetry,
    /// An older token of the chain: theft assumed, the session was revoked.
    ReuseDetected,
    /// Anything else: unknown, wrong secret, ended session, another client's.
    Rejected,
}

const REFRESH_OUTCOMES: [(RefreshOutcome, &str); 4] = [
    (RefreshOutcome::Rotated, "rotated"),
    (RefreshOutcome::GraceRetry, "grace_retry"),
    (RefreshOutcome::ReuseDetected, "reuse_detected"),
    (RefreshOutcome::Rejected, "rejected"),
];

/// One sign-in counter's labels and value, as read at scrape time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignInCount {
    pub method: &'static str,
    /// The provider's kind, for `method = "oauth"`.
    pub provider: Option<&'static str>,
    /// `succeeded` or `failed`.
    pub outcome: &'static str,
    pub value: u64,
}

/// The counters. One per `Core` (clones share it).
#[derive(Debug, Default)]
pub struct Counters {
    /// `[succeeded, failed]` per method, in `METHODS` order.
    sign_ins: [[AtomicU64; 2]; METHODS.len()],
    /// Per outcome, in `REFRESH_OUTCOMES` order.
    refreshes: [AtomicU64; REFRESH_OUTCOMES.len()],
}

impl Counters {
    /// Counts a checked proof: `Ok` succeeded; a refusal (wrong password or code, a spent
    /// challenge, a rejected passkey) failed. Throttled attempts were not evaluated
    /// (`gatehouse_throttled_total` counts them) and server errors say nothing about the
    /// proof, so neither is counted.
    pub fn sign_in<T>(&self, method: SignInMethod, result: &Result<T>) {
        let slot = match result {
            Ok(_) => 0,
            Err(Error::RateLimited { .. } | Error::Internal(_)) => return,
            Err(_) => 1,
        };
        self.sign_in_outcome(method, slot == 0);
    }

    /// Counts a proof whose outcome is known without a `Result` (a provider's callback).
    pub fn sign_in_outcome(&self, method: SignInMethod, succeeded: bool) {
        self.sign_ins[method.index()][usize::from(!succeeded)].fetch_add(1, Relaxed);
    }

    pub fn refresh(&self, outcome: RefreshOutcome) {
        let i = REFRESH_OUTCOMES.iter().position(|(o, _)| *o == outcome).unwrap_or(REFRESH_OUTCOMES.len() - 1);
        self.refreshes[i].fetch_add(1, Relaxed);
    }

    /// Every sign-in counter (zeros included, so a series exists before its first event).
    pub fn sign_ins(&self) -> Vec<SignInCount> {
        let mut out = Vec::with_capacity(METHODS.len() * 2);
        for ((_, method, provider), counters) in METHODS.iter().zip(&self.sign_ins) {
            for (outcome, counter) in ["succeeded", "failed"].into_iter().zip(counters) {
                out.push(SignInCount { method, provider: *provider, outcome, value: counter.load(Relaxed) });
            }
        }
        out
    }

    /// Every refresh outcome's count, by its label value.
    pub fn refreshes(&self) -> Vec<(&'static str, u64)> {
        REFRESH_OUTCOMES.iter().zip(&self.refreshes).map(|((_, label), n)| (*label, n.load(Relaxed))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_has_its_own_row_and_errors_are_sorted() {
        for (i, (method, _, _)) in METHODS.iter().enumerate() {
            assert_eq!(method.index(), i, "{method:?}");
        }
        let c = Counters::default();
        c.sign_in(SignInMethod::Password, &Ok(()));
        c.sign_in::<()>(SignInMethod::Password, &Err(Error::InvalidCredentials { email: "a@b.c".into() }));
        c.sign_in::<()>(SignInMethod::Password, &Err(Error::RateLimited { retry_after_secs: 1 }));
        c.sign_in::<()>(SignInMethod::Password, &Err(Error::Internal(anyhow::anyhow!("db down"))));
        c.sign_in_outcome(SignInMethod::OAuth(Kind::GitHub), true);
        c.refresh(RefreshOutcome::ReuseDetected);
        let counts = c.sign_ins();
        let value = |method, provider, outcome| {
            counts.iter().find(|s| s.method == method && s.provider == provider && s.outcome == outcome).unwrap().value
        };
        assert_eq!(value("password", None, "succeeded"), 1);
        assert_eq!(value("password", None, "failed"), 1);
        assert_eq!(value("oauth", Some("github"), "succeeded"), 1);
        assert_eq!(value("oauth", Some("google"), "succeeded"), 0);
        assert_eq!(counts.len(), 22);
        assert_eq!(c.refreshes(), vec![("rotated", 0), ("grace_retry", 0), ("reuse_detected", 1), ("rejected", 0)]);
    }
}
