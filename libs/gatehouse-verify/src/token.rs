//! Unverified token parsing: the payload decode Convex does before picking a provider, and the
//! JOSE header decode used for key selection.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

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

/// A claim name borrowed from the decoded payload when it has no escapes.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub(crate) struct Key<'a>(#[serde(borrow)] pub(crate) Cow<'a, str>);

/// The payload: claim names to their raw JSON text, borrowed from the decoded bytes, sorted by name,
/// duplicates resolved last-wins (as `serde_json::Value` does). Values are materialised only when used.
#[derive(Debug, Default)]
pub(crate) struct RawClaims<'a>(Vec<(Key<'a>, &'a RawValue)>);

impl<'a> RawClaims<'a> {
    pub(crate) fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0.binary_search_by(|(k, _)| k.0.as_ref().cmp(name)).ok().map(|i| self.0[i].1)
    }
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Key<'a>, &&'a RawValue)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawClaims<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = RawClaims<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<RawClaims<'a>, M::Error> {
                let mut v: Vec<(Key<'a>, &'a RawValue)> = Vec::with_capacity(m.size_hint().unwrap_or(12));
                while let Some(entry) = m.next_entry::<Key<'a>, &'a RawValue>()? {
                    v.push(entry);
                }
                // Stable sort keeps duplicates in input order; keep the last of each.
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v.dedup_by(|later, earlier| {
                    if later.0 == earlier.0 {
                        std::mem::swap(later, earlier);
                        true
                    } else {
                        false
                    }
                });
                Ok(RawClaims(v))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// The segments of a compact token: the first three, and how many there were.
#[derive(Debug)]
pub(crate) struct Parts<'a> {
    seg: [&'a str; 3],
    count: usize,
}

impl<'a> Parts<'a> {
    pub(crate) fn len(&self) -> usize {
        self.count
    }
}

impl<'a> std::ops::Index<usize> for Parts<'a> {
    type Output = &'a str;
    fn index(&self, i: usize) -> &&'a str {
        &self.seg[i]
    }
}

/// A token whose payload has been decoded but whose signature has not been checked.
/// Nothing outside this crate can see the claims before verification.
#[derive(Debug)]
pub(crate) struct Unverified<'a> {
    pub(crate) parts: Parts<'a>,
    pub(crate) payload: RawClaims<'a>,
    pub(crate) claims: Registered,
}

/// Why the unverified decode failed (for the diagnosis; the Convex message is always the same).
pub(crate) enum ParseFailure {
    Format(String),
    ClaimType(String),
}

fn raw_kind(raw: &RawValue) -> &'static str {
    serde_json::from_str::<Value>(raw.get()).map(|v| kind(&v)).unwrap_or("invalid JSON")
}

fn numeric_date(name: &str, raw: &RawValue) -> Result<Option<i64>, ParseFailure> {
    let n = match serde_json::from_str::<Option<serde_json::Number>>(raw.get()) {
        Ok(None) => return Ok(None),
        Ok(Some(n)) => n,
        Err(_) => {
            return Err(ParseFailure::ClaimType(format!(
                "`{name}` must be a number (seconds since 1970), got {}",
                raw_kind(raw)
            )));
        }
    };
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

fn string_claim(name: &str, raw: Option<&RawValue>) -> Result<Option<String>, ParseFailure> {
    let Some(raw) = raw else { return Ok(None) };
    serde_json::from_str::<Option<String>>(raw.get())
        .map_err(|_| ParseFailure::ClaimType(format!("`{name}` must be a string, got {}", raw_kind(raw))))
}

/// Type-checks a string claim without materialising it (the raw value is already valid JSON).
fn check_string_claim(name: &str, raw: Option<&RawValue>) -> Result<(), ParseFailure> {
    match raw.map(|r| r.get().as_bytes().first()) {
        None | Some(Some(b'"')) | Some(Some(b'n')) => Ok(()),
        Some(_) => Err(ParseFailure::ClaimType(format!(
            "`{name}` must be a string, got {}",
            raw.map_or("nothing", |r| raw_kind(r))
        ))),
    }
}

pub(crate) fn decode_segment(seg: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(seg).ok()
}

/// Decodes into a caller buffer (signatures), avoiding an allocation.
pub(crate) fn decode_segment_into<'b>(seg: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let n = URL_SAFE_NO_PAD.decode_slice(seg, buf).ok()?;
    buf.get(..n)
}

/// Splits the token and base64-decodes the payload (part 2), as biscuit's `unverified_payload` does.
pub(crate) fn split_and_decode(token: &str) -> Result<(Parts<'_>, Vec<u8>), ParseFailure> {
    let mut parts = Parts { seg: [""; 3], count: 0 };
    for seg in token.split('.') {
        if let Some(slot) = parts.seg.get_mut(parts.count) {
            *slot = seg;
        }
        parts.count += 1;
    }
    if parts.len() < 2 {
        return Err(ParseFailure::Format(
            "the token has no `.`: a JWT is three base64url parts, header.payload.signature".into(),
        ));
    }
    let bytes = decode_segment(parts[1])
        .ok_or_else(|| ParseFailure::Format("the payload (part 2) is not valid unpadded base64url".into()))?;
    Ok((parts, bytes))
}

/// Materialises the whole payload (OIDC path and diagnostics only).
pub(crate) fn to_map(payload: &RawClaims<'_>) -> Map<String, Value> {
    payload.iter().map(|(k, v)| (k.0.to_string(), serde_json::from_str(v.get()).unwrap_or(Value::Null))).collect()
}

impl<'a> Unverified<'a> {
    /// biscuit `unverified_payload`: the decoded part 2 must be a claims set with typed registered claims.
    pub(crate) fn parse(parts: Parts<'a>, bytes: &'a [u8]) -> Result<Unverified<'a>, ParseFailure> {
        let payload: RawClaims<'a> = serde_json::from_slice(bytes).map_err(|e| {
            ParseFailure::Format(match serde_json::from_slice::<Value>(bytes) {
                Ok(other) => format!("the payload (part 2) is JSON {} rather than an object", kind(&other)),
                Err(_) => format!("the payload (part 2) is not JSON ({e})"),
            })
        })?;
        let get = |name: &'static str| payload.get(name);
        let mut claims = Registered {
            iss: string_claim("iss", get("iss"))?,
            sub: string_claim("sub", get("sub"))?,
            ..Registered::default()
        };
        check_string_claim("jti", get("jti"))?;
        if let Some(raw) = get("aud") {
            let text = raw.get();
            let parsed: Result<Option<Vec<String>>, ()> = match text.as_bytes().first() {
                Some(b'"') => serde_json::from_str::<String>(text).map(|s| Some(vec![s])).map_err(drop),
                Some(b'[') => serde_json::from_str::<Vec<String>>(text).map(Some).map_err(drop),
                Some(b'n') => Ok(None),
                _ => Err(()),
            };
            claims.aud = match parsed {
                Ok(v) => v,
                Err(_) => {
                    return Err(ParseFailure::ClaimType(format!(
                        "`aud` must be a string or an array of strings, got {}",
                        raw_kind(raw)
                    )));
                }
            };
        }
        for (name, slot) in [("exp", &mut claims.exp), ("nbf", &mut claims.nbf), ("iat", &mut claims.iat)] {
            if let Some(raw) = get(name) {
                *slot = numeric_date(name, raw)?;
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
pub(crate) struct Header<'a> {
    pub(crate) alg: &'static str,
    pub(crate) kid: Option<Cow<'a, str>>,
    /// The `typ` value when it is not absent/`JWT`/`JOSE` (OIDC rejects those), for the diagnosis.
    pub(crate) bad_typ: Option<String>,
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

/// openidconnect's rule: `typ` normalises (adding `application/` when there is no `/`) to
/// `application/jwt` or `application/jose`, case-insensitively.
fn typ_is_jwt(typ: &str) -> bool {
    let t = typ
        .strip_prefix("application/")
        .or_else(|| typ.get(12..).filter(|_| typ[..12].eq_ignore_ascii_case("application/")))
        .unwrap_or(typ);
    if t.contains('/') {
        return false;
    }
    t.eq_ignore_ascii_case("jwt") || t.eq_ignore_ascii_case("jose")
}

/// Parses the header; `known_algs` is the algorithm vocabulary of the library being mirrored.
/// Small headers are decoded into `buf` and borrowed from it.
pub(crate) fn parse_header<'b>(
    seg: &str,
    known_algs: &[&'static str],
    buf: &'b mut [u8],
) -> Result<Header<'b>, String> {
    const BAD_B64: &str = "the header (part 1) is not valid unpadded base64url";
    if seg.len() / 4 * 3 + 3 <= buf.len() {
        let n = URL_SAFE_NO_PAD.decode_slice(seg, buf).map_err(|_| BAD_B64.to_string())?;
        let bytes: &'b [u8] = &buf[..n];
        header_from_bytes(bytes, known_algs)
    } else {
        let bytes = decode_segment(seg).ok_or(BAD_B64)?;
        let h = header_from_bytes(&bytes, known_algs)?;
        Ok(Header { kid: h.kid.map(|k| Cow::Owned(k.into_owned())), ..h })
    }
}

fn header_from_bytes<'b>(bytes: &'b [u8], known_algs: &[&'static str]) -> Result<Header<'b>, String> {
    let raw: RawHeader<'b> =
        serde_json::from_slice(bytes).map_err(|e| format!("the header (part 1) is not a valid JOSE header ({e})"))?;
    let alg = match raw.alg {
        Some(a) if let Some(known) = known_algs.iter().find(|k| **k == a.as_ref()) => known,
        Some(a) => return Err(format!("the header `alg` \"{a}\" is not an algorithm the library knows")),
        None => return Err("the header has no `alg`".into()),
    };
    Ok(Header {
        alg,
        kid: raw.kid,
        bad_typ: raw.typ.filter(|t| !typ_is_jwt(t)).map(|t| t.into_owned()),
        has_cty: raw.cty.is_some(),
        has_crit: raw.crit.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::typ_is_jwt;

    #[test]
    fn oidc_typ_normalisation() {
        for ok in ["JWT", "jwt", "application/jwt", "Application/JWT", "JOSE", "application/jose"] {
            assert!(typ_is_jwt(ok), "{ok}");
        }
        for bad in ["at+jwt", "application/at+jwt", "text/jwt", "JWS", ""] {
            assert!(!typ_is_jwt(bad), "{bad}");
        }
    }
}
