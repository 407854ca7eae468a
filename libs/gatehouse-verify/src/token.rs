//! Unverified token parsing: the payload decode Convex does before picking a provider, and the
//! JOSE header decode used for key selection.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The registered claims, typed as biscuit's `RegisteredClaims` requires.
#[derive(Debug, Default)]
pub(crate) struct Registered {
    pub(crate) iss: Option<String>,
    pub(crate) sub: Option<String>,
    pub(crate) aud: Option<Vec<String>>,
    pub(crate) exp: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) iat: Option<i64>,
}

/// A token whose payload has been decoded but whose signature has not been checked.
/// Nothing outside this crate can see the claims before verification.
#[derive(Debug)]
pub(crate) struct Unverified<'a> {
    pub(crate) parts: Vec<&'a str>,
    pub(crate) payload: Map<String, Value>,
    pub(crate) claims: Registered,
}

/// Why the unverified decode failed (for the diagnosis; the Convex message is always the same).
pub(crate) enum ParseFailure {
    Format(String),
    ClaimType(String),
}

fn numeric_date(name: &str, v: &Value) -> Result<Option<i64>, ParseFailure> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            let f = n.as_f64().unwrap_or(f64::NAN);
            // biscuit accepts fractional seconds and rounds them.
            if f.is_finite() && f.abs() < 9.0e15 {
                Ok(Some(f.round() as i64))
            } else {
                Err(ParseFailure::ClaimType(format!("`{name}` is out of range")))
            }
        }
        other => Err(ParseFailure::ClaimType(format!("`{name}` must be a number (seconds since 1970), got {}", kind(other)))),
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string_claim(name: &str, v: Option<&Value>) -> Result<Option<String>, ParseFailure> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ParseFailure::ClaimType(format!("`{name}` must be a string, got {}", kind(other)))),
    }
}

pub(crate) fn decode_segment(seg: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(seg).ok()
}

pub(crate) fn decode_json_object(seg: &str) -> Result<Map<String, Value>, String> {
    let bytes = decode_segment(seg).ok_or("is not valid unpadded base64url")?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("is JSON {} rather than an object", kind(&other))),
        Err(e) => Err(format!("is not JSON ({e})")),
    }
}

impl<'a> Unverified<'a> {
    /// biscuit `unverified_payload`: split on `.`, decode part 1 as a claims set.
    pub(crate) fn parse(token: &'a str) -> Result<Unverified<'a>, ParseFailure> {
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() < 2 {
            return Err(ParseFailure::Format(
                "the token has no `.`: a JWT is three base64url parts, header.payload.signature".into(),
            ));
        }
        let payload = decode_json_object(parts[1]).map_err(|e| ParseFailure::Format(format!("the payload (part 2) {e}")))?;
        let mut claims = Registered {
            iss: string_claim("iss", payload.get("iss"))?,
            sub: string_claim("sub", payload.get("sub"))?,
            ..Registered::default()
        };
        string_claim("jti", payload.get("jti"))?;
        claims.aud = match payload.get("aud") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(vec![s.clone()]),
            Some(Value::Array(items)) => {
                let mut v = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => v.push(s.clone()),
                        other => {
                            return Err(ParseFailure::ClaimType(format!(
                                "`aud` must be a string or an array of strings; it contains {}",
                                kind(other)
                            )));
                        }
                    }
                }
                Some(v)
            }
            Some(other) => {
                return Err(ParseFailure::ClaimType(format!(
                    "`aud` must be a string or an array of strings, got {}",
                    kind(other)
                )));
            }
        };
        for (name, slot) in [("exp", &mut claims.exp), ("nbf", &mut claims.nbf), ("iat", &mut claims.iat)] {
            if let Some(v) = payload.get(name) {
                *slot = numeric_date(name, v)?;
            }
        }
        Ok(Unverified { parts, payload, claims })
    }

    /// The audiences as Convex matches them: a missing `aud` is an empty list.
    pub(crate) fn audiences(&self) -> &[String] {
        self.claims.aud.as_deref().unwrap_or(&[])
    }
}

/// The JOSE header fields that matter, parsed the way biscuit's `RegisteredHeader` does.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) alg: String,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
    pub(crate) has_cty: bool,
    pub(crate) has_crit: bool,
}

#[derive(serde::Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    cty: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// Parses the header; `known_algs` is the algorithm vocabulary of the library being mirrored.
pub(crate) fn parse_header(seg: &str, known_algs: &[&str]) -> Result<Header, String> {
    let bytes = decode_segment(seg).ok_or("the header (part 1) is not valid unpadded base64url")?;
    let raw: RawHeader<'_> =
        serde_json::from_slice(&bytes).map_err(|e| format!("the header (part 1) is not a valid JOSE header ({e})"))?;
    let alg = match raw.alg {
        Some(a) if known_algs.contains(&a.as_ref()) => a.into_owned(),
        Some(a) => return Err(format!("the header `alg` \"{a}\" is not an algorithm the library knows")),
        None => return Err("the header has no `alg`".into()),
    };
    Ok(Header {
        alg,
        kid: raw.kid.map(|k| k.into_owned()),
        typ: raw.typ.map(|t| t.into_owned()),
        has_cty: raw.cty.is_some(),
        has_crit: raw.crit.is_some(),
    })
}
