//! The identity: the same JSON object Convex's `ctx.auth.getUserIdentity()` returns.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// A verified identity. It can only be obtained from [`crate::Verifier`], so holding one proves the
/// token passed every check.
///
/// Its JSON form ([`UserIdentity::to_json_string`], or `Serialize`) has Convex's key order:
/// `tokenIdentifier`, `issuer`, `subject`, the other typed OIDC fields in struct order, then the
/// custom claims sorted by key. A custom claim whose name equals a typed key replaces that key's
/// value in place (Convex's flatten quirk, spec §3.4).
///
/// The JSON fields of a customJwt identity are materialised on first use ([`UserIdentity::get`],
/// [`UserIdentity::fields`], serialisation), so a caller that only needs the subject pays nothing for them.
#[derive(Clone)]
pub struct UserIdentity {
    token_identifier: OnceLock<String>,
    issuer: Text,
    subject: Text,
    /// The verified payload JSON, kept to build the fields lazily (customJwt).
    payload: Option<String>,
    built: OnceLock<Built>,
    expires_at: Option<i64>,
    provider_index: usize,
}

/// A string of the identity: a span of the payload JSON (a claim without escapes), or owned.
#[derive(Clone)]
pub(crate) enum Text {
    Span(usize, usize),
    Owned(String),
}

impl Text {
    /// `s` as a span of `payload` when it is borrowed from it, else owned.
    pub(crate) fn new(payload: &str, s: Cow<'_, str>) -> Text {
        if let Cow::Borrowed(b) = &s
            && let Some(start) = (b.as_ptr() as usize).checked_sub(payload.as_ptr() as usize)
            && let Some(end) = start.checked_add(b.len())
            && payload.get(start..end).is_some_and(|p| std::ptr::eq(p, *b))
        {
            return Text::Span(start, end);
        }
        Text::Owned(s.into_owned())
    }
}

// The same text as the derived form had when the fields were `String`s and the payload a `Vec<u8>`.
impl std::fmt::Debug for UserIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserIdentity")
            .field("token_identifier", &self.token_identifier)
            .field("issuer", &self.issuer())
            .field("subject", &self.subject())
            .field("payload", &self.payload.as_ref().map(|p| p.as_bytes()))
            .field("built", &self.built)
            .field("expires_at", &self.expires_at)
            .field("provider_index", &self.provider_index)
            .finish()
    }
}

#[derive(Clone, Debug, Default)]
struct Built {
    entries: Vec<(Cow<'static, str>, Value)>,
    shadowed: Vec<String>,
}

impl PartialEq for UserIdentity {
    fn eq(&self, other: &UserIdentity) -> bool {
        self.token_identifier() == other.token_identifier()
            && self.expires_at == other.expires_at
            && self.provider_index == other.provider_index
            && self.built().entries == other.built().entries
    }
}

impl UserIdentity {
    fn built(&self) -> &Built {
        self.built.get_or_init(|| match &self.payload {
            Some(json) => build_custom_jwt(self.issuer(), self.subject(), json),
            None => Built::default(),
        })
    }
    /// `"<iss>|<sub>"`, from the raw claims.
    pub fn token_identifier(&self) -> &str {
        self.token_identifier.get_or_init(|| format!("{}|{}", self.issuer(), self.subject()))
    }
    fn text<'s>(&'s self, t: &'s Text) -> &'s str {
        match t {
            Text::Span(a, b) => self.payload.as_deref().and_then(|p| p.get(*a..*b)).unwrap_or_default(),
            Text::Owned(s) => s,
        }
    }
    /// The raw `iss` claim.
    pub fn issuer(&self) -> &str {
        self.text(&self.issuer)
    }
    /// The raw `sub` claim.
    pub fn subject(&self) -> &str {
        self.text(&self.subject)
    }
    /// A field of the JSON object by key (`"email"`, `"org.id"`, `"tokenIdentifier"`, …).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.built().entries.iter().find(|(k, _)| k.as_ref() == key).map(|(_, v)| v)
    }
    /// All fields, in JSON order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.built().entries.iter().map(|(k, v)| (k.as_ref(), v))
    }
    /// The token's `exp` (seconds since 1970), for re-checking a held identity (WebSocket "TokenExpired").
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }
    /// Index of the provider that accepted the token.
    pub fn provider_index(&self) -> usize {
        self.provider_index
    }
    /// Custom claims that replaced a typed key (e.g. a claim named `issuer`); worth a warning in logs.
    pub fn shadowed_keys(&self) -> &[String] {
        &self.built().shadowed
    }
    /// The JSON object as a `serde_json::Value` (key order follows serde_json's map features).
    pub fn to_json(&self) -> Value {
        Value::Object(self.fields().map(|(k, v)| (k.to_string(), v.clone())).collect::<Map<String, Value>>())
    }
    /// The JSON text with Convex's key order, whatever serde_json features are enabled.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    /// Pretty-printed JSON text with Convex's key order.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl Serialize for UserIdentity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let built = self.built();
        let mut map = serializer.serialize_map(Some(built.entries.len()))?;
        for (k, v) in &built.entries {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

struct Builder {
    built: Built,
}

impl Builder {
    fn new(iss: &str, sub: &str) -> Builder {
        let mut entries = Vec::with_capacity(8);
        entries.extend([
            (Cow::Borrowed("tokenIdentifier"), Value::String(format!("{iss}|{sub}"))),
            (Cow::Borrowed("issuer"), Value::String(iss.to_string())),
            (Cow::Borrowed("subject"), Value::String(sub.to_string())),
        ]);
        Builder { built: Built { entries, shadowed: vec![] } }
    }
    fn typed(&mut self, key: &'static str, v: Option<Value>) {
        if let Some(v) = v {
            self.built.entries.push((Cow::Borrowed(key), v));
        }
    }
    fn custom(&mut self, claims: impl IntoIterator<Item = (String, Value)>) {
        for (k, v) in claims {
            if let Some(slot) = self.built.entries.iter_mut().find(|(key, _)| *key == k) {
                slot.1 = v;
                self.built.shadowed.push(k);
            } else {
                self.built.entries.push((Cow::Owned(k), v));
            }
        }
    }
}

fn identity(iss: Text, sub: Text, exp: Option<i64>, provider_index: usize) -> UserIdentity {
    UserIdentity {
        token_identifier: OnceLock::new(),
        issuer: iss,
        subject: sub,
        payload: None,
        built: OnceLock::new(),
        expires_at: exp,
        provider_index,
    }
}

const CUSTOM_JWT_EXCLUDED: &[&str] = &["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "fva"];

fn flatten_into(prefix: String, value: Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten_into(format!("{prefix}.{k}"), v, out);
            }
        }
        other => {
            out.insert(prefix, other);
        }
    }
}

/// `UserIdentity::from_custom_jwt`: only the three typed fields; every other non-registered claim,
/// nested objects flattened to dotted keys. The fields are built lazily from `payload_json`.
pub(crate) fn from_custom_jwt(
    iss: Text,
    sub: Text,
    exp: Option<i64>,
    payload_json: String,
    provider_index: usize,
) -> UserIdentity {
    let mut id = identity(iss, sub, exp, provider_index);
    id.payload = Some(payload_json);
    id
}

fn build_custom_jwt(iss: &str, sub: &str, payload_json: &str) -> Built {
    // Already parsed once during verification, so this cannot fail.
    let payload: crate::token::RawClaims<'_> = serde_json::from_str(payload_json).unwrap_or_default();
    // The payload map is sorted by key; only flattened objects need a re-sort.
    let mut flat: Vec<(String, Value)> = Vec::with_capacity(payload.len());
    let mut nested = false;
    for (k, raw) in payload.iter() {
        if CUSTOM_JWT_EXCLUDED.contains(&k.0.as_ref()) {
            continue;
        }
        let v: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        if v.is_object() {
            nested = true;
            let mut sub_claims = BTreeMap::new();
            flatten_into(k.0.to_string(), v, &mut sub_claims);
            flat.extend(sub_claims);
        } else {
            flat.push((k.0.to_string(), v));
        }
    }
    let mut b = Builder::new(iss, sub);
    if nested {
        b.custom(flat.into_iter().collect::<BTreeMap<_, _>>());
    } else {
        b.custom(flat);
    }
    b.built
}

/// Claims `oidc-rs` consumes (standard claims and ID-token claims) plus Convex's explicit drops.
const OIDC_CONSUMED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "jti",
    "nbf",
    "fva",
];
const OIDC_LOCALIZED: &[&str] = &["name", "given_name", "family_name", "nickname", "profile", "picture", "website"];

/// Checks the standard-claim types `oidc-rs` enforces when it parses an ID token.
pub(crate) fn check_oidc_claim_types(payload: &Map<String, Value>) -> Result<(), String> {
    let strings = [
        "name",
        "given_name",
        "family_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "phone_number",
        "nonce",
        "acr",
        "azp",
        "at_hash",
        "c_hash",
    ];
    for name in strings {
        if let Some(v) = payload.get(name)
            && !v.is_string()
            && !v.is_null()
        {
            return Err(format!("`{name}` must be a string, got {}", crate::token::kind(v)));
        }
    }
    for name in ["email_verified", "phone_number_verified"] {
        if let Some(v) = payload.get(name)
            && !v.is_boolean()
            && !v.is_null()
        {
            return Err(format!("`{name}` must be a boolean, got {}", crate::token::kind(v)));
        }
    }
    for name in ["updated_at", "auth_time"] {
        if let Some(v) = payload.get(name)
            && !v.is_number()
            && !v.is_null()
        {
            return Err(format!("`{name}` must be a number, got {}", crate::token::kind(v)));
        }
    }
    if let Some(v) = payload.get("address")
        && !v.is_object()
        && !v.is_null()
    {
        return Err(format!("`address` must be an object, got {}", crate::token::kind(v)));
    }
    if let Some(v) = payload.get("amr")
        && !(v.is_null() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
    {
        return Err("`amr` must be an array of strings".into());
    }
    Ok(())
}

/// `UserIdentity::from_token` (OIDC): standard claims to camelCase fields, the rest kept nested.
pub(crate) fn from_oidc(
    iss: String,
    sub: String,
    exp: Option<i64>,
    payload: &Map<String, Value>,
    provider_index: usize,
) -> UserIdentity {
    let s = |name: &str| payload.get(name).filter(|v| v.is_string()).cloned();
    let b_ = |name: &str| payload.get(name).filter(|v| v.is_boolean()).cloned();
    let mut b = Builder::new(&iss, &sub);
    b.typed("name", s("name"));
    b.typed("givenName", s("given_name"));
    b.typed("familyName", s("family_name"));
    b.typed("nickname", s("nickname"));
    b.typed("preferredUsername", s("preferred_username"));
    b.typed("profileUrl", s("profile"));
    b.typed("pictureUrl", s("picture"));
    b.typed("websiteUrl", s("website"));
    b.typed("email", s("email"));
    b.typed("emailVerified", b_("email_verified"));
    b.typed("gender", s("gender"));
    b.typed("birthday", s("birthdate"));
    b.typed("timezone", s("zoneinfo"));
    b.typed("language", s("locale"));
    b.typed("phoneNumber", s("phone_number"));
    b.typed("phoneNumberVerified", b_("phone_number_verified"));
    b.typed("address", payload.get("address").and_then(|a| a.get("formatted")).filter(|v| v.is_string()).cloned());
    b.typed(
        "updatedAt",
        payload.get("updated_at").and_then(Value::as_f64).map(|t| Value::String(rfc3339(t.round() as i64))),
    );
    let mut custom = BTreeMap::new();
    for (k, v) in payload {
        if OIDC_CONSUMED.contains(&k.as_str()) {
            continue;
        }
        if let Some((base, _locale)) = k.split_once('#')
            && OIDC_LOCALIZED.contains(&base)
        {
            continue;
        }
        custom.insert(k.clone(), v.clone());
    }
    b.custom(custom);
    let id = identity(Text::Owned(iss), Text::Owned(sub), exp, provider_index);
    let _ = id.built.set(b.built);
    id
}

/// chrono's `to_rfc3339()` form for a UTC timestamp: `2024-01-02T03:04:05+00:00`.
pub(crate) fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let mut y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    if m <= 2 {
        y += 1;
    }
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20+00:00");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00+00:00");
    }
}
