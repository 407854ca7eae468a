//! The 30-day history of throttled attempts (the console's home page). Throttling writes no
//! event, and a write per refusal would hand an attacker a write per request; instead each
//! refusal adds one to an in-memory tally per (environment, UTC day) — a short lock, no I/O —
//! and the tallies are added to the database (`throttled_daily`, one upsert per environment and
//! day) about once a minute, when the home page is read, and when the server stops. A process
//! killed outright loses at most its last minute of tallies.

use std::collections::HashMap;
use std::sync::Mutex;

use super::insights::DAYS;
use super::{Core, Result};
use crate::clock::Millis;

const DAY_MS: Millis = 86_400_000;

/// Refusals not yet written, per (environment ID, day).
#[derive(Debug, Default)]
pub struct ThrottledTally {
    pending: Mutex<HashMap<(String, i64), i64>>,
}

impl ThrottledTally {
    fn add(&self, environment_id: &str, day: i64) {
        // A poisoned lock only means another thread panicked mid-increment: the map is fine.
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *pending.entry((environment_id.to_owned(), day)).or_insert(0) += 1;
    }

    fn take(&self) -> Vec<(String, i64, i64)> {
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.drain().map(|((env, day), n)| (env, day, n)).collect()
    }

    fn give_back(&self, tallies: Vec<(String, i64, i64)>) {
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (env, day, n) in tallies {
            *pending.entry((env, day)).or_insert(0) += n;
        }
    }
}

impl Core {
    /// Counts one attempt of `environment_id` refused by a throttle (in memory).
    pub fn note_throttled(&self, environment_id: &str) {
        self.throttled.add(environment_id, self.now().div_euclid(DAY_MS));
    }

    /// Writes the tallies so far (kept for the next try if the database refuses).
    pub async fn flush_throttled(&self) -> Result<()> {
        let tallies = self.throttled.take();
        if let Err(e) = self.store.add_throttled(&tallies).await {
            self.throttled.give_back(tallies);
            return Err(e.into());
        }
        Ok(())
    }

    /// Throttled attempts of `environment_id` per day from `first_day`, `DAYS` long, oldest first.
    pub async fn throttled_per_day(&self, environment_id: &str, first_day: i64) -> Result<Vec<i64>> {
        self.flush_throttled().await?;
        let mut daily = vec![0; DAYS];
        for (day, n) in self.store.throttled_by_day(environment_id, first_day).await? {
            if let Some(slot) = usize::try_from(day - first_day).ok().and_then(|i| daily.get_mut(i)) {
                *slot += n;
            }
        }
        Ok(daily)
    }

    /// Deletes daily counts older than the home page shows (part of `purge_expired`).
    pub(super) async fn purge_throttled_history(&self) -> Result<u64> {
        let first_kept = self.now().div_euclid(DAY_MS) - DAYS as i64;
        Ok(self.store.purge_throttled_before(first_kept).await?)
    }
}
