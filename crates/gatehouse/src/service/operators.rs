//! The console's operators. Operators are the users of a hidden environment, the operator
//! realm: they sign in through Gatehouse's own hosted pages (passwords, passkeys, two-factor,
//! which the realm can require), and the console is an OAuth client of that realm (authorize,
//! then a PKCE code exchange made here, in process). The realm never issues API keys, never
//! appears in environment lists, and its users' tokens and cookies never open the console: only
//! the console's own sealed session cookie does.
//!
//! An operator's role (admin or viewer) is in the user's metadata, read on every request, so a
//! role change or removal applies at once. New operators come from one-time links (first
//! start, `gatehouse operators add`): there is never a default password.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::auth::{ClientAuth, Grant, RequestInfo};
use super::environments::LoadedEnvironment;
use super::users::{NewUser, UserPatch};
use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::crypto::secrets::{hash_secret, pkce_s256, random_token, secrets_equal};
use crate::domain::audit::{Actor, audit_event, target};
use crate::domain::environment::{Branding, Environment, Settings};
use crate::domain::listing::{ListOrder, UserQuery};
use crate::domain::redirect::with_query;
use crate::domain::session::SessionStatus;
use crate::domain::user::{User, normalize_email};

/// The name of the hidden environment whose users are the operators (not a name `env create`
/// accepts, so no one makes it by hand).
pub const OPERATOR_REALM: &str = "gatehouse-operators";

/// Where an operator's role lives in the realm user's metadata.
const ROLE_KEY: &str = "gatehouse_operator_role";

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;

/// An operator as the target of an audit event.
fn operator_target(user: &User) -> serde_json::Value {
    serde_json::json!({"type": "operator", "id": user.id, "email": user.email})
}

/// One-time operator links are server secrets named this plus the token's hash.
const INVITE_PREFIX: &str = "operator_invite:";
const INVITE_TTL_MS: Millis = 24 * HOUR;

/// A console session ends this long after sign-in, whatever happens.
pub const SESSION_ABSOLUTE_MS: Millis = 12 * HOUR;
/// A console session ends after this long without a request.
pub const SESSION_IDLE_MS: Millis = 30 * MINUTE;
/// How often a busy session's "last seen" is written back into its cookie.
const SEEN_STEP_MS: Millis = MINUTE;
/// A sign-in started must come back within this.
const FLOW_TTL_MS: Millis = 15 * MINUTE;

const SESSION_PURPOSE: &str = "console-session";
const FLOW_PURPOSE: &str = "console-sign-in";

/// What an operator may do in the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperatorRole {
    /// Everything.
    Admin,
    /// Read only: no change buttons, and every change refused.
    Viewer,
}

impl OperatorRole {
    pub fn parse(s: &str) -> Option<OperatorRole> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(OperatorRole::Admin),
            "viewer" => Some(OperatorRole::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Admin => "admin",
            OperatorRole::Viewer => "viewer",
        }
    }
}

/// The operator behind a console request.
#[derive(Clone, Debug)]
pub struct Operator {
    pub user_id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: OperatorRole,
    /// The realm session the console session stands on.
    pub session_id: String,
}

impl Operator {
    /// The operator as the actor of the changes it makes (the audit trail).
    pub fn actor(&self) -> Actor {
        Actor::Operator { id: self.user_id.clone(), email: self.email.clone() }
    }

    /// Whether this operator may change anything (admins only).
    pub fn can_change(&self) -> bool {
        self.role == OperatorRole::Admin
    }
}

/// An operator as listed.
#[derive(Clone, Debug)]
pub struct OperatorRecord {
    pub user: User,
    pub role: OperatorRole,
}

/// An open one-time operator link.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OperatorInvite {
    /// The address the new operator gets; `None` (the first start's link): they type it.
    pub email: Option<String>,
    pub role: OperatorRole,
    pub expires_at: Millis,
}

/// A console sign-in on its way through the hosted pages.
pub struct SignInStart {
    /// Where to send the browser (the realm's `/user_management/authorize`).
    pub authorize_url: String,
    /// The value of the flow cookie (sealed state and PKCE verifier) to check on the way back.
    pub flow: String,
}

#[derive(Serialize, Deserialize)]
struct Flow {
    state: String,
    verifier: String,
    started_at: Millis,
    /// Where the operator wanted to go (a console path).
    next: String,
}

#[derive(Serialize, Deserialize)]
struct ConsoleSession {
    /// The realm session.
    sid: String,
    uid: String,
    /// Signed in at.
    iat: Millis,
    /// Last request at (to within `SEEN_STEP_MS`).
    seen: Millis,
    /// The browser's user agent, hashed: a cookie copied to another browser does not work.
    ua: String,
}

/// A console session that is still good, and a renewed cookie value when "last seen" moved on.
pub struct OperatorSession {
    pub operator: Operator,
    pub renewed: Option<String>,
}

fn role_of(user: &User) -> Option<OperatorRole> {
    user.metadata.get(ROLE_KEY).and_then(|v| v.as_str()).and_then(OperatorRole::parse)
}

fn realm_settings(existing: &Settings) -> Settings {
    Settings {
        session_ttl_secs: SESSION_ABSOLUTE_MS / 1000,
        jwt_template: String::new(),
        sign_up_enabled: false,
        magic_auth_enabled: false,
        allow_localhost_origins: false,
        sign_out_redirect_uris: Vec::new(),
        password_reset_url: None,
        branding: Branding { app_name: "Gatehouse Dashboard".into(), ..existing.branding.clone() },
        ..existing.clone()
    }
}

fn user_agent_hash(user_agent: Option<&str>) -> String {
    hash_secret(user_agent.unwrap_or(""))
}

impl Core {
    /// The operator realm, created when absent.
    async fn operator_realm(&self) -> Result<Arc<LoadedEnvironment>> {
        let env = match self.store.find_environment_by_name(OPERATOR_REALM).await? {
            Some(env) => env,
            None => {
                self.create_environment(OPERATOR_REALM, &Actor::System).await?;
                let env = self
                    .store
                    .find_environment_by_name(OPERATOR_REALM)
                    .await?
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("the operator realm vanished")))?;
                // A new realm starts with the development redirect URIs: drop them.
                for uri in self.store.list_redirect_uris(&env.id).await? {
                    self.store.delete_redirect_uri(&env.id, &uri.id, self.now(), &[]).await?;
                }
                self.update_settings(&env, realm_settings(&env.settings), &Actor::System).await?
            }
        };
        self.load_environment(&env.client_id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the operator realm vanished")))
    }

    /// Whether `env` is the operator realm (which the API and the CLI never act on).
    pub fn is_operator_realm(env: &Environment) -> bool {
        env.name == OPERATOR_REALM
    }

    /// Makes the realm ready for a console whose sign-in callback is `callback`: created when
    /// absent, with its settings for operators and `callback` as its only redirect URI.
    pub async fn prepare_operator_realm(&self, callback: &str) -> Result<()> {
        let realm = self.operator_realm().await?;
        let wanted = realm_settings(&realm.settings);
        if wanted != realm.settings {
            self.update_settings(&realm, wanted, &Actor::System).await?;
        }
        let uris = self.store.list_redirect_uris(&realm.id).await?;
        if uris.len() == 1 && uris[0].uri == callback {
            return Ok(());
        }
        for uri in uris {
            self.store.delete_redirect_uri(&realm.id, &uri.id, self.now(), &[]).await?;
        }
        self.add_redirect_uri(&realm, callback, &Actor::System).await?;
        Ok(())
    }

    /// Every operator, oldest first.
    pub async fn list_operators(&self) -> Result<Vec<OperatorRecord>> {
        let realm = self.operator_realm().await?;
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let query = UserQuery {
                email: None,
                organization_id: None,
                limit: 100,
                before: None,
                after: after.clone(),
                order: ListOrder::Asc,
            };
            let page = self.store.list_users(&realm.id, &query).await?;
            after = page.users.last().map(|u| u.id.clone());
            out.extend(
                page.users.into_iter().filter_map(|user| role_of(&user).map(|role| OperatorRecord { user, role })),
            );
            if !page.has_more || after.is_none() {
                break;
            }
        }
        out.sort_by_key(|o| o.user.created_at);
        Ok(out)
    }

    /// A one-time link token that lets its holder become an operator with `role` (with the
    /// address `email`, or one they type when `None`), valid for a day. Kept hashed.
    pub async fn invite_operator(&self, email: Option<&str>, role: OperatorRole, actor: &Actor) -> Result<String> {
        let email = match email {
            Some(e) => Some(
                normalize_email(e)
                    .ok_or_else(|| Error::validation("email", "invalid_email", "Enter a valid email address."))?,
            ),
            None => None,
        };
        let realm = self.operator_realm().await?;
        if let Some(email) = &email
            && self.store.find_user_by_email(&realm.id, email).await?.is_some()
        {
            return Err(Error::validation("email", "operator_exists", format!("{email} is already an operator.")));
        }
        let token = random_token(32);
        let now = self.now();
        let invite = OperatorInvite { email, role, expires_at: now + INVITE_TTL_MS };
        let value = serde_json::to_string(&invite).map_err(|e| Error::Internal(e.into()))?;
        // The audit trail knows the link by its hash's start, never the link itself.
        let name = format!("{INVITE_PREFIX}{}", hash_secret(&token));
        let link_id = format!("operator_link_{}", &hash_secret(&token)[..12]);
        let event = audit_event(
            "gatehouse.operator.invited",
            actor,
            target("operator_link", &link_id),
            serde_json::Value::Null,
            serde_json::json!({
                "email": invite.email, "role": role.as_str(), "expires_at": crate::clock::iso8601(invite.expires_at),
            }),
        );
        self.store.put_server_secret_recording(&name, &value, &realm.id, now, &[event]).await?;
        Ok(token)
    }

    /// The open operator link behind `token`, if it is still good.
    pub async fn find_operator_invite(&self, token: &str) -> Result<Option<OperatorInvite>> {
        Ok(self.find_invite(token).await?.map(|(invite, _)| invite))
    }

    async fn find_invite(&self, token: &str) -> Result<Option<(OperatorInvite, String)>> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let name = format!("{INVITE_PREFIX}{}", hash_secret(token));
        let Some(value) = self.store.find_server_secret(&name).await? else { return Ok(None) };
        let invite: Option<OperatorInvite> = serde_json::from_str(&value).ok();
        Ok(invite.filter(|i| i.expires_at > self.now()).map(|i| (i, value)))
    }

    /// Deletes the operator links that have expired, or that no longer read as one, for the
    /// housekeeping purge; how many went. Each goes only if it is still the value read here
    /// (one conditional delete each: the links are few, an admin's handful).
    pub(super) async fn purge_expired_operator_links(&self) -> Result<u64> {
        let now = self.now();
        let mut removed = 0;
        for (name, value) in self.store.server_secrets_named(INVITE_PREFIX).await? {
            let open = serde_json::from_str::<OperatorInvite>(&value).is_ok_and(|i| i.expires_at > now);
            if !open && self.store.take_server_secret(&name, &value).await? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Spends an operator link: creates the operator with `email` (the link's own when it names
    /// one) and `password` (checked against the realm's policy first). The link works once.
    pub async fn accept_operator_invite(&self, token: &str, email: &str, password: &str) -> Result<OperatorRecord> {
        let expired = || {
            Error::validation("token", "invalid_link", "This link has expired or was used. Ask an admin for a new one.")
        };
        let (invite, value) = self.find_invite(token).await?.ok_or_else(expired)?;
        let email = invite.email.clone().unwrap_or_else(|| email.to_owned());
        let realm = self.operator_realm().await?;
        let mut metadata = serde_json::Map::new();
        metadata.insert(ROLE_KEY.into(), invite.role.as_str().into());
        let new = NewUser {
            email,
            password: Some(password.to_owned()),
            email_verified: true,
            metadata,
            ..NewUser::default()
        };
        let normalized = self.check_new_user(&realm, &new)?;
        if self.store.find_user_by_email(&realm.id, &normalized).await?.is_some() {
            return Err(Error::validation("email", "operator_exists", format!("{normalized} is already an operator.")));
        }
        let name = format!("{INVITE_PREFIX}{}", hash_secret(token));
        if !self.store.take_server_secret(&name, &value).await? {
            return Err(expired());
        }
        let role = invite.role;
        let user = self
            .create_user_recording(&realm, new, |user| {
                let actor = Actor::Operator { id: user.id.clone(), email: user.email.clone() };
                let after = serde_json::json!({"email": user.email, "role": role.as_str()});
                vec![audit_event(
                    "gatehouse.operator.created",
                    &actor,
                    operator_target(user),
                    serde_json::Value::Null,
                    after,
                )]
            })
            .await?;
        tracing::info!(user.id = %user.id, role = invite.role.as_str(), "operator created");
        Ok(OperatorRecord { user, role: invite.role })
    }

    async fn operator_by_email(&self, email: &str) -> Result<(Arc<LoadedEnvironment>, OperatorRecord)> {
        let realm = self.operator_realm().await?;
        let not_found = || Error::NotFound { kind: "Operator", id: email.to_owned() };
        let email = normalize_email(email).ok_or_else(not_found)?;
        let user = self.store.find_user_by_email(&realm.id, &email).await?.ok_or_else(not_found)?;
        let role = role_of(&user).ok_or_else(not_found)?;
        Ok((realm, OperatorRecord { user, role }))
    }

    /// Removes an operator: their account and every session they had end at once.
    pub async fn remove_operator(&self, email: &str, actor: &Actor) -> Result<()> {
        let (realm, op) = self.operator_by_email(email).await?;
        let before = serde_json::json!({"email": op.user.email, "role": op.role.as_str()});
        let event = audit_event(
            "gatehouse.operator.deleted",
            actor,
            operator_target(&op.user),
            before,
            serde_json::Value::Null,
        );
        self.delete_user_recording(&realm, &op.user.id, vec![event]).await
    }

    /// Changes an operator's role (applies from their next request).
    pub async fn set_operator_role(&self, email: &str, role: OperatorRole, actor: &Actor) -> Result<()> {
        let (realm, op) = self.operator_by_email(email).await?;
        if op.role == role {
            return Ok(());
        }
        let mut metadata = serde_json::Map::new();
        metadata.insert(ROLE_KEY.into(), role.as_str().into());
        let event = audit_event(
            "gatehouse.operator.updated",
            actor,
            operator_target(&op.user),
            serde_json::json!({"role": op.role.as_str()}),
            serde_json::json!({"role": role.as_str()}),
        );
        let patch = UserPatch { metadata: Some(metadata), ..UserPatch::default() };
        self.update_user_recording(&realm, &op.user.id, patch, vec![event]).await?;
        Ok(())
    }

    /// Whether operators must use a second factor (or a passkey) to sign in.
    pub async fn set_operator_two_factor_required(&self, required: bool, actor: &Actor) -> Result<()> {
        let realm = self.operator_realm().await?;
        if realm.settings.mfa_required == required {
            return Ok(());
        }
        let settings = Settings { mfa_required: required, ..realm.settings.clone() };
        settings.validate().map_err(|m| Error::validation("settings", "invalid_setting", m))?;
        let event = audit_event(
            "gatehouse.operator.two_factor_updated",
            actor,
            target("operator_realm", &realm.id),
            serde_json::json!({"two_factor_required": realm.settings.mfa_required}),
            serde_json::json!({"two_factor_required": required}),
        );
        self.store.update_environment_settings(&realm.id, &settings, self.now(), &[event]).await?;
        self.environments.forget(&realm.client_id);
        Ok(())
    }

    /// The operators' audit trail (links, new operators, removals, roles, the two-factor
    /// requirement), as `list_events` pages it; the realm's other events (its users' sign-ins)
    /// only when asked for by type.
    pub async fn list_operator_events(
        &self,
        mut filter: super::events::EventFilter,
    ) -> Result<(Vec<crate::domain::event::Event>, bool)> {
        let realm = self.operator_realm().await?;
        if filter.events.is_empty() {
            filter.audit = true;
        }
        self.list_events(&realm, filter).await
    }

    /// Whether operators must use a second factor.
    pub async fn operator_two_factor_required(&self) -> Result<bool> {
        Ok(self.operator_realm().await?.settings.mfa_required)
    }

    /// Starts a console sign-in: the hosted sign-in of the realm, coming back to `callback`
    /// (the realm's redirect URI) with a code for the PKCE verifier sealed in `flow`. `next` is
    /// the console path to open afterwards.
    pub async fn begin_operator_sign_in(&self, callback: &str, next: &str) -> Result<SignInStart> {
        let realm = self.operator_realm().await?;
        let flow =
            Flow { state: random_token(16), verifier: random_token(32), started_at: self.now(), next: next.to_owned() };
        let authorize_url = with_query(
            &format!("{}/user_management/authorize", self.config.public_url),
            &[
                ("client_id", realm.client_id.as_str()),
                ("redirect_uri", callback),
                ("response_type", "code"),
                ("provider", "authkit"),
                ("state", flow.state.as_str()),
                ("code_challenge", pkce_s256(&flow.verifier).as_str()),
                ("code_challenge_method", "S256"),
            ],
        );
        let plain = serde_json::to_string(&flow).map_err(|e| Error::Internal(e.into()))?;
        let flow = self.sealer.seal(FLOW_PURPOSE, &plain).map_err(|e| Error::Internal(e.into()))?;
        Ok(SignInStart { authorize_url, flow })
    }

    /// Finishes a console sign-in: checks `state` against the flow cookie, redeems the code
    /// with the flow's verifier, and makes sure the user is an operator. Returns the console
    /// session's cookie value and the path to open.
    pub async fn finish_operator_sign_in(
        &self,
        flow: &str,
        state: &str,
        code: &str,
        info: &RequestInfo,
    ) -> Result<(String, String)> {
        let refused = |m: &str| Error::validation("code", "console_sign_in", m.to_owned());
        let flow: Flow = self
            .sealer
            .open(FLOW_PURPOSE, flow)
            .ok()
            .and_then(|plain| serde_json::from_str(&plain).ok())
            .ok_or_else(|| refused("This sign-in was started in another browser or has expired. Sign in again."))?;
        if !secrets_equal(&flow.state, state) || self.now() - flow.started_at > FLOW_TTL_MS {
            return Err(refused("This sign-in was started in another browser or has expired. Sign in again."));
        }
        let realm = self.operator_realm().await?;
        let client = ClientAuth {
            client_id: realm.client_id.clone(),
            client_secret: None,
            stated_ip_address: None,
            stated_user_agent: None,
        };
        let grant = Grant::AuthorizationCode {
            code: code.to_owned(),
            code_verifier: Some(flow.verifier.clone()),
            redirect_uri: None,
            invitation_token: None,
        };
        let done = self.authenticate(&client, grant, info).await?;
        if role_of(&done.user).is_none() {
            self.store.revoke_session(&realm.id, &done.session_id, self.now(), &[]).await?;
            return Err(refused("This account is not an operator."));
        }
        let now = self.now();
        let session = ConsoleSession {
            sid: done.session_id,
            uid: done.user.id,
            iat: now,
            seen: now,
            ua: user_agent_hash(info.user_agent.as_deref()),
        };
        Ok((self.seal_console_session(&session)?, flow.next))
    }

    fn seal_console_session(&self, session: &ConsoleSession) -> Result<String> {
        let plain = serde_json::to_string(session).map_err(|e| Error::Internal(e.into()))?;
        self.sealer.seal(SESSION_PURPOSE, &plain).map_err(|e| Error::Internal(e.into()))
    }

    /// The operator behind a console session cookie, if the session is still good: sealed by
    /// this server, used in the browser it started in, under 12 hours old, used within the
    /// last 30 minutes, its realm session active, and its user still an operator.
    pub async fn operator_session(&self, cookie: &str, user_agent: Option<&str>) -> Result<Option<OperatorSession>> {
        let Some(session) = self
            .sealer
            .open(SESSION_PURPOSE, cookie)
            .ok()
            .and_then(|plain| serde_json::from_str::<ConsoleSession>(&plain).ok())
        else {
            return Ok(None);
        };
        let now = self.now();
        if !secrets_equal(&session.ua, &user_agent_hash(user_agent))
            || now - session.iat >= SESSION_ABSOLUTE_MS
            || now - session.seen >= SESSION_IDLE_MS
            || now < session.iat
        {
            return Ok(None);
        }
        let Some(realm_session) = self.store.find_session(&session.sid).await? else { return Ok(None) };
        if realm_session.status(now) != SessionStatus::Active || realm_session.user_id != session.uid {
            return Ok(None);
        }
        let realm = self.operator_realm().await?;
        if realm_session.environment_id != realm.id {
            return Ok(None);
        }
        let Some(user) = self.store.find_user(&realm.id, &session.uid).await? else { return Ok(None) };
        let Some(role) = role_of(&user) else { return Ok(None) };
        let name = match (&user.first_name, &user.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(f), None) => Some(f.clone()),
            (None, Some(l)) => Some(l.clone()),
            (None, None) => None,
        };
        let operator = Operator { user_id: user.id, email: user.email, name, role, session_id: session.sid.clone() };
        let renewed = if now - session.seen >= SEEN_STEP_MS {
            Some(self.seal_console_session(&ConsoleSession { seen: now, ..session })?)
        } else {
            None
        };
        Ok(Some(OperatorSession { operator, renewed }))
    }

    /// Ends the operator's realm session (sign-out).
    pub async fn end_operator_session(&self, operator: &Operator) -> Result<()> {
        self.sign_out(Some(&operator.session_id), None).await?;
        Ok(())
    }
}
