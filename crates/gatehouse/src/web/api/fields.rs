//! Reading the fields of a management request body kept as a JSON object, where absent, null
//! and a value mean different things (leave alone, clear, set).

use serde_json::{Map, Value};

use crate::service::Error;

/// A field that may be absent (leave alone), null (clear) or a string.
pub fn nullable_text(body: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, Error> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(Error::validation(key, "invalid_type", format!("{key} must be a string or null."))),
    }
}

/// A string field; null reads as absent.
pub fn text(body: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    Ok(nullable_text(body, key)?.flatten())
}

/// A required, non-empty string field.
pub fn required_text(body: &Map<String, Value>, key: &str) -> Result<String, Error> {
    text(body, key)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::validation(key, "required", format!("{key} is required.")))
}

pub fn boolean(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, Error> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::validation(key, "invalid_type", format!("{key} must be true or false."))),
    }
}

/// An object of metadata; null reads as absent.
pub fn object(body: &Map<String, Value>, key: &str) -> Result<Option<Map<String, Value>>, Error> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(Error::validation(key, "invalid_type", format!("{key} must be an object."))),
    }
}

/// An array of strings; null reads as absent.
pub fn strings(body: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, Error> {
    let invalid = || Error::validation(key, "invalid_type", format!("{key} must be an array of strings."));
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(invalid)).collect::<Result<_, _>>().map(Some)
        }
        Some(_) => Err(invalid()),
    }
}

/// `role_slug` or `role_slugs` (not both); `None` when neither is sent.
pub fn role_slugs(body: &Map<String, Value>) -> Result<Option<Vec<String>>, Error> {
    match (text(body, "role_slug")?, strings(body, "role_slugs")?) {
        (Some(_), Some(_)) => Err(Error::validation("role_slug", "invalid", "Send role_slug or role_slugs, not both.")),
        (Some(slug), None) => Ok(Some(vec![slug])),
        (None, slugs) => Ok(slugs),
    }
}
