//! The refresh context of sessions whose current token this process issued, kept so that the
//! next rotation skips the database read.
//!
//! When a refresh rotates a session's token, this process already holds everything the next
//! rotation needs: the session, its user and the new token's generation and hash. The next
//! rotation takes that context from here instead of reading it. The cache is a hint, never the
//! truth: the rotation's UPDATE (see `rotations`) re-checks in the database, in the same
//! statement, everything the read would have shown — the session still holds the presented
//! generation and secret hash, it is live, and its user row is unchanged (`users.version`). When
//! any of that fails, the refresh falls back to the read and decides from there (grace window,
//! reuse, revocation). So a stale entry can cost a read, never a wrong answer, and several
//! servers sharing one PostgreSQL database stay correct with a cache each.
//!
//! Entries are taken, not read: one context serves one rotation. The cache is bounded; the
//! least recently stored entries go first.

use std::sync::Mutex;

use hashlink::LruCache;

use super::sessions::RefreshContext;

/// Used when the operator does not choose: about 15 MB at most (an entry is the session, the user and the claims, ~1.5 KB).
pub const DEFAULT_ENTRIES: usize = 10_000;

#[derive(Debug)]
pub(super) struct RefreshCache {
    /// `None` when turned off (capacity 0).
    entries: Option<Mutex<LruCache<String, RefreshContext>>>,
}

impl RefreshCache {
    pub fn new(capacity: usize) -> RefreshCache {
        RefreshCache { entries: (capacity > 0).then(|| Mutex::new(LruCache::new(capacity))) }
    }

    /// Removes and returns the context kept for this session, if any.
    pub fn take(&self, session_id: &str) -> Option<RefreshContext> {
        self.entries.as_ref()?.lock().ok()?.remove(session_id)
    }

    /// Keeps a session's context after its token was rotated.
    pub fn put(&self, session_id: &str, context: RefreshContext) {
        if let Some(Ok(mut entries)) = self.entries.as_ref().map(Mutex::lock) {
            entries.insert(session_id.to_owned(), context);
        }
    }

    /// Whether the cache is on (callers skip building an entry otherwise).
    pub fn is_enabled(&self) -> bool {
        self.entries.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::Session;

    fn context(id: &str) -> RefreshContext {
        let session = Session {
            id: id.to_owned(),
            environment_id: "environment_1".into(),
            user_id: "user_1".into(),
            auth_method: "Password".into(),
            ip_address: None,
            user_agent: None,
            expires_at: 10,
            ended_at: None,
            created_at: 0,
            updated_at: 0,
            auth_time: 0,
            organization_id: None,
            impersonator_email: None,
            impersonator_reason: None,
        };
        let user = crate::domain::user::User {
            id: "user_1".into(),
            environment_id: "environment_1".into(),
            email: "a@example.com".into(),
            email_verified: true,
            first_name: None,
            last_name: None,
            profile_picture_url: None,
            external_id: None,
            metadata: serde_json::Map::new(),
            locale: None,
            password_hash: None,
            last_sign_in_at: None,
            created_at: 0,
            updated_at: 0,
        };
        RefreshContext {
            session,
            user,
            user_version: 0,
            generation: 1,
            refresh_hash: Some("hash".into()),
            refreshed_at: Some(0),
            refresh_claims: None,
        }
    }

    #[test]
    fn an_entry_is_taken_once() {
        let cache = RefreshCache::new(4);
        cache.put("session_1", context("session_1"));
        assert_eq!(cache.take("session_1").map(|c| c.session.id), Some("session_1".to_owned()));
        assert!(cache.take("session_1").is_none());
    }

    #[test]
    fn the_oldest_entries_go_first_when_full() {
        let cache = RefreshCache::new(2);
        cache.put("h1", context("s1"));
        cache.put("h2", context("s2"));
        cache.put("h3", context("s3"));
        assert!(cache.take("h1").is_none());
        assert!(cache.take("h2").is_some());
        assert!(cache.take("h3").is_some());
    }

    #[test]
    fn capacity_zero_turns_it_off() {
        let cache = RefreshCache::new(0);
        assert!(!cache.is_enabled());
        cache.put("h1", context("s1"));
        assert!(cache.take("h1").is_none());
    }
}
