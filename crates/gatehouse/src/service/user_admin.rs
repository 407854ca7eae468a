//! Users as an operator sees them in the console: search by the start of an email address or
//! name, a user's whole picture (identities, factors, passkeys, sessions, recent sign-ins), and
//! the operator's actions on it. Each action is the use case the API or the hosted pages
//! already run; this module only gathers and checks ownership.

use super::environments::LoadedEnvironment;
use super::{Core, Error, Result};
use crate::domain::environment::Environment;
use crate::domain::factor::{AuthFactor, StoredPasskey};
use crate::domain::identity::Identity;
use crate::domain::listing::{Cursor, ListOrder, Page, UserQuery};
use crate::domain::session::{Session, SessionStatus};
use crate::domain::user::User;
use crate::domain::user_search::{MAX_PAGE, SearchRange, UserSearch, search_key};
use crate::store::UserEvent;

/// A user's sessions shown on their page (the newest; older ones are on the sessions page).
const SESSIONS_SHOWN: u32 = 50;
/// Refused sign-ins shown on a user's page, and how many of the environment's newest refusals
/// are looked through to find them (events carry the user in their payload only).
const REFUSALS_SHOWN: u32 = 10;
const REFUSALS_SCANNED: u32 = 5_000;

/// The refused sign-in events a user's page lists.
pub const FAILED_SIGN_IN_EVENTS: &[&str] = &[
    "authentication.password_failed",
    "authentication.email_verification_failed",
    "authentication.magic_auth_failed",
    "authentication.mfa_failed",
    "authentication.oauth_failed",
    "authentication.passkey_failed",
];

/// A search as asked for (a query string and a cursor from a link).
#[derive(Clone, Debug, Default)]
pub struct SearchRequest {
    pub query: String,
    /// Continue after this user (a user ID, from the page's `next`)…
    pub after: Option<String>,
    /// …or go back before this one (`previous`).
    pub before: Option<String>,
    pub limit: u32,
}

/// A page of users, with the cursors of its links.
#[derive(Clone, Debug)]
pub struct UserListPage {
    pub users: Vec<User>,
    /// Continue after the last user (there are more).
    pub next: Option<String>,
    /// Go back before the first user (there are some).
    pub previous: Option<String>,
}

/// Everything a user's page shows.
#[derive(Clone, Debug)]
pub struct UserOverview {
    pub user: User,
    pub identities: Vec<Identity>,
    pub factors: Vec<AuthFactor>,
    pub passkeys: Vec<StoredPasskey>,
    /// Live sessions, newest first.
    pub active_sessions: Vec<Session>,
    /// The newest sessions whatever their state (each is a sign-in), newest first.
    pub recent_sign_ins: Vec<Session>,
    /// Refused sign-ins from the event log, newest first.
    pub refused_sign_ins: Vec<UserEvent>,
}

impl Core {
    /// One page of users, newest first: with a query, those whose email address, full name or
    /// last name starts with it (any case); without one, every user.
    pub async fn search_users(&self, env: &Environment, req: SearchRequest) -> Result<UserListPage> {
        let limit = req.limit.clamp(1, MAX_PAGE);
        let check = |field: &str, cursor: Option<String>| -> Result<Option<String>> {
            match cursor.filter(|c| !c.is_empty()) {
                Some(c) if !is_id(&c) => Err(Error::validation(
                    field,
                    "invalid_cursor",
                    "The page link is not valid; start the search again.",
                )),
                c => Ok(c),
            }
        };
        let before = check("before", req.before)?;
        let after = check("after", req.after)?.filter(|_| before.is_none());
        let moved = before.is_some() || after.is_some();
        let backward = before.is_some();
        let page = match SearchRange::of(&req.query) {
            Some(range) => self.store.search_users(&env.id, &UserSearch { range, after, before, limit }).await?,
            None => {
                let query =
                    UserQuery { email: None, organization_id: None, limit, before, after, order: ListOrder::Desc };
                self.store.list_users(&env.id, &query).await?
            }
        };
        let (more_after, more_before) = if backward { (true, page.has_more) } else { (page.has_more, moved) };
        Ok(UserListPage {
            next: page.users.last().filter(|_| more_after).map(|u| u.id.clone()),
            previous: page.users.first().filter(|_| more_before).map(|u| u.id.clone()),
            users: page.users,
        })
    }

    /// A user with everything their console page shows.
    pub async fn user_overview(&self, env: &Environment, id: &str) -> Result<UserOverview> {
        let user = self.get_user(env, id).await?;
        let identities = self.list_identities(env, &user.id).await?;
        let factors = self.verified_factors(&user.id).await?;
        let passkeys = self.list_passkeys(&user).await?;
        let (recent_sign_ins, _) = self.store.list_user_sessions(&user.id, SESSIONS_SHOWN, None, false).await?;
        let now = self.now();
        let active_sessions =
            recent_sign_ins.iter().filter(|s| s.status(now) == SessionStatus::Active).cloned().collect();
        let refused_sign_ins = self
            .store
            .recent_events_of_user(&env.id, FAILED_SIGN_IN_EVENTS, &user.id, REFUSALS_SCANNED, REFUSALS_SHOWN)
            .await?;
        Ok(UserOverview { user, identities, factors, passkeys, active_sessions, recent_sign_ins, refused_sign_ins })
    }

    /// Ends every session of the user (a `session.revoked` event each); returns how many.
    pub async fn revoke_user_sessions(&self, env: &Environment, user_id: &str) -> Result<usize> {
        let user = self.get_user(env, user_id).await?;
        let ended = self.store.end_user_sessions(&env.id, &user.id, self.now()).await?;
        tracing::info!(user.id = %user.id, sessions = ended, "every session of the user ended");
        Ok(ended)
    }

    /// Ends one session, if it is the user's.
    pub async fn revoke_user_session(&self, env: &Environment, user_id: &str, session_id: &str) -> Result<()> {
        match self.store.find_session(session_id).await? {
            Some(s) if s.user_id == user_id && s.environment_id == env.id => self.revoke_session(env, session_id).await,
            _ => Err(Error::NotFound { kind: "Session", id: session_id.to_owned() }),
        }
    }

    /// Removes one of the user's authenticator apps.
    pub async fn remove_user_factor(&self, env: &Environment, user_id: &str, factor_id: &str) -> Result<()> {
        let factor = self.get_factor(env, factor_id).await?;
        if factor.user_id.as_deref() != Some(user_id) {
            return Err(Error::NotFound { kind: "Authentication Factor", id: factor_id.to_owned() });
        }
        self.delete_factor(env, factor_id).await
    }

    /// Removes one of the user's passkeys.
    pub async fn remove_user_passkey(&self, env: &Environment, user_id: &str, passkey_id: &str) -> Result<()> {
        let user = self.get_user(env, user_id).await?;
        self.remove_passkey(&user, passkey_id).await
    }

    /// Emails the user a password-reset link (as `POST /user_management/password_reset` does).
    pub async fn send_user_password_reset(&self, env: &LoadedEnvironment, user_id: &str) -> Result<()> {
        let user = self.get_user(env, user_id).await?;
        self.create_password_reset(env, &user.email).await?;
        Ok(())
    }

    /// Emails the user a verification code (refused when the address is already verified).
    pub async fn send_user_verification(&self, env: &LoadedEnvironment, user_id: &str) -> Result<()> {
        let user = self.get_user(env, user_id).await?;
        self.send_verification_email(env, &user).await?;
        Ok(())
    }

    /// One page of the environment's live sessions, newest first.
    pub async fn list_live_sessions(&self, env: &Environment, cursor: Cursor) -> Result<Page<Session>> {
        Ok(self.store.list_live_sessions(&env.id, self.now(), &cursor).await?)
    }
}

fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether a query would search (rather than list everyone).
pub fn is_search(query: &str) -> bool {
    search_key(query).is_some()
}
