//! Finding users by the start of their email address or name (the console's search), in
//! pages that stay fast at a million users.
//!
//! Each user carries three *search keys* (migration 15): their email address, their full name
//! ("first last") and their last name, each lower-cased (Unicode), NFC-normalised, with runs of
//! white space made one space, cut to `KEY_BYTES` bytes at a character boundary, and written as
//! lower-case hex. A prefix search is then a range scan `lo <= key < hi` on an index
//! `(environment_id, key, id)`. Results come newest first, as the unfiltered list does, so a
//! page continues from a user ID (`store::user_search` says how that stays fast).
//!
//! Why hex: PostgreSQL compares text with the database's collation, and under most locales
//! (`en_US.UTF-8`) punctuation is ignored at the first level, so the strings starting with
//! `"a-"` are not one contiguous range (`"a-b"` sorts after `"a."`). A string of `[0-9a-f]`
//! sorts the same way under every collation and in SQLite's byte order, and the hex of a
//! prefix is a prefix of the hex, so `[hex(p), hex(p) + "g")` holds exactly the keys that
//! start with `p` on both databases, in the same order.

use crate::domain::user::User;

/// The longest key, in bytes of text before hex encoding (an index entry stays far below
/// PostgreSQL's B-tree limit). A longer query is cut the same way, so it matches the users
/// whose key starts with its first `KEY_BYTES` bytes.
pub const KEY_BYTES: usize = 256;

/// The most users one page may hold.
pub const MAX_PAGE: u32 = 100;

/// `text` as a search key: `None` when nothing but white space is left.
pub fn search_key(text: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization as _;
    let folded: String = text.nfc().collect::<String>().to_lowercase();
    let mut words = folded.split_whitespace();
    let mut key = String::with_capacity(folded.len());
    if let Some(first) = words.next() {
        key.push_str(first);
    }
    for w in words {
        key.push(' ');
        key.push_str(w);
    }
    if key.is_empty() {
        return None;
    }
    let mut end = key.len().min(KEY_BYTES);
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    Some(hex(&key.as_bytes()[..end]))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// The three keys of a user, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchKeys {
    pub email: Option<String>,
    /// "first last", or whichever exists.
    pub name: Option<String>,
    pub last_name: Option<String>,
}

pub fn search_keys(user: &User) -> SearchKeys {
    SearchKeys {
        email: search_key(&user.email),
        name: user.display_name().as_deref().and_then(search_key),
        last_name: user.last_name.as_deref().and_then(search_key),
    }
}

/// The keys that start with a query: `lo <= key < hi`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRange {
    pub lo: String,
    pub hi: String,
}

impl SearchRange {
    /// The range of a query; `None` for an empty one (list every user instead).
    pub fn of(query: &str) -> Option<SearchRange> {
        // `g` follows every hex digit, so `lo + "g"` is above every key that extends `lo`.
        search_key(query).map(|lo| SearchRange { hi: format!("{lo}g"), lo })
    }

    pub fn contains(&self, key: &str) -> bool {
        key >= self.lo.as_str() && key < self.hi.as_str()
    }
}

/// One search request, already checked: the users with a key in `range`, newest first, after
/// (or before) a user ID.
#[derive(Clone, Debug)]
pub struct UserSearch {
    pub range: SearchRange,
    /// Continue with users older than this one…
    pub after: Option<String>,
    /// …or go back to those newer than this one.
    pub before: Option<String>,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(h: &str) -> String {
        let bytes: Vec<u8> = (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn keys_fold_case_and_space_and_read_back() {
        let k = search_key("  Ada   LOVELACE ").unwrap();
        assert_eq!(unhex(&k), "ada lovelace");
        assert_eq!(unhex(&search_key("ÉLODIE").unwrap()), "élodie");
        assert_eq!(search_key("   "), None);
        // NFC: a decomposed é is the composed one.
        assert_eq!(search_key("e\u{301}lodie"), search_key("élodie"));
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let long = "é".repeat(200);
        let k = search_key(&long).unwrap();
        assert_eq!(k.len(), 2 * (KEY_BYTES - KEY_BYTES % 2));
        assert!(unhex(&k).chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_range_holds_exactly_the_keys_with_the_prefix() {
        let r = SearchRange::of("A-").unwrap();
        for (text, inside) in
            [("a-b@x.io", true), ("a-", true), ("a.b@x.io", false), ("ab", false), ("a", false), ("a-ü", true)]
        {
            assert_eq!(r.contains(&search_key(text).unwrap()), inside, "{text}");
        }
        assert_eq!(SearchRange::of(" "), None);
    }

    #[test]
    fn hex_order_is_byte_order() {
        let mut words = ["b", "a-b", "a.b", "ab", "a", "z", "é", "a b"];
        let mut keys: Vec<String> = words.iter().map(|w| search_key(w).unwrap()).collect();
        keys.sort();
        words.sort();
        assert_eq!(keys.iter().map(|k| unhex(k)).collect::<Vec<_>>(), words.to_vec());
    }

    #[test]
    fn a_user_has_three_keys() {
        let mut u = User {
            id: "user_1".into(),
            environment_id: "env".into(),
            email: "ada@example.com".into(),
            email_verified: false,
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            profile_picture_url: None,
            external_id: None,
            metadata: Default::default(),
            locale: None,
            password_hash: None,
            last_sign_in_at: None,
            created_at: 0,
            updated_at: 0,
        };
        let k = search_keys(&u);
        assert_eq!(k.name, search_key("ada lovelace"));
        assert_eq!(k.last_name, search_key("lovelace"));
        u.first_name = None;
        u.last_name = None;
        assert_eq!(search_keys(&u).name, None);
    }
}
