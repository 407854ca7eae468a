//! Convex values and their two JSON forms: Convex-encoded JSON (`convex_encoded_json`, used on the
//! WebSocket and by `ConvexHttpClient`) and clean JSON (`json`, the HTTP API's default).
//!
//! Convex-encoded JSON is plain JSON for null, booleans, strings, finite floats, arrays and objects;
//! the special cases are `{"$integer": base64(i64 LE)}`, `{"$float": base64(f64 LE)}` for NaN, ±∞ and
//! −0, and `{"$bytes": base64}` (`convex-js:src/values/value.ts`).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Number, Value as Json};

/// A Convex value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// A 64-bit integer (`bigint` in JS).
    Int64(i64),
    /// A float (`number` in JS).
    Float64(f64),
    /// A boolean.
    Boolean(bool),
    /// A string.
    String(String),
    /// Bytes (`ArrayBuffer` in JS).
    Bytes(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// An object; keys are sorted, which only affects our output order.
    Object(BTreeMap<String, Value>),
}

/// The JSON flavour of a response (`format` in the HTTP API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `json` / `convex_clean_json`.
    CleanJson,
    /// `convex_encoded_json` / `convex_json`.
    ConvexJson,
}

impl Format {
    /// Parses the HTTP API's `format` field (Convex's aliases, `crates/value/src/export.rs`).
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "json" | "convex_clean_json" => Some(Format::CleanJson),
            "convex_encoded_json" | "convex_json" => Some(Format::ConvexJson),
            _ => None,
        }
    }
}

fn is_special_float(f: f64) -> bool {
    !f.is_finite() || (f == 0.0 && f.is_sign_negative())
}

impl Value {
    /// Decodes Convex-encoded JSON. Plain JSON numbers are floats, as in JS.
    pub fn from_convex_json(json: &Json) -> Result<Value, String> {
        Ok(match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Boolean(*b),
            Json::Number(n) => Value::Float64(n.as_f64().ok_or("number out of range")?),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(items.iter().map(Value::from_convex_json).collect::<Result<_, _>>()?),
            Json::Object(map) => {
                if map.len() == 1 {
                    let (key, inner) = map.iter().next().ok_or("empty object")?;
                    if let Some(decoded) = decode_special(key, inner)? {
                        return Ok(decoded);
                    }
                }
                let mut out = BTreeMap::new();
                for (key, inner) in map {
                    if key.starts_with('$') {
                        return Err(format!("Field name {key} starts with a '$', which is reserved."));
                    }
                    out.insert(key.clone(), Value::from_convex_json(inner)?);
                }
                Value::Object(out)
            }
        })
    }

    /// Encodes as Convex-encoded JSON.
    pub fn to_convex_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int64(i) => single("$integer", STANDARD.encode(i.to_le_bytes())),
            Value::Float64(f) if is_special_float(*f) => single("$float", STANDARD.encode(f.to_le_bytes())),
            Value::Float64(f) => float_json(*f),
            Value::Boolean(b) => Json::Bool(*b),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(b) => single("$bytes", STANDARD.encode(b)),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_convex_json).collect()),
            Value::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), v.to_convex_json())).collect()),
        }
    }

    /// Encodes as clean JSON: integers as decimal strings, bytes as base64 strings, special floats as
    /// the strings `NaN`, `Infinity`, `-Infinity` (−0 becomes 0).
    pub fn to_clean_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int64(i) => Json::String(i.to_string()),
            Value::Float64(f) if f.is_nan() => Json::String("NaN".into()),
            Value::Float64(f) if f.is_infinite() && *f > 0.0 => Json::String("Infinity".into()),
            Value::Float64(f) if f.is_infinite() => Json::String("-Infinity".into()),
            Value::Float64(f) => float_json(if *f == 0.0 { 0.0 } else { *f }),
            Value::Boolean(b) => Json::Bool(*b),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(b) => Json::String(STANDARD.encode(b)),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_clean_json).collect()),
            Value::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), v.to_clean_json())).collect()),
        }
    }

    /// Encodes in the given format.
    pub fn to_json(&self, format: Format) -> Json {
        match format {
            Format::CleanJson => self.to_clean_json(),
            Format::ConvexJson => self.to_convex_json(),
        }
    }

    /// Converts a plain JSON value (an identity claim) the way `JSON.parse` would in a Convex function.
    pub fn from_plain_json(json: &Json) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Boolean(*b),
            Json::Number(n) => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(items.iter().map(Value::from_plain_json).collect()),
            Json::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::from_plain_json(v))).collect())
            }
        }
    }

    /// The Convex validator type name, for argument validation messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int64(_) => "int64",
            Value::Float64(_) => "float64",
            Value::Boolean(_) => "boolean",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
}

/// A float as a JSON number; integral values in the safe range print without `.0`, as `JSON.stringify` does.
fn float_json(f: f64) -> Json {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE {
        return Json::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map_or(Json::Null, Json::Number)
}

fn single(key: &str, value: String) -> Json {
    let mut map = Map::new();
    map.insert(key.to_owned(), Json::String(value));
    Json::Object(map)
}

fn decode_special(key: &str, inner: &Json) -> Result<Option<Value>, String> {
    let decode = |what: &str| -> Result<Vec<u8>, String> {
        let text = inner.as_str().ok_or_else(|| format!("Malformed {what}: not a string"))?;
        STANDARD.decode(text).map_err(|e| format!("Malformed {what}: {e}"))
    };
    Ok(Some(match key {
        "$integer" => {
            let bytes: [u8; 8] = decode("$integer field")?
                .try_into()
                .map_err(|_| "Received number of bytes other than 8 for $integer")?;
            Value::Int64(i64::from_le_bytes(bytes))
        }
        "$float" => {
            let bytes: [u8; 8] =
                decode("$float field")?.try_into().map_err(|_| "Received number of bytes other than 8 for $float")?;
            Value::Float64(f64::from_le_bytes(bytes))
        }
        "$bytes" => Value::Bytes(decode("$bytes field")?),
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plain_values_round_trip() {
        let json = json!({"count": 10, "name": "x", "list": [1.5, true, null]});
        let value = Value::from_convex_json(&json).unwrap();
        assert_eq!(value.to_convex_json(), json);
        assert_eq!(value.to_clean_json(), json);
    }

    #[test]
    fn special_values_use_dollar_objects() {
        // 1n as a bigint: {"$integer": base64 of 01 00 00 00 00 00 00 00}.
        let one = json!({"$integer": "AQAAAAAAAAA="});
        assert_eq!(Value::from_convex_json(&one).unwrap(), Value::Int64(1));
        assert_eq!(Value::Int64(1).to_convex_json(), one);
        assert_eq!(Value::Int64(1).to_clean_json(), json!("1"));
        let nan = Value::Float64(f64::NAN).to_convex_json();
        assert_eq!(nan, json!({"$float": "AAAAAAAA+H8="}));
        let neg_zero = Value::from_convex_json(&json!({"$float": "AAAAAAAAAIA="})).unwrap();
        assert!(matches!(neg_zero, Value::Float64(f) if f == 0.0 && f.is_sign_negative()));
        assert_eq!(Value::Bytes(vec![1, 2]).to_convex_json(), json!({"$bytes": "AQI="}));
        assert_eq!(Value::Float64(f64::INFINITY).to_clean_json(), json!("Infinity"));
    }

    #[test]
    fn integral_floats_print_like_javascript() {
        assert_eq!(Value::Float64(3.0).to_convex_json().to_string(), "3");
        assert_eq!(Value::Float64(2.5).to_convex_json().to_string(), "2.5");
    }

    #[test]
    fn reserved_field_names_are_rejected() {
        assert!(Value::from_convex_json(&json!({"$foo": 1, "b": 2})).is_err());
        assert!(Value::from_convex_json(&json!({"$integer": "AQ=="})).is_err());
    }
}
