//! Access tokens: the claims Gatehouse puts in them and how they are signed.

use serde_json::{Map, Value, json};

use super::environments::LoadedEnvironment;
use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::domain::organization::OrganizationAccess;
use crate::domain::session::Session;
use crate::domain::user::User;
use crate::ids::new_id;

impl Core {
    /// The claims of a new access token for `user` in `session`, at `now`.
    ///
    /// The JWT template's claims come first; the registered claims (`iss`, `sub`, `sid`, `iat`,
    /// `exp`, `jti`, `auth_time`) are always Gatehouse's own and cannot be overridden by the
    /// template. `auth_time` (OpenID Connect Core §2) is when the user signed in to start the
    /// session: @workos-inc/node 12 refuses tokens without it, and authkit-nextjs's
    /// `checkRecentAuth` reads it.
    ///
    /// In an organization (`access`), `org_id`, `role`, `roles` and `permissions` say which one
    /// and what the membership may do there, with `entitlements` and `feature_flags` empty (as
    /// WorkOS sends them when none are set up).
    pub fn access_claims(
        &self,
        env: &LoadedEnvironment,
        user: &User,
        session: &Session,
        access: Option<&OrganizationAccess>,
        now: Millis,
    ) -> Result<Map<String, Value>> {
        let mut claims = match &env.template {
            Some(template) => {
                let context = json!({
                    "user": user.to_wire(),
                    "organization_id": access.map(|a| a.organization.id.as_str()),
                    "organization": access.map(|a| a.organization.to_template()),
                    "organization_membership": access.map(|a| json!({
                        "id": a.membership.id,
                        "role": a.membership.primary_role(),
                        "roles": a.membership.role_slugs,
                        "permissions": a.permissions,
                    })),
                });
                template.render(&context).map_err(|e| {
                    Error::Internal(anyhow::anyhow!("the JWT template of {} failed to render: {e}", env.name))
                })?
            }
            None => Map::new(),
        };
        let iat = now / 1000;
        claims.insert("iss".into(), json!(self.config.issuer(&env.client_id)));
        claims.insert("sub".into(), json!(user.id));
        claims.insert("sid".into(), json!(session.id));
        claims.insert("jti".into(), json!(new_id("").trim_start_matches('_')));
        claims.insert("iat".into(), json!(iat));
        claims.insert("exp".into(), json!(iat + env.settings.access_token_ttl_secs));
        claims.insert("auth_time".into(), json!(session.auth_time.div_euclid(1000)));
        if let Some(a) = access {
            claims.insert("org_id".into(), json!(a.organization.id));
            claims.insert("role".into(), json!(a.membership.primary_role()));
            claims.insert("roles".into(), json!(a.membership.role_slugs));
            claims.insert("permissions".into(), json!(a.permissions));
            claims.insert("entitlements".into(), json!([]));
            claims.insert("feature_flags".into(), json!([]));
        }
        Ok(claims)
    }

    /// Signs claims with the environment's active key.
    pub fn sign_access_token(&self, env: &LoadedEnvironment, claims: &Map<String, Value>) -> Result<String> {
        Ok(self.active_signing_key(env)?.sign(claims)?)
    }
}

impl Core {
    /// What the JWT template `source` adds to a token of the user with `email` (no organization),
    /// with the registered claims Gatehouse sets shown as they would be: for the console's preview.
    /// An invalid template or an unknown address is a validation error saying so.
    pub fn preview_claims(&self, env: &LoadedEnvironment, source: &str, user: &User) -> Result<Map<String, Value>> {
        let mut claims = if source.trim().is_empty() {
            Map::new()
        } else {
            let template = crate::domain::jwt_template::JwtTemplate::parse(source)
                .map_err(|e| Error::validation("content", "invalid_jwt_template", e.to_string()))?;
            let context = json!({
                "user": user.to_wire(),
                "organization_id": null,
                "organization": null,
                "organization_membership": null,
            });
            template
                .render(&context)
                .map_err(|e| Error::validation("content", "invalid_jwt_template", e.to_string()))?
        };
        let iat = self.now() / 1000;
        claims.insert("iss".into(), json!(self.config.issuer(&env.client_id)));
        claims.insert("sub".into(), json!(user.id));
        claims.insert("sid".into(), json!("session_…"));
        claims.insert("jti".into(), json!("…"));
        claims.insert("iat".into(), json!(iat));
        claims.insert("exp".into(), json!(iat + env.settings.access_token_ttl_secs));
        claims.insert("auth_time".into(), json!(iat));
        Ok(claims)
    }
}
