//! The wire form of a refresh token: `<session id>.<generation>.<secret>`.
//!
//! A session's refresh tokens form a chain: generation 0's secret is random, and each rotation
//! derives the next secret from the presented one with a server key (see `service::auth`). The
//! session row keeps only the current generation and the hash of its secret, so the database
//! never holds a usable token, and any earlier token of the chain can still be recognised (by
//! deriving forward) when it is reused. To apps the token stays an opaque string.

use crate::ids::has_prefix;

/// A parsed refresh token, borrowing from the presented string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshToken<'a> {
    pub session_id: &'a str,
    pub generation: i64,
    pub secret: &'a str,
}

impl<'a> RefreshToken<'a> {
    /// Reads a presented token; `None` for anything that is not one of ours in form.
    pub fn parse(presented: &'a str) -> Option<RefreshToken<'a>> {
        let mut parts = presented.split('.');
        let (session_id, generation, secret) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !has_prefix(session_id, "session") {
            return None;
        }
        // Decimal digits only: no sign, no leading zeros, no overflow.
        if generation.is_empty() || generation.len() > 18 || !generation.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if generation.len() > 1 && generation.starts_with('0') {
            return None;
        }
        let generation = generation.parse().ok()?;
        let secret_ok = (32..=64).contains(&secret.len())
            && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        secret_ok.then_some(RefreshToken { session_id, generation, secret })
    }

    /// The string handed to the app.
    pub fn format(session_id: &str, generation: i64, secret: &str) -> String {
        format!("{session_id}.{generation}.{secret}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = "session_01JABCDEFGHJKMNPQRSTVWXYZ0";
    const SECRET: &str = "aGVsbG8td29ybGQtdGhpcy1pcy1hLXNlY3JldC1rZXk";

    #[test]
    fn round_trips() {
        let token = RefreshToken::format(SESSION, 42, SECRET);
        assert_eq!(
            RefreshToken::parse(&token),
            Some(RefreshToken { session_id: SESSION, generation: 42, secret: SECRET })
        );
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            String::new(),
            "nope".into(),
            format!("{SESSION}.1"),
            format!("{SESSION}.1.{SECRET}.x"),
            format!("user_01JABCDEFGHJKMNPQRSTVWXYZ0.1.{SECRET}"),
            format!("{SESSION}.-1.{SECRET}"),
            format!("{SESSION}.+1.{SECRET}"),
            format!("{SESSION}.01.{SECRET}"),
            format!("{SESSION}..{SECRET}"),
            format!("{SESSION}.99999999999999999999.{SECRET}"),
            format!("{SESSION}.1.short"),
            format!("{SESSION}.1.{}", "a".repeat(65)),
            format!("{SESSION}.1.{SECRET}=="),
        ] {
            assert_eq!(RefreshToken::parse(&bad), None, "{bad}");
        }
    }
}
