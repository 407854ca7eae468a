//! Linked identities (`GET /user_management/users/{id}/identities`, a bare array) and Gatehouse's
//! own `oauth_provider` object (`/user_management/providers`, not in WorkOS's document).

use serde::Serialize;

use super::time;
use crate::domain::identity::Identity as DomainIdentity;
use crate::domain::provider::StoredProvider;

#[derive(Serialize)]
pub struct Identity<'a> {
    idp_id: &'a str,
    #[serde(rename = "type")]
    identity_type: &'static str,
    provider: &'a str,
}

impl<'a> From<&'a DomainIdentity> for Identity<'a> {
    fn from(i: &'a DomainIdentity) -> Identity<'a> {
        // WorkOS spells GitHub `GithubOAuth` in identities (its document's enum; @workos-inc/node
        // maps it to `GitHubOAuth` for callers), though `GitHubOAuth` everywhere else.
        let provider = if i.provider == "GitHubOAuth" { "GithubOAuth" } else { i.provider.as_str() };
        Identity { idp_id: &i.idp_id, identity_type: "OAuth", provider }
    }
}

#[derive(Serialize)]
pub struct OAuthProvider<'a> {
    object: &'static str,
    id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    label: String,
    client_id: &'a str,
    scopes: Vec<&'a str>,
    display_name: Option<&'a str>,
    icon_url: Option<&'a str>,
    enabled: bool,
    issuer: Option<&'a str>,
    authorize_url: Option<&'a str>,
    token_url: Option<&'a str>,
    userinfo_url: Option<&'a str>,
    emails_url: Option<&'a str>,
    jwks_url: Option<&'a str>,
    callback_url: String,
    created_at: String,
    updated_at: String,
}

impl<'a> OAuthProvider<'a> {
    /// `label` is the name shown on the button; `callback_url` the URL to register upstream.
    pub fn new(p: &'a StoredProvider, label: String, callback_url: String) -> OAuthProvider<'a> {
        OAuthProvider {
            object: "oauth_provider",
            id: &p.id,
            name: &p.name,
            kind: &p.kind,
            label,
            client_id: &p.client_id,
            scopes: p.scopes.split(' ').filter(|s| !s.is_empty()).collect(),
            display_name: p.display_name.as_deref(),
            icon_url: p.icon_url.as_deref(),
            enabled: p.is_enabled,
            issuer: p.issuer.as_deref(),
            authorize_url: p.authorize_url.as_deref(),
            token_url: p.token_url.as_deref(),
            userinfo_url: p.userinfo_url.as_deref(),
            emails_url: p.emails_url.as_deref(),
            jwks_url: p.jwks_url.as_deref(),
            callback_url,
            created_at: time(p.created_at),
            updated_at: time(p.updated_at),
        }
    }
}
