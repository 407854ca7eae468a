//! Sessions: listing, revocation and the browser sign-out.

use super::{Core, Error, Result};
use crate::domain::environment::Environment;
use crate::domain::event::NewEvent;
use crate::domain::redirect::is_allowed_return_to;
use crate::domain::session::Session;

impl Core {
    pub async fn revoke_session(&self, env: &Environment, session_id: &str) -> Result<()> {
        let Some(session) = self.store.find_session(session_id).await?.filter(|s| s.environment_id == env.id) else {
            return Err(Error::NotFound { kind: "Session", id: session_id.to_owned() });
        };
        let now = self.now();
        let events = [NewEvent::session(&session, true, now)];
        self.store.revoke_session(&env.id, session_id, now, &events).await?;
        Ok(())
    }

    pub async fn list_user_sessions(
        &self,
        env: &Environment,
        user_id: &str,
        limit: u32,
        after: Option<&str>,
        ascending: bool,
    ) -> Result<(Vec<Session>, bool)> {
        self.get_user(env, user_id).await?;
        Ok(self.store.list_user_sessions(user_id, limit, after, ascending).await?)
    }

    /// Ends the session (if any) and decides where the browser may go next: `return_to` when it
    /// is allowed for the session's environment, the environment's default sign-out URL when no
    /// `return_to` was given, else `None` (show the signed-out page).
    pub async fn sign_out(&self, session_id: Option<&str>, return_to: Option<&str>) -> Result<Option<String>> {
        let session = match session_id {
            Some(id) if !id.is_empty() => self.store.find_session(id).await?,
            _ => None,
        };
        let Some(session) = session else {
            // Unknown or already-ended session: still honour a return_to that some environment allows.
            let Some(return_to) = return_to else {
                return Ok(None);
            };
            for env in self.store.list_environments().await? {
                if self.return_to_allowed(&env, return_to).await? {
                    return Ok(Some(return_to.to_owned()));
                }
            }
            return Ok(None);
        };
        let now = self.now();
        let events = [NewEvent::session(&session, true, now)];
        self.store.revoke_session(&session.environment_id, &session.id, now, &events).await?;
        let Some(env) = self.store.find_environment(&session.environment_id).await? else {
            return Ok(None);
        };
        // Without return_to, the environment's first sign-out URL is the default (as the
        // "sign-out redirect" of WorkOS's dashboard is).
        let Some(return_to) = return_to else {
            return Ok(env.settings.sign_out_redirect_uris.first().cloned());
        };
        Ok(self.return_to_allowed(&env, return_to).await?.then(|| return_to.to_owned()))
    }

    async fn return_to_allowed(&self, env: &Environment, return_to: &str) -> Result<bool> {
        let redirect_uris: Vec<String> =
            self.store.list_redirect_uris(&env.id).await?.into_iter().map(|r| r.uri).collect();
        Ok(is_allowed_return_to(return_to, &env.settings.sign_out_redirect_uris, &redirect_uris))
    }
}
