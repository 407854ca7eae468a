//! WorkOS list conventions: `limit`, `before`, `after`, `order` in; `{object:"list", data,
//! list_metadata:{before, after}}` out, with `after: null` on the last page.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::listing::ListOrder;
use crate::service::Error;

#[derive(Deserialize, Default)]
pub(super) struct ListParams {
    pub limit: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub order: Option<String>,
    pub email: Option<String>,
}

impl ListParams {
    pub fn limit(&self) -> Result<u32, Error> {
        match self.limit.as_deref().filter(|l| !l.is_empty()) {
            None => Ok(10),
            Some(l) => l.parse::<u32>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
                Error::validation("limit", "invalid_limit", "limit must be a whole number from 1 to 100.")
            }),
        }
    }

    pub fn order(&self) -> Result<ListOrder, Error> {
        match self.order.as_deref().filter(|o| !o.is_empty()) {
            None | Some("desc" | "normal") => Ok(ListOrder::Desc),
            Some("asc") => Ok(ListOrder::Asc),
            Some(other) => {
                Err(Error::validation("order", "invalid_order", format!("order must be asc or desc, not '{other}'.")))
            }
        }
    }

    pub fn before(&self) -> Option<String> {
        self.before.clone().filter(|s| !s.is_empty())
    }

    pub fn after(&self) -> Option<String> {
        self.after.clone().filter(|s| !s.is_empty())
    }
}

/// Builds the list envelope. `ids` are the IDs of `data` in list order.
pub(super) fn envelope(data: Vec<Value>, ids: &[&str], has_more: bool, params: &ListParams) -> Value {
    let (first, last) = (ids.first().copied(), ids.last().copied());
    let (before, after) = if params.before().is_some() {
        (if has_more { first } else { None }, last)
    } else {
        (if params.after().is_some() { first } else { None }, if has_more { last } else { None })
    };
    json!({ "object": "list", "data": data, "list_metadata": { "before": before, "after": after } })
}
