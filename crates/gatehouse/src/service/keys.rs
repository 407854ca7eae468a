//! Signing-key lifecycle: which key signs now, which keys the JWKS publishes, and rotation.
//!
//! Verifiers such as Convex cache the JWKS for its `max-age` and do not refetch on an unknown
//! `kid`, so a new key must be published at least one max-age before it signs anything. The
//! schedule is derived from stored timestamps alone, which keeps every server process in
//! agreement without coordination:
//!
//! * key 0 signs from its creation; key *i* > 0 signs from `published_at + max_age`;
//! * the newest key whose start has passed is the active one;
//! * a key stays in the JWKS until its successor has signed for an access-token lifetime
//!   (plus a minute of clock leeway), so every token it signed can still be verified.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::clock::Millis;
use crate::crypto::sealing::SecretBox;
use crate::crypto::signing::SigningKey;
use crate::domain::environment::StoredSigningKey;

/// Parsed signing keys, by `kid`. Parsing an RSA key is costly; each is parsed once per process.
#[derive(Clone, Default)]
pub struct KeyRing {
    parsed: Arc<RwLock<HashMap<String, Arc<SigningKey>>>>,
}

/// Where a key is in its life at a given moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published, not yet signing.
    Next,
    Active,
    /// No longer signing; still published while its tokens live.
    Retired,
    /// No longer published.
    Expired,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct KeyStatus {
    pub kid: String,
    pub state: KeyState,
    pub signs_from: Millis,
    pub signs_until: Option<Millis>,
    pub published_until: Option<Millis>,
}

/// The schedule of `keys` (oldest first) at `now`.
pub fn schedule(keys: &[StoredSigningKey], now: Millis, max_age_ms: Millis, token_ttl_ms: Millis) -> Vec<KeyStatus> {
    let starts: Vec<Millis> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| if i == 0 { k.published_at } else { k.published_at + max_age_ms })
        .collect();
    let active = starts.iter().rposition(|s| *s <= now).unwrap_or(0);
    keys.iter()
        .enumerate()
        .map(|(i, k)| {
            // A key signs until the next key that has already started (or is scheduled) takes over.
            let signs_until = starts.get(i + 1..).and_then(|later| later.iter().copied().min());
            let published_until = signs_until.map(|u| u + token_ttl_ms + 60_000);
            let state = if i == active {
                KeyState::Active
            } else if i > active {
                KeyState::Next
            } else if published_until.is_some_and(|p| p > now) {
                KeyState::Retired
            } else {
                KeyState::Expired
            };
            KeyStatus { kid: k.kid.clone(), state, signs_from: starts[i], signs_until, published_until }
        })
        .collect()
}

/// The purpose a signing key is sealed for (its key ID, so a sealed key cannot be swapped for
/// another's).
pub fn signing_key_purpose(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// Seals a new signing key's private key for storage.
pub fn seal_signing_key(sealer: &SecretBox, kid: &str, private_key: &str) -> super::Result<String> {
    sealer.seal(&signing_key_purpose(kid), private_key).map_err(|e| super::Error::Internal(e.into()))
}

/// A stored private key, opened; one from a store that predates sealing (and was not yet
/// sealed in place by `Core::new`) is read as it is.
pub(super) fn open_signing_key(sealer: &SecretBox, kid: &str, stored: &str) -> super::Result<String> {
    if !stored.starts_with("v1.") {
        return Ok(stored.to_owned());
    }
    sealer.open(&signing_key_purpose(kid), stored).map_err(|e| super::Error::Internal(e.into()))
}

impl KeyRing {
    /// The parsed key for a stored one, parsing it only the first time.
    pub fn parsed(&self, stored: &StoredSigningKey, sealer: &SecretBox) -> super::Result<Arc<SigningKey>> {
        if let Some(k) = self.parsed.read().ok().and_then(|m| m.get(&stored.kid).cloned()) {
            return Ok(k);
        }
        let der = open_signing_key(sealer, &stored.kid, &stored.private_key)?;
        let key = Arc::new(SigningKey::from_stored(stored.kid.clone(), &der)?);
        if let Ok(mut m) = self.parsed.write() {
            m.insert(stored.kid.clone(), key.clone());
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, published_at: Millis) -> StoredSigningKey {
        StoredSigningKey {
            kid: kid.into(),
            private_key: String::new(),
            published_at,
            created_at: published_at,
            certificate: None,
        }
    }

    #[track_caller]
    fn check(keys: &[StoredSigningKey], now: Millis, expect: &[KeyState]) {
        let got: Vec<KeyState> = schedule(keys, now, 300_000, 300_000).into_iter().map(|s| s.state).collect();
        assert_eq!(got, expect, "at {now}");
    }

    #[test]
    fn rotation_publishes_before_signing_and_keeps_old_keys_while_tokens_live() {
        use KeyState::*;
        let first = [key("a", 0)];
        check(&first, 0, &[Active]);
        let rotated = [key("a", 0), key("b", 1_000_000)];
        check(&rotated, 1_000_000, &[Active, Next]);
        check(&rotated, 1_299_999, &[Active, Next]);
        check(&rotated, 1_300_000, &[Retired, Active]);
        // b signs from 1_300_000; a's last tokens live 300 s plus a minute of leeway.
        check(&rotated, 1_300_000 + 359_999, &[Retired, Active]);
        check(&rotated, 1_300_000 + 360_000, &[Expired, Active]);
    }

    #[test]
    fn two_quick_rotations_skip_the_middle_key_safely() {
        use KeyState::*;
        let keys = [key("a", 0), key("b", 1_000_000), key("c", 1_100_000)];
        check(&keys, 1_350_000, &[Retired, Active, Next]);
        check(&keys, 1_400_000, &[Retired, Retired, Active]);
    }
}
