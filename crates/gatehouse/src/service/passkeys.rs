//! Passkeys (WebAuthn, with webauthn-rs): registration on the hosted account-security page,
//! and username-less sign-in (discoverable credentials, browser autofill) on the sign-in page.
//!
//! The relying-party ID is the host of the public URL and the only accepted origin is the
//! public URL's origin. Ceremony state is kept in the store between the options and the
//! browser's answer, taken out atomically (single use) and refused after five minutes. User
//! verification is required, so a passkey is a strong sign-in on its own.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url,
    Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::auth::RequestInfo;
use super::environments::SEC;
use super::error::FactorError;
use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::crypto::secrets::{hash_secret, random_token};
use crate::domain::environment::Environment;
use crate::domain::event::AuthenticationKind;
use crate::domain::factor::StoredPasskey;
use crate::domain::user::User;
use crate::ids::new_id;
use crate::store::Ceremony;

/// How long the browser has to answer a WebAuthn request.
pub const CEREMONY_TTL_MS: Millis = 300 * SEC;
const REGISTRATION: &str = "registration";
const AUTHENTICATION: &str = "authentication";
/// Passkeys per user.
const MAX_PASSKEYS: usize = 20;

/// The public URL as a relying-party origin, or why it cannot be one.
pub fn relying_party_origin(public_url: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(public_url).map_err(|e| format!("the public URL does not parse: {e}"))?;
    match url.host() {
        Some(url::Host::Domain(_)) => Ok(url),
        _ => Err("passkeys need a public URL with a host name (WebAuthn does not allow IP addresses); \
                  use e.g. http://localhost:8080"
            .into()),
    }
}

fn refused(message: &str) -> Error {
    Error::Factor(FactorError::Passkey(message.to_owned()))
}

/// The WebAuthn user handle of a user: the 128 bits of its ULID (no personal data).
fn user_handle(user_id: &str) -> Result<Uuid> {
    let ulid = user_id.rsplit('_').next().and_then(|u| ulid::Ulid::from_string(u).ok());
    ulid.map(|u| Uuid::from_u128(u.0))
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("user ID {user_id} is not a ULID")))
}

fn json_error(e: serde_json::Error) -> Error {
    Error::Internal(e.into())
}

impl Core {
    /// Whether passkeys work with this server's public URL.
    pub fn passkeys_available(&self) -> bool {
        self.mfa.passkey_origin.is_ok()
    }

    fn relying_party(&self, env: &Environment) -> Result<Webauthn> {
        let origin =
            self.mfa.passkey_origin.as_ref().map_err(|problem| refused(&format!("Passkeys are off: {problem}.")))?;
        let rp_id = origin.host_str().unwrap_or_default();
        WebauthnBuilder::new(rp_id, origin)
            .and_then(|b| b.rp_name(&env.settings.branding.app_name).build())
            .map_err(|e| Error::Internal(anyhow::anyhow!("WebAuthn relying party: {e}")))
    }

    async fn save_ceremony(&self, env: &Environment, user_id: &str, kind: &str, state: String) -> Result<String> {
        let id = random_token(24);
        let now = self.now();
        let ceremony = Ceremony { environment_id: env.id.clone(), user_id: user_id.to_owned(), state };
        self.store.insert_webauthn_ceremony(&hash_secret(&id), kind, &ceremony, now + CEREMONY_TTL_MS, now).await?;
        Ok(id)
    }

    async fn take_ceremony(&self, env: &Environment, id: &str, kind: &str) -> Result<Ceremony> {
        if id.is_empty() || id.len() > 64 {
            return Err(refused("The passkey request is invalid. Try again."));
        }
        self.store
            .consume_webauthn_ceremony(&hash_secret(id), kind, self.now())
            .await?
            .filter(|c| c.environment_id == env.id)
            .ok_or_else(|| refused("The passkey request has expired or was already used. Try again."))
    }

    pub async fn list_passkeys(&self, user: &User) -> Result<Vec<StoredPasskey>> {
        Ok(self.store.list_passkeys(&user.id).await?)
    }

    /// Options for `navigator.credentials.create()`: a discoverable credential with user
    /// verification, excluding the user's registered authenticators. Returns the ceremony ID.
    pub async fn start_passkey_registration(&self, env: &Environment, user: &User) -> Result<(String, Value)> {
        let rp = self.relying_party(env)?;
        let existing = self.store.list_passkeys(&user.id).await?;
        if existing.len() >= MAX_PASSKEYS {
            return Err(refused("You have registered the maximum number of passkeys. Remove one first."));
        }
        let exclude = existing.iter().filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok()).collect();
        let display = match (&user.first_name, &user.last_name) {
            (Some(f), Some(l)) => format!("{f} {l}"),
            (Some(f), None) => f.clone(),
            _ => user.email.clone(),
        };
        let (options, state) = rp
            .start_passkey_registration(user_handle(&user.id)?, &user.email, &display, Some(exclude))
            .map_err(|e| Error::Internal(anyhow::anyhow!("passkey registration options: {e}")))?;
        let mut options = serde_json::to_value(&options).map_err(json_error)?;
        // Passkeys must be discoverable to sign in without a username.
        if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection").and_then(Value::as_object_mut)
        {
            selection.insert("residentKey".into(), Value::from("required"));
            selection.insert("requireResidentKey".into(), Value::from(true));
        }
        let state = serde_json::to_string(&state).map_err(json_error)?;
        let id = self.save_ceremony(env, &user.id, REGISTRATION, state).await?;
        Ok((id, options))
    }

    /// Checks the browser's answer to a registration and keeps the passkey under `name`.
    pub async fn finish_passkey_registration(
        &self,
        env: &Environment,
        user: &User,
        ceremony_id: &str,
        credential: Value,
        name: &str,
    ) -> Result<StoredPasskey> {
        let name = name.trim();
        let name = if name.is_empty() { "Passkey" } else { name };
        if name.chars().count() > 64 {
            return Err(refused("Give the passkey a name of at most 64 characters."));
        }
        let ceremony = self.take_ceremony(env, ceremony_id, REGISTRATION).await?;
        if ceremony.user_id != user.id {
            return Err(refused("The passkey request belongs to another sign-in. Try again."));
        }
        let state: PasskeyRegistration = serde_json::from_str(&ceremony.state).map_err(json_error)?;
        let answer: RegisterPublicKeyCredential =
            serde_json::from_value(credential).map_err(|_| refused("The browser's passkey answer is malformed."))?;
        let passkey = self.relying_party(env)?.finish_passkey_registration(&answer, &state).map_err(|e| {
            tracing::info!(user.id = %user.id, error = %e, "passkey registration refused");
            refused("The passkey could not be registered. Try again.")
        })?;
        let now = self.now();
        let stored = StoredPasskey {
            id: new_id("passkey"),
            environment_id: env.id.clone(),
            user_id: user.id.clone(),
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            name: name.to_owned(),
            credential: serde_json::to_string(&passkey).map_err(json_error)?,
            last_used_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_passkey(&stored).await?;
        tracing::info!(user.id = %user.id, passkey.id = %stored.id, "passkey registered");
        Ok(stored)
    }

    pub async fn remove_passkey(&self, user: &User, passkey_id: &str) -> Result<()> {
        if !self.store.delete_passkey(&user.id, passkey_id).await? {
            return Err(Error::NotFound { kind: "Passkey", id: passkey_id.to_owned() });
        }
        tracing::info!(user.id = %user.id, passkey.id = %passkey_id, "passkey removed");
        Ok(())
    }

    /// Options for `navigator.credentials.get()` without a username (discoverable credentials,
    /// usable for autofill). Returns the ceremony ID.
    pub async fn start_passkey_sign_in(&self, env: &Environment) -> Result<(String, Value)> {
        let rp = self.relying_party(env)?;
        let (options, state) = rp
            .start_discoverable_authentication()
            .map_err(|e| Error::Internal(anyhow::anyhow!("passkey sign-in options: {e}")))?;
        let options = serde_json::to_value(&options).map_err(json_error)?;
        let state = serde_json::to_string(&state).map_err(json_error)?;
        let id = self.save_ceremony(env, "", AUTHENTICATION, state).await?;
        Ok((id, options))
    }

    /// Checks a passkey assertion from `client` and returns its user. Unknown or removed
    /// passkeys, another origin, a spent or expired challenge and a missing user verification
    /// are all refused.
    pub async fn finish_passkey_sign_in(
        &self,
        env: &Environment,
        ceremony_id: &str,
        credential: Value,
        client: &RequestInfo,
    ) -> Result<User> {
        let result: Result<User> = async {
            let ceremony = self.take_ceremony(env, ceremony_id, AUTHENTICATION).await?;
            let state: DiscoverableAuthentication = serde_json::from_str(&ceremony.state).map_err(json_error)?;
            let answer: PublicKeyCredential = serde_json::from_value(credential)
                .map_err(|_| refused("The browser's passkey answer is malformed."))?;
            let rp = self.relying_party(env)?;
            let (handle, credential_id) = rp
                .identify_discoverable_authentication(&answer)
                .map_err(|_| refused("The passkey did not identify a user."))?;
            let unknown = || refused("This passkey is not registered here (it may have been removed).");
            let stored = self
                .store
                .find_passkey_by_credential(&env.id, &URL_SAFE_NO_PAD.encode(credential_id))
                .await?
                .ok_or_else(unknown)?;
            if user_handle(&stored.user_id)? != handle {
                return Err(unknown());
            }
            let mut passkey: Passkey = serde_json::from_str(&stored.credential).map_err(json_error)?;
            let result = rp.finish_discoverable_authentication_v2(&answer, state, &passkey).map_err(|e| {
                tracing::info!(user.id = %stored.user_id, error = %e, "passkey sign-in refused");
                refused("The passkey could not be verified.")
            })?;
            if !result.user_verified() {
                return Err(refused("The passkey did not verify the user (PIN or biometrics)."));
            }
            passkey.update_credential(&result);
            let credential = serde_json::to_string(&passkey).map_err(json_error)?;
            self.store.update_passkey_use(&stored.id, &credential, self.now()).await?;
            let user = self.store.find_user(&env.id, &stored.user_id).await?.ok_or_else(unknown)?;
            tracing::info!(user.id = %user.id, passkey.id = %stored.id, "signed in with a passkey");
            Ok(user)
        }
        .await;
        if let Err(Error::Factor(FactorError::Passkey(message))) = &result {
            // Who tried is not known (the passkey did not prove anyone), only from where.
            let refused = ("passkey_failed", message.as_str());
            self.record_failed_sign_in(&env.id, AuthenticationKind::Passkey, None, None, Some(client), refused).await?;
        }
        self.counters.sign_in(super::counters::SignInMethod::Passkey, &result);
        result
    }
}
