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

/// Normalises an email for storage and lookup (Unicode NFC, lower case); `None` if it cannot be
/// an address, including any invisible, bidirectional-control or byte-order-mark character, so
/// `ada@x.com` and `ada\u{200B}@x.com` can never be two accounts an operator cannot tell apart.
pub fn normalize_email(raw: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization as _;
    if raw.chars().any(is_invisible) {
        return None;
    }
    let email: String = raw.trim().nfc().collect::<String>().to_lowercase();
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

/// The UTS #39 skeleton of a normalised address: two addresses with the same skeleton look
/// the same (Cyrillic `ѕсоре@x.com` and Latin `scope@x.com`, `bob1` and `bobl`). Lower-cased after
/// the mapping, since addresses are case-insensitive (`0` maps to `O`, so `b0b` and `bob` match).
pub fn email_skeleton(email: &str) -> String {
    unicode_security::skeleton(email).collect::<String>().to_lowercase()
}

/// Whether the address's local part, and each label of its domain, is written in one script
/// (digits and punctuation go with any); `pаypal@x.com` with a Cyrillic `а` is not.
pub fn is_single_script(email: &str) -> bool {
    use unicode_security::MixedScript as _;
    let Some((local, domain)) = email.rsplit_once('@') else { return false };
    local.is_single_script() && domain.split('.').all(|label| label.is_single_script())
}

/// What is wrong with an address already stored (before Gatehouse refused such addresses):
/// the problems' names, empty if `normalize_email` would store it as it is and it is in one
/// script. `invisible_characters`: default-ignorable or bidirectional-control characters (such
/// a user cannot sign in, since the address they type is refused); `not_nfc`: not in Unicode
/// NFC; `not_normalized`: otherwise not what `normalize_email` makes of it (upper case,
/// surrounding spaces, not an address); `mixed_scripts`: a local part or domain label in more
/// than one script.
pub fn stored_email_problems(email: &str) -> Vec<&'static str> {
    use unicode_normalization::UnicodeNormalization as _;
    let mut problems = Vec::new();
    if email.chars().any(is_invisible) {
        problems.push("invisible_characters");
    }
    if !unicode_normalization::is_nfc(email) {
        problems.push("not_nfc");
    }
    if problems.is_empty() && normalize_email(email).as_deref() != Some(email) {
        problems.push("not_normalized");
    }
    let visible: String = email.chars().filter(|c| !is_invisible(*c)).nfc().collect();
    if !is_single_script(&visible) {
        problems.push("mixed_scripts");
    }
    problems
}

/// Default-ignorable and bidirectional control characters (Unicode's DerivedCoreProperties
/// `Default_Ignorable_Code_Point` plus the bidi embeddings, overrides and isolates): they render
/// as nothing, or reorder what is shown.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_addresses_are_checked_for_what_is_now_refused() {
        #[track_caller]
        fn check(email: &str, expect: &[&str]) {
            assert_eq!(stored_email_problems(email), expect, "{email:?}");
        }
        check("ada@x.com", &[]);
        check("jos\u{00E9}@x.com", &[]);
        check("\u{0441}\u{043E}\u{043F}\u{0435}@x.com", &[]);
        check("lo\u{200B}ad@x.com", &["invisible_characters"]);
        check("ad\u{202E}a@x.com", &["invisible_characters"]);
        check("jose\u{0301}@x.com", &["not_nfc"]);
        check("Ada@x.com", &["not_normalized"]);
        check("p\u{0430}ypal@x.com", &["mixed_scripts"]);
        check("p\u{0430}y\u{200B}pal@x.com", &["invisible_characters", "mixed_scripts"]);
    }

    #[test]
    fn invisible_characters_are_refused_and_forms_are_composed() {
        for bad in
            ["load1@x.com\u{200B}", "lo\u{200B}ad1@x.com", "\u{FEFF}ada@x.com", "ad\u{202E}a@x.com", "a\u{2066}b@x.com"]
        {
            assert_eq!(normalize_email(bad), None, "{bad:?}");
        }
        // "é" as e + combining acute and as one code point are one address.
        assert_eq!(normalize_email("Jose\u{0301}@x.com"), normalize_email("jos\u{00E9}@x.com"));
        assert_eq!(normalize_email("Jose\u{0301}@x.com").as_deref(), Some("jos\u{00E9}@x.com"));
    }

    #[test]
    fn skeletons_match_look_alikes() {
        let latin = email_skeleton("scope@x.com");
        // Cyrillic ѕ с о р е.
        assert_eq!(email_skeleton("\u{0455}\u{0441}\u{043E}\u{0440}\u{0435}@x.com"), latin);
        assert_eq!(email_skeleton("bob1@x.com"), email_skeleton("bobl@x.com"));
        assert_ne!(email_skeleton("bob@x.com"), email_skeleton("bobby@x.com"));
        assert!(is_single_script("scope@x.com"));
        assert!(is_single_script("jos\u{00E9}.2+tag@x.com"));
        assert!(is_single_script("\u{0455}\u{0441}\u{043E}\u{0440}\u{0435}@x.com"));
        // Latin p, Cyrillic а.
        assert!(!is_single_script("p\u{0430}ypal@x.com"));
        assert!(!is_single_script("ada@p\u{0430}ypal.com"));
    }

    #[test]
    fn emails() {
        assert_eq!(normalize_email("  Ada@Example.COM ").as_deref(), Some("ada@example.com"));
        for bad in ["", "ada", "@example.com", "ada@", "ada@localhost", "a b@example.com", "ada@.com", "<a>@x.com"] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
