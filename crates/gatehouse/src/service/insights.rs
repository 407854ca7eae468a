//! The console's home page: the last 30 days from the event log (sign-ins per day and by
//! method, new users, refused sign-ins), throttling as it stands, and what needs attention.
//!
//! Throttling writes no event (a refused attempt is not evaluated, and WorkOS has no event for
//! it): its 30-day history comes from the daily tallies of `service::throttle_history`, beside
//! the counters over their limits right now (`throttle` rows); the web layer adds the
//! process's own count of 429s.

use super::environments::LoadedEnvironment;
use super::throttle::{ACCOUNT_STEP_UP_AFTER, PER_PAIR};
use super::{Core, Result};
use crate::clock::Millis;
use crate::domain::environment::Environment;
use crate::domain::event::EVENT_TYPES;
use crate::service::keys::KeyState;
use crate::store::{DailyCount, EmailTrouble};

/// Days the home page covers.
pub const DAYS: usize = 30;
/// An active signing key older than this is due to rotate (Gatehouse never rotates on its own).
pub const KEY_ROTATION_DUE_DAYS: i64 = 90;
const DAY_MS: Millis = 86_400_000;

/// The first factors a sign-in starts with, as the chart names them.
pub const SIGN_IN_METHODS: &[(&str, &str)] = &[
    ("authentication.password_succeeded", "Password"),
    ("authentication.magic_auth_succeeded", "Email code"),
    ("authentication.oauth_succeeded", "Social"),
    ("authentication.passkey_succeeded", "Passkey"),
];

/// A count per day, oldest first, `DAYS` long.
pub type Daily = Vec<i64>;

/// What the home page charts.
#[derive(Clone, Debug)]
pub struct Insights {
    /// The first day shown, in days since 1970-01-01 (UTC).
    pub first_day: i64,
    /// Successful sign-ins per day, per method (`SIGN_IN_METHODS` order).
    pub sign_ins: Vec<(&'static str, Daily)>,
    pub new_users: Daily,
    /// Refused sign-ins (any `authentication.*_failed`) per day.
    pub refused: Daily,
    /// Attempts refused by a throttle per day (password attempts, sign-ups, code sends).
    pub throttled: Daily,
    /// Client address and account pairs locked out right now.
    pub locked_pairs: i64,
    /// Accounts whose correct password now needs an emailed code too (many failures from many
    /// addresses).
    pub accounts_under_attack: i64,
}

impl Insights {
    pub fn total_sign_ins(&self) -> i64 {
        self.sign_ins.iter().map(|(_, d)| d.iter().sum::<i64>()).sum()
    }

    /// Sign-ins per day, all methods together.
    pub fn sign_ins_per_day(&self) -> Daily {
        (0..DAYS).map(|i| self.sign_ins.iter().map(|(_, d)| d[i]).sum()).collect()
    }
}

/// Something an operator should look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attention {
    /// Emails of the last 30 days that were given up on, or are failing and retrying.
    EmailDelivery { failed: i64, retrying: i64, last_error: Option<String> },
    /// The signing key in use is older than `KEY_ROTATION_DUE_DAYS`.
    KeyDueToRotate { kid: String, age_days: i64 },
    /// A production environment exists and no SMTP server is configured: its emails stay queued.
    ProductionWithoutSmtp,
}

impl Core {
    /// The last `DAYS` days of the environment, ending today (UTC).
    pub async fn insights(&self, env: &Environment) -> Result<Insights> {
        let now = self.now();
        let first_day = now.div_euclid(DAY_MS) - (DAYS as i64 - 1);
        let since = first_day * DAY_MS;
        let mut types: Vec<&str> = SIGN_IN_METHODS.iter().map(|(t, _)| *t).collect();
        types.push("user.created");
        let failed: Vec<&str> = EVENT_TYPES.iter().copied().filter(|t| is_refusal(t)).collect();
        types.extend(&failed);
        let counts = self.store.count_events_by_day(&env.id, &types, since).await?;
        let daily = |wanted: &dyn Fn(&str) -> bool| -> Daily { per_day(&counts, first_day, wanted) };
        let sign_ins = SIGN_IN_METHODS.iter().map(|(t, label)| (*label, daily(&|e| e == *t))).collect();
        let window_after = now - PER_PAIR.window_ms;
        let locked_pairs =
            self.store.count_throttle_counters(&format!("signin:pair:{}:", env.id), window_after, PER_PAIR.max).await?;
        let accounts_under_attack = self
            .store
            .count_throttle_counters(
                &format!("signin:account:{}:", env.id),
                now - super::throttle::PER_ACCOUNT.window_ms,
                ACCOUNT_STEP_UP_AFTER + 1,
            )
            .await?;
        Ok(Insights {
            first_day,
            sign_ins,
            new_users: daily(&|e| e == "user.created"),
            refused: daily(&is_refusal),
            throttled: self.throttled_per_day(&env.id, first_day).await?,
            locked_pairs,
            accounts_under_attack,
        })
    }

    /// What needs an operator's attention in this environment (and server-wide).
    pub async fn attention(&self, env: &LoadedEnvironment) -> Result<Vec<Attention>> {
        let now = self.now();
        let mut out = Vec::new();
        let EmailTrouble { failed, retrying, last_error } =
            self.store.email_trouble(&env.id, now - DAYS as i64 * DAY_MS).await?;
        if failed > 0 || retrying > 0 {
            out.push(Attention::EmailDelivery { failed, retrying, last_error });
        }
        if let Some(active) = self.key_schedule(env).into_iter().find(|k| k.state == KeyState::Active) {
            let age_days = (now - active.signs_from) / DAY_MS;
            let rotating = self.key_schedule(env).iter().any(|k| k.state == KeyState::Next);
            if age_days >= KEY_ROTATION_DUE_DAYS && !rotating {
                out.push(Attention::KeyDueToRotate { kid: active.kid, age_days });
            }
        }
        if !self.has_smtp() && self.store.list_environments().await?.iter().any(|e| !e.is_development()) {
            out.push(Attention::ProductionWithoutSmtp);
        }
        Ok(out)
    }
}

fn is_refusal(event: &str) -> bool {
    event.starts_with("authentication.") && event.ends_with("_failed")
}

/// The counts of the types `wanted` picks, per day from `first_day`, `DAYS` long.
fn per_day(counts: &[DailyCount], first_day: i64, wanted: &dyn Fn(&str) -> bool) -> Daily {
    let mut out = vec![0; DAYS];
    for c in counts.iter().filter(|c| wanted(&c.event)) {
        if let Some(slot) = usize::try_from(c.day - first_day).ok().and_then(|i| out.get_mut(i)) {
            *slot += c.count;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_on_their_day_and_others_are_dropped() {
        let c = |event: &str, day, count| DailyCount { event: event.into(), day, count };
        let counts = vec![
            c("user.created", 100, 2),
            c("user.created", 129, 5),
            c("user.created", 99, 7),
            c("user.created", 130, 1),
            c("authentication.password_failed", 110, 3),
            c("authentication.mfa_failed", 110, 1),
        ];
        let users = per_day(&counts, 100, &|e| e == "user.created");
        assert_eq!(users.len(), DAYS);
        assert_eq!((users[0], users[29], users.iter().sum::<i64>()), (2, 5, 7));
        assert_eq!(per_day(&counts, 100, &is_refusal)[10], 4);
        assert!(!is_refusal("authentication.password_succeeded"));
    }
}
