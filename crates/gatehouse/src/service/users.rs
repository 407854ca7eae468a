//! User management: create (with a password or an imported hash), read, list, update, delete.

use serde_json::{Map, Value};

use super::{Core, Error, Result};
use crate::crypto::password::is_importable_hash;
use crate::domain::environment::Environment;
use crate::domain::event::NewEvent;
use crate::domain::listing::{UserPage, UserQuery};
use crate::domain::user::{User, is_single_script, normalize_email};
use crate::ids::new_id;
use crate::store::{InvalidEmail, LookAlikes};

/// A new user, already parsed from the wire.
#[derive(Debug, Default)]
pub struct NewUser {
    pub email: String,
    pub password: Option<String>,
    /// `(hash, type)`, for migrating users from another system.
    pub password_hash: Option<(String, String)>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email_verified: bool,
    pub external_id: Option<String>,
    pub metadata: Map<String, Value>,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub password: Option<String>,
    pub password_hash: Option<(String, String)>,
    pub external_id: Option<Option<String>>,
    pub locale: Option<Option<String>>,
    /// Keys with `null` values are removed.
    pub metadata: Option<Map<String, Value>>,
}

const MAX_METADATA_KEYS: usize = 50;
const MAX_NAME_CHARS: usize = 256;

impl Core {
    /// Every check `create_user` makes of its input before touching the store (the address,
    /// names, metadata, password policy); returns the normalised address. The uniform sign-up
    /// runs it for taken addresses too, so its refusals never depend on who has an account.
    pub fn check_new_user(&self, env: &Environment, new: &NewUser) -> Result<String> {
        let email = parse_new_email(&new.email)?;
        check_metadata(&new.metadata)?;
        check_optional_text("first_name", new.first_name.as_deref())?;
        check_optional_text("last_name", new.last_name.as_deref())?;
        if let (Some(password), None) = (&new.password, &new.password_hash) {
            let inputs =
                [email.as_str(), new.first_name.as_deref().unwrap_or(""), new.last_name.as_deref().unwrap_or("")];
            self.check_password(env, password, &inputs)?;
        }
        Ok(email)
    }

    pub async fn create_user(&self, env: &Environment, new: NewUser) -> Result<User> {
        self.create_user_recording(env, new, |_| Vec::new()).await
    }

    /// `create_user`, with more events (made from the new user) in the same transaction.
    pub(super) async fn create_user_recording(
        &self,
        env: &Environment,
        new: NewUser,
        more: impl FnOnce(&User) -> Vec<NewEvent>,
    ) -> Result<User> {
        let email = self.check_new_user(env, &new)?;
        let password_hash = match (&new.password, &new.password_hash) {
            (Some(_), Some(_)) => {
                return Err(Error::validation(
                    "password",
                    "invalid",
                    "Give either password or password_hash, not both.",
                ));
            }
            (Some(password), None) => Some(self.passwords.hash(password).await?),
            (None, Some((hash, kind))) => Some(check_import(hash, kind)?),
            (None, None) => None,
        };
        let now = self.now();
        let user = User {
            id: new_id("user"),
            environment_id: env.id.clone(),
            email,
            email_verified: new.email_verified,
            first_name: new.first_name.filter(|s| !s.is_empty()),
            last_name: new.last_name.filter(|s| !s.is_empty()),
            profile_picture_url: None,
            external_id: new.external_id.filter(|s| !s.is_empty()),
            metadata: new.metadata,
            locale: None,
            password_hash,
            last_sign_in_at: None,
            created_at: now,
            updated_at: now,
        };
        let mut events = vec![NewEvent::user("user.created", &user)];
        events.extend(more(&user));
        self.store.insert_user(&user, &events).await?;
        tracing::info!(user.id = %user.id, environment = %env.name, "user created");
        Ok(user)
    }

    pub async fn get_user(&self, env: &Environment, id: &str) -> Result<User> {
        self.store.find_user(&env.id, id).await?.ok_or_else(|| Error::NotFound { kind: "User", id: id.to_owned() })
    }

    /// A user by email (normalised as sign-in does), if there is one.
    pub async fn find_user_by_email(&self, env: &Environment, email: &str) -> Result<Option<User>> {
        let Some(email) = normalize_email(email) else { return Ok(None) };
        Ok(self.store.find_user_by_email(&env.id, &email).await?)
    }

    pub async fn get_user_by_external_id(&self, env: &Environment, external_id: &str) -> Result<User> {
        self.store
            .find_user_by_external_id(&env.id, external_id)
            .await?
            .ok_or_else(|| Error::NotFound { kind: "User", id: external_id.to_owned() })
    }

    pub async fn list_users(&self, env: &Environment, mut query: UserQuery) -> Result<UserPage> {
        if let Some(email) = &query.email {
            // An address that cannot exist matches nobody.
            query.email = Some(normalize_email(email).unwrap_or_else(|| email.clone()));
        }
        Ok(self.store.list_users(&env.id, &query).await?)
    }

    pub async fn update_user(&self, env: &Environment, id: &str, patch: UserPatch) -> Result<User> {
        self.update_user_recording(env, id, patch, Vec::new()).await
    }

    /// `update_user`, with more events in the same transaction.
    pub(super) async fn update_user_recording(
        &self,
        env: &Environment,
        id: &str,
        patch: UserPatch,
        more: Vec<NewEvent>,
    ) -> Result<User> {
        let mut user = self.get_user(env, id).await?;
        let before = NewEvent::user("user.updated", &user);
        let mut password_changed = false;
        if let Some(email) = &patch.email {
            let email = parse_email(email)?;
            if email != user.email {
                let email = parse_new_email(&email)?;
                user.email = email;
                user.email_verified = false;
            }
        }
        if let Some(v) = patch.email_verified {
            user.email_verified = v;
        }
        if let Some(v) = patch.first_name {
            check_optional_text("first_name", v.as_deref())?;
            user.first_name = v.filter(|s| !s.is_empty());
        }
        if let Some(v) = patch.last_name {
            check_optional_text("last_name", v.as_deref())?;
            user.last_name = v.filter(|s| !s.is_empty());
        }
        if let Some(v) = patch.external_id {
            user.external_id = v.filter(|s| !s.is_empty());
        }
        if let Some(v) = patch.locale {
            user.locale = v.filter(|s| !s.is_empty());
        }
        if let Some(changes) = patch.metadata {
            for (k, v) in changes {
                if v.is_null() {
                    user.metadata.remove(&k);
                } else {
                    user.metadata.insert(k, v);
                }
            }
            check_metadata(&user.metadata)?;
        }
        match (patch.password, patch.password_hash) {
            (Some(_), Some(_)) => {
                return Err(Error::validation(
                    "password",
                    "invalid",
                    "Give either password or password_hash, not both.",
                ));
            }
            (Some(password), None) => {
                let inputs = [
                    user.email.as_str(),
                    user.first_name.as_deref().unwrap_or(""),
                    user.last_name.as_deref().unwrap_or(""),
                ];
                self.check_password(env, &password, &inputs)?;
                user.password_hash = Some(self.passwords.hash(&password).await?);
                password_changed = true;
            }
            (None, Some((hash, kind))) => {
                user.password_hash = Some(check_import(&hash, &kind)?);
                password_changed = true;
            }
            (None, None) => {}
        }
        let now = self.now();
        // authkit-react compares updated_at to notice changes, so it must move forward.
        user.updated_at = now.max(user.updated_at + 1);
        let mut events = vec![NewEvent::user("user.updated", &user).with_before(before)];
        events.extend(more);
        if password_changed {
            self.store.update_user_revoking_sessions(&user, now, &events).await?;
        } else {
            self.store.update_user(&user, &events).await?;
        }
        Ok(user)
    }

    /// Gives every user stored before migration 10 its email skeleton (before serving: the
    /// look-alike check of new addresses relies on it).
    pub async fn backfill_email_skeletons(&self) -> Result<()> {
        let filled = self.store.backfill_email_skeletons().await?;
        if filled > 0 {
            tracing::info!(users = filled, "email skeletons computed for users stored before the look-alike check");
        }
        Ok(())
    }

    /// How many groups of users have look-alike addresses (for the start-up warning; reads every
    /// user's skeleton, so the server asks after it is ready).
    pub async fn count_email_look_alikes(&self) -> Result<usize> {
        Ok(self.store.email_look_alikes().await?.len())
    }

    /// Gives every user stored before migration 15 their search keys (the console's search).
    pub async fn prepare_search_keys(&self) -> Result<()> {
        let filled = self.store.backfill_search_keys().await?;
        if filled > 0 {
            tracing::info!(users = filled, "search keys computed for users stored before the console's search");
        }
        Ok(())
    }

    /// Groups of users (all environments) whose email addresses look alike.
    pub async fn email_look_alikes(&self) -> Result<Vec<LookAlikes>> {
        self.store.backfill_email_skeletons().await?;
        Ok(self.store.email_look_alikes().await?)
    }

    /// Users (all environments) whose stored address Gatehouse would refuse today: invisible
    /// characters, not NFC, mixed scripts (stored before those checks; reported, not changed).
    pub async fn invalid_emails(&self) -> Result<Vec<InvalidEmail>> {
        Ok(self.store.invalid_emails().await?)
    }

    pub async fn delete_user(&self, env: &Environment, id: &str) -> Result<()> {
        self.delete_user_recording(env, id, Vec::new()).await
    }

    /// `delete_user`, with more events in the same transaction.
    pub(super) async fn delete_user_recording(&self, env: &Environment, id: &str, more: Vec<NewEvent>) -> Result<()> {
        let user = self.get_user(env, id).await?;
        let mut events = vec![NewEvent::user("user.deleted", &user)];
        events.extend(more);
        if !self.store.delete_user(&env.id, id, self.now(), &events).await? {
            return Err(Error::NotFound { kind: "User", id: id.to_owned() });
        }
        tracing::info!(user.id = %id, environment = %env.name, "user deleted");
        Ok(())
    }

    /// Checks a new password against the environment's policy.
    pub fn check_password(&self, env: &Environment, password: &str, user_inputs: &[&str]) -> Result<()> {
        env.settings.password_policy.check(password, user_inputs).map_err(|p| Error::PasswordStrength(p.message()))
    }
}

fn parse_email(raw: &str) -> Result<String> {
    normalize_email(raw)
        .ok_or_else(|| Error::validation("email", "invalid_email", format!("'{raw}' is not a valid email address.")))
}

/// `parse_email` for an address about to be stored: also one script per part, so a Latin
/// address with a Cyrillic `а` in it cannot pass for the all-Latin one.
fn parse_new_email(raw: &str) -> Result<String> {
    let email = parse_email(raw)?;
    if !is_single_script(&email) {
        return Err(Error::validation(
            "email",
            "invalid_email",
            format!(
                "'{raw}' mixes writing systems (scripts) in one part of the address, so it could pass for another address."
            ),
        ));
    }
    Ok(email)
}

fn check_optional_text(field: &str, value: Option<&str>) -> Result<()> {
    if value.is_some_and(|v| v.chars().count() > MAX_NAME_CHARS || v.chars().any(char::is_control)) {
        return Err(Error::validation(
            field,
            "invalid",
            format!("{field} must be at most {MAX_NAME_CHARS} printable characters."),
        ));
    }
    Ok(())
}

pub(super) fn check_metadata(metadata: &Map<String, Value>) -> Result<()> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(Error::validation(
            "metadata",
            "invalid_metadata",
            format!("metadata can hold at most {MAX_METADATA_KEYS} keys."),
        ));
    }
    for (k, v) in metadata {
        if k.is_empty() || k.chars().count() > 40 {
            return Err(Error::validation("metadata", "invalid_metadata", "metadata keys must be 1 to 40 characters."));
        }
        match v {
            Value::String(s) if s.chars().count() <= 600 => {}
            _ => {
                return Err(Error::validation(
                    "metadata",
                    "invalid_metadata",
                    format!("metadata value '{k}' must be a string of at most 600 characters."),
                ));
            }
        }
    }
    Ok(())
}

fn check_import(hash: &str, kind: &str) -> Result<String> {
    if !matches!(kind, "bcrypt" | "argon2") {
        return Err(Error::validation(
            "password_hash_type",
            "unsupported_password_hash_type",
            format!("password_hash_type '{kind}' is not supported; use bcrypt or argon2."),
        ));
    }
    if !is_importable_hash(hash, kind) {
        return Err(Error::validation(
            "password_hash",
            "invalid_password_hash",
            format!("password_hash is not a valid {kind} hash."),
        ));
    }
    Ok(hash.to_owned())
}
