//! Talking to an upstream provider: endpoints (preset, configured, or discovered from the
//! issuer), the authorization URL, the code exchange, ID-token verification with
//! `openidconnect` (signature against the provider's JWKS, issuer, audience, expiry, nonce),
//! userinfo, and GitHub's user and email API.
//!
//! Every request has a timeout and follows no redirects (see `Social::new`); responses are
//! read up to 1 MiB. Failures are typed so the caller can show the right page.

use openidconnect::core::{
    CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{AdditionalClaims, ClientId, IdToken, IssuerUrl, Nonce};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Social;
use crate::clock::Millis;
use crate::domain::provider::Kind;
use crate::domain::provider::StoredProvider;

const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Parameters Gatehouse sets itself; `provider_query_params` cannot override them.
const RESERVED_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "request",
    "request_uri",
];

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The provider could not be reached, timed out, answered 5xx or with something unreadable.
    #[error("{0}")]
    Unavailable(String),
    /// The provider refused the request (for example a spent or wrong code).
    #[error("{0}")]
    Rejected(String),
    /// The ID token failed verification (signature, issuer, audience, expiry, nonce).
    #[error("{0}")]
    InvalidIdToken(String),
    /// The provider's configuration in Gatehouse cannot work (e.g. a missing endpoint).
    #[error("{0}")]
    Misconfigured(String),
}

/// What Gatehouse learns about the person from a provider.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// The provider's stable identifier for the account (`sub`, GitHub's numeric ID).
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches that the person controls `email`.
    pub is_email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub picture: Option<String>,
}

/// Claims some providers add to ID tokens that matter here.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct ExtraClaims {
    /// Microsoft: the tenant, which the multi-tenant issuer template needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
    /// Microsoft: "email domain owner verified" (an optional claim the app must request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xms_edov: Option<Value>,
}

impl AdditionalClaims for ExtraClaims {}

type ProviderIdToken =
    IdToken<ExtraClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientAuth {
    /// `Authorization: Basic` (RFC 6749 §2.3.1; the OpenID Connect default).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

/// A provider ready to talk to: its client credentials and resolved endpoints.
pub struct Upstream {
    pub kind: Kind,
    client_id: String,
    client_secret: String,
    authorize_url: String,
    token_url: String,
    userinfo_url: Option<String>,
    emails_url: Option<String>,
    jwks_url: Option<String>,
    issuer: Option<String>,
    /// Microsoft's multi-tenant issuer, `…/{tenantid}/v2.0`, filled in from the `tid` claim.
    is_issuer_template: bool,
    client_auth: ClientAuth,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// The tokens of a successful code exchange.
pub struct Tokens {
    pub access_token: String,
    pub id_token: Option<String>,
}

fn unavailable(what: &str, e: &reqwest::Error) -> UpstreamError {
    let why = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not be reached"
    } else {
        "failed"
    };
    UpstreamError::Unavailable(format!("The request to the provider's {what} {why}."))
}

impl Social {
    /// Reads a response body (at most 1 MiB) as JSON.
    async fn read_json(&self, what: &str, mut res: reqwest::Response) -> Result<(StatusCode, Value), UpstreamError> {
        let status = res.status();
        let mut body = Vec::new();
        loop {
            match res.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err(UpstreamError::Unavailable(format!(
                            "The provider's {what} answered too much data."
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(unavailable(what, &e)),
            }
        }
        if status.is_server_error() || status.is_redirection() {
            return Err(UpstreamError::Unavailable(format!(
                "The provider's {what} answered HTTP {}.",
                status.as_u16()
            )));
        }
        let json = serde_json::from_slice(&body).map_err(|_| {
            UpstreamError::Unavailable(format!("The provider's {what} answered HTTP {} without JSON.", status.as_u16()))
        })?;
        Ok((status, json))
    }

    async fn get_json(
        &self,
        what: &str,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<(StatusCode, Value), UpstreamError> {
        let mut req = self.http.get(url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.map_err(|e| unavailable(what, &e))?;
        self.read_json(what, res).await
    }

    /// Resolves a provider's endpoints: configured values first, then the preset, then the
    /// issuer's discovery document (fetched only when something is still missing).
    pub async fn upstream(&self, p: &StoredProvider) -> Result<Upstream, UpstreamError> {
        let kind = Kind::parse(&p.kind)
            .ok_or_else(|| UpstreamError::Misconfigured(format!("Unknown provider kind '{}'.", p.kind)))?;
        let client_secret = self
            .secrets
            .open(&format!("provider:{}", p.id), &p.client_secret_sealed)
            .map_err(|e| UpstreamError::Misconfigured(format!("The provider's client secret cannot be read: {e}.")))?;
        let preset = kind.preset();
        let pick = |configured: &Option<String>, preset: Option<&str>| configured.clone().or(preset.map(str::to_owned));
        let mut up = Upstream {
            kind,
            client_id: p.client_id.clone(),
            client_secret,
            authorize_url: pick(&p.authorize_url, preset.authorize_url).unwrap_or_default(),
            token_url: pick(&p.token_url, preset.token_url).unwrap_or_default(),
            userinfo_url: pick(&p.userinfo_url, preset.userinfo_url),
            emails_url: pick(&p.emails_url, preset.emails_url),
            jwks_url: p.jwks_url.clone(),
            issuer: pick(&p.issuer, preset.issuer),
            is_issuer_template: false,
            client_auth: if kind.is_oidc() { ClientAuth::Basic } else { ClientAuth::Post },
        };
        let needs_discovery =
            kind.is_oidc() && (up.authorize_url.is_empty() || up.token_url.is_empty() || up.jwks_url.is_none());
        if needs_discovery {
            let issuer = up.issuer.clone().ok_or_else(|| {
                UpstreamError::Misconfigured("The provider has neither an issuer nor all of its endpoints.".into())
            })?;
            let url = format!("{issuer}/.well-known/openid-configuration");
            let (status, json) = self.get_json("discovery document", &url, None).await?;
            if !status.is_success() {
                return Err(UpstreamError::Unavailable(format!(
                    "The provider's discovery document answered HTTP {}.",
                    status.as_u16()
                )));
            }
            let doc: Discovery = serde_json::from_value(json).map_err(|e| {
                UpstreamError::Unavailable(format!("The provider's discovery document is not valid: {e}."))
            })?;
            if doc.issuer.trim_end_matches('/') != issuer {
                if kind == Kind::Microsoft && doc.issuer.contains("{tenantid}") {
                    up.is_issuer_template = true;
                    up.issuer = Some(doc.issuer.clone());
                } else {
                    return Err(UpstreamError::Misconfigured(format!(
                        "The discovery document names the issuer '{}', not '{issuer}'.",
                        doc.issuer
                    )));
                }
            } else {
                // Keep the issuer exactly as the provider writes it (ID tokens must match it).
                up.issuer = Some(doc.issuer.clone());
            }
            if up.authorize_url.is_empty() {
                up.authorize_url = doc.authorization_endpoint;
            }
            if up.token_url.is_empty() {
                up.token_url = doc.token_endpoint;
            }
            if up.userinfo_url.is_none() {
                up.userinfo_url = doc.userinfo_endpoint;
            }
            if up.jwks_url.is_none() {
                up.jwks_url = Some(doc.jwks_uri);
            }
            // The default is client_secret_basic (OpenID Connect Discovery §3).
            let methods = doc.token_endpoint_auth_methods_supported.unwrap_or_default();
            if !methods.is_empty()
                && !methods.iter().any(|m| m == "client_secret_basic")
                && methods.iter().any(|m| m == "client_secret_post")
            {
                up.client_auth = ClientAuth::Post;
            }
        }
        if kind == Kind::Apple {
            up.client_auth = ClientAuth::Post;
        }
        if up.authorize_url.is_empty() || up.token_url.is_empty() {
            return Err(UpstreamError::Misconfigured("The provider has no authorize or token endpoint.".into()));
        }
        Ok(up)
    }

    /// Exchanges an authorization code (with the PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        up: &Upstream,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, UpstreamError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let mut req = self.http.post(&up.token_url).header(reqwest::header::ACCEPT, "application/json");
        match up.client_auth {
            ClientAuth::Basic => {
                use base64::Engine as _;
                let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let pair = format!("{}:{}", enc(&up.client_id), enc(&up.client_secret));
                let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
                req = req.header(reqwest::header::AUTHORIZATION, value);
            }
            ClientAuth::Post => {
                form.push(("client_id", &up.client_id));
                form.push(("client_secret", &up.client_secret));
            }
        }
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let res = req
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| unavailable("token endpoint", &e))?;
        let (status, json) = self.read_json("token endpoint", res).await?;
        // GitHub reports errors with HTTP 200 and an `error` field.
        if let Some(error) = json.get("error").and_then(Value::as_str) {
            let description = json.get("error_description").and_then(Value::as_str).unwrap_or("");
            return Err(UpstreamError::Rejected(format!("The provider refused the code ({error}). {description}")));
        }
        if !status.is_success() {
            return Err(UpstreamError::Rejected(format!(
                "The provider's token endpoint answered HTTP {}.",
                status.as_u16()
            )));
        }
        let access_token =
            json.get("access_token").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(|| {
                UpstreamError::Unavailable("The provider's token response has no access_token.".into())
            })?;
        Ok(Tokens {
            access_token: access_token.to_owned(),
            id_token: json.get("id_token").and_then(Value::as_str).map(str::to_owned),
        })
    }

    /// Verifies an ID token and returns the profile it carries. `now` is Gatehouse's clock.
    pub async fn verify_id_token(
        &self,
        up: &Upstream,
        id_token: &str,
        nonce: &str,
        now: Millis,
    ) -> Result<Profile, UpstreamError> {
        let jwks_url = up
            .jwks_url
            .as_deref()
            .ok_or_else(|| UpstreamError::Misconfigured("The provider has no JWKS URL.".into()))?;
        let (status, jwks) = self.get_json("JWKS", jwks_url, None).await?;
        if !status.is_success() {
            return Err(UpstreamError::Unavailable(format!("The provider's JWKS answered HTTP {}.", status.as_u16())));
        }
        let jwks: CoreJsonWebKeySet = serde_json::from_value(jwks)
            .map_err(|e| UpstreamError::Unavailable(format!("The provider's JWKS is not valid: {e}.")))?;
        let issuer =
            up.issuer.clone().ok_or_else(|| UpstreamError::Misconfigured("The provider has no issuer.".into()))?;
        let issuer_url = IssuerUrl::new(issuer.clone())
            .map_err(|_| UpstreamError::Misconfigured(format!("The issuer '{issuer}' is not a URL.")))?;
        let token: ProviderIdToken = id_token
            .parse()
            .map_err(|e| UpstreamError::InvalidIdToken(format!("The ID token cannot be parsed: {e}.")))?;
        let now = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
        let verifier = CoreIdTokenVerifier::new_public_client(ClientId::new(up.client_id.clone()), issuer_url, jwks)
            .require_issuer_match(!up.is_issuer_template)
            .set_time_fn(move || now);
        let claims = token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|e| UpstreamError::InvalidIdToken(format!("The ID token is not valid: {e}.")))?;
        let extra = claims.additional_claims();
        if up.is_issuer_template {
            let tid = extra.tid.as_deref().unwrap_or_default();
            let expected = issuer.replace("{tenantid}", tid);
            if tid.is_empty() || claims.issuer().as_str() != expected {
                return Err(UpstreamError::InvalidIdToken("The ID token's issuer does not match its tenant.".into()));
            }
        }
        let email = claims.email().map(|e| e.as_str().to_owned());
        let is_email_verified = match up.kind {
            // Microsoft's email claim is not verified by default; only the optional
            // `xms_edov` claim vouches for it.
            Kind::Microsoft => is_truthy(extra.xms_edov.as_ref()),
            _ => claims.email_verified() == Some(true),
        };
        Ok(Profile {
            subject: claims.subject().as_str().to_owned(),
            email,
            is_email_verified,
            first_name: claims.given_name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
            last_name: claims.family_name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
            picture: claims.picture().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
        })
    }

    /// Fills what the ID token left out from the userinfo endpoint (when the provider has one).
    pub async fn complete_from_userinfo(
        &self,
        up: &Upstream,
        access_token: &str,
        profile: &mut Profile,
    ) -> Result<(), UpstreamError> {
        let needs = profile.email.is_none() || profile.first_name.is_none() || profile.last_name.is_none();
        let Some(url) = up.userinfo_url.as_deref().filter(|_| needs && up.kind != Kind::Microsoft) else {
            return Ok(());
        };
        let (status, info) = self.get_json("userinfo endpoint", url, Some(access_token)).await?;
        if !status.is_success() {
            return Err(UpstreamError::Rejected(format!(
                "The provider's userinfo endpoint answered HTTP {}.",
                status.as_u16()
            )));
        }
        // OpenID Connect Core §5.3.2: the sub must match, or the response must not be used.
        if info.get("sub").and_then(Value::as_str) != Some(profile.subject.as_str()) {
            return Err(UpstreamError::InvalidIdToken("The userinfo response is for another subject.".into()));
        }
        if profile.email.is_none() {
            profile.email = string(&info, "email");
            profile.is_email_verified = profile.email.is_some() && is_truthy(info.get("email_verified"));
        }
        if profile.first_name.is_none() {
            profile.first_name = string(&info, "given_name");
        }
        if profile.last_name.is_none() {
            profile.last_name = string(&info, "family_name");
        }
        if profile.first_name.is_none() && profile.last_name.is_none() {
            let (first, last) = split_name(string(&info, "name").as_deref());
            profile.first_name = first;
            profile.last_name = last;
        }
        if profile.picture.is_none() {
            profile.picture = string(&info, "picture");
        }
        Ok(())
    }

    /// GitHub (plain OAuth 2.0): the account from `/user`, and the primary email from
    /// `/user/emails`, verified only if GitHub says so.
    pub async fn github_profile(&self, up: &Upstream, access_token: &str) -> Result<Profile, UpstreamError> {
        let user_url = up
            .userinfo_url
            .as_deref()
            .ok_or_else(|| UpstreamError::Misconfigured("The provider has no user endpoint.".into()))?;
        let (status, user) = self.get_json("user endpoint", user_url, Some(access_token)).await?;
        if !status.is_success() {
            return Err(UpstreamError::Rejected(format!(
                "The provider's user endpoint answered HTTP {}.",
                status.as_u16()
            )));
        }
        let subject = match user.get("id") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(UpstreamError::Unavailable("The provider's user response has no id.".into())),
        };
        let (first_name, last_name) = split_name(string(&user, "name").as_deref());
        let mut profile = Profile {
            subject,
            email: string(&user, "email"),
            is_email_verified: false,
            first_name,
            last_name,
            picture: string(&user, "avatar_url"),
        };
        if let Some(emails_url) = up.emails_url.as_deref() {
            let (status, emails) = self.get_json("emails endpoint", emails_url, Some(access_token)).await?;
            if status.is_success() {
                let list = emails.as_array().cloned().unwrap_or_default();
                let primary = list.iter().find(|e| e.get("primary").and_then(Value::as_bool) == Some(true));
                if let Some(primary) = primary {
                    profile.email = string(primary, "email");
                    profile.is_email_verified =
                        profile.email.is_some() && primary.get("verified").and_then(Value::as_bool) == Some(true);
                }
            } else {
                // Without the user:email scope the public email stays unverified.
                tracing::warn!(status = status.as_u16(), "the provider's emails endpoint refused the request");
            }
        }
        Ok(profile)
    }
}

impl Upstream {
    /// The URL that sends the browser to the provider.
    #[allow(clippy::too_many_arguments)]
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        code_challenge: &str,
        scopes: &[String],
        login_hint: Option<&str>,
        extra: &[(String, String)],
    ) -> Result<String, UpstreamError> {
        let mut url = url::Url::parse(&self.authorize_url)
            .map_err(|_| UpstreamError::Misconfigured("The provider's authorize URL is not valid.".into()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", &self.client_id);
            q.append_pair("redirect_uri", redirect_uri);
            q.append_pair("scope", &scopes.join(" "));
            q.append_pair("state", state);
            q.append_pair("code_challenge", code_challenge);
            q.append_pair("code_challenge_method", "S256");
            if self.kind.is_oidc() {
                q.append_pair("nonce", nonce);
            }
            if self.kind == Kind::Apple && scopes.iter().any(|s| s == "email" || s == "name") {
                // Apple requires form_post when it is asked for the email or name.
                q.append_pair("response_mode", "form_post");
            }
            if let Some(hint) = login_hint {
                q.append_pair(if self.kind == Kind::GitHub { "login" } else { "login_hint" }, hint);
            }
            for (k, v) in extra {
                let is_hint_given = login_hint.is_some() && k == "login_hint";
                if !RESERVED_PARAMS.contains(&k.as_str()) && !is_hint_given {
                    q.append_pair(k, v);
                }
            }
        }
        Ok(url.to_string())
    }
}

fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `true`, `"true"` or `1` (providers disagree on JSON types for booleans).
fn is_truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true" || s == "1",
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

/// "Ada King Lovelace" → ("Ada", "King Lovelace").
fn split_name(name: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return (None, None);
    };
    match name.split_once(' ') {
        Some((first, last)) => (Some(first.to_owned()), Some(last.trim().to_owned()).filter(|l| !l.is_empty())),
        None => (Some(name.to_owned()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_booleans() {
        assert_eq!(split_name(Some("Ada King Lovelace")), (Some("Ada".into()), Some("King Lovelace".into())));
        assert_eq!(split_name(Some("Ada")), (Some("Ada".into()), None));
        assert_eq!(split_name(Some("  ")), (None, None));
        assert!(is_truthy(Some(&Value::String("true".into()))));
        assert!(!is_truthy(Some(&Value::String("false".into()))));
        assert!(!is_truthy(None));
    }
}
