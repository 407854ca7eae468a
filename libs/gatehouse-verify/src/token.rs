//! Unverified token parsing: the payload decode Convex does before picking a provider, and the
//! JOSE header decode used for key selection.

use serde_json::{Map, Value};

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The registered claims, typed as biscuit's `RegisteredClaims` requires.
#[derive(Debug, Default)]
pub(crate) struct Registered<'a> {
    pub(crate) iss: Option<Cow<'a, str>>,
    pub(crate) sub: Option<Cow<'a, str>>,
    pub(crate) aud: Option<Vec<Cow<'a, str>>>,
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
    /// The decoded payload JSON (valid UTF-8); claims other than the registered ones stay unparsed.
    pub(crate) payload: &'a str,
    pub(crate) claims: Registered<'a>,
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
    // A raw value is valid JSON, so up to 18 digits is a non-negative integer serde_json reads as is.
    let text = raw.get().as_bytes();
    if text.len() <= 18 && text.iter().all(u8::is_ascii_digit) {
        return Ok(Some(text.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'))));
    }
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

/// A string claim, borrowed from the payload when it has no escapes.
fn string_claim<'a>(name: &str, raw: Option<&'a RawValue>) -> Result<Option<Cow<'a, str>>, ParseFailure> {
    let Some(raw) = raw else { return Ok(None) };
    // A raw value is valid JSON: a string without escapes is its text between the quotes.
    if let Some(inner) = raw.get().strip_prefix('"').and_then(|t| t.strip_suffix('"'))
        && !inner.contains('\\')
    {
        return Ok(Some(Cow::Borrowed(inner)));
    }
    serde_json::from_str::<Option<Key<'a>>>(raw.get())
        .map(|k| k.map(|k| k.0))
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

/// Decodes unpadded base64url into `out` (the `base64` crate's strict `URL_SAFE_NO_PAD`: no
/// `=`, no length ≡ 1 mod 4, zero trailing bits); `None` if invalid or `out` is too small.
fn b64url_decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode_slice(input, out).ok()
}

pub(crate) fn decode_segment(seg: &str) -> Option<Vec<u8>> {
    let mut out = vec![0; seg.len() / 4 * 3 + 2];
    let n = b64url_decode(seg.as_bytes(), &mut out)?;
    out.truncate(n);
    Some(out)
}

/// Decodes into a caller buffer (signatures), avoiding an allocation.
pub(crate) fn decode_segment_into<'b>(seg: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let n = b64url_decode(seg.as_bytes(), buf)?;
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

/// Why a decoded part 2 is not a valid payload: the full parse, kept for its exact diagnoses.
pub(crate) fn payload_failure(bytes: &[u8]) -> ParseFailure {
    let payload: RawClaims<'_> = match serde_json::from_slice(bytes) {
        Ok(p) => p,
        Err(e) => {
            return ParseFailure::Format(match serde_json::from_slice::<Value>(bytes) {
                Ok(other) => format!("the payload (part 2) is JSON {} rather than an object", kind(&other)),
                Err(_) => format!("the payload (part 2) is not JSON ({e})"),
            });
        }
    };
    let get = |name: &'static str| payload.get(name);
    match registered(get("iss"), get("sub"), get("jti"), get("aud"), [get("exp"), get("nbf"), get("iat")]) {
        Err(failure) => failure,
        // Unreachable: a payload that parses is valid UTF-8 and takes the fast path.
        Ok(_) => ParseFailure::Format("the payload (part 2) is not valid UTF-8".into()),
    }
}

/// Types the registered claims, in biscuit's order of checks.
fn registered<'a>(
    iss: Option<&'a RawValue>,
    sub: Option<&'a RawValue>,
    jti: Option<&'a RawValue>,
    aud: Option<&'a RawValue>,
    times: [Option<&'a RawValue>; 3],
) -> Result<Registered<'a>, ParseFailure> {
    let mut claims =
        Registered { iss: string_claim("iss", iss)?, sub: string_claim("sub", sub)?, ..Registered::default() };
    check_string_claim("jti", jti)?;
    if let Some(raw) = aud {
        let text = raw.get();
        let parsed: Result<Option<Vec<Cow<'a, str>>>, ()> = match text.as_bytes().first() {
            Some(b'"') => serde_json::from_str::<Key<'a>>(text).map(|s| Some(vec![s.0])).map_err(drop),
            Some(b'[') => serde_json::from_str::<Vec<Key<'a>>>(text)
                .map(|v| Some(v.into_iter().map(|k| k.0).collect()))
                .map_err(drop),
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
    let [exp, nbf, iat] = times;
    for (name, raw, slot) in
        [("exp", exp, &mut claims.exp), ("nbf", nbf, &mut claims.nbf), ("iat", iat, &mut claims.iat)]
    {
        if let Some(raw) = raw {
            *slot = numeric_date(name, raw)?;
        }
    }
    Ok(claims)
}

/// Materialises the whole payload (OIDC path and diagnostics only).
pub(crate) fn to_map(payload: &RawClaims<'_>) -> Map<String, Value> {
    payload.iter().map(|(k, v)| (k.0.to_string(), serde_json::from_str(v.get()).unwrap_or(Value::Null))).collect()
}

/// The registered claims' raw values, last occurrence of each name winning (as `serde_json::Value`
/// and [`RawClaims`] resolve duplicates). Every other member is syntax-checked and skipped.
#[derive(Default)]
struct RegisteredRaw<'a>([Option<&'a RawValue>; 7]);

/// A member name: the index of the registered claim it names (iss, sub, jti, aud, exp, nbf, iat), if any. Escaped names are compared
/// after unescaping, without allocating.
struct Slot(Option<usize>);

impl<'de> Deserialize<'de> for Slot {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Slot;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Slot, E> {
                Ok(Slot(match v {
                    "iss" => Some(0),
                    "sub" => Some(1),
                    "jti" => Some(2),
                    "aud" => Some(3),
                    "exp" => Some(4),
                    "nbf" => Some(5),
                    "iat" => Some(6),
                    _ => None,
                }))
            }
        }
        d.deserialize_str(Visit)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RegisteredRaw<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = RegisteredRaw<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<RegisteredRaw<'a>, M::Error> {
                let mut out = RegisteredRaw::default();
                while let Some(Slot(slot)) = m.next_key::<Slot>()? {
                    match slot.and_then(|i| out.0.get_mut(i)) {
                        Some(v) => *v = Some(m.next_value::<&'a RawValue>()?),
                        None => {
                            m.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

impl<'a> Unverified<'a> {
    /// biscuit `unverified_payload`: the decoded part 2 must be a claims set with typed registered claims.
    ///
    /// `payload` must be the decoded part 2 as text; a part 2 that is not UTF-8 is never a valid
    /// payload, see [`payload_failure`].
    pub(crate) fn parse(parts: Parts<'a>, payload: &'a str) -> Result<Unverified<'a>, ParseFailure> {
        // The fast path reads only the registered claims. It accepts exactly what the full parse
        // (`RawClaims`) accepts; on any error the full parse runs to report it the same way.
        let raw: RegisteredRaw<'a> = match serde_json::from_str(payload) {
            Ok(raw) => raw,
            Err(_) => return Err(payload_failure(payload.as_bytes())),
        };
        let [iss, sub, jti, aud, exp, nbf, iat] = raw.0;
        let claims = registered(iss, sub, jti, aud, [exp, nbf, iat])?;
        Ok(Unverified { parts, payload, claims })
    }

    /// Every claim, each value borrowed as raw JSON (OIDC path).
    pub(crate) fn raw_claims(&self) -> RawClaims<'a> {
        // Already parsed once (same grammar), so this cannot fail.
        serde_json::from_str(self.payload).unwrap_or_default()
    }

    /// The audiences as Convex matches them: a missing `aud` is an empty list.
    pub(crate) fn audiences(&self) -> &[Cow<'a, str>] {
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

/// [`RawHeader`] with fields that really borrow: serde's `borrow` does not reach a `Cow` inside an
/// `Option`, so `RawHeader` allocates every string it reads.
#[derive(serde::Deserialize)]
struct BorrowedHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<Key<'a>>,
    #[serde(borrow, default)]
    kid: Option<Key<'a>>,
    #[serde(borrow, default)]
    typ: Option<Key<'a>>,
    #[serde(borrow, default)]
    cty: Option<Key<'a>>,
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
        let n = b64url_decode(seg.as_bytes(), buf).ok_or(BAD_B64)?;
        let bytes: &'b [u8] = &buf[..n];
        header_from_bytes(bytes, known_algs)
    } else {
        let bytes = decode_segment(seg).ok_or(BAD_B64)?;
        let h = header_from_bytes(&bytes, known_algs)?;
        Ok(Header { kid: h.kid.map(|k| Cow::Owned(k.into_owned())), ..h })
    }
}

fn header_from_bytes<'b>(bytes: &'b [u8], known_algs: &[&'static str]) -> Result<Header<'b>, String> {
    // Fast path: borrowed strings, and text input so serde_json skips per-string UTF-8 checks.
    // Anything it rejects goes through the original byte parse, which reports errors as before.
    let borrowed = std::str::from_utf8(bytes).ok().and_then(|t| serde_json::from_str::<BorrowedHeader<'b>>(t).ok());
    let raw: RawHeader<'b> = match borrowed {
        Some(h) => RawHeader {
            alg: h.alg.map(|k| k.0),
            kid: h.kid.map(|k| k.0),
            typ: h.typ.map(|k| k.0),
            cty: h.cty.map(|k| k.0),
            crit: h.crit,
        },
        None => serde_json::from_slice(bytes)
            .map_err(|e| format!("the header (part 1) is not a valid JOSE header ({e})"))?,
    };
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
    use super::{
        BorrowedHeader, Key, RawHeader, b64url_decode, decode_segment, numeric_date, string_claim, typ_is_jwt,
    };
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::value::RawValue;
    use std::borrow::Cow;

    /// The hand-written decoder against the `base64` crate: same accept set, same bytes.
    fn same_as_crate(input: &[u8]) {
        let theirs = URL_SAFE_NO_PAD.decode(input).ok();
        let ours = std::str::from_utf8(input).ok().and_then(decode_segment);
        if std::str::from_utf8(input).is_ok() {
            assert_eq!(ours, theirs, "{input:?}");
        }
        for cap in [0, 1, 2, 3, 5, 6, 7, 9, 64] {
            let (mut a, mut b) = (vec![0u8; cap], vec![0u8; cap]);
            let theirs = URL_SAFE_NO_PAD.decode_slice(input, &mut a).ok().map(|n| a[..n].to_vec());
            let ours = b64url_decode(input, &mut b).map(|n| b[..n].to_vec());
            assert_eq!(ours, theirs, "{input:?} into {cap} bytes");
        }
    }

    /// The shortcuts for plain strings and small integers agree with serde_json.
    #[test]
    fn claim_shortcuts_match_serde() {
        for text in
            [r#""https://a.example/x""#, r#""""#, r#""a\"b""#, r#""\u0041""#, r#""é""#, "null", "true", "12", "[\"a\"]"]
        {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            let ours = string_claim("iss", Some(raw)).ok();
            let serde = serde_json::from_str::<Option<String>>(text).ok();
            assert_eq!(ours.as_ref().map(|o| o.as_deref()), serde.as_ref().map(|o| o.as_deref()), "{text}");
            if let Some(Some(Cow::Borrowed(b))) = &ours {
                assert!(!b.contains('\\'), "{text}");
            }
        }
        for text in [
            "0",
            "7",
            "1700000000",
            "999999999999999999",
            "9999999999999999999",
            "-5",
            "1.5",
            "2.5e3",
            "1e400",
            "null",
            "\"5\"",
        ] {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            let ours = numeric_date("exp", raw).ok();
            let serde = match serde_json::from_str::<Option<serde_json::Number>>(text) {
                Ok(None) => Some(None),
                Ok(Some(n)) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => Some(Some(i)),
                    (None, Some(f)) if f.is_finite() && f.abs() < 9.0e15 => Some(Some(f.round() as i64)),
                    _ => None,
                },
                Err(_) => None,
            };
            assert_eq!(ours, serde, "{text}");
        }
    }

    /// The borrowed header reads the same fields as the original (allocating) one.
    #[test]
    fn borrowed_header_matches() {
        for text in [
            r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#,
            r#"{"alg":"RS256","kid":"k\u0031","cty":"x","crit":["b64"]}"#,
            r#"{"alg":null,"kid":null}"#,
            r#"{"kid":"a","kid":"b"}"#,
            r#"{"alg":5}"#,
            r#"{"alg":"ES256","typ":["JWT"]}"#,
            r#"[]"#,
        ] {
            let b = serde_json::from_str::<BorrowedHeader<'_>>(text).ok();
            let r = serde_json::from_str::<RawHeader<'_>>(text).ok();
            let k = |o: Option<Key<'_>>| o.map(|k| k.0.into_owned());
            let c = |o: Option<Cow<'_, str>>| o.map(Cow::into_owned);
            assert_eq!(
                b.map(|h| (k(h.alg), k(h.kid), k(h.typ), k(h.cty), h.crit.is_some())),
                r.map(|h| (c(h.alg), c(h.kid), c(h.typ), c(h.cty), h.crit.is_some())),
                "{text}"
            );
        }
    }

    #[test]
    fn base64url_matches_the_base64_crate() {
        // Every input of up to 2 bytes, and 3–4 symbols over a mixed alphabet.
        same_as_crate(b"");
        for a in 0..=255u8 {
            same_as_crate(&[a]);
            for b in 0..=255u8 {
                same_as_crate(&[a, b]);
            }
        }
        let mixed = b"AQgw_-zZ09=.+/ \n\xff";
        for a in mixed {
            for b in mixed {
                for c in mixed {
                    same_as_crate(&[*a, *b, *c]);
                    for d in mixed {
                        same_as_crate(&[*a, *b, *c, *d]);
                    }
                }
            }
        }
        // Encodings of pseudo-random data of every length up to 80, with each position mutated.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in 0..80 {
            for _ in 0..8 {
                let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let enc = URL_SAFE_NO_PAD.encode(&data).into_bytes();
                same_as_crate(&enc);
                assert_eq!(decode_segment(std::str::from_utf8(&enc).unwrap()), Some(data));
                for i in 0..enc.len() {
                    let mut m = enc.clone();
                    m[i] = mixed[(next() % mixed.len() as u64) as usize];
                    same_as_crate(&m);
                    let mut m = enc.clone();
                    m[i] ^= 1 << (next() % 8);
                    same_as_crate(&m);
                }
            }
        }
    }

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
