//! Users and their wire shape (WorkOS `object: "user"`).

use serde_json::{Value, json};

use crate::clock::{Millis, iso8601};

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: String,
    pub environment_id: String,
    /// Lower-cased and trimmed; unique per environment.
    pub email: String,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub profile_picture_url: Option<String>,
    pub external_id: Option<String>,
    /// String values only, as in WorkOS.
    pub metadata: serde_json::Map<String, Value>,
    pub locale: Option<String>,
    pub password_hash: Option<String>,
    pub last_sign_in_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl User {
    /// The JSON the WorkOS API returns for a user; every required key is present.
    pub fn to_wire(&self) -> Value {
        json!({
            "object": "user",
            "id": self.id,
            "email": self.email,
            "email_verified": self.email_verified,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "name": self.display_name(),
            "profile_picture_url": self.profile_picture_url,
            "last_sign_in_at": self.last_sign_in_at.map(iso8601),
            "external_id": self.external_id,
            "metadata": self.metadata,
            "locale": self.locale,
            "created_at": iso8601(self.created_at),
            "updated_at": iso8601(self.updated_at),
        })
    }

    /// "First Last", or whichever part exists, or null.
    pub fn display_name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// Normalises an email for storage and lookup; `None` if it cannot be an address.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.rsplit_once('@')?;
    let valid = !local.is_empty()
        && local.len() <= 64
        && email.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'));
    valid.then_some(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(normalize_email("  Ada@Example.COM ").as_deref(), Some("ada@example.com"));
        for bad in ["", "ada", "@example.com", "ada@", "ada@localhost", "a b@example.com", "ada@.com", "<a>@x.com"] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
