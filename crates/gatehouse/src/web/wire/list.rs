//! The list envelope `{object: "list", data, list_metadata: {before, after}}`.

use serde::Serialize;

#[derive(Serialize)]
pub struct List<T: Serialize> {
    object: &'static str,
    data: Vec<T>,
    list_metadata: ListMetadata,
}

/// Both cursors are always present: `null` at either end of the list.
#[derive(Serialize)]
struct ListMetadata {
    before: Option<String>,
    after: Option<String>,
}

/// Where a page sits: the request's cursors and whether more lie beyond it.
#[derive(Clone, Copy, Default)]
pub struct Page<'a> {
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub has_more: bool,
}

impl<T: Serialize> List<T> {
    /// A whole list in one page (no cursors).
    pub fn all(data: Vec<T>) -> List<T> {
        List { object: "list", data, list_metadata: ListMetadata { before: None, after: None } }
    }

    /// One page; `ids` are the IDs of `data` in order. Paging backwards (`before`), the
    /// `before` cursor shows more only when there is more; forwards, `after` does.
    pub fn page(data: Vec<T>, ids: &[&str], page: Page<'_>) -> List<T> {
        let (first, last) = (ids.first().map(|s| s.to_string()), ids.last().map(|s| s.to_string()));
        let (before, after) = if page.before.is_some() {
            (if page.has_more { first } else { None }, last)
        } else {
            (if page.after.is_some() { first } else { None }, if page.has_more { last } else { None })
        };
        List { object: "list", data, list_metadata: ListMetadata { before, after } }
    }
}
