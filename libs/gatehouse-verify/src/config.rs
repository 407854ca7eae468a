//! `auth.config.ts`-shaped provider configuration, loaded from JSON with `${VAR}` interpolation,
//! checked with the same rules and messages Convex applies at push time.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::ConfigError;

/// A signature algorithm a customJwt provider may be configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048–8192-bit keys.
    RS256,
    /// ECDSA P-256 with SHA-256, raw `r‖s` signatures.
    ES256,
}

impl SignatureAlgorithm {
    /// `"RS256"` or `"ES256"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureAlgorithm::RS256 => "RS256",
            SignatureAlgorithm::ES256 => "ES256",
        }
    }
}

/// A `type: "customJwt"` provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomJwtProvider {
    pub(crate) issuer: String,
    pub(crate) application_id: Option<String>,
    pub(crate) jwks: String,
    pub(crate) algorithm: SignatureAlgorithm,
    pub(crate) env: BTreeMap<&'static str, Vec<String>>,
}

impl CustomJwtProvider {
    /// The issuer as stored by Convex (`https://` prepended when the config had no scheme).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// The applicationID, if configured.
    pub fn application_id(&self) -> Option<&str> {
        self.application_id.as_deref()
    }
    /// The JWKS URL (`https://`, `http://` or `data:`).
    pub fn jwks(&self) -> &str {
        &self.jwks
    }
    /// The configured algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }
}

/// An OIDC provider (`type: "oidc"` or no `type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcProvider {
    pub(crate) domain: String,
    pub(crate) application_id: String,
    pub(crate) env: BTreeMap<&'static str, Vec<String>>,
}

impl OidcProvider {
    /// The domain as stored by Convex (`https://` prepended when the config had no scheme).
    pub fn domain(&self) -> &str {
        &self.domain
    }
    /// The applicationID (required for OIDC).
    pub fn application_id(&self) -> &str {
        &self.application_id
    }
}

/// One entry of `providers`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// `type: "customJwt"`.
    CustomJwt(CustomJwtProvider),
    /// OIDC.
    Oidc(OidcProvider),
}

impl Provider {
    /// The issuer (customJwt) or domain (OIDC) tokens are matched against.
    pub fn issuer(&self) -> &str {
        match self {
            Provider::CustomJwt(p) => &p.issuer,
            Provider::Oidc(p) => &p.domain,
        }
    }

    /// The applicationID, if any.
    pub fn application_id(&self) -> Option<&str> {
        match self {
            Provider::CustomJwt(p) => p.application_id.as_deref(),
            Provider::Oidc(p) => Some(&p.application_id),
        }
    }

    /// Names of the environment variables interpolated into `field` (`issuer`, `domain`,
    /// `applicationID`, `jwks`), used for diagnoses.
    pub fn env_vars(&self, field: &str) -> &[String] {
        let env = match self {
            Provider::CustomJwt(p) => &p.env,
            Provider::Oidc(p) => &p.env,
        };
        env.get(field).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// Convex's description in the NoAuthProvider message, e.g. `CustomJWT(issuer=…, app_id=none)`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Provider::CustomJwt(p) => {
                format!("CustomJWT(issuer={}, app_id={})", p.issuer, p.application_id.as_deref().unwrap_or("none"))
            }
            Provider::Oidc(p) => format!("OIDC(domain={}, app_id={})", p.domain, p.application_id),
        }
    }
}

/// The parsed default export of `convex/auth.config.ts`: `{"providers": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    providers: Vec<Provider>,
}

// The serde shapes below deliberately mirror Convex's `SerializedAuthConfig` / `SerializedAuthInfo`
// so that schema errors carry the same serde wording.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SerializedAuthConfig {
    providers: Vec<SerializedAuthInfo>,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum SerializedAuthInfo {
    #[serde(rename = "customJwt")]
    CustomJwt {
        #[serde(rename = "applicationID")]
        application_id: Option<String>,
        issuer: String,
        jwks: String,
        algorithm: SignatureAlgorithm,
    },
    #[serde(untagged)]
    Oidc {
        #[serde(rename = "applicationID")]
        application_id: String,
        domain: String,
    },
}

const SEE_AUTH_DOCS: &str = "To learn more, see the auth documentation at https://docs.convex.dev/auth.";

fn schema_error(detail: impl std::fmt::Display) -> ConfigError {
    ConfigError::new(
        "AuthConfigNotMatchingSchemaError",
        format!("auth config file must include a list of provider credentials: {detail}"),
    )
}

/// Convex removes serde's trailing `at line N column M` (but keeps the space before it).
fn strip_position(message: &str) -> String {
    if let Some(idx) = message.rfind("at line ") {
        let tail = &message[idx + "at line ".len()..];
        let mut it = tail.splitn(3, ' ');
        let (line, word, col) = (it.next(), it.next(), it.next());
        let digits = |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        if digits(line) && word == Some("column") && digits(col) {
            return message[..idx].to_string();
        }
    }
    message.to_string()
}

impl AuthConfig {
    /// Parses the config, interpolating `${VAR}` from the process environment.
    pub fn from_json(json: &str) -> Result<AuthConfig, ConfigError> {
        AuthConfig::from_json_with_env(json, |name| std::env::var(name).ok())
    }

    /// Parses the config, interpolating `${VAR}` with `env` (tests, or a non-process environment).
    ///
    /// Interpolation applies inside JSON string values only: `${NAME}` (NAME = `[A-Za-z_][A-Za-z0-9_]*`)
    /// is replaced by the variable's value, and `$${` produces a literal `${`.
    /// An unset variable is an error, as `process.env.X` is at Convex push time.
    pub fn from_json_with_env(json: &str, env: impl Fn(&str) -> Option<String>) -> Result<AuthConfig, ConfigError> {
        if json.trim().is_empty() {
            return Err(missing_export());
        }
        let raw: Value = serde_json::from_str(json).map_err(|e| schema_error(strip_position(&e.to_string())))?;
        if raw.is_null() {
            return Err(missing_export());
        }
        let mut used: Vec<(Vec<String>, String)> = Vec::new();
        let mut path = Vec::new();
        let value = interpolate(raw, &env, &mut path, &mut used)?;
        let text = value.to_string();
        check_for_common_confusions(&value)?;
        let serialized: SerializedAuthConfig = serde_json::from_str(&text).map_err(|e| {
            let err = schema_error(strip_position(&e.to_string()));
            match schema_hint(&value) {
                Some(h) => err.hint(h),
                None => err,
            }
        })?;
        let mut providers = Vec::new();
        for (index, info) in serialized.providers.into_iter().enumerate() {
            let mut env_map: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
            for (p, var) in &used {
                if p.len() == 3 && p[0] == "providers" && p[1] == index.to_string() {
                    let field = match p[2].as_str() {
                        "issuer" => "issuer",
                        "domain" => "domain",
                        "applicationID" => "applicationID",
                        "jwks" => "jwks",
                        _ => continue,
                    };
                    env_map.entry(field).or_default().push(var.clone());
                }
            }
            providers.push(match info {
                SerializedAuthInfo::CustomJwt { application_id, issuer, jwks, algorithm } => {
                    Provider::CustomJwt(CustomJwtProvider {
                        issuer: issuer_url(&issuer)?,
                        application_id,
                        jwks,
                        algorithm,
                        env: env_map,
                    })
                }
                SerializedAuthInfo::Oidc { application_id, domain } => {
                    Provider::Oidc(OidcProvider { domain: issuer_url(&domain)?, application_id, env: env_map })
                }
            });
        }
        Ok(AuthConfig { providers })
    }

    /// Builds a config from providers already in memory (no Convex checks beyond the types).
    pub fn from_providers(providers: Vec<Provider>) -> AuthConfig {
        AuthConfig { providers }
    }

    /// The providers, in match order.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }
}

/// Names the first concrete schema problem (serde only says "data did not match any variant").
fn schema_hint(raw: &Value) -> Option<String> {
    let providers = raw.get("providers")?.as_array()?;
    for (i, p) in providers.iter().enumerate() {
        let Some(obj) = p.as_object() else {
            return Some(format!("provider at index {i} is not an object"));
        };
        let custom = obj.get("type").and_then(Value::as_str) == Some("customJwt");
        let required: &[&str] = if custom { &["issuer", "jwks", "algorithm"] } else { &["domain", "applicationID"] };
        for f in required {
            match obj.get(*f) {
                None => return Some(format!("provider at index {i}: missing `{f}`")),
                Some(Value::String(_)) => {}
                Some(_) => return Some(format!("provider at index {i}: `{f}` must be a string")),
            }
        }
        if custom {
            let alg = obj.get("algorithm").and_then(Value::as_str).unwrap_or("");
            if alg != "RS256" && alg != "ES256" {
                return Some(format!(
                    "provider at index {i}: `algorithm` must be \"RS256\" or \"ES256\" (case-sensitive)"
                ));
            }
            if !matches!(obj.get("applicationID"), None | Some(Value::Null) | Some(Value::String(_))) {
                return Some(format!("provider at index {i}: `applicationID` must be a string"));
            }
        }
    }
    None
}

fn missing_export() -> ConfigError {
    ConfigError::new(
        "AuthConfigMissingExportError",
        format!("auth config file is missing default export. {SEE_AUTH_DOCS}"),
    )
    .hint("the file is empty or `null`; it must contain {\"providers\": [...]}")
}

fn interpolate(
    value: Value,
    env: &impl Fn(&str) -> Option<String>,
    path: &mut Vec<String>,
    used: &mut Vec<(Vec<String>, String)>,
) -> Result<Value, ConfigError> {
    Ok(match value {
        Value::String(s) => Value::String(interpolate_str(&s, env, path, used)?),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                path.push(i.to_string());
                out.push(interpolate(item, env, path, used)?);
                path.pop();
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                path.push(k.clone());
                let v = interpolate(v, env, path, used)?;
                path.pop();
                out.insert(k, v);
            }
            Value::Object(out)
        }
        other => other,
    })
}

fn interpolate_str(
    s: &str,
    env: &impl Fn(&str) -> Option<String>,
    path: &[String],
    used: &mut Vec<(Vec<String>, String)>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(stripped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = stripped;
            continue;
        }
        if let Some(body) = after.strip_prefix("${")
            && let Some(end) = body.find('}')
        {
            let name = &body[..end];
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if valid {
                let Some(val) = env(name) else {
                    return Err(ConfigError::new(
                        "AuthConfigMissingEnvironmentVariable",
                        format!("Environment variable {name} is used in auth config file but its value was not set"),
                    )
                    .hint(format!("export {name}=… before starting (or write the value into the file)")));
                };
                out.push_str(&val);
                used.push((path.to_vec(), name.to_string()));
                rest = &body[end + 1..];
                continue;
            }
        }
        out.push('$');
        rest = &after[1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Convex's `check_for_common_confusions`, run on the raw JSON before the strict parse.
fn check_for_common_confusions(raw: &Value) -> Result<(), ConfigError> {
    let Some(Value::Array(providers)) = raw.as_object().and_then(|o| o.get("providers")) else {
        return Ok(());
    };
    for (index, provider) in providers.iter().enumerate() {
        let Value::Object(obj) = provider else { continue };
        let has_domain = obj.contains_key("domain");
        let has_issuer = obj.contains_key("issuer");
        let issuer = obj.get("issuer").and_then(|v| v.as_str());
        let has_bad_application_id = obj.contains_key("applicationId") || obj.contains_key("applicationid");
        let has_application_id = obj.contains_key("applicationID");
        let type_value = obj.get("type").and_then(|v| v.as_str()).unwrap_or("unknown");
        if has_bad_application_id {
            return Err(schema_error(format!(
                "Provider at index {index} must have applicationID property spelled lowercase 'application', capital I, capital D."
            )));
        }
        if type_value != "customJwt" && type_value != "oidc" && type_value != "unknown" {
            return Err(schema_error(format!("Provider at index {index} has unexpected 'type' value '{type_value}'")));
        }
        if type_value == "customJwt" && has_domain {
            return Err(schema_error(format!(
                "Provider at index {index} is a customJwt so cannot have a 'domain' specified"
            )));
        }
        let is_oidc = type_value == "oidc" || type_value == "unknown";
        if is_oidc && has_issuer {
            return Err(schema_error(format!(
                "Provider at index {index} is oidc so cannot have an 'issuer' specified."
            )));
        }
        if !has_application_id
            && (issuer == Some("https://api.workos.com/") || issuer == Some("https://api.workos.com"))
        {
            return Err(ConfigError::new(
                "InsecureConfiguration",
                format!(
                    "This auth configuration appears potentially insecure: Provider at index {index} has an issuer that is shared among many applications, so must to specify an ApplicationID to check against an `aud` field of a JWT."
                ),
            )
            .hint("add \"applicationID\": \"${WORKOS_CLIENT_ID}\" to that provider"));
        }
    }
    Ok(())
}

fn has_scheme(s: &str) -> bool {
    match s.find("://") {
        Some(0) | None => false,
        Some(i) => s[..i].chars().all(|c| c.is_alphanumeric() || c == '_'),
    }
}

/// Convex's `deserialize_issuer_url`: prepend `https://` when there is no scheme, allow only
/// http/https, and require a known TLD (or `localhost`) when the scheme was added.
fn issuer_url(original: &str) -> Result<String, ConfigError> {
    let err = |detail: String| {
        ConfigError::new("InvalidProviderDomainUrl", format!("Invalid provider domain URL \"{original}\": {detail}"))
    };
    if original.starts_with('"') {
        return Err(err("must not start with a quote".into())
            .hint("the value contains literal quotes; remove them from the env var or file"));
    }
    let had_scheme = has_scheme(original);
    let url = if had_scheme { original.to_string() } else { format!("https://{original}") };
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(err("must use HTTPS".into()));
    }
    let parsed = url::Url::parse(&url).map_err(|e| err(e.to_string()))?;
    if !had_scheme && !parsed.host_str().is_some_and(ends_with_tld) {
        return Err(err("Does not look like a URL (must have a scheme or end with a top-level domain)".into()));
    }
    Ok(url)
}

fn ends_with_tld(host: &str) -> bool {
    if host == "localhost" {
        return true;
    }
    let Some((_, maybe_tld)) = host.rsplit_once('.') else {
        return false;
    };
    tld::exist(maybe_tld)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_position_keeps_space() {
        assert_eq!(strip_position("missing field `x` at line 1 column 20"), "missing field `x` ");
        assert_eq!(strip_position("no position"), "no position");
    }

    #[test]
    fn interpolation_escape() {
        let env = |n: &str| (n == "A").then(|| "1".to_string());
        let mut used = vec![];
        assert_eq!(interpolate_str("x${A}y$${A}z$", &env, &[], &mut used).unwrap(), "x1y${A}z$");
    }
}
