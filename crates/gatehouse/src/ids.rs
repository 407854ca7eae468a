//! Object identifiers: a WorkOS-style prefix plus a ULID (`user_01E4ZCR3C56J083X43JQXF3JK5`).

/// A new identifier with the given prefix, e.g. `new_id("user")`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::generate())
}

/// Whether `id` looks like one of ours with this prefix (cheap input validation).
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|ulid| ulid.len() == 26 && ulid.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_ulid() {
        let id = new_id("user");
        assert!(has_prefix(&id, "user"), "{id}");
        assert!(!has_prefix(&id, "session"));
        assert!(!has_prefix("user_123", "user"));
        assert!(!new_id("client").contains('.'), "client ids must not contain dots");
    }
}
